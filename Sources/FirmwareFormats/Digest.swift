/// Message digests the firmware formats need: SHA-256 (image validation hash, ELF hash in the app
/// descriptor) and MD5 (partition table checksum entry). Plain Swift, no system crypto library.
public enum Digest {
    /// SHA-256 (FIPS 180-4) of `bytes`.
    public static func sha256<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
        var h = SHACompression.sha256Initial
        let message = padded(Array(bytes), bigEndianLength: true)
        var words = [UInt32](repeating: 0, count: 16)
        message.withUnsafeBufferPointer { buf in
            var at = 0
            while at < buf.count {
                for i in 0..<16 {
                    let p = at + 4 * i
                    words[i] = UInt32(buf[p]) << 24 | UInt32(buf[p + 1]) << 16 | UInt32(buf[p + 2]) << 8 | UInt32(buf[p + 3])
                }
                SHACompression.sha256(&h, words)
                at += 64
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for v in h { out += [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
        return out
    }

    /// MD5 (RFC 1321) of `bytes`.
    public static func md5<C: Collection>(_ bytes: C) -> [UInt8] where C.Element == UInt8 {
        var a0: UInt32 = 0x67452301, b0: UInt32 = 0xefcdab89, c0: UInt32 = 0x98badcfe, d0: UInt32 = 0x10325476
        let message = padded(Array(bytes), bigEndianLength: false)
        var m = [UInt32](repeating: 0, count: 16)
        message.withUnsafeBufferPointer { buf in
            var at = 0
            while at < buf.count {
                for i in 0..<16 {
                    let p = at + 4 * i
                    m[i] = UInt32(buf[p]) | UInt32(buf[p + 1]) << 8 | UInt32(buf[p + 2]) << 16 | UInt32(buf[p + 3]) << 24
                }
                var a = a0, b = b0, c = c0, d = d0
                for i in 0..<64 {
                    var f: UInt32
                    let g: Int
                    switch i {
                    case 0..<16: f = (b & c) | (~b & d); g = i
                    case 16..<32: f = (d & b) | (~d & c); g = (5 * i + 1) % 16
                    case 32..<48: f = b ^ c ^ d; g = (3 * i + 5) % 16
                    default: f = c ^ (b | ~d); g = (7 * i) % 16
                    }
                    f = f &+ a &+ md5K[i] &+ m[g]
                    a = d; d = c; c = b
                    b = b &+ rotl(f, md5S[i])
                }
                a0 = a0 &+ a; b0 = b0 &+ b; c0 = c0 &+ c; d0 = d0 &+ d
                at += 64
            }
        }
        var out: [UInt8] = []
        for v in [a0, b0, c0, d0] { out += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)] }
        return out
    }

    /// Lower-case hex of some bytes.
    public static func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var s: [UInt8] = []
        s.reserveCapacity(bytes.count * 2)
        for b in bytes { s.append(digits[Int(b >> 4)]); s.append(digits[Int(b & 0xF)]) }
        return String(decoding: s, as: UTF8.self)
    }

    // MARK: Internals

    private static func rotl(_ x: UInt32, _ n: UInt32) -> UInt32 { (x << n) | (x >> (32 - n)) }

    /// Appends 0x80, zeros, and the 64-bit bit length so the message is a multiple of 64 bytes.
    private static func padded(_ bytes: [UInt8], bigEndianLength: Bool) -> [UInt8] {
        var m = bytes
        let bitLength = UInt64(bytes.count) &* 8
        m.append(0x80)
        while m.count % 64 != 56 { m.append(0) }
        for i in 0..<8 {
            let shift = bigEndianLength ? UInt64(56 - 8 * i) : UInt64(8 * i)
            m.append(UInt8((bitLength >> shift) & 0xFF))
        }
        return m
    }

    private static let md5S: [UInt32] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
        5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
        4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
        6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ]

    /// floor(abs(sin(i + 1)) * 2^32), the RFC 1321 table.
    private static let md5K: [UInt32] = [
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
        0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
        0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
        0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
        0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
        0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
        0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
    ]
}

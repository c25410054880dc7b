// SHA accelerator (TRM chapter "SHA Accelerator"; ESP-IDF soc/hwcrypto_reg.h, hal/sha_ll.h).
//
// Registers (offsets from 0x3FF03000):
//   0x00-0x7C  SHA_TEXT_0..31   message block in, digest out (one memory shared by all engines)
//   0x80       SHA_1_START      0x84 SHA_1_CONTINUE    0x88 SHA_1_LOAD    0x8C SHA_1_BUSY
//   0x90       SHA_256_START    0x94 ..._CONTINUE      0x98 ..._LOAD      0x9C ..._BUSY
//   0xA0       SHA_384_START    0xA4 ..._CONTINUE      0xA8 ..._LOAD      0xAC ..._BUSY
//   0xB0       SHA_512_START    0xB4 ..._CONTINUE      0xB8 ..._LOAD      0xBC ..._BUSY
//
// Byte order, as ESP-IDF drives it (bootloader_sha256_data, sha_ll_fill_text_block): the guest
// writes each 4 message bytes byte-swapped, so SHA_TEXT_n holds the n-th message word in the
// big-endian reading FIPS 180 uses. A 512/1024-bit block is 16/32 such words; 64-bit words
// (SHA-384/512) are two registers, high half first.
//
// START hashes the block in SHA_TEXT from the algorithm's initial value, CONTINUE hashes it on
// top of the engine's running state. The hardware does no padding: the guest supplies padded
// blocks. LOAD copies the engine's state into SHA_TEXT (the ESP32 quirk: the digest is read
// back from the text registers): SHA-1 5 words, SHA-256 8 words, SHA-384/512 the full 16-word
// 512-bit state (ESP-IDF reads 16 words for both, sha_hal_read_digest/state_length), each
// register holding one state word as a number (bootloader_sha256_finish byte-swaps it into the
// big-endian digest bytes; sha_ll_read_digest swaps each register pair back into a 64-bit word).
//
// SHA-1, SHA-256 and SHA-384/512 are three engines with their own state (ESP-IDF's
// parallel_engine driver runs them concurrently); SHA-384 and SHA-512 share one. Operations
// complete at once, so every BUSY register reads 0.

import FirmwareFormats

public final class SHA: RegisterModel, Peripheral {
    public let name = "SHA"
    public let range: Range<UInt32> = 0x3000..<0x4000

    public enum Algorithm: Int, CaseIterable {
        case sha1 = 0, sha256 = 1, sha384 = 2, sha512 = 3
        /// Words of SHA_TEXT one block occupies.
        public var blockWords: Int { self == .sha1 || self == .sha256 ? 16 : 32 }
        /// Words LOAD writes to SHA_TEXT.
        public var stateWords: Int {
            switch self {
            case .sha1: return 5
            case .sha256: return 8
            case .sha384, .sha512: return 16
            }
        }
    }

    public static let textBase: UInt32 = 0x00, textWords = 32
    public static let controlBase: UInt32 = 0x80
    static let start: UInt32 = 0x0, `continue`: UInt32 = 0x4, load: UInt32 = 0x8, busy: UInt32 = 0xC

    public static func startOffset(_ a: Algorithm) -> UInt32 { controlBase + UInt32(a.rawValue) * 0x10 + start }
    public static func continueOffset(_ a: Algorithm) -> UInt32 { controlBase + UInt32(a.rawValue) * 0x10 + `continue` }
    public static func loadOffset(_ a: Algorithm) -> UInt32 { controlBase + UInt32(a.rawValue) * 0x10 + load }
    public static func busyOffset(_ a: Algorithm) -> UInt32 { controlBase + UInt32(a.rawValue) * 0x10 + busy }

    /// SHA_TEXT_0..31.
    public private(set) var text = [UInt32](repeating: 0, count: SHA.textWords)
    var state1 = [UInt32](repeating: 0, count: 5)
    var state256 = [UInt32](repeating: 0, count: 8)
    var state512 = [UInt64](repeating: 0, count: 8)
    /// Blocks hashed since reset (all engines), for statistics.
    public private(set) var blocksHashed = 0

    public override init() { super.init(); reset() }

    public func reset() {
        for i in 0..<text.count { text[i] = 0 }
        for i in 0..<5 { state1[i] = 0 }
        for i in 0..<8 { state256[i] = 0; state512[i] = 0 }
        blocksHashed = 0
    }

    public override func read(offset: UInt32, size: Int) -> UInt32? {
        let o = offset & ~3
        switch o {
        case 0..<0x80:
            return text[Int(o / 4)]
        case 0x80..<0xC0:
            // START/CONTINUE/LOAD are write-only triggers; BUSY: always idle.
            return 0
        default:
            return nil
        }
    }

    public override func write(offset: UInt32, size: Int, value: UInt32) -> Bool {
        let o = offset & ~3
        switch o {
        case 0..<0x80:
            let i = Int(o / 4)
            text[i] = RegisterFile.merge(text[i], offset: offset, size: size, value: value)
        case 0x80..<0xC0:
            let algorithm = Algorithm(rawValue: Int((o - 0x80) / 0x10))!
            switch o & 0xF {
            case SHA.start: hashBlock(algorithm, first: true)
            case SHA.continue: hashBlock(algorithm, first: false)
            case SHA.load: loadDigest(algorithm)
            default: break          // BUSY is read-only
            }
        default:
            return false
        }
        return true
    }

    // MARK: Engines

    func hashBlock(_ a: Algorithm, first: Bool) {
        blocksHashed += 1
        switch a {
        case .sha1:
            if first { state1 = SHACompression.sha1Initial }
            SHACompression.sha1(&state1, text)
        case .sha256:
            if first { state256 = SHACompression.sha256Initial }
            SHACompression.sha256(&state256, text)
        case .sha384, .sha512:
            if first { state512 = a == .sha384 ? SHACompression.sha384Initial : SHACompression.sha512Initial }
            SHACompression.sha512(&state512, text)
        }
    }

    func loadDigest(_ a: Algorithm) {
        switch a {
        case .sha1:
            for i in 0..<5 { text[i] = state1[i] }
        case .sha256:
            for i in 0..<8 { text[i] = state256[i] }
        case .sha384, .sha512:
            for i in 0..<8 {
                text[2 * i] = UInt32(truncatingIfNeeded: state512[i] >> 32)
                text[2 * i + 1] = UInt32(truncatingIfNeeded: state512[i])
            }
        }
    }
}

import Foundation

/// Builds a whole-flash image from files placed at offsets (what `esptool merge-bin` does for raw
/// output): 0xFF before, between and (with padding) after the parts.
public enum FlashImage {
    /// The ESP32 maps at most 16 MB of flash.
    public static let maxFlashSize = 0x100_0000
    /// Flash is erased in 4 KB sectors: two parts sharing one would clobber each other when flashed.
    public static let sectorSize = 0x1000

    public struct Part: Sendable {
        public var offset: Int
        public var path: String
        public var bytes: [UInt8]
        public init(offset: Int, path: String, bytes: [UInt8]) {
            self.offset = offset; self.path = path; self.bytes = bytes
        }
        public var end: Int { offset + bytes.count }
    }

    /// Reads the part files, then merges them.
    public static func merge(offsetsAndPaths: [(Int, String)], flashSize: Int? = nil, pad: Bool = false) throws -> [UInt8] {
        var parts: [Part] = []
        for (offset, path) in offsetsAndPaths {
            parts.append(Part(offset: offset, path: path, bytes: try readFile(path)))
        }
        return try merge(parts, flashSize: flashSize, pad: pad)
    }

    /// Places the parts (in any order) in a flash image. `flashSize` bounds them (16 MB when nil);
    /// `pad` fills the image with 0xFF up to `flashSize` (else it ends with the last part).
    /// Throws InputError naming the part and its offset for an empty part, a part out of range, or
    /// parts that overlap (share a 4 KB sector, as esptool checks).
    public static func merge(_ parts: [Part], flashSize: Int? = nil, pad: Bool = false) throws -> [UInt8] {
        let limit = flashSize ?? maxFlashSize
        let limitText = flashSize.map { "the \(sizeName($0)) flash" } ?? "the 16 MB the ESP32 can map"
        guard !parts.isEmpty else { throw InputError("merge-bin: no OFFSET FILE pairs given") }
        for p in parts {
            guard p.offset >= 0 else { throw InputError("\(p.path): negative offset \(p.offset)") }
            guard !p.bytes.isEmpty else { throw InputError("\(p.path): empty file (offset 0x0), nothing to place at \(hex(p.offset))") }
            guard p.offset < limit else {
                throw InputError("\(p.path): offset \(hex(p.offset)) is out of range: past the end of \(limitText) (\(hex(limit)))")
            }
            guard p.end <= limit else {
                throw InputError("\(p.path): placed at \(hex(p.offset)), its \(p.bytes.count) bytes end at \(hex(p.end)), past the end of \(limitText) (\(hex(limit))): image larger than the flash")
            }
        }
        let sorted = parts.enumerated().sorted { ($0.element.offset, $0.offset) < ($1.element.offset, $1.offset) }.map(\.element)
        var previous: Part?
        var previousSectorEnd = 0
        for p in sorted {
            let sectorStart = p.offset & ~(sectorSize - 1)
            if let q = previous, sectorStart < previousSectorEnd {
                let how = p.offset < q.end ? "overlaps" : "shares a 4 KB flash sector with"
                throw InputError("\(p.path): placed at \(hex(p.offset)), it \(how) \(q.path) at \(hex(q.offset))-\(hex(q.end - 1)) (offset \(hex(p.offset)))")
            }
            previous = p
            previousSectorEnd = (p.end + sectorSize - 1) & ~(sectorSize - 1)
        }
        let total = pad ? limit : sorted.last!.end
        var out = [UInt8](repeating: 0xFF, count: total)
        for p in sorted { out.replaceSubrange(p.offset..<p.end, with: p.bytes) }
        return out
    }

    static func sizeName(_ n: Int) -> String {
        if n % (1 << 20) == 0 { return "\(n >> 20) MB" }
        if n % 1024 == 0 { return "\(n >> 10) KB" }
        return "\(n)-byte"
    }
}

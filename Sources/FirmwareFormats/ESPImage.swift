import Foundation

// The ESP32 app/bootloader image format (what the ROM and the 2nd-stage bootloader load):
//
//   0x00  u8  magic 0xE9            0x01  u8  segment count
//   0x02  u8  SPI flash mode        0x03  u8  flash size (high nibble) | flash frequency (low nibble)
//   0x04  u32 entry address
//   0x08  extended header (16 bytes): u8 WP pin, 3 bytes of SPI pin drive strengths (two nibbles
//         each), u16 chip id, u8 legacy min revision, u16 min revision (major*100+minor),
//         u16 max revision, 4 reserved bytes, u8 hash_appended (0 or 1)
//   0x18  segments, each: u32 load address, u32 length, data
//         then zero padding up to the last byte of a 16-byte line, which holds the checksum
//         (0xEF XOR every byte of segment data), then, if hash_appended, the SHA-256 of
//         everything from the magic up to and including the checksum byte.
//
// Offsets in error messages are byte offsets in the file given.

/// SPI flash mode byte of the image header.
public enum FlashMode: UInt8, CaseIterable, Sendable {
    case qio = 0, qout = 1, dio = 2, dout = 3
    public var name: String { ["qio", "qout", "dio", "dout"][Int(rawValue)] }
    public init?(name: String) {
        guard let m = FlashMode.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = m
    }
}

/// Flash frequency (low nibble of header byte 3), ESP32 encodings.
public enum FlashFrequency: UInt8, CaseIterable, Sendable {
    case f40m = 0x0, f26m = 0x1, f20m = 0x2, f80m = 0xF
    public var name: String {
        switch self { case .f40m: return "40m"; case .f26m: return "26m"; case .f20m: return "20m"; case .f80m: return "80m" }
    }
    /// Accepts "40m", "40M", "40MHz".
    public init?(name: String) {
        var n = name.lowercased()
        if n.hasSuffix("hz") { n.removeLast(2) }
        guard let f = FlashFrequency.allCases.first(where: { $0.name == n }) else { return nil }
        self = f
    }
    /// In the order esptool lists them.
    public static let names = ["80m", "40m", "26m", "20m"]
}

/// Flash size (high nibble of header byte 3), ESP32 encodings.
public enum FlashSize: UInt8, CaseIterable, Sendable {
    case mb1 = 0x00, mb2 = 0x10, mb4 = 0x20, mb8 = 0x30, mb16 = 0x40, mb32 = 0x50, mb64 = 0x60, mb128 = 0x70
    public var megabytes: Int { 1 << Int(rawValue >> 4) }
    public var bytes: Int { megabytes << 20 }
    public var name: String { "\(megabytes)MB" }
    /// Accepts "4MB", "4mb", "4M".
    public init?(name: String) {
        var n = name.uppercased()
        if n.hasSuffix("M") { n += "B" }
        guard let s = FlashSize.allCases.first(where: { $0.name == n }) else { return nil }
        self = s
    }
    public static var names: [String] { allCases.map(\.name) }
}

/// The ESP32 address map as esptool names it (a load address can be in several named ranges).
public enum ESP32Memory {
    public struct Region: Sendable {
        public let start: UInt32
        public let end: UInt32
        public let name: String
    }

    public static let regions: [Region] = [
        Region(start: 0x0000_0000, end: 0x0001_0000, name: "PADDING"),
        Region(start: 0x3F40_0000, end: 0x3F80_0000, name: "DROM"),
        Region(start: 0x3F80_0000, end: 0x3FC0_0000, name: "EXTRAM_DATA"),
        Region(start: 0x3FF8_0000, end: 0x3FF8_2000, name: "RTC_DRAM"),
        Region(start: 0x3FF9_0000, end: 0x4000_0000, name: "BYTE_ACCESSIBLE"),
        Region(start: 0x3FFA_E000, end: 0x4000_0000, name: "DRAM"),
        Region(start: 0x3FFE_0000, end: 0x3FFF_FFFC, name: "DIRAM_DRAM"),
        Region(start: 0x4000_0000, end: 0x4007_0000, name: "IROM"),
        Region(start: 0x4007_0000, end: 0x4007_8000, name: "CACHE_PRO"),
        Region(start: 0x4007_8000, end: 0x4008_0000, name: "CACHE_APP"),
        Region(start: 0x4008_0000, end: 0x400A_0000, name: "IRAM"),
        Region(start: 0x400A_0000, end: 0x400B_FFFC, name: "DIRAM_IRAM"),
        Region(start: 0x400C_0000, end: 0x400C_2000, name: "RTC_IRAM"),
        Region(start: 0x400D_0000, end: 0x4040_0000, name: "IROM"),
        Region(start: 0x5000_0000, end: 0x5000_2000, name: "RTC_DATA"),
    ]

    /// Names of every range holding `address`, in table order.
    public static func types(at address: UInt32) -> [String] {
        regions.filter { $0.start <= address && address < $0.end }.map(\.name)
    }

    /// Instruction (IROM) and data (DROM) ranges reached through the flash cache MMU.
    public static let iromMap: Range<UInt32> = 0x400D_0000..<0x4040_0000
    public static let dromMap: Range<UInt32> = 0x3F40_0000..<0x3F80_0000

    public static func isFlashMapped(_ address: UInt32) -> Bool {
        iromMap.contains(address) || dromMap.contains(address)
    }
}

/// esp_app_desc_t, at the start of an app's first DROM segment.
public struct AppDescriptor: Sendable {
    public static let magic: UInt32 = 0xABCD_5432
    public static let size = 256
    public var secureVersion: UInt32
    public var version: String
    public var projectName: String
    public var time: String
    public var date: String
    public var idfVersion: String
    public var elfSHA256: [UInt8]
    public var minEfuseBlockRevision: UInt16
    public var maxEfuseBlockRevision: UInt16
    /// log2 of the MMU page size, 0 when not recorded (before ESP-IDF v5.4).
    public var mmuPageSizeLog2: UInt8

    /// Nil unless `data` is at least 256 bytes and starts with the magic word.
    public init?(_ data: ArraySlice<UInt8>) {
        guard data.count >= AppDescriptor.size else { return nil }
        let b = Array(data.prefix(AppDescriptor.size))
        guard le32(b, 0) == AppDescriptor.magic else { return nil }
        secureVersion = le32(b, 4)
        version = cString(b[16..<48])
        projectName = cString(b[48..<80])
        time = cString(b[80..<96])
        date = cString(b[96..<112])
        idfVersion = cString(b[112..<144])
        elfSHA256 = Array(b[144..<176])
        minEfuseBlockRevision = le16(b, 176)
        maxEfuseBlockRevision = le16(b, 178)
        mmuPageSizeLog2 = b[180]
    }
}

/// esp_bootloader_desc_t, at the start of a bootloader's DRAM segment (ESP-IDF v5.3 on).
public struct BootloaderDescriptor: Sendable {
    public static let magic: UInt8 = 0x50
    public static let size = 80
    public var version: UInt32
    public var idfVersion: String
    public var dateTime: String

    public init?(_ data: ArraySlice<UInt8>) {
        guard data.count >= BootloaderDescriptor.size else { return nil }
        let b = Array(data.prefix(BootloaderDescriptor.size))
        guard b[0] == BootloaderDescriptor.magic else { return nil }
        version = le32(b, 4)
        idfVersion = cString(b[8..<40])
        dateTime = cString(b[40..<64])
    }
}

/// A parsed ESP32 image (2nd-stage bootloader or app).
public struct ESPImage: Sendable {
    public static let magic: UInt8 = 0xE9
    public static let checksumSeed: UInt8 = 0xEF
    public static let headerSize = 24
    public static let maxSegments = 16
    public static let wpPinDisabled: UInt8 = 0xEE

    public struct Segment: Sendable {
        public var loadAddress: UInt32
        /// Offset of the segment's 8-byte header, from the start of the image.
        public var headerOffset: Int
        public var data: [UInt8]
        public var length: Int { data.count }
        /// esptool's names for the memory the load address falls in ("DROM", "IRAM", "PADDING" ...).
        public var memoryTypes: [String] { ESP32Memory.types(at: loadAddress) }
        /// Reached through the flash cache (IROM/DROM) rather than copied into RAM.
        public var isFlashMapped: Bool { ESP32Memory.isFlashMapped(loadAddress) }
        /// A filler segment loaded at address 0 (only there to align the next flash-mapped one).
        public var isPadding: Bool { loadAddress < 0x1_0000 }
    }

    public var path: String
    /// Offset of the image in the file it was read from.
    public var fileOffset: Int
    /// Bytes from the image start to the end of the file.
    public var availableBytes: Int

    public var segmentCount: Int
    public var flashModeByte: UInt8
    public var flashSizeFrequency: UInt8
    public var entry: UInt32
    public var wpPin: UInt8
    public var clkDrive: UInt8, qDrive: UInt8, dDrive: UInt8, csDrive: UInt8, hdDrive: UInt8, wpDrive: UInt8
    public var chipID: UInt16
    public var minRevision: UInt8
    public var minRevisionFull: UInt16
    public var maxRevisionFull: UInt16
    public var reserved: [UInt8]
    public var hashAppended: Bool

    public var segments: [Segment]
    public var storedChecksum: UInt8
    /// Offset (in the image) of the checksum byte.
    public var checksumOffset: Int
    public var storedDigest: [UInt8]?
    public var computedDigest: [UInt8]?

    public var flashMode: FlashMode? { FlashMode(rawValue: flashModeByte) }
    public var flashSize: FlashSize? { FlashSize(rawValue: flashSizeFrequency & 0xF0) }
    public var flashFrequency: FlashFrequency? { FlashFrequency(rawValue: flashSizeFrequency & 0x0F) }

    /// 0xEF XOR every segment byte.
    public var computedChecksum: UInt8 {
        var c = ESPImage.checksumSeed
        for s in segments { for b in s.data { c ^= b } }
        return c
    }
    public var checksumValid: Bool { computedChecksum == storedChecksum }
    /// Nil when no digest is appended.
    public var digestValid: Bool? {
        guard hashAppended, let s = storedDigest, let c = computedDigest else { return nil }
        return s == c
    }
    /// Length of the image including the appended digest.
    public var length: Int { checksumOffset + 1 + (hashAppended ? 32 : 0) }

    /// The app descriptor: the first DROM segment, when it starts with esp_app_desc_t.
    public var appDescriptor: AppDescriptor? {
        descriptorSegments().app.flatMap { AppDescriptor($0[...]) }
    }

    /// The bootloader descriptor (only looked for when the image has no DROM segment).
    public var bootloaderDescriptor: BootloaderDescriptor? {
        let d = descriptorSegments()
        if let app = d.app, !app.isEmpty { return nil }
        return d.bootloader.flatMap { BootloaderDescriptor($0[...]) }
    }

    /// Where esptool looks for the descriptors: the first DROM segment, else the last DRAM one of 80+ bytes.
    private func descriptorSegments() -> (app: [UInt8]?, bootloader: [UInt8]?) {
        var app: [UInt8]?
        var boot: [UInt8]?
        for s in segments {
            let t = s.memoryTypes
            if t.contains("DROM") && app == nil {
                app = s.data
            } else if t.contains("DRAM"), s.data.count >= BootloaderDescriptor.size {
                boot = s.data
            }
        }
        return (app, boot)
    }

    /// Reads an image file.
    public init(path: String, offset: Int = 0) throws {
        let bytes = try readFile(path)
        try self.init(bytes: bytes, path: path, offset: offset)
    }

    /// Parses the image that starts at `offset` in `bytes` (the contents of `path`).
    /// Throws InputError, one line naming the file and the byte offset, for anything malformed.
    public init(bytes: [UInt8], path: String, offset: Int = 0) throws {
        self.path = path
        fileOffset = offset
        func fail(_ at: Int, _ what: String) -> InputError {
            InputError("\(path): \(what) (offset \(hex(at)))")
        }
        guard !bytes.isEmpty else { throw InputError("\(path): empty file (offset 0x0)") }
        guard offset >= 0, offset < bytes.count else {
            throw InputError("\(path): offset \(hex(offset)) is past the end of the file (\(bytes.count) bytes)")
        }
        let avail = bytes.count - offset
        availableBytes = avail
        guard bytes[offset] == ESPImage.magic else {
            throw fail(offset, "not an ESP32 image: magic byte is \(hex(bytes[offset], width: 2)), expected 0xe9")
        }
        guard avail >= ESPImage.headerSize else {
            throw fail(offset + avail, "truncated image header: \(ESPImage.headerSize) bytes needed, only \(avail) in the file")
        }
        let h = Array(bytes[offset..<offset + ESPImage.headerSize])
        segmentCount = Int(h[1])
        flashModeByte = h[2]
        flashSizeFrequency = h[3]
        entry = le32(h, 4)
        wpPin = h[8]
        clkDrive = h[9] & 0xF; qDrive = h[9] >> 4
        dDrive = h[10] & 0xF; csDrive = h[10] >> 4
        hdDrive = h[11] & 0xF; wpDrive = h[11] >> 4
        chipID = le16(h, 12)
        minRevision = h[14]
        minRevisionFull = le16(h, 15)
        maxRevisionFull = le16(h, 17)
        reserved = Array(h[19..<23])
        guard h[23] <= 1 else {
            throw fail(offset + 23, "hash_appended byte is \(hex(h[23], width: 2)), must be 0 or 1")
        }
        hashAppended = h[23] == 1
        guard segmentCount <= ESPImage.maxSegments else {
            throw fail(offset + 1, "segment count \(segmentCount) is more than \(ESPImage.maxSegments)")
        }

        var pos = ESPImage.headerSize          // relative to the image start
        var segs: [Segment] = []
        for i in 0..<segmentCount {
            guard avail - pos >= 8 else {
                throw fail(offset + pos, "truncated image: the header promises \(segmentCount) segments, the file ends (at \(hex(bytes.count))) before the header of segment \(i)")
            }
            let addr = le32(bytes, offset + pos)
            let len = Int(le32(bytes, offset + pos + 4))
            guard len <= avail - pos - 8 else {
                throw fail(offset + pos + 4, "segment \(i) (load address \(hex(addr, width: 8))) is \(len) bytes, larger than the \(avail - pos - 8) bytes left in the file")
            }
            let start = offset + pos + 8
            segs.append(Segment(loadAddress: addr, headerOffset: pos, data: Array(bytes[start..<start + len])))
            pos += 8 + len
        }
        segments = segs
        // The checksum is the last byte of a 16-byte line.
        let checksumPos = pos + (15 - pos % 16)
        guard checksumPos < avail else {
            throw fail(offset + checksumPos, "truncated image: the checksum byte lies past the end of the file (\(bytes.count) bytes)")
        }
        checksumOffset = checksumPos
        storedChecksum = bytes[offset + checksumPos]
        if hashAppended {
            let digestPos = checksumPos + 1
            guard avail - digestPos >= 32 else {
                throw fail(offset + digestPos, "truncated image: the header says a SHA-256 digest is appended, but only \(max(0, avail - digestPos)) of its 32 bytes are in the file")
            }
            storedDigest = Array(bytes[offset + digestPos..<offset + digestPos + 32])
            computedDigest = Digest.sha256(bytes[offset..<offset + digestPos])
        } else {
            storedDigest = nil
            computedDigest = nil
        }
    }

    /// The report `esptool --chip esp32 image-info` prints (from its "Image size" line on).
    public func info() -> String {
        var out = ""
        func line(_ s: String = "") { out += s + "\n" }
        func title(_ s: String) { line(s); line(String(repeating: "=", count: s.count)) }
        line("Image size: \(availableBytes) bytes")
        line()
        title("ESP32 Image Header")
        line("Image version: 1")
        if entry != 0 {
            let e = hex(entry)
            line("Entry point: " + String(repeating: " ", count: max(0, 8 - e.count)) + e)
        } else {
            line("Entry point not set")
        }
        line("Segments: \(segments.count)")
        if let s = flashSize { line("Flash size: \(s.name)") } else { line("Warning: Invalid flash size (\(hex(flashSizeFrequency & 0xF0)))") }
        if let f = flashFrequency { line("Flash freq: \(f.name)") } else { line("Warning: Invalid flash frequency (\(hex(flashSizeFrequency & 0x0F)))") }
        if let m = flashMode { line("Flash mode: \(m.name.uppercased())") } else { line("Warning: Invalid flash mode (\(flashModeByte))") }
        line()
        title("ESP32 Extended Image Header")
        line("WP pin: \(hex(wpPin))" + (wpPin == ESPImage.wpPinDisabled ? " (disabled)" : ""))
        line("Flash pins drive settings: clk_drv: \(hex(clkDrive)), q_drv: \(hex(qDrive)), d_drv: \(hex(dDrive)), "
             + "cs0_drv: \(hex(csDrive)), hd_drv: \(hex(hdDrive)), wp_drv: \(hex(wpDrive))")
        line("Chip ID: \(chipID) (\(ESPImage.chipName(chipID) ?? "Unknown ID"))")
        line("Minimal chip revision: v\(minRevisionFull / 100).\(minRevisionFull % 100), (legacy min_rev = \(minRevision))")
        line("Maximal chip revision: v\(maxRevisionFull / 100).\(maxRevisionFull % 100)")
        line()
        title("Segments Information")
        line("Segment   Length   Load addr   File offs  Memory types")
        line("-------  -------  ----------  ----------  ------------")
        for (i, s) in segments.enumerated() {
            let idx = String(repeating: " ", count: max(0, 7 - String(i).count)) + String(i)
            line("\(idx)  \(hex(s.length, width: 5))  \(hex(s.loadAddress, width: 8))  \(hex(s.headerOffset, width: 8))  \(s.memoryTypes.joined(separator: ", "))")
        }
        line()
        title("ESP32 Image Footer")
        let calc = computedChecksum
        line("Checksum: \(hex(storedChecksum, width: 2)) (" + (checksumValid ? "valid" : "invalid - calculated \(hex(calc, width: 2))") + ")")
        if hashAppended, let c = computedDigest {
            line("Validation hash: \(Digest.hex(c)) (\(digestValid == true ? "valid" : "invalid"))")
        }
        let d = descriptorSegments()
        if let app = d.app, !app.isEmpty {
            if let a = AppDescriptor(app[...]) {
                line()
                title("Application Information")
                line("Project name: \(a.projectName)")
                line("App version: \(a.version)")
                line("Compile time: \(a.date) \(a.time)")
                line("ELF file SHA256: \(Digest.hex(a.elfSHA256))")
                line("ESP-IDF: \(a.idfVersion)")
                line("Minimal eFuse block revision: \(a.minEfuseBlockRevision / 100).\(a.minEfuseBlockRevision % 100)")
                line("Maximal eFuse block revision: \(a.maxEfuseBlockRevision / 100).\(a.maxEfuseBlockRevision % 100)")
                if a.mmuPageSizeLog2 != 0 {
                    let p = Int(a.mmuPageSizeLog2)
                    line("MMU page size: " + (p < 62 ? "\((1 << p) / 1024) KB" : "2^\(p) bytes"))
                }
                line("Secure version: \(a.secureVersion)")
            }
        } else if let boot = d.bootloader, let b = BootloaderDescriptor(boot[...]) {
            line()
            title("Bootloader Information")
            line("Bootloader version: \(b.version)")
            line("ESP-IDF: \(b.idfVersion)")
            line("Compile time: \(b.dateTime)")
        }
        return out
    }

    /// esptool's chip names for the image header's chip id.
    public static func chipName(_ id: UInt16) -> String? {
        let names: [UInt16: String] = [0: "ESP32", 2: "ESP32-S2", 5: "ESP32-C3", 9: "ESP32-S3", 12: "ESP32-C2",
                                       13: "ESP32-C6", 16: "ESP32-H2", 18: "ESP32-P4", 20: "ESP32-C61",
                                       23: "ESP32-C5", 25: "ESP32-H21", 28: "ESP32-H4", 31: "ESP32-E22", 32: "ESP32-S31"]
        return names[id]
    }
}

// MARK: Helpers shared by the format readers

func le16(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(b[at]) | UInt16(b[at + 1]) << 8 }
func le32(_ b: [UInt8], _ at: Int) -> UInt32 {
    UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
}
func putLE32(_ v: UInt32, into out: inout [UInt8]) {
    out += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
}

/// A fixed-size C string field: every NUL dropped (as esptool does), bytes decoded as UTF-8.
func cString(_ b: ArraySlice<UInt8>) -> String {
    String(decoding: b.filter { $0 != 0 }, as: UTF8.self)
}

/// "0x" + lower-case hex, zero-padded to `width` digits.
func hex<T: BinaryInteger>(_ v: T, width: Int = 0) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, width - s.count)) + s
}

/// Reads a whole file; InputError (naming the file) when it is missing, a directory or unreadable.
public func readFile(_ path: String) throws -> [UInt8] {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw InputError("\(path): no such file") }
    guard !isDir.boolValue else { throw InputError("\(path): is a directory") }
    guard let d = FileManager.default.contents(atPath: path) else { throw InputError("\(path): cannot read file") }
    return [UInt8](d)
}

import Foundation

/// The ESP-IDF partition table (flash 0x8000): 32-byte entries
///
///   u16 magic 0x50AA (bytes AA 50), u8 type, u8 subtype, u32 offset, u32 size, char name[16], u32 flags
///
/// optionally followed (ESP-IDF v3.1 on) by an MD5 entry (bytes EB EB, 14 x FF, then the MD5 of all
/// the preceding entries), and ended by an entry of 32 x FF. Printed as ESP-IDF's gen_esp32part.py
/// prints a binary table.
public struct PartitionTable: Sendable {
    public static let entrySize = 32
    /// The sector the table lives in; entries may fill 0xC00 of it.
    public static let sectorSize = 0x1000
    public static let defaultFlashOffset: UInt32 = 0x8000

    public struct Entry: Sendable {
        public var type: UInt8
        public var subtype: UInt8
        public var offset: UInt32
        public var size: UInt32
        public var name: String
        public var flags: UInt32
        /// Offset of the entry in the file.
        public var fileOffset: Int

        public var isEncrypted: Bool { flags & 1 != 0 }
        public var isReadOnly: Bool { flags & 2 != 0 }

        /// gen_esp32part's name for the type ("app", "data", ...), else the number in decimal.
        public var typeName: String { PartitionTable.typeNames.first { $0.1 == type }?.0 ?? String(type) }
        /// gen_esp32part's name for the subtype ("factory", "ota_0", "nvs", ...), else the number in decimal.
        public var subtypeName: String {
            PartitionTable.subtypeNames[type]?.first { $0.1 == subtype }?.0 ?? String(subtype)
        }

        /// One CSV row as gen_esp32part writes it: name,type,subtype,offset,size,flags.
        public var csvRow: String {
            var flagNames: [String] = []
            if isEncrypted { flagNames.append("encrypted") }
            if isReadOnly { flagNames.append("readonly") }
            return [name, typeName, subtypeName, "0x" + String(offset, radix: 16), PartitionTable.sizeText(size),
                    flagNames.joined(separator: ":")].joined(separator: ",")
        }
    }

    public var path: String
    /// Where the table starts in the file (0, or 0x8000 in a whole-flash image).
    public var fileOffset: Int
    /// Where the table sits in flash (checks that partitions start after it).
    public var flashOffset: UInt32
    public var entries: [Entry]
    /// The MD5 entry's digest and file offset; nil for tables older than ESP-IDF v3.1.
    public var md5: (digest: [UInt8], fileOffset: Int)?
    /// Messages gen_esp32part prints as warnings (unknown flags, names that look like other types).
    public var warnings: [String] = []

    public static let typeNames: [(String, UInt8)] = [("bootloader", 2), ("partition_table", 3), ("app", 0), ("data", 1)]
    public static let subtypeNames: [UInt8: [(String, UInt8)]] = {
        var app: [(String, UInt8)] = [("factory", 0x00), ("test", 0x20)]
        for i in 0..<16 { app.append(("ota_\(i)", UInt8(0x10 + i))) }
        for i in 0..<2 { app.append(("tee_\(i)", UInt8(0x30 + i))) }
        return [
            2: [("primary", 0), ("ota", 1), ("recovery", 2)],
            3: [("primary", 0), ("ota", 1)],
            0: app,
            1: [("ota", 0x00), ("phy", 0x01), ("nvs", 0x02), ("coredump", 0x03), ("nvs_keys", 0x04), ("efuse", 0x05),
                ("undefined", 0x06), ("esphttpd", 0x80), ("fat", 0x81), ("spiffs", 0x82), ("littlefs", 0x83), ("tee_ota", 0x90)],
        ]
    }()

    /// gen_esp32part's size column: "1M", "24K", else hex.
    public static func sizeText(_ v: UInt32) -> String {
        if v % 0x10_0000 == 0 { return "\(v / 0x10_0000)M" }
        if v % 0x400 == 0 { return "\(v / 0x400)K" }
        return "0x" + String(v, radix: 16)
    }

    public init(path: String) throws {
        try self.init(bytes: readFile(path), path: path)
    }

    /// Parses a table file, or a whole-flash image with the table at 0x8000 (used when the file does
    /// not start with an entry but has one at 0x8000). Throws InputError naming the file and offset.
    public init(bytes: [UInt8], path: String, flashOffset: UInt32 = PartitionTable.defaultFlashOffset) throws {
        self.path = path
        self.flashOffset = flashOffset
        guard !bytes.isEmpty else { throw InputError("\(path): empty file (offset 0x0)") }
        let isEntry = { (at: Int) in bytes.count >= at + 2 && bytes[at] == 0xAA && bytes[at + 1] == 0x50 }
        var start = 0
        if !isEntry(0) {
            let inFlash = Int(PartitionTable.defaultFlashOffset)
            if bytes.count > inFlash, isEntry(inFlash) {
                start = inFlash
            } else {
                let found = bytes.prefix(2).map { String(format: "%02x", $0) }.joined(separator: " ")
                throw InputError("\(path): not a partition table: starts with \(found), expected aa 50 (offset 0x0)")
            }
        }
        fileOffset = start
        var entries: [Entry] = []
        var hashed: [UInt8] = []
        var md5: (digest: [UInt8], fileOffset: Int)?
        let limit = min(bytes.count, start + PartitionTable.sectorSize)
        var at = start
        while true {
            guard at < limit else {
                throw InputError("\(path): no end-of-table marker (an entry of 32 0xff bytes) before offset \(hex(at))")
            }
            guard limit - at >= PartitionTable.entrySize else {
                throw InputError("\(path): truncated entry: \(limit - at) bytes where 32 are needed (offset \(hex(at)))")
            }
            let e = Array(bytes[at..<at + PartitionTable.entrySize])
            if e.allSatisfy({ $0 == 0xFF }) { break }
            if e[0] == 0xEB && e[1] == 0xEB {
                let computed = Digest.md5(hashed)
                let stored = Array(e[16..<32])
                guard stored == computed else {
                    throw InputError("\(path): MD5 entry does not match the entries before it (computed \(Digest.hex(computed)), stored \(Digest.hex(stored))) (offset \(hex(at)))")
                }
                md5 = (stored, at)
                at += PartitionTable.entrySize
                continue
            }
            guard e[0] == 0xAA && e[1] == 0x50 else {
                throw InputError("\(path): entry \(entries.count) has magic \(String(format: "%02x %02x", e[0], e[1])), expected aa 50 (offset \(hex(at)))")
            }
            hashed += e
            let nameBytes = e[12..<28].prefix { $0 != 0 }
            var entry = Entry(type: e[2], subtype: e[3], offset: le32(e, 4), size: le32(e, 8),
                              name: String(decoding: nameBytes, as: UTF8.self), flags: le32(e, 28), fileOffset: at)
            if entry.flags & ~3 != 0 {
                warnings.append("partition \(entry.name) has unknown flag(s) \(hex(entry.flags & ~3, width: 8)) (offset \(hex(at + 28)))")
                entry.flags &= 3
            }
            entries.append(entry)
            at += PartitionTable.entrySize
        }
        self.entries = entries
        self.md5 = md5
    }

    /// The table as gen_esp32part.py prints it.
    public var csv: String {
        (["# ESP-IDF Partition Table", "# Name, Type, SubType, Offset, Size, Flags"] + entries.map(\.csvRow))
            .joined(separator: "\n") + "\n"
    }

    /// gen_esp32part's checks of a table: alignment, overlaps, duplicate names, otadata.
    /// Throws InputError naming the file and the offending entry's offset; adds warnings.
    public mutating func verify() throws {
        func fail(_ e: Entry, _ what: String) -> InputError {
            InputError("\(path): partition \(e.name) invalid: \(what) (offset \(hex(e.fileOffset)))")
        }
        for e in entries {
            let align: UInt32 = e.type == 0 ? 0x1_0000 : 0x1000
            if e.offset % align != 0 { throw fail(e, "offset \(hex(e.offset)) is not aligned to \(hex(align))") }
            if e.type == 0 && e.size % 0x1000 != 0 { throw fail(e, "size \(hex(e.size)) is not aligned to 0x1000") }
            if let t = PartitionTable.typeNames.first(where: { $0.0 == e.name }), t.1 != e.type {
                warnings.append("partition has name '\(e.name)' which is a partition type, but does not match this partition's type (\(hex(e.type))). Mistake in partition table?")
            }
            let allSubtypeNames = PartitionTable.subtypeNames.values.flatMap { $0.map(\.0) }
            if allSubtypeNames.contains(e.name),
               PartitionTable.subtypeNames[e.type]?.first(where: { $0.0 == e.name })?.1 != e.subtype {
                warnings.append("partition has name '\(e.name)' which is a partition subtype, but this partition has non-matching type \(hex(e.type)) and subtype \(hex(e.subtype)). Mistake in partition table?")
            }
            if e.type == 1 && (e.subtype == 0x00 || e.subtype == 0x03) && e.isReadOnly {
                throw fail(e, "partition of type \(e.type) and subtype \(e.subtype) is always read-write and cannot be read-only")
            }
            if e.type == 1 && e.subtype == 0x02 && e.size < 0x3000 && !e.isReadOnly {
                throw fail(e, "nvs partition of size \(hex(e.size)) must be flagged readonly (read/write NVS needs at least 0x3000)")
            }
        }
        var seen: Set<String> = []
        for e in entries {
            if seen.contains(e.name) { throw fail(e, "partition names must be unique") }
            seen.insert(e.name)
        }
        let tableEnd = UInt64(flashOffset) + UInt64(PartitionTable.sectorSize)
        var last: Entry?
        for e in entries.enumerated().sorted(by: { ($0.element.offset, $0.offset) < ($1.element.offset, $1.offset) }).map(\.element) {
            let isPrimaryBootloaderOrTable = (e.type == 2 || e.type == 3) && e.subtype == 0
            if UInt64(e.offset) < tableEnd && !isPrimaryBootloaderOrTable {
                throw fail(e, "offset \(hex(e.offset)) is below \(hex(tableEnd)), the end of the partition table")
            }
            if let l = last, UInt64(e.offset) < UInt64(l.offset) + UInt64(l.size) {
                throw fail(e, "at \(hex(e.offset)) it overlaps \(l.name) (\(hex(l.offset))-\(hex(UInt64(l.offset) + UInt64(l.size) - 1)))")
            }
            last = e
        }
        for (subtype, what) in [(UInt8(0x00), "otadata"), (UInt8(0x90), "TEE otadata")] {
            let ota = entries.filter { $0.type == 1 && $0.subtype == subtype }
            if ota.count > 1 { throw fail(ota[1], "found multiple \(what) partitions, only one is allowed") }
            if let o = ota.first, o.size != 0x2000 { throw fail(o, "\(what) partition must have size 0x2000") }
        }
    }
}

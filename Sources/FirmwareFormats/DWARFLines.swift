// DWARF line-number programs (.debug_line, DWARF versions 2 to 5): address -> source file and line,
// for naming backtrace addresses as `function at file:line` (as addr2line does).
//
// Every line program of the section is run; the rows of each sequence become address ranges
// [row.address, next row's address) sorted for binary search. Only what addr2line -f needs is
// kept: file path and line (no columns, no inlining: that would need .debug_info).

/// Source lines of one ELF's code.
public struct LineTable {
    public struct Location: Equatable, CustomStringConvertible {
        public var file: String
        public var line: Int
        public var description: String { "\(file):\(line)" }
        public init(file: String, line: Int) { self.file = file; self.line = line }
    }

    struct Range { var start: UInt32; var end: UInt32; var file: Int32; var line: Int32 }
    private var ranges: [Range] = []
    private var files: [String] = []

    public init() {}

    /// The line table of an ELF (empty when it has no .debug_line).
    public init(elf: ELFFile) throws {
        func section(_ name: String) -> [UInt8]? { elf.sections.first { $0.name == name }?.data }
        guard let lines = section(".debug_line"), !lines.isEmpty else { self.init(); return }
        try self.init(debugLine: lines, lineStrings: section(".debug_line_str") ?? [], strings: section(".debug_str") ?? [], path: elf.path)
    }

    /// Runs every line program in `debugLine`. `lineStrings` / `strings` are .debug_line_str and
    /// .debug_str (DWARF 5 file and directory names may point into them).
    public init(debugLine: [UInt8], lineStrings: [UInt8] = [], strings: [UInt8] = [], path: String = ".debug_line") throws {
        var fileIndex: [String: Int32] = [:]
        var result: [Range] = []
        try debugLine.withUnsafeBufferPointer { buf in
            var r = DWARFReader(buf, path: path)
            while r.offset < buf.count {
                let unitStart = r.offset
                var length = UInt64(try r.u32())
                var offset64 = false
                if length == 0xFFFF_FFFF { length = try r.u64(); offset64 = true }
                if length == 0 { continue }
                let unitEnd = r.offset + Int(length)
                guard unitEnd <= buf.count, unitEnd > r.offset else {
                    throw InputError("\(path): .debug_line unit at offset 0x\(String(unitStart, radix: 16)) runs past the section")
                }
                let program = try LineProgram(&r, unitEnd: unitEnd, offset64: offset64, lineStrings: lineStrings, strings: strings, path: path)
                let ids = program.files.map { name -> Int32 in
                    if let i = fileIndex[name] { return i }
                    let i = Int32(files.count)
                    files.append(name)
                    fileIndex[name] = i
                    return i
                }
                try program.run(&r, unitEnd: unitEnd) { rows in
                    // One sequence: consecutive rows cover [row, next row).
                    for k in 0..<(rows.count - 1) where rows[k + 1].address > rows[k].address {
                        let f = rows[k].file
                        let file = f >= 0 && f < ids.count ? ids[f] : -1
                        result.append(Range(start: rows[k].address, end: rows[k + 1].address, file: file, line: Int32(clamping: rows[k].line)))
                    }
                }
                r.offset = unitEnd
            }
        }
        // Sequences discarded by the linker's garbage collection sit at address 0: they never
        // cover code, so drop them before sorting.
        ranges = result.filter { $0.start != 0 }.sorted { $0.start != $1.start ? $0.start < $1.start : $0.end < $1.end }
    }

    public var isEmpty: Bool { ranges.isEmpty }

    /// The source line holding `address`.
    public func lookup(_ address: UInt32) -> Location? {
        var lo = 0, hi = ranges.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ranges[mid].start <= address { lo = mid + 1 } else { hi = mid }
        }
        // The last range starting at or before the address; a few earlier ones may be longer.
        var i = lo - 1
        var tries = 0
        while i >= 0 && tries < 8 {
            let r = ranges[i]
            if address < r.end {
                return Location(file: r.file >= 0 ? files[Int(r.file)] : "??", line: Int(r.line))
            }
            i -= 1; tries += 1
        }
        return nil
    }
}

/// Little-endian reader over a section's bytes; every read is bounds-checked.
struct DWARFReader {
    let buf: UnsafeBufferPointer<UInt8>
    var offset = 0
    let path: String

    init(_ buf: UnsafeBufferPointer<UInt8>, path: String) { self.buf = buf; self.path = path }

    func truncated() -> InputError { InputError("\(path): .debug_line is truncated at offset 0x\(String(offset, radix: 16))") }

    mutating func u8() throws -> UInt8 {
        guard offset < buf.count else { throw truncated() }
        defer { offset += 1 }
        return buf[offset]
    }
    mutating func u16() throws -> UInt16 { UInt16(try u8()) | UInt16(try u8()) << 8 }
    mutating func u32() throws -> UInt32 { UInt32(try u16()) | UInt32(try u16()) << 16 }
    mutating func u64() throws -> UInt64 { UInt64(try u32()) | UInt64(try u32()) << 32 }
    mutating func sized(_ n: Int) throws -> UInt64 {
        switch n {
        case 1: return UInt64(try u8())
        case 2: return UInt64(try u16())
        case 4: return UInt64(try u32())
        case 8: return try u64()
        default: try skip(n); return 0
        }
    }
    mutating func skip(_ n: Int) throws {
        guard n >= 0, offset + n <= buf.count else { throw truncated() }
        offset += n
    }
    mutating func uleb() throws -> UInt64 {
        var v: UInt64 = 0, shift: UInt64 = 0
        while true {
            let b = try u8()
            if shift < 64 { v |= UInt64(b & 0x7F) << shift }
            shift += 7
            if b & 0x80 == 0 { return v }
        }
    }
    mutating func sleb() throws -> Int64 {
        var v: Int64 = 0, shift: Int64 = 0
        var b: UInt8
        repeat {
            b = try u8()
            if shift < 64 { v |= Int64(b & 0x7F) << shift }
            shift += 7
        } while b & 0x80 != 0
        if shift < 64 && b & 0x40 != 0 { v |= -(Int64(1) << shift) }
        return v
    }
    mutating func cString() throws -> String {
        let start = offset
        while true {
            guard offset < buf.count else { throw truncated() }
            if buf[offset] == 0 { break }
            offset += 1
        }
        let s = String(decoding: UnsafeBufferPointer(rebasing: buf[start..<offset]), as: UTF8.self)
        offset += 1
        return s
    }
}

/// One line-number program's header and state machine.
struct LineProgram {
    struct Row { var address: UInt32; var file: Int; var line: Int }

    var version: UInt16 = 0
    var minInstructionLength: UInt64 = 1
    var defaultIsStmt = true
    var lineBase: Int64 = 0
    var lineRange: UInt64 = 1
    var opcodeBase: UInt8 = 1
    var standardLengths: [UInt8] = []
    /// File names as paths, in the program's numbering (DWARF 5: from 0; earlier: from 1, index 0 unused).
    var files: [String] = []
    var directories: [String] = []
    let path: String

    init(_ r: inout DWARFReader, unitEnd: Int, offset64: Bool, lineStrings: [UInt8], strings: [UInt8], path: String) throws {
        self.path = path
        version = try r.u16()
        guard (2...5).contains(version) else {
            throw InputError("\(path): .debug_line unit at offset 0x\(String(r.offset - 6, radix: 16)) has unsupported DWARF version \(version)")
        }
        if version >= 5 {
            _ = try r.u8()   // address_size
            _ = try r.u8()   // segment_selector_size
        }
        let headerLength = offset64 ? Int(try r.u64()) : Int(try r.u32())
        let programStart = r.offset + headerLength
        guard programStart <= unitEnd else { throw r.truncated() }
        minInstructionLength = UInt64(try r.u8())
        if version >= 4 { _ = try r.u8() }   // maximum_operations_per_instruction (VLIW only)
        defaultIsStmt = try r.u8() != 0
        lineBase = Int64(Int8(bitPattern: try r.u8()))
        lineRange = UInt64(try r.u8())
        guard lineRange > 0 else { throw InputError("\(path): .debug_line header has line_range 0") }
        opcodeBase = try r.u8()
        standardLengths = []
        for _ in 1..<max(1, Int(opcodeBase)) { standardLengths.append(try r.u8()) }
        if version >= 5 {
            directories = try LineProgram.entries(&r, offset64: offset64, lineStrings: lineStrings, strings: strings).map(\.path)
            let entries = try LineProgram.entries(&r, offset64: offset64, lineStrings: lineStrings, strings: strings)
            files = entries.map { join(directory: $0.directory, name: $0.path) }
        } else {
            directories = [""]
            while true {
                let d = try r.cString()
                if d.isEmpty { break }
                directories.append(d)
            }
            files = [""]
            while true {
                let name = try r.cString()
                if name.isEmpty { break }
                let dir = Int(try r.uleb())
                _ = try r.uleb(); _ = try r.uleb()   // mtime, length
                files.append(join(directory: dir, name: name))
            }
        }
        r.offset = programStart
    }

    func join(directory: Int, name: String) -> String {
        if name.hasPrefix("/") || name.dropFirst().hasPrefix(":") { return name }   // absolute (also C:/...)
        guard directory >= 0 && directory < directories.count, !directories[directory].isEmpty else { return name }
        let d = directories[directory]
        return d.hasSuffix("/") || d.hasSuffix("\\") ? d + name : d + "/" + name
    }

    /// DWARF 5 directory or file-name entries: format description, then the entries.
    static func entries(_ r: inout DWARFReader, offset64: Bool, lineStrings: [UInt8], strings: [UInt8]) throws -> [(path: String, directory: Int)] {
        let formatCount = Int(try r.u8())
        var format: [(UInt64, UInt64)] = []
        for _ in 0..<formatCount { format.append((try r.uleb(), try r.uleb())) }
        let count = Int(try r.uleb())
        var out: [(path: String, directory: Int)] = []
        for _ in 0..<count {
            var path = "", dir = 0
            for (content, form) in format {
                var text: String?
                var number: UInt64 = 0
                switch form {
                case 0x08: text = try r.cString()                                           // DW_FORM_string
                case 0x1F: text = string(at: offset64 ? try r.u64() : UInt64(try r.u32()), in: lineStrings)   // line_strp
                case 0x0E: text = string(at: offset64 ? try r.u64() : UInt64(try r.u32()), in: strings)       // strp
                case 0x0B: number = try r.sized(1)                                          // data1
                case 0x05: number = try r.sized(2)                                          // data2
                case 0x06: number = try r.sized(4)                                          // data4
                case 0x07: number = try r.sized(8)                                          // data8
                case 0x1E: try r.skip(16)                                                   // data16 (MD5)
                case 0x0F: number = try r.uleb()                                            // udata
                case 0x09: try r.skip(Int(try r.uleb()))                                    // block
                case 0x25: _ = try r.sized(1)                                               // strx1..4, strx: no
                case 0x26: _ = try r.sized(2)                                               // .debug_str_offsets here
                case 0x27: try r.skip(3)
                case 0x28: _ = try r.sized(4)
                case 0x1A: _ = try r.uleb()
                default:
                    throw InputError("\(r.path): .debug_line uses unsupported attribute form 0x\(String(form, radix: 16))")
                }
                if content == 1, let t = text { path = t }              // DW_LNCT_path
                if content == 2 { dir = Int(truncatingIfNeeded: number) } // DW_LNCT_directory_index
            }
            out.append((path, dir))
        }
        return out
    }

    static func string(at offset: UInt64, in section: [UInt8]) -> String {
        guard offset < UInt64(section.count) else { return "??" }
        let start = Int(offset)
        let end = section[start...].firstIndex(of: 0) ?? section.count
        return String(decoding: section[start..<end], as: UTF8.self)
    }

    /// Runs the program, handing each finished sequence (rows in address order, the last one
    /// the end_sequence row) to `emit`.
    func run(_ r: inout DWARFReader, unitEnd: Int, emit: ([Row]) -> Void) throws {
        var address: UInt64 = 0, file = 1, line: Int64 = 1
        var rows: [Row] = []
        func reset() { address = 0; file = 1; line = 1 }
        func row() { rows.append(Row(address: UInt32(truncatingIfNeeded: address), file: file, line: Int(line))) }
        while r.offset < unitEnd {
            let op = try r.u8()
            if op >= opcodeBase {
                let adjusted = UInt64(op - opcodeBase)
                address &+= (adjusted / lineRange) * minInstructionLength
                line += lineBase + Int64(adjusted % lineRange)
                row()
                continue
            }
            switch op {
            case 0:   // extended opcode
                let len = Int(try r.uleb())
                guard len > 0 else { continue }
                let end = r.offset + len
                guard end <= unitEnd else { throw r.truncated() }
                let sub = try r.u8()
                switch sub {
                case 1:   // DW_LNE_end_sequence
                    row()
                    if rows.count > 1 { emit(rows) }
                    rows.removeAll(keepingCapacity: true)
                    reset()
                case 2:   // DW_LNE_set_address
                    address = try r.sized(len - 1)
                default: break   // define_file (v2-4), set_discriminator, vendor: skipped
                }
                r.offset = end
            case 1: row()                                                          // copy
            case 2: address &+= try r.uleb() * minInstructionLength               // advance_pc
            case 3: line += try r.sleb()                                           // advance_line
            case 4: file = Int(truncatingIfNeeded: try r.uleb())                   // set_file
            case 5: _ = try r.uleb()                                               // set_column
            case 6, 7, 10, 11: break                                               // negate_stmt, basic_block, prologue_end, epilogue_begin
            case 8: address &+= ((255 - UInt64(opcodeBase)) / lineRange) * minInstructionLength   // const_add_pc
            case 9: address &+= UInt64(try r.u16())                               // fixed_advance_pc
            default:
                // A standard opcode this decoder does not know: skip its ULEB operands.
                let n = Int(op) - 1 < standardLengths.count ? Int(standardLengths[Int(op) - 1]) : 0
                for _ in 0..<n { _ = try r.uleb() }
            }
        }
    }
}

import CLibElf
import Foundation

/// A problem with an input file: one line naming the file (and offset when known). Exit code 2.
public struct InputError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// An ELF file read through libelf: sections, loadable segments and symbols.
public struct ELFFile {
    public struct Section {
        public var name: String
        public var address: UInt32
        public var size: UInt32
        public var flags: UInt64
        public var type: UInt32
        public var data: [UInt8]
        public var isExecutable: Bool { flags & UInt64(SHF_EXECINSTR) != 0 }
        public var isAllocated: Bool { flags & UInt64(SHF_ALLOC) != 0 }
        public var hasBits: Bool { type == SHT_PROGBITS }
    }

    public struct Segment {
        public var virtualAddress: UInt32
        public var physicalAddress: UInt32
        public var fileSize: UInt32
        public var memorySize: UInt32
        public var flags: UInt32
        public var data: [UInt8]
    }

    public struct Symbol {
        public var name: String
        public var value: UInt32
        public var size: UInt32
        public var isFunction: Bool
        public var section: Int
    }

    public var path: String
    public var machine: UInt16
    public var entry: UInt32
    public var sections: [Section] = []
    public var segments: [Segment] = []
    public var symbols: [Symbol] = []

    public static let machineXtensa: UInt16 = 94

    /// Reads an ELF file. Throws InputError with a one-line message for anything malformed.
    public init(path: String) throws {
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw InputError("\(path): cannot read file")
        }
        try self.init(bytes: [UInt8](bytes), path: path)
    }

    public init(bytes: [UInt8], path: String) throws {
        self.path = path
        guard bytes.count >= 52 else { throw InputError("\(path): not an ELF file (only \(bytes.count) bytes)") }
        guard bytes[0] == 0x7F, bytes[1] == 0x45, bytes[2] == 0x4C, bytes[3] == 0x46 else {
            throw InputError("\(path): not an ELF file (bad magic at offset 0)")
        }
        guard bytes[4] == 1 else { throw InputError("\(path): not a 32-bit ELF file (class \(bytes[4]) at offset 4)") }
        guard bytes[5] == 1 else { throw InputError("\(path): not a little-endian ELF file (offset 5)") }
        if elf_version(UInt32(EV_CURRENT)) == UInt32(EV_NONE) { throw InputError("libelf initialisation failed") }

        var result: (UInt16, UInt32, [Section], [Segment], [Symbol])?
        var failure: InputError?
        bytes.withUnsafeBufferPointer { buf in
            let raw = UnsafeMutableRawPointer(mutating: buf.baseAddress!)
            guard let e = elf_memory(raw.assumingMemoryBound(to: CChar.self), buf.count) else {
                failure = InputError("\(path): libelf cannot open it: \(String(cString: elf_errmsg(-1)))"); return
            }
            defer { elf_end(e) }
            var ehdr = GElf_Ehdr()
            guard gelf_getehdr(e, &ehdr) != nil else {
                failure = InputError("\(path): bad ELF header: \(String(cString: elf_errmsg(-1)))"); return
            }
            var secs: [Section] = []
            var shstrndx = 0
            if elf_getshdrstrndx(e, &shstrndx) != 0 { shstrndx = 0 }
            var scn: OpaquePointer? = elf_nextscn(e, nil)
            var symtabs: [(OpaquePointer, GElf_Shdr)] = []
            while let s = scn {
                var sh = GElf_Shdr()
                if gelf_getshdr(s, &sh) != nil {
                    let name = elf_strptr(e, shstrndx, Int(sh.sh_name)).map { String(cString: $0) } ?? ""
                    var data: [UInt8] = []
                    if sh.sh_type != SHT_NOBITS, sh.sh_size > 0 {
                        guard sh.sh_offset + sh.sh_size <= UInt64(buf.count) else {
                            failure = InputError("\(path): section \(name) extends past the end of the file (offset 0x\(String(sh.sh_offset, radix: 16)))")
                            return
                        }
                        if let d = elf_getdata(s, nil), let p = d.pointee.d_buf {
                            data = [UInt8](UnsafeRawBufferPointer(start: p, count: Int(d.pointee.d_size)))
                        }
                    }
                    secs.append(Section(name: name, address: UInt32(truncatingIfNeeded: sh.sh_addr), size: UInt32(truncatingIfNeeded: sh.sh_size),
                                        flags: sh.sh_flags, type: sh.sh_type, data: data))
                    if sh.sh_type == SHT_SYMTAB { symtabs.append((s, sh)) }
                }
                scn = elf_nextscn(e, s)
            }
            var segs: [Segment] = []
            var phnum = 0
            if elf_getphdrnum(e, &phnum) == 0 {
                for i in 0..<phnum {
                    var ph = GElf_Phdr()
                    guard gelf_getphdr(e, Int32(i), &ph) != nil else { continue }
                    guard ph.p_type == PT_LOAD else { continue }
                    guard ph.p_offset + ph.p_filesz <= UInt64(buf.count) else {
                        failure = InputError("\(path): segment \(i) extends past the end of the file (offset 0x\(String(ph.p_offset, radix: 16)))")
                        return
                    }
                    let data = Array(buf[Int(ph.p_offset)..<Int(ph.p_offset + ph.p_filesz)])
                    segs.append(Segment(virtualAddress: UInt32(truncatingIfNeeded: ph.p_vaddr), physicalAddress: UInt32(truncatingIfNeeded: ph.p_paddr),
                                        fileSize: UInt32(truncatingIfNeeded: ph.p_filesz), memorySize: UInt32(truncatingIfNeeded: ph.p_memsz),
                                        flags: ph.p_flags, data: data))
                }
            }
            var syms: [Symbol] = []
            for (s, sh) in symtabs {
                guard let d = elf_getdata(s, nil), sh.sh_entsize > 0 else { continue }
                let count = Int(sh.sh_size / sh.sh_entsize)
                for i in 0..<count {
                    var sym = GElf_Sym()
                    guard gelf_getsym(d, Int32(i), &sym) != nil else { continue }
                    guard let np = elf_strptr(e, Int(sh.sh_link), Int(sym.st_name)) else { continue }
                    let name = String(cString: np)
                    if name.isEmpty { continue }
                    let type = Int32(sym.st_info & 0xF)
                    syms.append(Symbol(name: name, value: UInt32(truncatingIfNeeded: sym.st_value), size: UInt32(truncatingIfNeeded: sym.st_size),
                                       isFunction: type == STT_FUNC, section: Int(sym.st_shndx)))
                }
            }
            result = (ehdr.e_machine, UInt32(truncatingIfNeeded: ehdr.e_entry), secs, segs, syms)
        }
        if let f = failure { throw f }
        guard let r = result else { throw InputError("\(path): cannot read ELF") }
        machine = r.0; entry = r.1; sections = r.2; segments = r.3; symbols = r.4
    }

    /// Fails unless the file is for Xtensa.
    public func requireXtensa() throws {
        guard machine == ELFFile.machineXtensa else {
            throw InputError("\(path): ELF is for machine \(machine), not Xtensa (94) (offset 18)")
        }
    }

    /// Sections holding code, with their bytes.
    public var executableSections: [Section] {
        sections.filter { $0.isExecutable && $0.isAllocated && $0.hasBits && !$0.data.isEmpty }
    }
}

/// Writes a minimal ELF32 Xtensa executable: one loadable .text section plus a symbol table.
public enum ELFWriter {
    public static func executable(code: [UInt8], base: UInt32, entry: UInt32, symbols: [String: UInt32]) -> [UInt8] {
        var out: [UInt8] = []
        func u8(_ v: UInt8) { out.append(v) }
        func u16(_ v: UInt16) { out.append(UInt8(v & 0xFF)); out.append(UInt8(v >> 8)) }
        func u32(_ v: UInt32) { for i in 0..<4 { out.append(UInt8((v >> (8 * UInt32(i))) & 0xFF)) } }
        func pad(to n: Int) { while out.count < n { out.append(0) } }

        let sortedSyms = symbols.sorted { $0.value != $1.value ? $0.value < $1.value : $0.key < $1.key }
        var strtab: [UInt8] = [0]
        var symEntries: [(UInt32, UInt32)] = []   // name offset, value
        for (name, value) in sortedSyms {
            symEntries.append((UInt32(strtab.count), value))
            strtab += Array(name.utf8) + [0]
        }
        let shstr: [UInt8] = Array("\0.text\0.symtab\0.strtab\0.shstrtab\0".utf8)
        let ehSize = 52, phSize = 32
        let textOff = 0x100
        let symOff = (textOff + code.count + 3) & ~3
        let symSize = 16 * (symEntries.count + 1)
        let strOff = symOff + symSize
        let shstrOff = strOff + strtab.count
        let shOff = (shstrOff + shstr.count + 3) & ~3

        // ELF header
        out += [0x7F, 0x45, 0x4C, 0x46, 1, 1, 1, 0]
        pad(to: 16)
        u16(2); u16(ELFFile.machineXtensa); u32(1); u32(entry); u32(UInt32(ehSize)); u32(UInt32(shOff))
        u32(0x300); u16(UInt16(ehSize)); u16(UInt16(phSize)); u16(1); u16(40); u16(5); u16(4)
        // Program header
        u32(1); u32(UInt32(textOff)); u32(base); u32(base); u32(UInt32(code.count)); u32(UInt32(code.count)); u32(7); u32(4)
        pad(to: textOff)
        out += code
        pad(to: symOff)
        u32(0); u32(0); u32(0); u8(0); u8(0); u16(0)
        for (nameOff, value) in symEntries {
            u32(nameOff); u32(value); u32(0); u8(0x10); u8(0); u16(1)   // GLOBAL NOTYPE in .text
        }
        out += strtab
        out += shstr
        pad(to: shOff)
        // Section headers: null, .text, .symtab, .strtab, .shstrtab
        for _ in 0..<10 { u32(0) }
        u32(1); u32(1); u32(6); u32(base); u32(UInt32(textOff)); u32(UInt32(code.count)); u32(0); u32(0); u32(4); u32(0)
        u32(7); u32(2); u32(0); u32(0); u32(UInt32(symOff)); u32(UInt32(symSize)); u32(3); u32(1); u32(4); u32(16)
        u32(15); u32(3); u32(0); u32(0); u32(UInt32(strOff)); u32(UInt32(strtab.count)); u32(0); u32(0); u32(1); u32(0)
        u32(23); u32(3); u32(0); u32(0); u32(UInt32(shstrOff)); u32(UInt32(shstr.count)); u32(0); u32(0); u32(1); u32(0)
        return out
    }
}

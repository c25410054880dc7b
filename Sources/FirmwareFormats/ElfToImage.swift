import Foundation

/// Options of `elf2image`; the defaults are esptool's (`--flash-mode qio`, 40 MHz, `--flash-size 1MB`,
/// chip revisions v0.0 to v655.35, SHA-256 digest appended, ELF sections rather than segments).
public struct ImageOptions: Sendable {
    public var flashMode: FlashMode = .qio
    public var flashFrequency: FlashFrequency = .f40m
    public var flashSize: FlashSize = .mb1
    public var minRevision: UInt8 = 0
    public var minRevisionFull: UInt16 = 0
    public var maxRevisionFull: UInt16 = 65535
    public var appendDigest = true
    /// Build from the ELF's loadable program headers instead of its sections (esptool --use-segments).
    public var useSegments = false
    public init() {}
}

/// Converts an ESP32 ELF into the image format the ROM and the 2nd-stage bootloader load, laid out
/// exactly as `esptool --chip esp32 elf2image` (esptool 5.x) lays it out:
///
/// * the input pieces are the ELF's PROGBITS/INIT_ARRAY/FINI_ARRAY/PREINIT_ARRAY sections with a
///   non-zero address and size (or, with `useSegments`, its PT_LOAD headers with a non-zero physical
///   address and file size), in file order, each zero-padded to a multiple of 4 bytes;
/// * pieces that follow each other in that order, touch in memory and start in the same named
///   memory ranges are merged;
/// * the flash-mapped pieces (IROM/DROM) go first, sorted by address (`.flash.appdesc` first of
///   all), each placed so that its file offset is congruent to its address modulo the 64 KB MMU
///   page; the gap before one is filled by the start of the next RAM piece (split as needed), or
///   by a zero-filled segment loaded at address 0 when no RAM is left or the gap is 8 bytes or
///   less; a flash piece ending less than 0x24 bytes past a page boundary is padded up to it (an old
///   bootloader did not map that last page);
/// * the remaining RAM pieces follow, sorted by address (`.dram0.bootdesc` first);
/// * when the ELF has a `.flash.appdesc` section in flash, the ELF's SHA-256 is written at image
///   offset 0xB0 (the app descriptor's `app_elf_sha256` field, which must be zero in the ELF);
/// * then the checksum at the end of a 16-byte line, the segment count in the header, and the
///   SHA-256 of the whole image.
public enum ElfToImage {
    static let pageSize = 0x1_0000
    static let segmentHeaderSize = 8
    static let elfDigestOffset = 0xB0

    struct Piece {
        var name: String
        var address: UInt32
        var data: [UInt8]
    }

    /// Reads and converts an ELF file.
    public static func convert(path: String, options: ImageOptions = ImageOptions()) throws -> [UInt8] {
        try convert(elf: readFile(path), path: path, options: options)
    }

    /// Converts ELF bytes (`path` names them in error messages).
    public static func convert(elf bytes: [UInt8], path: String, options: ImageOptions = ImageOptions()) throws -> [UInt8] {
        guard !bytes.isEmpty else { throw InputError("\(path): empty file (offset 0x0)") }
        let elf = try ELFFile(bytes: bytes, path: path)
        try elf.requireXtensa()
        let shentsize = Int(le16(bytes, 46)), shnum = Int(le16(bytes, 48))
        guard shentsize == 0x28 else {
            throw InputError("\(path): ELF section header entry size is \(hex(shentsize)), not 0x28 (offset 0x2e)")
        }
        guard shnum != 0 else { throw InputError("\(path): ELF has no section headers (offset 0x30)") }
        let shoff = Int(le32(bytes, 32))
        guard shoff + shnum * shentsize <= bytes.count else {
            throw InputError("\(path): ELF section headers (\(shnum) at \(hex(shoff))) extend past the end of the file (\(bytes.count) bytes) (offset 0x20)")
        }
        guard Int(le16(bytes, 50)) < shnum else {
            throw InputError("\(path): ELF section name table index \(le16(bytes, 50)) is not below the section count \(shnum) (offset 0x32)")
        }
        if options.useSegments {
            let phoff = Int(le32(bytes, 28)), phentsize = Int(le16(bytes, 42)), phnum = Int(le16(bytes, 44))
            guard phnum == 0 || phoff + phnum * phentsize <= bytes.count else {
                throw InputError("\(path): ELF program headers (\(phnum) at \(hex(phoff))) extend past the end of the file (\(bytes.count) bytes) (offset 0x1c)")
            }
        }

        // The input pieces, in file order.
        var pieces: [Piece] = []
        if options.useSegments {
            for s in elf.segments where s.physicalAddress != 0 && s.fileSize > 0 {
                pieces.append(Piece(name: "PHDR", address: s.physicalAddress, data: padded4(s.data)))
            }
        } else {
            let progTypes: Set<UInt32> = [1, 14, 15, 16]     // PROGBITS, INIT_ARRAY, FINI_ARRAY, PREINIT_ARRAY
            for s in elf.sections where s.address != 0 && s.size != 0 && progTypes.contains(s.type) {
                pieces.append(Piece(name: s.name, address: s.address, data: padded4(s.data)))
            }
        }

        // The ELF's hash goes into the app descriptor when the ELF has one in flash.
        var elfDigest: [UInt8]?
        if let desc = pieces.first(where: { $0.name.contains(".flash.appdesc") }), ESP32Memory.isFlashMapped(desc.address) {
            elfDigest = Digest.sha256(bytes)
        }

        pieces = merged(pieces)
        guard pieces.count <= ESPImage.maxSegments else {
            throw InputError("\(path): \(pieces.count) segments after merging ELF sections, the image format allows \(ESPImage.maxSegments)")
        }

        var out: [UInt8] = [ESPImage.magic, UInt8(pieces.count), options.flashMode.rawValue,
                            options.flashSize.rawValue | options.flashFrequency.rawValue]
        putLE32(elf.entry, into: &out)
        out += [ESPImage.wpPinDisabled, 0, 0, 0, 0, 0, options.minRevision,
                UInt8(options.minRevisionFull & 0xFF), UInt8(options.minRevisionFull >> 8),
                UInt8(options.maxRevisionFull & 0xFF), UInt8(options.maxRevisionFull >> 8),
                0, 0, 0, 0, options.appendDigest ? 1 : 0]

        var flash = stableSorted(pieces.filter { ESP32Memory.isFlashMapped($0.address) })
        var ram = stableSorted(pieces.filter { !ESP32Memory.isFlashMapped($0.address) })
        if let i = flash.firstIndex(where: { $0.name == ".flash.appdesc" }) { flash.insert(flash.remove(at: i), at: 0) }
        if let i = ram.firstIndex(where: { $0.name == ".dram0.bootdesc" }) { ram.insert(ram.remove(at: i), at: 0) }

        // Two flash pieces in one MMU page cannot both be mapped.
        if var last = flash.first?.address {
            for p in flash.dropFirst() {
                if Int(p.address) / pageSize == Int(last) / pageSize {
                    throw InputError("\(path): \(p.name) at \(hex(p.address, width: 8)) lands in the same 64 KB flash page as the section at \(hex(last, width: 8)): cannot make an image (esptool refuses too; try --use-segments)")
                }
                last = p.address
            }
        }

        var checksum = ESPImage.checksumSeed
        var count = 0
        func emit(_ p: Piece) throws {
            var data = p.data
            let headerPos = out.count
            // The ELF digest goes at 0xB0 if that falls in this segment's data.
            if let digest = elfDigest, elfDigestOffset >= headerPos, elfDigestOffset < headerPos + data.count {
                let at = elfDigestOffset - headerPos
                guard at >= segmentHeaderSize, at + 32 <= data.count else {
                    throw InputError("\(path): cannot place the ELF SHA-256 at image offset 0xb0: it straddles the segment boundary of \(p.name)")
                }
                let inData = at - segmentHeaderSize
                guard data[inData..<inData + 32].allSatisfy({ $0 == 0 }) else {
                    throw InputError("\(path): the app descriptor's ELF SHA-256 field (image offset 0xb0) in \(p.name) is not zero")
                }
                data.replaceSubrange(inData..<inData + 32, with: digest)
            }
            guard data.count % 4 == 0 else {
                throw InputError("\(path): segment \(p.name) at \(hex(p.address, width: 8)) has length \(hex(data.count)), not a multiple of 4")
            }
            guard data.count < 0x100_0000 else {
                throw InputError("\(path): segment \(p.name) at \(hex(p.address, width: 8)) is 16 MB or more")
            }
            putLE32(p.address, into: &out)
            putLE32(UInt32(data.count), into: &out)
            out += data
            for b in data { checksum ^= b }
            count += 1
        }

        while let seg = flash.first {
            // Bytes of data needed before this segment's header so that its data starts at a file
            // offset congruent to its address modulo the page size (the filler has a header too).
            let alignPast = Int(seg.address) % pageSize - segmentHeaderSize
            var pad = (pageSize - out.count % pageSize) + alignPast
            if pad == 0 || pad == pageSize {
                pad = 0
            } else {
                pad -= segmentHeaderSize
                if pad < 0 { pad += pageSize }
            }
            if pad > 0 {
                if !ram.isEmpty && pad > segmentHeaderSize {
                    let r = ram[0]
                    let n = min(pad, r.data.count)
                    try emit(Piece(name: r.name, address: r.address, data: Array(r.data[0..<n])))
                    ram[0].data.removeFirst(n)
                    ram[0].address = r.address &+ UInt32(pad)
                    if ram[0].data.isEmpty { ram.removeFirst() }
                } else {
                    try emit(Piece(name: seg.name, address: 0, data: [UInt8](repeating: 0, count: pad)))
                }
            } else {
                var s = seg
                let end = out.count + s.data.count + segmentHeaderSize
                let past = end % pageSize
                if past < 0x24 { s.data += [UInt8](repeating: 0, count: 0x24 - past) }
                try emit(s)
                flash.removeFirst()
            }
        }
        for r in ram { try emit(r) }

        // Checksum on the last byte of a 16-byte line.
        out += [UInt8](repeating: 0, count: 15 - out.count % 16)
        out.append(checksum)
        guard count <= 255 else { throw InputError("\(path): the image would need \(count) segments") }
        out[1] = UInt8(count)
        if options.appendDigest { out += Digest.sha256(out) }
        return out
    }

    /// Merges each piece into the one before it when it starts where that one ends, in the same memory types.
    static func merged(_ pieces: [Piece]) -> [Piece] {
        var result: [Piece] = []
        var previous: Piece?
        for p in pieces {
            if let prev = previous, !result.isEmpty,
               UInt64(p.address) == UInt64(prev.address) + UInt64(prev.data.count),
               ESP32Memory.types(at: prev.address) == ESP32Memory.types(at: p.address) {
                result[result.count - 1].data += p.data
            } else {
                result.append(p)
            }
            previous = p
        }
        return result
    }

    static func stableSorted(_ pieces: [Piece]) -> [Piece] {
        pieces.enumerated().sorted { a, b in
            a.element.address != b.element.address ? a.element.address < b.element.address : a.offset < b.offset
        }.map(\.element)
    }

    static func padded4(_ d: [UInt8]) -> [UInt8] {
        d.count % 4 == 0 ? d : d + [UInt8](repeating: 0, count: 4 - d.count % 4)
    }
}

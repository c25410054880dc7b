// SRAM1 is on both buses: 0x3FFE0000-0x3FFFFFFF (data) and 0x400A0000-0x400BFFFF (instructions),
// with the word order reversed between them. The cores fetch only from page tables (contiguous host
// memory), so an instruction-view page becomes executable when the guest first writes into it
// through the instruction bus (as the ROM does when esptool loads its flasher stub at 0x400BE000):
// from then on that page's words live in `InternalMemory.sram1Code` in instruction order, the
// instruction view maps it directly, and the data-view page holding the same words (reversed)
// leaves the page tables and is served here, from the same storage. Pages never written through
// the instruction bus keep their plain data mapping.

import XtensaCore

extension InternalMemory {
    /// Byte offset in the other view of SRAM1 (the mapping is its own inverse).
    static func sram1Mirror(_ offset: Int) -> Int {
        (AddressMap.sram1Size - 4 - (offset & ~3)) | (offset & 3)
    }
}

extension ESP32 {
    /// Instruction-bus store into SRAM1 (a page not executable yet): makes the page executable.
    func writeSRAM1Instr(_ a: UInt32, size: Int, value: UInt32) {
        let off = Int(a - AddressMap.sram1Instr)
        activateSRAM1Code(page: off / pageSize)
        for k in 0..<size where off + k < AddressMap.sram1Size {
            memory.sram1Code.bytes.storeBytes(of: UInt8(truncatingIfNeeded: value >> (8 * UInt32(k))), toByteOffset: off + k, as: UInt8.self)
        }
        for c in cores { c.memory.invalidateCode(at: a) }
    }

    /// Data-bus load from a data-view page whose words live in `sram1Code`.
    func readSRAM1Data(_ a: UInt32, size: Int) -> UInt32? {
        let off = Int(a - AddressMap.sram1Data)
        guard memory.sram1CodePages[(AddressMap.sram1Size - 1 - off) / pageSize] else { return nil }
        var v: UInt32 = 0
        for k in 0..<size where off + k < AddressMap.sram1Size {
            let b = memory.sram1Code.bytes.load(fromByteOffset: InternalMemory.sram1Mirror(off + k), as: UInt8.self)
            v |= UInt32(b) << (8 * UInt32(k))
        }
        return v
    }

    /// Data-bus store into such a page (predecoded code at the instruction address is dropped).
    func writeSRAM1Data(_ a: UInt32, size: Int, value: UInt32) -> Bool {
        let off = Int(a - AddressMap.sram1Data)
        guard memory.sram1CodePages[(AddressMap.sram1Size - 1 - off) / pageSize] else { return false }
        for k in 0..<size where off + k < AddressMap.sram1Size {
            let m = InternalMemory.sram1Mirror(off + k)
            memory.sram1Code.bytes.storeBytes(of: UInt8(truncatingIfNeeded: value >> (8 * UInt32(k))), toByteOffset: m, as: UInt8.self)
            for c in cores { c.memory.invalidateCode(at: AddressMap.sram1Instr + UInt32(m)) }
        }
        return true
    }

    /// Moves an instruction-view page's words into `sram1Code` and remaps both views.
    func activateSRAM1Code(page i: Int) {
        guard !memory.sram1CodePages[i] else { return }
        memory.sram1CodePages[i] = true
        for w in stride(from: i * pageSize, to: (i + 1) * pageSize, by: 4) {
            let v = memory.sram1.bytes.load(fromByteOffset: InternalMemory.sram1Mirror(w), as: UInt32.self)
            memory.sram1Code.bytes.storeBytes(of: v, toByteOffset: w, as: UInt32.self)
        }
        let instr = AddressMap.sram1Instr + UInt32(i * pageSize)
        let data = AddressMap.sram1Data + UInt32(AddressMap.sram1Size - (i + 1) * pageSize)
        for c in cores {
            c.memory.map(base: instr, size: pageSize, host: memory.sram1Code.bytes + i * pageSize,
                         attributes: [.read, .write, .execute, .wordOnly])
            c.memory.unmap(base: data, size: pageSize)
        }
    }
}

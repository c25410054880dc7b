// The ESP32's internal memories and where they appear in the address space
// (ESP32 Technical Reference Manual, "System and Memory").

import XtensaCore

/// One block of internal memory, allocated once for the life of the SoC.
public final class MemoryBlock {
    public let name: String
    public let size: Int
    public let bytes: UnsafeMutableRawPointer

    init(name: String, size: Int) {
        self.name = name
        self.size = size
        bytes = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
        bytes.initializeMemory(as: UInt8.self, repeating: 0, count: size)
    }

    deinit { bytes.deallocate() }

    func clear() { bytes.initializeMemory(as: UInt8.self, repeating: 0, count: size) }
}

public enum AddressMap {
    // Internal ROM: ROM0 (384 KiB, instruction bus) and ROM1 (64 KiB, data bus; also seen at 0x40060000).
    public static let rom0 = 0x4000_0000 as UInt32, rom0Size = 0x6_0000
    public static let rom1 = 0x3FF9_0000 as UInt32, rom1Size = 0x1_0000
    public static let rom1Alias = 0x4006_0000 as UInt32
    // Internal SRAM.
    public static let sram0 = 0x4007_0000 as UInt32, sram0Size = 0x3_0000           // IRAM (first 64 KiB: cache)
    public static let sram1Data = 0x3FFE_0000 as UInt32, sram1Size = 0x2_0000        // DRAM view
    public static let sram1Instr = 0x400A_0000 as UInt32                            // IRAM view, word order reversed
    public static let sram2 = 0x3FFA_E000 as UInt32, sram2Size = 0x3_2000            // DRAM
    // RTC memories.
    public static let rtcFastData = 0x3FF8_0000 as UInt32, rtcFastInstr = 0x400C_0000 as UInt32, rtcFastSize = 0x2000
    public static let rtcSlow = 0x5000_0000 as UInt32, rtcSlowSize = 0x2000
    // Peripherals (DPORT bus) and their AHB alias.
    public static let peripherals = 0x3FF0_0000 as UInt32, peripheralsSize = 0x8_0000 as UInt32
    /// The AHB window 0x60000000-0x6003FFFF shows 0x3FF40000-0x3FF7FFFF (UART FIFOs, WDEV RNG...).
    public static let peripheralsAHB = 0x6000_0000 as UInt32, peripheralsAHBSize = 0x4_0000 as UInt32
    public static let peripheralsAHBTarget = 0x3FF4_0000 as UInt32
    // External flash through the cache.
    public static let drom0 = 0x3F40_0000 as UInt32, drom0End = 0x3F80_0000 as UInt32
    public static let irom0 = 0x400D_0000 as UInt32, irom0End = 0x4040_0000 as UInt32
    public static let iram1Cache = 0x4040_0000 as UInt32, irom1End = 0x40C0_0000 as UInt32

    /// Which memory an address lands in, for reports and image-info.
    public static func region(of a: UInt32) -> String {
        switch a {
        case rom0..<(rom0 + UInt32(rom0Size)): return "ROM0"
        case rom1..<(rom1 + UInt32(rom1Size)): return "ROM1"
        case sram0..<(sram0 + 0x1_0000): return "SRAM0 (cache/IRAM)"
        case (sram0 + 0x1_0000)..<(sram0 + UInt32(sram0Size)): return "IRAM (SRAM0)"
        case sram1Instr..<(sram1Instr + UInt32(sram1Size)): return "IRAM (SRAM1)"
        case sram1Data..<(sram1Data + UInt32(sram1Size)): return "DRAM (SRAM1)"
        case sram2..<(sram2 + UInt32(sram2Size)): return "DRAM (SRAM2)"
        case rtcFastData..<(rtcFastData + UInt32(rtcFastSize)): return "RTC FAST (data)"
        case rtcFastInstr..<(rtcFastInstr + UInt32(rtcFastSize)): return "RTC FAST (instr)"
        case rtcSlow..<(rtcSlow + UInt32(rtcSlowSize)): return "RTC SLOW"
        case peripherals..<(peripherals + peripheralsSize): return "peripherals"
        case peripheralsAHB..<(peripheralsAHB + peripheralsAHBSize): return "peripherals (AHB)"
        case drom0..<drom0End: return "DROM (flash)"
        case irom0..<irom0End: return "IROM (flash)"
        default: return "unmapped"
        }
    }
}

/// The internal memories of one chip.
public final class InternalMemory {
    public let rom = MemoryBlock(name: "ROM", size: 0x7_0000)
    public let sram0 = MemoryBlock(name: "SRAM0", size: AddressMap.sram0Size)
    public let sram1 = MemoryBlock(name: "SRAM1", size: AddressMap.sram1Size)
    public let sram2 = MemoryBlock(name: "SRAM2", size: AddressMap.sram2Size)
    public let rtcFast = MemoryBlock(name: "RTC FAST", size: AddressMap.rtcFastSize)
    public let rtcSlow = MemoryBlock(name: "RTC SLOW", size: AddressMap.rtcSlowSize)
    /// SRAM1 pages made executable through the instruction bus, in instruction order (SRAM1Views).
    public let sram1Code = MemoryBlock(name: "SRAM1 (instruction order)", size: AddressMap.sram1Size)
    public internal(set) var sram1CodePages = [Bool](repeating: false, count: AddressMap.sram1Size / pageSize)

    /// Maps every internal memory into a core's page table.
    func map(into m: MemoryMap) {
        let iram: MemoryAttributes = [.read, .write, .execute, .wordOnly]
        m.map(base: AddressMap.rom0, size: AddressMap.rom0Size, host: rom.bytes, attributes: [.read, .execute, .wordOnly])
        m.map(base: AddressMap.rom1Alias, size: AddressMap.rom1Size, host: rom.bytes + 0x6_0000, attributes: [.read, .execute, .wordOnly])
        m.map(base: AddressMap.rom1, size: AddressMap.rom1Size, host: rom.bytes + 0x6_0000, attributes: [.read])
        m.map(base: AddressMap.sram0, size: AddressMap.sram0Size, host: sram0.bytes, attributes: iram)
        m.map(base: AddressMap.sram1Data, size: AddressMap.sram1Size, host: sram1.bytes, attributes: [.read, .write])
        m.map(base: AddressMap.sram2, size: AddressMap.sram2Size, host: sram2.bytes, attributes: [.read, .write])
        m.map(base: AddressMap.rtcFastData, size: AddressMap.rtcFastSize, host: rtcFast.bytes, attributes: [.read, .write])
        m.map(base: AddressMap.rtcFastInstr, size: AddressMap.rtcFastSize, host: rtcFast.bytes, attributes: iram)
        m.map(base: AddressMap.rtcSlow, size: AddressMap.rtcSlowSize, host: rtcSlow.bytes, attributes: .rwx)
    }

    /// SRAM1 seen through the instruction bus (0x400A0000-0x400BFFFF): the same words as the data
    /// view in reverse order (ESP-IDF: iram = 0x400A0000 + (0x40000000 - dram)).
    func sram1InstrOffset(_ a: UInt32) -> Int {
        let off = Int(a - AddressMap.sram1Instr)
        let word = off & ~3
        return (AddressMap.sram1Size - 4 - word) | (off & 3)
    }
}

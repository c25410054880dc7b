// eFuse controller (TRM chapter "eFuse Controller"; ESP-IDF soc/efuse_reg.h, efuse_struct.h,
// hal/efuse_ll.h, hal/efuse_hal.c, efuse/esp32/esp_efuse_table.csv).
//
// Registers (offsets from 0x3FF5A000):
//   0x000-0x018  EFUSE_BLK0_RDATA0..6    0x01C-0x034  EFUSE_BLK0_WDATA0..6
//   0x038-0x054  EFUSE_BLK1_RDATA0..7    0x058-0x074  EFUSE_BLK2_RDATA0..7    0x078-0x094  EFUSE_BLK3_RDATA0..7
//   0x098-0x0B4  EFUSE_BLK1_WDATA0..7    0x0B8-0x0D4  EFUSE_BLK2_WDATA0..7    0x0D8-0x0F4  EFUSE_BLK3_WDATA0..7
//   0x0F8 CLK  0x0FC CONF  0x100 STATUS  0x104 CMD  0x108 INT_RAW  0x10C INT_ST  0x110 INT_ENA
//   0x114 INT_CLR  0x118 DAC_CONF  0x11C DEC_STATUS  0x1FC DATE
//
// The fuse array is 31 words: BLK0 (7 words) then BLK1..BLK3 (8 words each), in the order and
// layout of Espressif QEMU's 124-byte eFuse file (hw/nvram/esp32_efuse.c reads
// sizeof(Esp32EfuseRegs) = blk0[7] blk1[8] blk2[8] blk3[8], little-endian words, from offset 0):
// word n of block b is what EFUSE_BLKb_RDATAn reads.
//
// The read registers show the fuses as the last read operation latched them (at reset, and on
// CMD READ_CMD with CONF op code 0x5AA5), with read-protected blocks/fields (EFUSE_RD_DIS) as 0.
// CMD PGM_CMD with op code 0x5A5A burns the write registers into the fuses (bits only go 0 -> 1;
// blocks/fields whose EFUSE_WR_DIS bit is set are skipped). Both complete at once: CMD reads 0
// again and INT_RAW gets READ_DONE/PGM_DONE. Setting CONF to the read op code clears the write
// registers (ESP-IDF's ESP32 esp_efuse_utility_clear_program_registers relies on this).
// The 3/4 and repeat coding schemes are not applied: block data is stored as written.

import Foundation
import FirmwareFormats

public final class EFuse: RegisterModel, Peripheral {
    public let name = "EFUSE"
    public let range: Range<UInt32> = 0x5A000..<0x5B000

    /// Size of a QEMU eFuse image (31 words).
    public static let imageSize = 124
    public static let wordCount = 31
    /// First fuse word of each block.
    public static let blockStart = [0, 7, 15, 23]

    // Register offsets.
    public static let blk0RData0: UInt32 = 0x000, blk0WData0: UInt32 = 0x01C
    public static let blk1RData0: UInt32 = 0x038, blk1WData0: UInt32 = 0x098
    public static let clk: UInt32 = 0x0F8, conf: UInt32 = 0x0FC, status: UInt32 = 0x100, cmd: UInt32 = 0x104
    public static let intRawReg: UInt32 = 0x108, intSt: UInt32 = 0x10C, intEnaReg: UInt32 = 0x110, intClr: UInt32 = 0x114
    public static let dacConf: UInt32 = 0x118, decStatus: UInt32 = 0x11C, date: UInt32 = 0x1FC
    // CONF op codes and CMD / interrupt bits.
    public static let readOpCode: UInt32 = 0x5AA5, programOpCode: UInt32 = 0x5A5A
    public static let readCmd: UInt32 = 1 << 0, programCmd: UInt32 = 1 << 1
    // Reset values.
    static let clkReset: UInt32 = 0x4052            // CLK_SEL1 0x40, CLK_SEL0 0x52, CLK_EN 0
    static let confReset: UInt32 = 0x1_0000         // FORCE_NO_WR_RD_DIS 1, OP_CODE 0
    static let dacConfReset: UInt32 = 40            // DAC_CLK_DIV 40
    static let dateReset: UInt32 = 0x1604_2600

    /// APB_CTRL_DATE of silicon before ECO3, and the bit ECO3 (chip revision 3) silicon adds.
    public static let apbCtrlDateBase: UInt32 = 0x1604_2000, apbCtrlDateECO3Bit: UInt32 = 1 << 31

    /// The burned fuses (survive reset; change only by a program operation).
    public private(set) var fuses: [UInt32]
    /// EFUSE_BLKn_RDATAm as the last read operation latched them.
    public private(set) var readData: [UInt32]
    /// EFUSE_BLKn_WDATAm.
    public private(set) var writeData: [UInt32]
    var clkReg: UInt32 = 0, confReg: UInt32 = 0, dacConfReg: UInt32 = 0, dateReg: UInt32 = 0
    var intRaw: UInt32 = 0, intEna: UInt32 = 0

    /// What APB_CTRL_DATE_REG (0x3FF6607C) reads on this chip: the SoC's APB_CTRL model answers
    /// with it. ESP-IDF's efuse_hal_get_major_chip_version combines its bit 31 with CHIP_VER_REV1
    /// and CHIP_VER_REV2: all three set is revision 3. Defaults to the ECO3 value when both eFuse
    /// bits are set (revision 3 silicon, the common case; revision 2 differs only in this bit).
    public var apbCtrlDate: UInt32

    /// Called when the interrupt line level may have changed.
    public var interruptChanged: (() -> Void)?
    /// Called after a program operation changed the fuses (e.g. to write `image` back to a file).
    public var programmed: ((EFuse) -> Void)?

    // MARK: Creation

    /// An ESP32 with the given fuse words (31, QEMU image order); default: `defaultFuses()`.
    public init(fuses: [UInt32] = EFuse.defaultFuses()) {
        precondition(fuses.count == EFuse.wordCount, "an ESP32 eFuse array has 31 words")
        self.fuses = fuses
        readData = [UInt32](repeating: 0, count: EFuse.wordCount)
        writeData = [UInt32](repeating: 0, count: EFuse.wordCount)
        apbCtrlDate = EFuse.apbCtrlDateBase
        super.init()
        apbCtrlDate = chipVersionRev1 && chipVersionRev2 ? EFuse.apbCtrlDateBase | EFuse.apbCtrlDateECO3Bit : EFuse.apbCtrlDateBase
        reset()
    }

    /// Replaces the fuse contents (e.g. from a QEMU eFuse image) and re-reads them.
    public func replace(fuses new: [UInt32]) {
        precondition(new.count == EFuse.wordCount, "an ESP32 eFuse array has 31 words")
        fuses = new
        apbCtrlDate = chipVersionRev1 && chipVersionRev2 ? EFuse.apbCtrlDateBase | EFuse.apbCtrlDateECO3Bit : EFuse.apbCtrlDateBase
        reset()
    }

    /// An ESP32 with the fuses of a QEMU eFuse image file (`qemu_efuse.bin`).
    public convenience init(imagePath: String) throws {
        self.init(fuses: try EFuse.loadImage(path: imagePath))
    }

    /// Reads a QEMU eFuse image file: exactly 124 bytes, 31 little-endian words.
    public static func loadImage(path: String) throws -> [UInt32] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw InputError("\(path): cannot read eFuse image")
        }
        return try parseImage([UInt8](data), path: path)
    }

    /// Decodes a QEMU eFuse image; `path` names it in errors.
    public static func parseImage(_ bytes: [UInt8], path: String) throws -> [UInt32] {
        if bytes.count < imageSize {
            throw InputError("\(path): eFuse image is \(bytes.count) bytes, expected \(imageSize) (QEMU esp32 eFuse format): ends at offset \(bytes.count)")
        }
        if bytes.count > imageSize {
            throw InputError("\(path): eFuse image is \(bytes.count) bytes, expected \(imageSize) (QEMU esp32 eFuse format): extra data at offset \(imageSize)")
        }
        return (0..<wordCount).map { i in
            UInt32(bytes[4 * i]) | UInt32(bytes[4 * i + 1]) << 8 | UInt32(bytes[4 * i + 2]) << 16 | UInt32(bytes[4 * i + 3]) << 24
        }
    }

    /// The fuses as a QEMU eFuse image (124 bytes).
    public var image: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(EFuse.imageSize)
        for w in fuses { for s in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: w >> UInt32(s))) } }
        return out
    }

    // MARK: Default content

    /// Factory MAC of the default chip (Espressif OUI 24:0A:C4).
    public static let defaultMAC: [UInt8] = [0x24, 0x0A, 0xC4, 0x00, 0x00, 0x01]

    /// A revision 3 (v3.0) ESP32-D0WD-V3 as on an ESP32-WROOM-32E module:
    /// - BLK0 RDATA0: no write/read protection, FLASH_CRYPT_CNT 0 (no flash encryption).
    /// - RDATA1/RDATA2: factory MAC with its CRC-8 (bits 16-23 of RDATA2).
    /// - RDATA3: CHIP_VER_REV1 (bit 15), CHIP_CPU_FREQ_RATED (bit 13) without FREQ_LOW (240 MHz),
    ///   package 1 (ESP32-D0WD, bits 11:9; PKG_4BIT 0), SPI_PAD_CONFIG_HD 0, both cores and BT enabled.
    /// - RDATA4: no VDD_SDIO overrides (XPD_SDIO_REG/TIEH/FORCE 0: the flash supply follows the
    ///   MTDI strap, 3.3 V on WROOM), no ADC_VREF calibration.
    /// - RDATA5: CHIP_VER_REV2 (bit 20), WAFER_VERSION_MINOR 0, SPI_PAD_CONFIG 0 (default flash
    ///   pins), FLASH_CRYPT_CONFIG 0.
    /// - RDATA6: coding scheme none, no secure boot (ABS_DONE_0/1 0), JTAG and downloads enabled.
    /// - BLK1..BLK3: empty (no keys, no custom MAC).
    /// With APB_CTRL_DATE bit 31 (see `apbCtrlDate`) this reads as chip revision v3.0.
    public static func defaultFuses(mac: [UInt8] = EFuse.defaultMAC) -> [UInt32] {
        precondition(mac.count == 6)
        var f = [UInt32](repeating: 0, count: wordCount)
        f[1] = UInt32(mac[2]) << 24 | UInt32(mac[3]) << 16 | UInt32(mac[4]) << 8 | UInt32(mac[5])
        f[2] = UInt32(crc8(mac)) << 16 | UInt32(mac[0]) << 8 | UInt32(mac[1])
        f[3] = 1 << 15 | 1 << 13 | 1 << 9
        f[5] = 1 << 20
        return f
    }

    /// The ESP32 ROM's esp_crc8 (CRC-8, reflected polynomial 0x8C, initial value 0), which
    /// ESP-IDF checks the factory MAC against (esp_rom_efuse_mac_address_crc8).
    public static func crc8(_ bytes: [UInt8]) -> UInt8 {
        var crc: UInt8 = 0
        for b in bytes {
            crc ^= b
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x8C : crc >> 1 }
        }
        return crc
    }

    // MARK: Fields

    /// The factory MAC address (MAC_FACTORY: BLK0 bits 72-79 first ... bits 32-39 last).
    public var mac: [UInt8] {
        [UInt8(truncatingIfNeeded: fuses[2] >> 8), UInt8(truncatingIfNeeded: fuses[2]),
         UInt8(truncatingIfNeeded: fuses[1] >> 24), UInt8(truncatingIfNeeded: fuses[1] >> 16),
         UInt8(truncatingIfNeeded: fuses[1] >> 8), UInt8(truncatingIfNeeded: fuses[1])]
    }
    /// MAC_FACTORY_CRC (BLK0 bits 80-87).
    public var macCRC: UInt8 { UInt8(truncatingIfNeeded: fuses[2] >> 16) }
    public var macCRCValid: Bool { EFuse.crc8(mac) == macCRC }

    /// CHIP_VER_REV1 (BLK0_RDATA3 bit 15) and CHIP_VER_REV2 (BLK0_RDATA5 bit 20).
    public var chipVersionRev1: Bool { fuses[3] & (1 << 15) != 0 }
    public var chipVersionRev2: Bool { fuses[5] & (1 << 20) != 0 }
    /// Major chip revision as efuse_hal_get_major_chip_version computes it.
    public var majorChipRevision: Int {
        let bits = (apbCtrlDate >> 31) << 2 | (chipVersionRev2 ? 2 : 0) | (chipVersionRev1 ? 1 : 0)
        switch bits {
        case 1: return 1
        case 3: return 2
        case 7: return 3
        default: return 0
        }
    }
    /// WAFER_VERSION_MINOR (BLK0_RDATA5 bits 25:24).
    public var minorChipRevision: Int { Int((fuses[5] >> 24) & 3) }
    /// Package version: CHIP_PACKAGE_4BIT (RDATA3 bit 2) above CHIP_PACKAGE (RDATA3 bits 11:9).
    public var packageVersion: Int { Int((fuses[3] >> 2) & 1) << 3 | Int((fuses[3] >> 9) & 7) }
    /// Coding scheme of BLK1..BLK3 (0 none, 1 3/4, 2 repeat).
    public var codingScheme: Int { Int(fuses[6] & 3) }

    // MARK: Protection

    /// EFUSE_WR_DIS bit -> fuse words and bits it protects (efuse_reg.h EFUSE_WR_DIS_*).
    static let writeProtection: [(bit: Int, word: Int, mask: UInt32)] = {
        var t: [(Int, Int, UInt32)] = [
            (0, 0, 0x000F_0000),                 // efuse_rd_disable
            (1, 0, 0x0000_FFFF),                 // efuse_wr_disable
            (2, 0, 0x0FF0_0000),                 // flash_crypt_cnt, UART_DOWNLOAD_DIS
            (3, 1, 0xFFFF_FFFF), (3, 2, 0x00FF_FFFF), (3, 3, 0x0000_01F0),  // MAC + CRC, SPI_PAD_CONFIG_HD
            (5, 4, 0x0001_C000),                 // XPD_SDIO_REG, SDIO_TIEH, SDIO_FORCE
            (6, 5, 0x000F_FFFF),                 // SPI_PAD_CONFIG_CLK/Q/D/CS0
            (10, 5, 0xF000_0000), (10, 6, 0x0000_0003),  // FLASH_CRYPT_CONFIG, CODING_SCHEME
            (12, 6, 1 << 4), (13, 6, 1 << 5), (14, 6, 1 << 6),           // ABS_DONE_0/1, DISABLE_JTAG
            (15, 6, 1 << 2 | 1 << 7 | 1 << 8 | 1 << 9),                  // CONSOLE_DEBUG_DISABLE, DISABLE_DL_*
        ]
        for (bit, block) in [(7, 1), (8, 2), (9, 3)] {
            for w in blockStart[block]..<(blockStart[block] + 8) { t.append((bit, w, 0xFFFF_FFFF)) }
        }
        return t.map { (bit: $0.0, word: $0.1, mask: $0.2) }
    }()

    /// EFUSE_RD_DIS bit (16-19 of BLK0 word 0) -> fuse words and bits that read as 0.
    static let readProtection: [(bit: Int, word: Int, mask: UInt32)] = {
        var t: [(Int, Int, UInt32)] = [
            (19, 5, 0xF000_0000), (19, 6, 0x0000_0403),  // FLASH_CRYPT_CONFIG, CODING_SCHEME, KEY_STATUS
        ]
        for (bit, block) in [(16, 1), (17, 2), (18, 3)] {
            for w in blockStart[block]..<(blockStart[block] + 8) { t.append((bit, w, 0xFFFF_FFFF)) }
        }
        return t.map { (bit: $0.0, word: $0.1, mask: $0.2) }
    }()

    static func masks(_ table: [(bit: Int, word: Int, mask: UInt32)], enabled: UInt32) -> [UInt32] {
        var m = [UInt32](repeating: 0, count: wordCount)
        for e in table where enabled & (1 << UInt32(e.bit)) != 0 { m[e.word] |= e.mask }
        return m
    }

    // MARK: Operations

    public func reset() {
        cmdBusy = 0
        writeData = [UInt32](repeating: 0, count: EFuse.wordCount)
        clkReg = EFuse.clkReset
        confReg = EFuse.confReset
        dacConfReg = EFuse.dacConfReset
        dateReg = EFuse.dateReset
        intRaw = 0
        intEna = 0
        latch()
        interruptChanged?()
    }

    /// The read operation: fuses into the read registers, read protection applied.
    func latch() {
        let hidden = EFuse.masks(EFuse.readProtection, enabled: fuses[0])
        for i in 0..<EFuse.wordCount { readData[i] = fuses[i] & ~hidden[i] }
    }

    /// The program operation: write registers into the fuses, write protection applied.
    func program() {
        let locked = EFuse.masks(EFuse.writeProtection, enabled: fuses[0] & 0xFFFF)
        var changed = false
        for i in 0..<EFuse.wordCount {
            let new = fuses[i] | (writeData[i] & ~locked[i])
            if new != fuses[i] { fuses[i] = new; changed = true }
        }
        if changed { programmed?(self) }
    }

    public var interruptLine: Bool { intRaw & intEna != 0 }

    /// Command bits of the operation in progress (read back once, then 0).
    var cmdBusy: UInt32 = 0

    // MARK: Bus

    public override func read(offset: UInt32, size: Int) -> UInt32? {
        let o = offset & ~3
        switch o {
        case 0x000...0x018: return readData[Int(o / 4)]
        case 0x01C...0x034: return writeData[Int((o - 0x01C) / 4)]
        case 0x038...0x094: return readData[7 + Int((o - 0x038) / 4)]
        case 0x098...0x0F4: return writeData[7 + Int((o - 0x098) / 4)]
        case EFuse.clk: return clkReg
        case EFuse.conf: return confReg
        case EFuse.status: return 0
        case EFuse.cmd:
            // An operation is still running when software first looks (the ROM's efuse check
            // requires that), and done by the next read.
            let v = cmdBusy
            cmdBusy = 0
            return v
        case EFuse.intRawReg: return intRaw
        case EFuse.intSt: return intRaw & intEna
        case EFuse.intEnaReg: return intEna
        case EFuse.intClr: return 0
        case EFuse.dacConf: return dacConfReg
        case EFuse.decStatus: return 0              // no 3/4 coding errors
        case EFuse.date: return dateReg
        default: return nil
        }
    }

    public override func write(offset: UInt32, size: Int, value: UInt32) -> Bool {
        let o = offset & ~3
        func merged(_ old: UInt32) -> UInt32 { RegisterFile.merge(old, offset: offset, size: size, value: value) }
        switch o {
        case 0x000...0x018, 0x038...0x094:
            break                                   // read registers: read-only
        case 0x01C...0x034:
            let i = Int((o - 0x01C) / 4)
            writeData[i] = merged(writeData[i])
        case 0x098...0x0F4:
            let i = 7 + Int((o - 0x098) / 4)
            writeData[i] = merged(writeData[i])
        case EFuse.clk:
            clkReg = merged(clkReg) & 0x1_FFFF
        case EFuse.conf:
            confReg = merged(confReg) & 0x1_FFFF
            if confReg & 0xFFFF == EFuse.readOpCode {
                for i in 0..<EFuse.wordCount { writeData[i] = 0 }
            }
        case EFuse.cmd:
            let v = merged(0)
            let op = confReg & 0xFFFF
            var done: UInt32 = 0
            if v & EFuse.readCmd != 0 && op == EFuse.readOpCode { latch(); done |= EFuse.readCmd }
            if v & EFuse.programCmd != 0 && op == EFuse.programOpCode { program(); done |= EFuse.programCmd }
            if done != 0 { intRaw |= done; interruptChanged?() }
            cmdBusy = v & 3
        case EFuse.intEnaReg:
            intEna = merged(intEna) & 3
            interruptChanged?()
        case EFuse.intClr:
            intRaw &= ~merged(0)
            interruptChanged?()
        case EFuse.dacConf:
            dacConfReg = merged(dacConfReg) & 0x1FF
        case EFuse.date:
            dateReg = merged(dateReg)
        case EFuse.status, EFuse.intRawReg, EFuse.intSt, EFuse.decStatus:
            break                                   // read-only
        default:
            return false
        }
        return true
    }
}

// The eFuse controller: default content as ESP-IDF reads it, QEMU images, read/program commands.

import XCTest
import Foundation
import FirmwareFormats
@testable import ESP32

// Register addresses (ESP-IDF soc/efuse_reg.h, DR_REG_EFUSE_BASE 0x3FF5A000).
func EFUSE_BLK0_RDATA_REG(_ n: Int) -> UInt32 { 0x3FF5_A000 + UInt32(4 * n) }
func EFUSE_BLK0_WDATA_REG(_ n: Int) -> UInt32 { 0x3FF5_A01C + UInt32(4 * n) }
func EFUSE_BLK_RDATA_REG(_ block: Int, _ n: Int) -> UInt32 { [0x3FF5_A000, 0x3FF5_A038, 0x3FF5_A058, 0x3FF5_A078][block] + UInt32(4 * n) }
func EFUSE_BLK_WDATA_REG(_ block: Int, _ n: Int) -> UInt32 { [0x3FF5_A01C, 0x3FF5_A098, 0x3FF5_A0B8, 0x3FF5_A0D8][block] + UInt32(4 * n) }
let EFUSE_CLK_REG: UInt32 = 0x3FF5_A0F8, EFUSE_CONF_REG: UInt32 = 0x3FF5_A0FC, EFUSE_STATUS_REG: UInt32 = 0x3FF5_A100
let EFUSE_CMD_REG: UInt32 = 0x3FF5_A104, EFUSE_INT_RAW_REG: UInt32 = 0x3FF5_A108, EFUSE_INT_ST_REG: UInt32 = 0x3FF5_A10C
let EFUSE_INT_ENA_REG: UInt32 = 0x3FF5_A110, EFUSE_INT_CLR_REG: UInt32 = 0x3FF5_A114, EFUSE_DAC_CONF_REG: UInt32 = 0x3FF5_A118
let EFUSE_DEC_STATUS_REG: UInt32 = 0x3FF5_A11C, EFUSE_DATE_REG: UInt32 = 0x3FF5_A1FC

/// ESP-IDF's ESP32 eFuse HAL/LL (hal/esp32/efuse_hal.c, hal/esp32/include/hal/efuse_ll.h),
/// over the registers. `apbCtrlDate` stands for REG_READ(APB_CTRL_DATE_REG), which the SoC
/// answers from `EFuse.apbCtrlDate`.
struct EFuseHAL {
    let bus: MMIO
    let apbCtrlDate: UInt32

    init(_ e: EFuse) { bus = MMIO(device: e); apbCtrlDate = e.apbCtrlDate }

    func rdata(_ n: Int) -> UInt32 { bus.read32(EFUSE_BLK0_RDATA_REG(n)) }

    // efuse_ll getters.
    var chipVerRev1: UInt32 { (rdata(3) >> 15) & 1 }
    var chipVerRev2: UInt32 { (rdata(5) >> 20) & 1 }
    var waferVersionMinor: UInt32 { (rdata(5) >> 24) & 3 }
    var chipVerPkg: UInt32 { ((rdata(3) >> 2) & 1) << 3 | (rdata(3) >> 9) & 7 }
    var cpuFreqRated: Bool { rdata(3) & (1 << 13) != 0 }
    var cpuFreqLow: Bool { rdata(3) & (1 << 12) != 0 }
    var codingScheme: UInt32 { rdata(6) & 3 }
    var flashCryptCnt: UInt32 { (rdata(0) >> 20) & 0x7F }
    var secureBootV1: Bool { rdata(6) & (1 << 4) != 0 }
    var secureBootV2: Bool { rdata(6) & (1 << 5) != 0 }
    var disableAppCPU: Bool { rdata(3) & 1 != 0 }
    var disableBT: Bool { rdata(3) & 2 != 0 }
    var sdioForce: Bool { rdata(4) & (1 << 16) != 0 }
    var spiPadConfig: UInt32 { rdata(5) & 0xFFFFF }

    // efuse_hal_get_major_chip_version / efuse_hal_get_chip_revision.
    var majorChipVersion: UInt32 {
        let combined = ((apbCtrlDate & 0x8000_0000) >> 31) << 2 | chipVerRev2 << 1 | chipVerRev1
        switch combined {
        case 0: return 0
        case 1: return 1
        case 3: return 2
        case 7: return 3
        default: return 0
        }
    }
    var chipRevision: UInt32 { majorChipVersion * 100 + waferVersionMinor }
    var ratedFreqMHz: Int { cpuFreqRated && cpuFreqLow ? 160 : 240 }

    // MAC_FACTORY / MAC_FACTORY_CRC fields of esp_efuse_table.csv: [72,8] [64,8] [56,8] [48,8] [40,8] [32,8], CRC [80,8].
    var macFactory: [UInt8] {
        let bits: [Int] = [72, 64, 56, 48, 40, 32]
        return bits.map { UInt8(truncatingIfNeeded: rdata($0 / 32) >> UInt32($0 % 32)) }
    }
    var macFactoryCRC: UInt8 { UInt8(truncatingIfNeeded: rdata(2) >> 16) }

    /// esp_crc8 as espefuse documents it: CRC-8, inverted polynomial 0x8C, initial value 0.
    static func espCRC8(_ mac: [UInt8]) -> UInt8 {
        var result: UInt8 = 0
        for b in mac {
            result ^= b
            for _ in 0..<8 {
                let lsb = result & 1
                result >>= 1
                if lsb != 0 { result ^= 0x8C }
            }
        }
        return result
    }

    // efuse_hal_read / efuse_hal_program (HAL_FORCE_MODIFY_U32_REG_FIELD on CONF.op_code).
    func setOpCode(_ code: UInt32) {
        bus.write32(EFUSE_CONF_REG, (bus.read32(EFUSE_CONF_REG) & ~0xFFFF) | code)
    }
    func read() {
        setOpCode(0x5AA5)
        bus.write32(EFUSE_CMD_REG, bus.read32(EFUSE_CMD_REG) | 1)
        var polls = 0
        while bus.read32(EFUSE_CMD_REG) != 0 { polls += 1; if polls > 100 { XCTFail("read never completes"); return } }
    }
    func program() {
        setOpCode(0x5A5A)
        bus.write32(EFUSE_CMD_REG, bus.read32(EFUSE_CMD_REG) | 2)
        var polls = 0
        while bus.read32(EFUSE_CMD_REG) != 0 { polls += 1; if polls > 100 { XCTFail("program never completes"); return } }
        read()
    }
}

final class EFuseTests: XCTestCase {
    func testDefaultRegisters() {
        let e = EFuse()
        let bus = MMIO(device: e)
        XCTAssertEqual(e.range, 0x5A000..<0x5B000)
        XCTAssertEqual((0..<7).map { bus.read32(EFUSE_BLK0_RDATA_REG($0)) },
                       [0x0000_0000, 0xC400_0001, 0x00BE_240A, 0x0000_A200, 0x0000_0000, 0x0010_0000, 0x0000_0000])
        for b in 1...3 { for n in 0..<8 { XCTAssertEqual(bus.read32(EFUSE_BLK_RDATA_REG(b, n)), 0) } }
        XCTAssertEqual(bus.read32(EFUSE_CLK_REG), 0x4052)
        XCTAssertEqual(bus.read32(EFUSE_CONF_REG), 0x1_0000)
        XCTAssertEqual(bus.read32(EFUSE_DAC_CONF_REG), 40)
        XCTAssertEqual(bus.read32(EFUSE_DATE_REG), 0x1604_2600)
        XCTAssertEqual(bus.read32(EFUSE_STATUS_REG), 0)
        XCTAssertEqual(bus.read32(EFUSE_DEC_STATUS_REG), 0)
        XCTAssertEqual(bus.read32(EFUSE_CMD_REG), 0)
        XCTAssertEqual(e.apbCtrlDate, 0x9604_2000)
        XCTAssertNil(bus.read(0x3FF5_A120))
        XCTAssertEqual(e.image.count, 124)
    }

    /// What ESP-IDF concludes from the default fuses.
    func testDefaultIsRevision3WROOM() {
        let e = EFuse()
        let hal = EFuseHAL(e)
        XCTAssertEqual(hal.majorChipVersion, 3)
        XCTAssertEqual(hal.waferVersionMinor, 0)
        XCTAssertEqual(hal.chipRevision, 300)
        XCTAssertEqual(e.majorChipRevision, 3)
        XCTAssertEqual(e.minorChipRevision, 0)
        XCTAssertEqual(hal.chipVerPkg, 1)            // EFUSE_RD_CHIP_VER_PKG_ESP32D0WDQ5: ESP32-D0WD(-V3)
        XCTAssertEqual(e.packageVersion, 1)
        XCTAssertEqual(hal.ratedFreqMHz, 240)
        XCTAssertEqual(hal.codingScheme, 0)
        XCTAssertEqual(hal.flashCryptCnt, 0)
        XCTAssertFalse(hal.secureBootV1 || hal.secureBootV2)
        XCTAssertFalse(hal.disableAppCPU || hal.disableBT)
        XCTAssertFalse(hal.sdioForce)
        XCTAssertEqual(hal.spiPadConfig, 0)
    }

    /// esp_efuse_mac_get_default: the factory MAC and its CRC.
    func testMAC() {
        let e = EFuse()
        let hal = EFuseHAL(e)
        XCTAssertEqual(hal.macFactory, [0x24, 0x0A, 0xC4, 0x00, 0x00, 0x01])
        XCTAssertEqual(e.mac, hal.macFactory)
        XCTAssertEqual(hal.macFactoryCRC, EFuseHAL.espCRC8(hal.macFactory))
        XCTAssertEqual(hal.macFactoryCRC, 0xBE)
        XCTAssertTrue(e.macCRCValid)
        // Any MAC gets its CRC.
        let mac: [UInt8] = [0x30, 0xAE, 0xA4, 0x12, 0x34, 0x56]
        let other = EFuse(fuses: EFuse.defaultFuses(mac: mac))
        XCTAssertEqual(EFuseHAL(other).macFactory, mac)
        XCTAssertEqual(EFuseHAL(other).macFactoryCRC, EFuseHAL.espCRC8(mac))
        XCTAssertEqual(EFuse.crc8([0x24, 0x0A, 0xC4, 0x00, 0x00, 0x01]), 0xBE)
        XCTAssertEqual(EFuse.crc8([0, 0, 0, 0, 0, 0]), 0)
    }

    func testImageLayout() throws {
        var bytes = [UInt8](repeating: 0, count: 124)
        for w in 0..<31 { bytes.replaceSubrange(4 * w..<4 * w + 4, with: le32Bytes(0xA500_0000 | UInt32(w))) }
        let path = NSTemporaryDirectory() + "esp32tests-efuse-\(getpid()).bin"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let e = try EFuse(imagePath: path)
        let bus = MMIO(device: e)
        // Words 0-6 BLK0, 7-14 BLK1, 15-22 BLK2, 23-30 BLK3 (read protection bits are clear here).
        for n in 0..<7 { XCTAssertEqual(bus.read32(EFUSE_BLK0_RDATA_REG(n)) & 0xFF, UInt32(n)) }
        for b in 1...3 {
            for n in 0..<8 { XCTAssertEqual(bus.read32(EFUSE_BLK_RDATA_REG(b, n)), 0xA500_0000 | UInt32(EFuse.blockStart[b] + n)) }
        }
        XCTAssertEqual(e.image, bytes)
    }

    func testImageErrors() throws {
        let dir = NSTemporaryDirectory()
        for size in [0, 100, 123, 125, 4096] {
            let path = dir + "esp32tests-efuse-\(getpid())-\(size).bin"
            try Data(count: size).write(to: URL(fileURLWithPath: path))
            defer { try? FileManager.default.removeItem(atPath: path) }
            XCTAssertThrowsError(try EFuse(imagePath: path)) { error in
                guard let e = error as? InputError else { return XCTFail("not an InputError: \(error)") }
                let text = e.description
                XCTAssertTrue(text.hasPrefix(path + ": "), text)
                XCTAssertTrue(text.contains("\(size) bytes, expected 124"), text)
                XCTAssertTrue(text.contains("offset \(min(size, 124))"), text)
                XCTAssertFalse(text.contains("\n"), text)
            }
        }
        XCTAssertThrowsError(try EFuse(imagePath: dir + "esp32tests-no-such-file.bin")) { error in
            XCTAssertTrue("\(error)".contains("esp32tests-no-such-file.bin"))
        }
    }

    /// Espressif QEMU's qemu_efuse.bin from the firmware corpus: revision 3 bits, zero MAC.
    func testCorpusImage() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var folder = root.appendingPathComponent("../shared/firmware").standardizedFileURL
        if let p = ProcessInfo.processInfo.environment["ESP32EMU_FIRMWARE"], !p.isEmpty {
            folder = URL(fileURLWithPath: p, relativeTo: root).standardizedFileURL
        }
        var images: [String] = []
        if let en = FileManager.default.enumerator(atPath: folder.path) {
            for case let rel as String in en where rel.hasSuffix("qemu_efuse.bin") { images.append(rel) }
        }
        guard !images.isEmpty else { throw XCTSkip("no qemu_efuse.bin under \(folder.path) (set ESP32EMU_FIRMWARE)") }
        for rel in images.sorted() {
            let e = try EFuse(imagePath: folder.appendingPathComponent(rel).path)
            let hal = EFuseHAL(e)
            XCTAssertEqual(hal.rdata(3), 0x8000, rel)
            XCTAssertEqual(hal.rdata(5), 0x10_0000, rel)
            XCTAssertEqual(hal.chipRevision, 300, rel)
            XCTAssertEqual(e.mac, [0, 0, 0, 0, 0, 0], rel)
            XCTAssertTrue(e.macCRCValid, rel)
        }
    }

    func testRevisionNeedsAllThreeBits() {
        var f = EFuse.defaultFuses()
        f[5] &= ~(1 << 20)              // REV1 only: revision 1
        let rev1 = EFuse(fuses: f)
        XCTAssertEqual(rev1.apbCtrlDate, 0x1604_2000)
        XCTAssertEqual(EFuseHAL(rev1).majorChipVersion, 1)
        XCTAssertEqual(rev1.majorChipRevision, 1)
        let rev2 = EFuse()               // REV1 + REV2 without the APB_CTRL_DATE bit: revision 2
        rev2.apbCtrlDate = EFuse.apbCtrlDateBase
        XCTAssertEqual(EFuseHAL(rev2).majorChipVersion, 2)
        XCTAssertEqual(rev2.majorChipRevision, 2)
        XCTAssertEqual(EFuse(fuses: [UInt32](repeating: 0, count: 31)).majorChipRevision, 0)
    }

    func testReadAndProgram() {
        let e = EFuse()
        let bus = MMIO(device: e)
        let hal = EFuseHAL(e)
        var burned: [[UInt8]] = []
        e.programmed = { burned.append($0.image) }
        // efuse_hal_set_timing(80 MHz APB).
        bus.write32(EFUSE_DAC_CONF_REG, (bus.read32(EFUSE_DAC_CONF_REG) & ~0xFF) | 100)
        bus.write32(EFUSE_CLK_REG, (bus.read32(EFUSE_CLK_REG) & ~0xFF) | 80)
        bus.write32(EFUSE_CLK_REG, (bus.read32(EFUSE_CLK_REG) & ~0xFF00) | 128 << 8)
        XCTAssertEqual(bus.read32(EFUSE_DAC_CONF_REG), 100)
        XCTAssertEqual(bus.read32(EFUSE_CLK_REG), 0x8050)

        // Burn a user word into BLK3 and a bit into BLK0 (ABS_DONE_1).
        bus.write32(EFUSE_BLK_WDATA_REG(3, 2), 0x1234_5678)
        bus.write32(EFUSE_BLK0_WDATA_REG(6), 1 << 5)
        XCTAssertEqual(bus.read32(EFUSE_BLK_WDATA_REG(3, 2)), 0x1234_5678)
        XCTAssertEqual(bus.read32(EFUSE_BLK_RDATA_REG(3, 2)), 0, "not burned yet")
        hal.program()
        XCTAssertEqual(bus.read32(EFUSE_BLK_RDATA_REG(3, 2)), 0x1234_5678)
        XCTAssertTrue(hal.secureBootV2)
        XCTAssertEqual(bus.read32(EFUSE_INT_RAW_REG), 3)      // READ_DONE | PGM_DONE
        XCTAssertEqual(burned.count, 1)
        XCTAssertEqual(Array(burned[0][92 + 8..<92 + 12]), le32Bytes(0x1234_5678))
        // The read op code cleared the write registers.
        XCTAssertEqual(bus.read32(EFUSE_BLK_WDATA_REG(3, 2)), 0)
        XCTAssertEqual(bus.read32(EFUSE_BLK0_WDATA_REG(6)), 0)

        // Bits only go from 0 to 1.
        bus.write32(EFUSE_BLK_WDATA_REG(3, 2), 0x0000_0001)
        hal.program()
        XCTAssertEqual(bus.read32(EFUSE_BLK_RDATA_REG(3, 2)), 0x1234_5679)

        // Read registers are read-only; a command without its op code does nothing.
        bus.write32(EFUSE_BLK_RDATA_REG(3, 2), 0)
        XCTAssertEqual(bus.read32(EFUSE_BLK_RDATA_REG(3, 2)), 0x1234_5679)
        bus.write32(EFUSE_BLK_WDATA_REG(3, 3), 0xFF)
        bus.write32(EFUSE_CONF_REG, 0x1_0000)
        bus.write32(EFUSE_CMD_REG, 2)
        XCTAssertEqual(e.fuses[EFuse.blockStart[3] + 3], 0)

        // Fuses survive reset; registers do not.
        e.reset()
        XCTAssertEqual(bus.read32(EFUSE_BLK_RDATA_REG(3, 2)), 0x1234_5679)
        XCTAssertEqual(bus.read32(EFUSE_BLK_WDATA_REG(3, 3)), 0)
        XCTAssertEqual(bus.read32(EFUSE_CLK_REG), 0x4052)
        XCTAssertEqual(bus.read32(EFUSE_INT_RAW_REG), 0)
    }

    func testWriteAndReadProtection() {
        let e = EFuse()
        let bus = MMIO(device: e)
        let hal = EFuseHAL(e)
        bus.write32(EFUSE_BLK_WDATA_REG(2, 0), 0xAAAA_0000)
        bus.write32(EFUSE_BLK_WDATA_REG(3, 0), 0x5555_0000)
        hal.program()
        // WR_DIS_BLK2 (bit 8) and RD_DIS_BLK3 (bit 18).
        bus.write32(EFUSE_BLK0_WDATA_REG(0), 1 << 8 | 1 << 18)
        hal.program()
        XCTAssertEqual(bus.read32(EFUSE_BLK0_RDATA_REG(0)), 1 << 8 | 1 << 18)
        XCTAssertEqual(bus.read32(EFUSE_BLK_RDATA_REG(3, 0)), 0, "read-protected")
        XCTAssertEqual(e.fuses[EFuse.blockStart[3]], 0x5555_0000)
        XCTAssertEqual(bus.read32(EFUSE_BLK_RDATA_REG(2, 0)), 0xAAAA_0000)
        bus.write32(EFUSE_BLK_WDATA_REG(2, 0), 0x0000_FFFF)
        bus.write32(EFUSE_BLK_WDATA_REG(1, 0), 0x0000_FFFF)
        hal.program()
        XCTAssertEqual(bus.read32(EFUSE_BLK_RDATA_REG(2, 0)), 0xAAAA_0000, "write-protected")
        XCTAssertEqual(bus.read32(EFUSE_BLK_RDATA_REG(1, 0)), 0x0000_FFFF)
        // RD_DIS BLK0 partial hides CODING_SCHEME / KEY_STATUS / FLASH_CRYPT_CONFIG only.
        bus.write32(EFUSE_BLK0_WDATA_REG(6), 1 << 10 | 1)
        bus.write32(EFUSE_BLK0_WDATA_REG(0), 1 << 19)
        hal.program()
        XCTAssertEqual(bus.read32(EFUSE_BLK0_RDATA_REG(6)), 0)
        XCTAssertEqual(e.fuses[6], 1 << 10 | 1)
        XCTAssertEqual(bus.read32(EFUSE_BLK0_RDATA_REG(5)), 1 << 20)
    }

    func testInterrupt() {
        let e = EFuse()
        let bus = MMIO(device: e)
        var changes = 0
        e.interruptChanged = { changes += 1 }
        bus.write32(EFUSE_INT_ENA_REG, 1)
        XCTAssertFalse(e.interruptLine)
        EFuseHAL(e).read()
        XCTAssertTrue(e.interruptLine)
        XCTAssertEqual(bus.read32(EFUSE_INT_ST_REG), 1)
        bus.write32(EFUSE_INT_CLR_REG, 1)
        XCTAssertFalse(e.interruptLine)
        XCTAssertEqual(bus.read32(EFUSE_INT_RAW_REG), 0)
        XCTAssertGreaterThanOrEqual(changes, 3)
    }
}

// SPI flash and the SPI0/SPI1 controllers, driven through the registers exactly as the ESP32 ROM
// (esp_rom_spiflash_*: ESP-IDF components/esp_rom/patches/esp_rom_spiflash.c), the IDF
// bootloader (bootloader_flash_execute_command_common) and the IDF HAL (spi_flash_hal_*,
// hal/esp32/include/hal/spi_flash_ll.h) do.

import Foundation
import XCTest
@testable import ESP32

/// SPI register addresses as spi_reg.h defines them (REG_SPI_BASE(1) = 0x3FF42000, (0) = 0x3FF43000).
private enum Reg {
    static func base(_ i: Int) -> UInt32 { 0x3FF0_0000 + SPIController.offset(of: i) }
    static func cmd(_ i: Int = 1) -> UInt32 { base(i) + 0x00 }
    static func addr(_ i: Int = 1) -> UInt32 { base(i) + 0x04 }
    static func ctrl(_ i: Int = 1) -> UInt32 { base(i) + 0x08 }
    static func rdStatus(_ i: Int = 1) -> UInt32 { base(i) + 0x10 }
    static func clock(_ i: Int = 1) -> UInt32 { base(i) + 0x18 }
    static func user(_ i: Int = 1) -> UInt32 { base(i) + 0x1C }
    static func user1(_ i: Int = 1) -> UInt32 { base(i) + 0x20 }
    static func user2(_ i: Int = 1) -> UInt32 { base(i) + 0x24 }
    static func mosiDlen(_ i: Int = 1) -> UInt32 { base(i) + 0x28 }
    static func misoDlen(_ i: Int = 1) -> UInt32 { base(i) + 0x2C }
    static func slvWrStatus(_ i: Int = 1) -> UInt32 { base(i) + 0x30 }
    static func pin(_ i: Int = 1) -> UInt32 { base(i) + 0x34 }
    static func slave(_ i: Int = 1) -> UInt32 { base(i) + 0x38 }
    static func w(_ n: Int, _ i: Int = 1) -> UInt32 { base(i) + 0x80 + UInt32(n) * 4 }
    static func ext2(_ i: Int = 1) -> UInt32 { base(i) + 0xF8 }
    static func date(_ i: Int = 1) -> UInt32 { base(i) + 0x3FC }
}

// Bits (spi_reg.h).
private let SPI_FLASH_READ: UInt32 = 1 << 31, SPI_FLASH_WREN: UInt32 = 1 << 30, SPI_FLASH_WRDI: UInt32 = 1 << 29
private let SPI_FLASH_RDID: UInt32 = 1 << 28, SPI_FLASH_RDSR: UInt32 = 1 << 27, SPI_FLASH_WRSR: UInt32 = 1 << 26
private let SPI_FLASH_PP: UInt32 = 1 << 25, SPI_FLASH_SE: UInt32 = 1 << 24, SPI_FLASH_BE: UInt32 = 1 << 23
private let SPI_FLASH_CE: UInt32 = 1 << 22, SPI_FLASH_DP: UInt32 = 1 << 21, SPI_FLASH_RES: UInt32 = 1 << 20
private let SPI_USR: UInt32 = 1 << 18
private let SPI_FREAD_QIO: UInt32 = 1 << 24, SPI_FREAD_DIO: UInt32 = 1 << 23, SPI_WRSR_2B: UInt32 = 1 << 22
private let SPI_WP_REG: UInt32 = 1 << 21, SPI_FREAD_QUAD: UInt32 = 1 << 20, SPI_RESANDRES: UInt32 = 1 << 15
private let SPI_FREAD_DUAL: UInt32 = 1 << 14, SPI_FASTRD_MODE: UInt32 = 1 << 13
private let SPI_USR_COMMAND: UInt32 = 1 << 31, SPI_USR_ADDR: UInt32 = 1 << 30, SPI_USR_DUMMY: UInt32 = 1 << 29
private let SPI_USR_MISO: UInt32 = 1 << 28, SPI_USR_MOSI: UInt32 = 1 << 27
private let SPI_USR_MOSI_HIGHPART: UInt32 = 1 << 25, SPI_USR_MISO_HIGHPART: UInt32 = 1 << 24
private let SPI_RD_BYTE_ORDER: UInt32 = 1 << 10
private let SPI_USR_ADDR_BITLEN_S: UInt32 = 26, SPI_USR_COMMAND_BITLEN_S: UInt32 = 28

/// The guest's view: REG_READ/REG_WRITE on the absolute addresses of SPI0...SPI3.
private final class Bus {
    let flash: SPIFlash
    let spi: [SPIController]

    init(_ flash: SPIFlash) {
        self.flash = flash
        spi = (0...1).map { SPIController(index: $0, flash: flash) }
    }

    func controller(_ address: UInt32) -> (SPIController, UInt32) {
        let o = address - 0x3FF0_0000
        let c = spi.first { $0.range.contains(o) }!
        return (c, o - c.range.lowerBound)
    }

    func read(_ address: UInt32, file: StaticString = #filePath, line: UInt = #line) -> UInt32 {
        let (c, o) = controller(address)
        guard let v = c.read(offset: o, size: 4) else {
            XCTFail("read of 0x\(String(address, radix: 16)) not modelled", file: file, line: line)
            return 0
        }
        return v
    }

    func write(_ address: UInt32, _ value: UInt32, file: StaticString = #filePath, line: UInt = #line) {
        let (c, o) = controller(address)
        XCTAssertTrue(c.write(offset: o, size: 4, value: value), "write of 0x\(String(address, radix: 16)) not modelled",
                      file: file, line: line)
    }

    func setBits(_ address: UInt32, _ mask: UInt32) { write(address, read(address) | mask) }
    func clearBits(_ address: UInt32, _ mask: UInt32) { write(address, read(address) & ~mask) }
    func setField(_ address: UInt32, _ value: UInt32, mask: UInt32, shift: UInt32) {
        write(address, read(address) & ~(mask << shift) | (value & mask) << shift)
    }

    /// WRITE_PERI_REG(SPI_CMD, bit); while (READ_PERI_REG(SPI_CMD) != 0) {}
    func command(_ bit: UInt32, _ i: Int = 1, file: StaticString = #filePath, line: UInt = #line) {
        write(Reg.cmd(i), bit, file: file, line: line)
        var polls = 0
        while read(Reg.cmd(i)) != 0 {
            polls += 1
            if polls > 1000 { XCTFail("SPI_CMD never cleared", file: file, line: line); return }
        }
        // esp_rom_spiflash_wait_idle: SPI_EXT2 state machines idle.
        XCTAssertEqual(read(Reg.ext2(1)) & 7, 0, file: file, line: line)
        XCTAssertEqual(read(Reg.ext2(0)) & 7, 0, file: file, line: line)
    }

    // MARK: ROM (esp_rom_spiflash.c)

    /// esp_rom_spiflash_read_status without extra dummy: STATUS = 0; CMD = RDSR; STATUS & mask.
    func romReadStatus() -> UInt32 {
        write(Reg.rdStatus(), 0)
        command(SPI_FLASH_RDSR)
        return read(Reg.rdStatus()) & 0xFFFF
    }

    /// esp_rom_spiflash_enable_write.
    func romEnableWrite() {
        command(SPI_FLASH_WREN)
        XCTAssertEqual(romReadStatus() & 2, 2, "WEL after WREN")
    }

    /// esp_rom_spiflash_erase_sector_internal (after enable_write).
    func romEraseSector(_ addr: UInt32) {
        clearBits(Reg.user(), SPI_USR_DUMMY)
        setField(Reg.user1(), 23, mask: 0x3F, shift: SPI_USR_ADDR_BITLEN_S)
        romEnableWrite()
        write(Reg.addr(), addr & 0xFF_FFFF)
        command(SPI_FLASH_SE)
    }

    /// esp_rom_spiflash_program_page_internal: 32 bytes (or the rest) per PP, WREN before each.
    func romWrite(_ addr: UInt32, _ data: [UInt8]) {
        precondition(data.count % 4 == 0)
        var a = addr, rest = data[...]
        while !rest.isEmpty {
            romEnableWrite()
            let chunk = rest.prefix(32)
            write(Reg.addr(), a & 0xFF_FFFF | UInt32(chunk.count) << 24)
            for (i, w) in words(Array(chunk)).enumerated() { write(Reg.w(i), w) }
            command(SPI_FLASH_PP)
            rest = rest.dropFirst(chunk.count)
            a += UInt32(chunk.count)
        }
    }

    /// esp_rom_spiflash_read in SIO/FASTRD/DOUT/QOUT/DIO/QIO mode, then esp_rom_spiflash_read_data.
    func romRead(_ addr: UInt32, count: Int) -> [UInt8] {
        let modebit = read(Reg.ctrl())
        if modebit & SPI_FREAD_QIO != 0 && modebit & SPI_FASTRD_MODE != 0 {
            clearBits(Reg.user(), SPI_USR_MOSI)
            setBits(Reg.user(), SPI_USR_MISO | SPI_USR_DUMMY | SPI_USR_ADDR)
            setField(Reg.user1(), 31, mask: 0x3F, shift: SPI_USR_ADDR_BITLEN_S)  // SPI1_R_QIO_ADDR_BITSLEN
            setField(Reg.user1(), 3, mask: 0xFF, shift: 0)                       // SPI1_R_QIO_DUMMY_CYCLELEN
            write(Reg.user2(), 7 << SPI_USR_COMMAND_BITLEN_S | 0xEB)
        } else if modebit & SPI_FASTRD_MODE != 0 {
            clearBits(Reg.user(), SPI_USR_MOSI)
            setBits(Reg.user(), SPI_USR_MISO | SPI_USR_ADDR)
            if modebit & SPI_FREAD_DIO != 0 {
                clearBits(Reg.user(), SPI_USR_DUMMY)
                setField(Reg.user1(), 31, mask: 0x3F, shift: SPI_USR_ADDR_BITLEN_S)
                write(Reg.user2(), 7 << SPI_USR_COMMAND_BITLEN_S | 0xBB)
            } else {
                let cmd: UInt32 = modebit & SPI_FREAD_QUAD != 0 ? 0x6B : modebit & SPI_FREAD_DUAL != 0 ? 0x3B : 0x0B
                write(Reg.user2(), 7 << SPI_USR_COMMAND_BITLEN_S | cmd)
                setBits(Reg.user(), SPI_USR_DUMMY)
                setField(Reg.user1(), 23, mask: 0x3F, shift: SPI_USR_ADDR_BITLEN_S)
                setField(Reg.user1(), 7, mask: 0xFF, shift: 0)
            }
        } else {
            clearBits(Reg.user(), SPI_USR_MOSI | SPI_USR_DUMMY)
            setBits(Reg.user(), SPI_USR_MISO | SPI_USR_ADDR)
            setField(Reg.user1(), 23, mask: 0x3F, shift: SPI_USR_ADDR_BITLEN_S)
            write(Reg.user2(), 7 << SPI_USR_COMMAND_BITLEN_S | 0x03)
        }
        var out: [UInt8] = [], a = addr
        while out.count < count {
            write(Reg.misoDlen(), 64 * 8 - 1)
            write(Reg.addr(), a << 8)
            command(SPI_USR)
            let n = min(64, count - out.count)
            out += bufferBytes(n)
            a += UInt32(n)
        }
        return out
    }

    /// esp_rom_spiflash_config_readmode (the SPI1 and SPI0 CTRL mode bits).
    func romConfigReadMode(_ modebit: UInt32) {
        let all = SPI_FREAD_QIO | SPI_FREAD_QUAD | SPI_FREAD_DIO | SPI_FREAD_DUAL | SPI_FASTRD_MODE
        clearBits(Reg.ctrl(1), all)
        clearBits(Reg.ctrl(0), all)
        setBits(Reg.ctrl(1), modebit)
        setBits(Reg.ctrl(0), modebit)
    }

    // MARK: IDF bootloader (bootloader_flash.c) and HAL (spi_flash_hal_common.inc)

    /// bootloader_flash_execute_command_common for the ESP32.
    @discardableResult
    func execute(_ command: UInt8, addrLen: UInt32 = 0, address: UInt32 = 0, dummyLen: UInt32 = 0,
                 mosiLen: UInt32 = 0, mosiData: UInt32 = 0, misoLen: UInt32 = 0) -> UInt32 {
        let oldCtrl = read(Reg.ctrl())
        write(Reg.ctrl(), SPI_WP_REG)
        setBits(Reg.user(), SPI_USR_COMMAND)
        setField(Reg.user2(), 7, mask: 0xF, shift: SPI_USR_COMMAND_BITLEN_S)
        setField(Reg.user2(), UInt32(command), mask: 0xFFFF, shift: 0)
        if addrLen > 0 { setBits(Reg.user(), SPI_USR_ADDR) } else { clearBits(Reg.user(), SPI_USR_ADDR) }
        setField(Reg.user1(), addrLen &- 1, mask: 0x3F, shift: SPI_USR_ADDR_BITLEN_S)
        write(Reg.addr(), addrLen > 0 ? address << (32 - addrLen) : 0)
        if misoLen > 0 && dummyLen > 0 {
            setBits(Reg.user(), SPI_USR_DUMMY)
            setField(Reg.user1(), dummyLen - 1, mask: 0xFF, shift: 0)
        } else {
            clearBits(Reg.user(), SPI_USR_DUMMY)
            setField(Reg.user1(), 0, mask: 0xFF, shift: 0)
        }
        if mosiLen > 0 { setBits(Reg.user(), SPI_USR_MOSI) } else { clearBits(Reg.user(), SPI_USR_MOSI) }
        write(Reg.mosiDlen(), mosiLen > 0 ? mosiLen - 1 : 0)
        write(Reg.w(0), mosiData)
        if misoLen > 0 { setBits(Reg.user(), SPI_USR_MISO) } else { clearBits(Reg.user(), SPI_USR_MISO) }
        write(Reg.misoDlen(), misoLen > 0 ? misoLen - 1 : 0)
        self.command(SPI_USR)
        write(Reg.ctrl(), oldCtrl)
        var ret = read(Reg.w(0))
        if misoLen < 32 { ret &= ~(UInt32.max << misoLen) }
        return ret
    }

    /// bootloader_read_flash_id.
    func bootloaderReadFlashID() -> UInt32 {
        let id = execute(0x9F, misoLen: 24)
        return (id & 0xFF) << 16 | (id >> 16) & 0xFF | id & 0xFF00
    }

    /// spi_flash_hal_configure_host_io_mode + spi_flash_hal_read (24-bit address, `extraAddrBits`
    /// of conf bits for DIO/QIO, `dummy` cycles).
    func halRead(_ address: UInt32, count: Int, command: UInt8, extraAddrBits: UInt32 = 0, dummy: UInt32 = 0,
                 ioMode: UInt32 = SPI_FASTRD_MODE) -> [UInt8] {
        setBits(Reg.user(), SPI_USR_COMMAND)
        write(Reg.user2(), 7 << SPI_USR_COMMAND_BITLEN_S | UInt32(command))
        setField(Reg.user1(), 24 + extraAddrBits - 1, mask: 0x3F, shift: SPI_USR_ADDR_BITLEN_S)
        setBits(Reg.user(), SPI_USR_ADDR)
        if dummy > 0 { setBits(Reg.user(), SPI_USR_DUMMY) } else { clearBits(Reg.user(), SPI_USR_DUMMY) }
        setField(Reg.user1(), dummy &- 1, mask: 0xFF, shift: 0)
        clearBits(Reg.user(), SPI_USR_MISO | SPI_USR_MOSI)
        write(Reg.ctrl(), read(Reg.ctrl()) & ~(SPI_FREAD_QIO | SPI_FREAD_QUAD | SPI_FREAD_DIO | SPI_FREAD_DUAL) | ioMode)
        // spi_flash_hal_read: spi_flash_ll_set_usr_address(addr, bitlen & ~7) pads with ones.
        let bitlen = (24 + extraAddrBits) & ~7
        write(Reg.addr(), address << (32 - bitlen) | (bitlen == 32 ? 0 : UInt32.max >> bitlen))
        setBits(Reg.user(), SPI_USR_MISO)
        write(Reg.misoDlen(), UInt32(count * 8 - 1))
        self.command(SPI_USR)
        return bufferBytes(count)
    }

    /// spi_flash_hal_common_command with the given mosi bytes (e.g. a page program by command).
    func halCommand(_ command: UInt8, address: UInt32, addrBits: UInt32 = 24, mosi: [UInt8] = [], misoLen: Int = 0) -> [UInt8] {
        write(Reg.user(), 0); write(Reg.ctrl(), 0)
        setBits(Reg.user(), SPI_USR_COMMAND)
        write(Reg.user2(), 7 << SPI_USR_COMMAND_BITLEN_S | UInt32(command))
        setField(Reg.user1(), addrBits &- 1, mask: 0x3F, shift: SPI_USR_ADDR_BITLEN_S)
        if addrBits > 0 { setBits(Reg.user(), SPI_USR_ADDR) }
        write(Reg.addr(), address << (32 - addrBits) | UInt32.max >> addrBits)
        if !mosi.isEmpty {
            setBits(Reg.user(), SPI_USR_MOSI)
            write(Reg.mosiDlen(), UInt32(mosi.count * 8 - 1))
            var padded = mosi
            while padded.count % 4 != 0 { padded.append(0) }
            for (i, w) in words(padded).enumerated() { write(Reg.w(i), w) }
        }
        if misoLen > 0 {
            setBits(Reg.user(), SPI_USR_MISO)
            write(Reg.misoDlen(), UInt32(misoLen * 8 - 1))
        }
        self.command(SPI_USR)
        return bufferBytes(misoLen)
    }

    func bufferBytes(_ n: Int, from base: Int = 0) -> [UInt8] {
        (0..<n).map { i in UInt8(truncatingIfNeeded: read(Reg.w((base + i) / 4)) >> (UInt32((base + i) % 4) * 8)) }
    }

    func words(_ bytes: [UInt8]) -> [UInt32] {
        stride(from: 0, to: bytes.count, by: 4).map { i in
            (0..<4).reduce(UInt32(0)) { $0 | UInt32(i + $1 < bytes.count ? bytes[i + $1] : 0) << (8 * UInt32($1)) }
        }
    }
}

private func pattern(_ n: Int, seed: UInt8 = 0x5A) -> [UInt8] {
    (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ Int(seed)) }
}

final class SPIFlashTests: XCTestCase {
    func testJEDECIdMatchesSizeAndVendor() throws {
        XCTAssertEqual(try SPIFlash(size: 2 << 20).jedecID, 0xC8_4015)
        XCTAssertEqual(try SPIFlash(size: 4 << 20).jedecID, 0xC8_4016)
        XCTAssertEqual(try SPIFlash(size: 8 << 20).jedecID, 0xC8_4017)
        XCTAssertEqual(try SPIFlash(size: 16 << 20).jedecID, 0xC8_4018)
        XCTAssertEqual(try SPIFlash(size: 4 << 20, vendor: .winbond).jedecID, 0xEF_4016)
        XCTAssertThrowsError(try SPIFlash(size: 3 << 20))
        XCTAssertThrowsError(try SPIFlash(size: 2 << 20, image: [UInt8](repeating: 0, count: (2 << 20) + 1)))
    }

    func testReadIDByCommandBitAndByUserCommand() throws {
        let bus = Bus(try SPIFlash(size: 4 << 20))
        // SPI_FLASH_RDID: the three id bytes land in W0, manufacturer first (bits 7:0).
        bus.command(SPI_FLASH_RDID)
        XCTAssertEqual(bus.read(Reg.w(0)) & 0xFF_FFFF, 0x16_40C8)
        // The bootloader's bootloader_read_flash_id (SPI_USR, command 0x9F, 24 MISO bits).
        XCTAssertEqual(bus.bootloaderReadFlashID(), 0xC8_4016)
        // The IDF HAL: spi_flash_hal_common_command(RDID, miso 3 bytes), id = b0 << 16 | b1 << 8 | b2.
        let b = bus.halCommand(0x9F, address: 0, addrBits: 0, misoLen: 3)
        XCTAssertEqual(b, [0xC8, 0x40, 0x16])
        // SPI_SLAVE_REG.TRANS_DONE is set after a transaction.
        XCTAssertNotEqual(bus.read(Reg.slave()) & (1 << 4), 0)
    }

    func testReadStatusWriteEnableDisable() throws {
        let bus = Bus(try SPIFlash(size: 4 << 20))
        XCTAssertEqual(bus.romReadStatus(), 0)
        bus.command(SPI_FLASH_WREN)
        XCTAssertEqual(bus.romReadStatus(), 0x02)                 // WEL
        XCTAssertEqual(bus.execute(0x05, misoLen: 8), 0x02)       // bootloader read_status_8b_rdsr
        bus.command(SPI_FLASH_WRDI)
        XCTAssertEqual(bus.romReadStatus(), 0)
        // RDSR replaces only the low byte of SPI_RD_STATUS_REG.
        bus.write(Reg.rdStatus(), 0x1234_5600)
        bus.command(SPI_FLASH_RDSR)
        XCTAssertEqual(bus.read(Reg.rdStatus()), 0x1234_5600)
    }

    func testROMEraseProgramAndReadBack() throws {
        var image = [UInt8](repeating: 0x00, count: 0x3000)
        image[0x1000..<0x2000] = ArraySlice(pattern(0x1000))
        let bus = Bus(try SPIFlash(size: 4 << 20, image: image))
        XCTAssertEqual(bus.romRead(0x1000, count: 16), Array(pattern(16)))

        bus.romEraseSector(0x1000)
        XCTAssertEqual(bus.romReadStatus() & 3, 0, "WEL cleared after the erase, never busy")
        XCTAssertEqual(bus.romRead(0x1000, count: 0x1000), [UInt8](repeating: 0xFF, count: 0x1000))
        XCTAssertEqual(bus.romRead(0x0FF0, count: 16), [UInt8](repeating: 0, count: 16), "sector before untouched")
        XCTAssertEqual(bus.romRead(0x2000, count: 16), [UInt8](repeating: 0, count: 16), "sector after untouched")

        let data = pattern(200, seed: 3)
        bus.romWrite(0x1010, data)
        XCTAssertEqual(bus.romReadStatus() & 2, 0)
        XCTAssertEqual(bus.romRead(0x1010, count: 200), data)
        XCTAssertEqual(bus.romRead(0x1000, count: 16), [UInt8](repeating: 0xFF, count: 16))

        // SPI_FLASH_READ: address in ADDR[23:0], length in ADDR[31:24], data into W0...
        bus.write(Reg.addr(), 0x1010 | 32 << 24)
        bus.command(SPI_FLASH_READ)
        XCTAssertEqual(bus.bufferBytes(32), Array(data.prefix(32)))
    }

    func testReadModesReturnTheSameData() throws {
        let image = pattern(0x10000, seed: 9)
        let bus = Bus(try SPIFlash(size: 2 << 20, image: image))
        let expect = Array(image[0x1234..<(0x1234 + 100)])
        for mode in [0, SPI_FASTRD_MODE, SPI_FASTRD_MODE | SPI_FREAD_DUAL, SPI_FASTRD_MODE | SPI_FREAD_QUAD,
                     SPI_FASTRD_MODE | SPI_FREAD_DIO, SPI_FASTRD_MODE | SPI_FREAD_QIO] {
            bus.romConfigReadMode(mode)
            XCTAssertEqual(bus.romRead(0x1234, count: 100), expect, "ROM read, mode bits 0x\(String(mode, radix: 16))")
            bus.write(Reg.addr(), 0x1234 | 64 << 24)
            bus.command(SPI_FLASH_READ)
            XCTAssertEqual(bus.bufferBytes(64), Array(expect.prefix(64)), "SPI_FLASH_READ, mode 0x\(String(mode, radix: 16))")
        }
        // The IDF HAL's reads: 0x03 slow, 0x0B fast (8 dummy), 0x3B/0x6B, DIO 0xBB and QIO 0xEB
        // with the conf bits in the address phase (24 + 4 bits) and the rest as dummy.
        XCTAssertEqual(bus.halRead(0x1234, count: 64, command: 0x03, ioMode: 0), Array(expect.prefix(64)))
        XCTAssertEqual(bus.halRead(0x1234, count: 64, command: 0x0B, dummy: 8), Array(expect.prefix(64)))
        XCTAssertEqual(bus.halRead(0x1234, count: 64, command: 0x3B, dummy: 8, ioMode: SPI_FASTRD_MODE | SPI_FREAD_DUAL),
                       Array(expect.prefix(64)))
        XCTAssertEqual(bus.halRead(0x1234, count: 64, command: 0x6B, dummy: 8, ioMode: SPI_FASTRD_MODE | SPI_FREAD_QUAD),
                       Array(expect.prefix(64)))
        XCTAssertEqual(bus.halRead(0x1234, count: 64, command: 0xBB, extraAddrBits: 4, dummy: 2,
                                   ioMode: SPI_FASTRD_MODE | SPI_FREAD_DIO), Array(expect.prefix(64)))
        XCTAssertEqual(bus.halRead(0x1234, count: 33, command: 0xEB, extraAddrBits: 4, dummy: 5,
                                   ioMode: SPI_FASTRD_MODE | SPI_FREAD_QIO), Array(expect.prefix(33)))
        // Reads past the end of the chip wrap to address 0.
        XCTAssertEqual(bus.halRead(0x1F_FFFE, count: 4, command: 0x03, ioMode: 0),
                       [0xFF, 0xFF, image[0], image[1]])
    }

    func testNORProgramOnlyClearsBits() throws {
        let bus = Bus(try SPIFlash(size: 4 << 20))
        bus.romEraseSector(0)
        bus.romWrite(0x100, [0x0F, 0xF0, 0xAA, 0xFF])
        bus.romWrite(0x100, [0xF0, 0xF0, 0x55, 0x7E])
        XCTAssertEqual(bus.romRead(0x100, count: 4), [0x00, 0xF0, 0x00, 0x7E])
        XCTAssertEqual(bus.flash.read(at: 0x100, count: 4), [0x00, 0xF0, 0x00, 0x7E])
        // Only an erase brings the ones back.
        bus.romEraseSector(0)
        XCTAssertEqual(bus.romRead(0x100, count: 4), [0xFF, 0xFF, 0xFF, 0xFF])
    }

    func testProgramAndEraseNeedWEL() throws {
        let bus = Bus(try SPIFlash(size: 4 << 20, image: [UInt8](repeating: 0xFF, count: 0x2000)))
        // PP without WREN: ignored.
        bus.write(Reg.addr(), 0x40 | 4 << 24)
        bus.write(Reg.w(0), 0)
        bus.command(SPI_FLASH_PP)
        XCTAssertEqual(bus.flash.read(at: 0x40, count: 4), [0xFF, 0xFF, 0xFF, 0xFF])
        // With WREN it programs, and WEL is gone afterwards: a second PP does nothing.
        bus.command(SPI_FLASH_WREN)
        bus.command(SPI_FLASH_PP)
        XCTAssertEqual(bus.flash.read(at: 0x40, count: 4), [0, 0, 0, 0])
        bus.flash.load([0xAB, 0xCD], at: 0x44)
        bus.write(Reg.addr(), 0x44 | 2 << 24)
        bus.command(SPI_FLASH_PP)
        XCTAssertEqual(bus.flash.read(at: 0x44, count: 2), [0xAB, 0xCD])
        // SE without WREN: ignored; WRDI after WREN also prevents it.
        bus.write(Reg.addr(), 0)
        bus.command(SPI_FLASH_SE)
        XCTAssertEqual(bus.flash[0x40], 0)
        bus.command(SPI_FLASH_WREN)
        bus.command(SPI_FLASH_WRDI)
        bus.command(SPI_FLASH_SE)
        XCTAssertEqual(bus.flash[0x40], 0)
    }

    func testPageProgramWrapsInsideThePage() throws {
        let bus = Bus(try SPIFlash(size: 4 << 20))
        // spi_flash_hal_common_command: WREN, then PP 0x02 with 16 bytes at 0x20F8 as MOSI data.
        _ = bus.halCommand(0x06, address: 0, addrBits: 0)
        let data = pattern(16, seed: 1)
        _ = bus.halCommand(0x02, address: 0x20F8, mosi: data)
        XCTAssertEqual(bus.flash.read(at: 0x20F8, count: 8), Array(data[0..<8]))
        XCTAssertEqual(bus.flash.read(at: 0x2000, count: 8), Array(data[8..<16]), "wrapped to the page start")
        XCTAssertEqual(bus.flash[0x2100], 0xFF, "next page untouched")
        // More than 256 bytes in one program: only the last 256 count.
        let flash = bus.flash
        _ = flash.transfer([0x06], dummyCycles: 0, readCount: 0)
        let long = pattern(300, seed: 7)
        _ = flash.transfer([0x02, 0x00, 0x30, 0x00] + long, dummyCycles: 0, readCount: 0)
        let page = flash.read(at: 0x3000, count: 256)
        for i in 0..<256 { XCTAssertEqual(page[(44 + i) % 256], long[44 + i]) }
    }

    func testBlockAndChipErase() throws {
        let flash = try SPIFlash(size: 2 << 20, image: [UInt8](repeating: 0, count: 2 << 20))
        let bus = Bus(flash)
        var changes: [Range<Int>] = []
        flash.onWrite = { changes.append($0) }
        // 32 KiB block erase 0x52 through the bootloader's command path.
        bus.execute(0x06)
        bus.execute(0x52, addrLen: 24, address: 0x18123)
        XCTAssertEqual(changes.last, 0x18000..<0x20000)
        XCTAssertEqual(flash[0x17FFF], 0); XCTAssertEqual(flash[0x18000], 0xFF); XCTAssertEqual(flash[0x1FFFF], 0xFF)
        XCTAssertEqual(flash[0x20000], 0)
        // SPI_FLASH_BE: 64 KiB (0xD8).
        bus.command(SPI_FLASH_WREN)
        bus.write(Reg.addr(), 0x30000)
        bus.command(SPI_FLASH_BE)
        XCTAssertEqual(changes.last, 0x30000..<0x40000)
        XCTAssertEqual(flash[0x2FFFF], 0); XCTAssertEqual(flash[0x30000], 0xFF); XCTAssertEqual(flash[0x40000], 0)
        // esp_rom_spiflash_erase_chip_internal: SPI_FLASH_CE.
        bus.romEnableWrite()
        bus.command(SPI_FLASH_CE)
        XCTAssertEqual(changes.last, 0..<(2 << 20))
        XCTAssertEqual(flash.read(at: 0, count: 2 << 20), [UInt8](repeating: 0xFF, count: 2 << 20))
        // Program notifies the range it touched.
        bus.romWrite(0x1000, [1, 2, 3, 4])
        XCTAssertEqual(changes.last, 0x1000..<0x1004)
    }

    func testStatusRegisterWritesAndQE() throws {
        let flash = try SPIFlash(size: 4 << 20)
        let bus = Bus(flash)
        // ROM esp_rom_spiflash_write_status after WREN, with SPI_WRSR_2B: SR1 = [7:0], SR2 = [15:8].
        bus.setBits(Reg.ctrl(), SPI_WRSR_2B)
        bus.romEnableWrite()
        bus.write(Reg.rdStatus(), 0x0200 | 0x1C)
        bus.command(SPI_FLASH_WRSR)
        XCTAssertEqual(flash.status1, 0x1C)
        XCTAssertEqual(flash.status2 & SPIFlash.qe, SPIFlash.qe)
        // esp_rom_spiflash_read_statushigh-style read of SR2 (0x35) by user command.
        XCTAssertEqual(bus.execute(0x35, misoLen: 8), 0x02)
        // Patched esp_rom_spiflash_clear_bp: keep only QE (bit 9 of the 16-bit status).
        bus.romEnableWrite()
        bus.write(Reg.rdStatus(), 0x0200)
        bus.command(SPI_FLASH_WRSR)
        bus.command(SPI_FLASH_WRDI)
        XCTAssertEqual(bus.romReadStatus() & 0xFF, 0)
        XCTAssertEqual(flash.status2, 0x02)
        // Without WEL a status write is ignored.
        bus.write(Reg.rdStatus(), 0)
        bus.command(SPI_FLASH_WRSR)
        XCTAssertEqual(flash.status2, 0x02)
        // Bootloader enable_qio_mode for GD: write_status_16b_wrsr (0x01 with 16 MOSI bits) ...
        bus.execute(0x06)
        bus.execute(0x01, mosiLen: 16, mosiData: 0x0000)
        XCTAssertEqual(flash.status2 & SPIFlash.qe, 0)
        bus.execute(0x06)
        bus.execute(0x01, mosiLen: 16, mosiData: 0x0200)
        let sr = bus.execute(0x05, misoLen: 8) | bus.execute(0x35, misoLen: 8) << 8
        XCTAssertEqual(sr, 0x0200)
        // ... or WRSR2 (0x31) with 8 bits.
        bus.execute(0x06)
        bus.execute(0x31, mosiLen: 8, mosiData: 0x00)
        XCTAssertEqual(bus.execute(0x35, misoLen: 8), 0)
        bus.execute(0x06)
        bus.execute(0x31, mosiLen: 8, mosiData: 0x02)
        XCTAssertEqual(bus.execute(0x35, misoLen: 8), 0x02)
        XCTAssertEqual(bus.execute(0x05, misoLen: 8) & 2, 0, "WEL cleared by WRSR2")
    }

    func testDeepPowerDownAndRelease() throws {
        let bus = Bus(try SPIFlash(size: 4 << 20, image: [1, 2, 3, 4]))
        bus.command(SPI_FLASH_DP)
        XCTAssertTrue(bus.flash.poweredDown)
        XCTAssertEqual(bus.bootloaderReadFlashID(), 0xFF_FFFF, "no answer while powered down")
        // SPI_FLASH_RES with SPI_RESANDRES (set at reset): the device id goes to SPI_RD_STATUS.
        bus.write(Reg.rdStatus(), 0)
        bus.command(SPI_FLASH_RES)
        XCTAssertFalse(bus.flash.poweredDown)
        XCTAssertEqual(bus.read(Reg.rdStatus()) & 0xFF, 0x15)
        XCTAssertEqual(bus.romRead(0, count: 4), [1, 2, 3, 4])
        // The bootloader's XMC flow form: 0xB9, then 0xAB by user command.
        bus.execute(0xB9)
        XCTAssertTrue(bus.flash.poweredDown)
        bus.execute(0xAB)
        XCTAssertFalse(bus.flash.poweredDown)
    }

    func testSFDPAndUniqueID() throws {
        let bus = Bus(try SPIFlash(size: 4 << 20))
        // bootloader_flash_read_sfdp: 0x5A, 24-bit address, 8 dummy cycles, up to 4 bytes.
        XCTAssertEqual(bus.execute(0x5A, addrLen: 24, address: 0, dummyLen: 8, misoLen: 32), 0x5044_4653) // "SFDP"
        XCTAssertEqual(bus.execute(0x5A, addrLen: 24, address: 0x10, dummyLen: 8, misoLen: 8), 0xC8,
                       "vendor parameter id (the bootloader's XMC check)")
        XCTAssertEqual(bus.execute(0x5A, addrLen: 24, address: 0x34, dummyLen: 8, misoLen: 32), UInt32(32 << 20) - 1,
                       "density in bits - 1")
        let id1 = bus.halCommand(0x4B, address: 0, addrBits: 24, misoLen: 8)
        let id2 = bus.halCommand(0x4B, address: 0, addrBits: 24, misoLen: 8)
        XCTAssertEqual(id1, id2)
        XCTAssertNotEqual(id1, [UInt8](repeating: 0xFF, count: 8))
    }

    func testChipSelectRouting() throws {
        let bus = Bus(try SPIFlash(size: 4 << 20))
        // CS0 disabled and CS1 enabled (as the PSRAM driver does): the flash sees nothing.
        bus.write(Reg.pin(), 0x5)
        bus.command(SPI_FLASH_WREN)
        bus.write(Reg.pin(), 0x6)
        XCTAssertEqual(bus.romReadStatus() & 2, 0)
        bus.write(Reg.pin(), 0x5)
        XCTAssertEqual(bus.execute(0x9F, misoLen: 24), 0xFF_FFFF)
        bus.write(Reg.pin(), 0x6)
        XCTAssertEqual(bus.bootloaderReadFlashID(), 0xC8_4016)
    }

    func testBufferHighPartAndByteOrder() throws {
        let image = pattern(256, seed: 77)
        let bus = Bus(try SPIFlash(size: 4 << 20, image: image))
        bus.write(Reg.user(), SPI_USR_COMMAND | SPI_USR_ADDR | SPI_USR_MISO | SPI_USR_MISO_HIGHPART)
        bus.write(Reg.user1(), 23 << SPI_USR_ADDR_BITLEN_S)
        bus.write(Reg.user2(), 7 << SPI_USR_COMMAND_BITLEN_S | 0x03)
        bus.write(Reg.addr(), 0x10 << 8)
        bus.write(Reg.misoDlen(), 64 * 8 - 1)     // capped to the 32 bytes of W8..W15
        for i in 0..<16 { bus.write(Reg.w(i), 0) }
        bus.command(SPI_USR)
        XCTAssertEqual(bus.bufferBytes(32), [UInt8](repeating: 0, count: 32))
        XCTAssertEqual(bus.bufferBytes(32, from: 32), Array(image[0x10..<0x30]))
        // RD_BYTE_ORDER: big-endian words.
        bus.write(Reg.user(), SPI_USR_COMMAND | SPI_USR_ADDR | SPI_USR_MISO | SPI_RD_BYTE_ORDER)
        bus.write(Reg.misoDlen(), 31)
        bus.command(SPI_USR)
        XCTAssertEqual(bus.read(Reg.w(0)), UInt32(image[0x10]) << 24 | UInt32(image[0x11]) << 16
                       | UInt32(image[0x12]) << 8 | UInt32(image[0x13]))
        // MOSI from the high part: program 4 bytes taken from W8.
        bus.flash.load([UInt8](repeating: 0xFF, count: 4), at: 0x100)
        bus.command(SPI_FLASH_WREN)
        bus.write(Reg.user(), SPI_USR_COMMAND | SPI_USR_ADDR | SPI_USR_MOSI | SPI_USR_MOSI_HIGHPART)
        bus.write(Reg.user2(), 7 << SPI_USR_COMMAND_BITLEN_S | 0x02)
        bus.write(Reg.addr(), 0x100 << 8)
        bus.write(Reg.mosiDlen(), 31)
        bus.write(Reg.w(8), 0x4433_2211)
        bus.command(SPI_USR)
        XCTAssertEqual(bus.flash.read(at: 0x100, count: 4), [0x11, 0x22, 0x33, 0x44])
    }

    func testAddressPhaseLongerThan32Bits() throws {
        let image = pattern(0x400, seed: 5)
        let bus = Bus(try SPIFlash(size: 4 << 20, image: image))
        // spi_flash_ll_set_usr_address with bit_len >= 32: ADDR holds the first 32 bits, then
        // SPI_SLV_WR_STATUS (all ones). A 24-bit address + 8 mode bits + 8 more bits: 40 bits.
        bus.write(Reg.user(), SPI_USR_COMMAND | SPI_USR_ADDR | SPI_USR_MISO)
        bus.write(Reg.user1(), 39 << SPI_USR_ADDR_BITLEN_S)
        bus.write(Reg.user2(), 7 << SPI_USR_COMMAND_BITLEN_S | 0xEB)
        bus.write(Reg.addr(), 0x0002_00FF)
        bus.write(Reg.slvWrStatus(), 0xFFFF_FFFF)
        bus.write(Reg.misoDlen(), 8 * 8 - 1)
        bus.command(SPI_USR)
        XCTAssertEqual(bus.bufferBytes(8), Array(image[0x200..<0x208]))
    }

    func testImageFillAndHostAccess() throws {
        let flash = try SPIFlash(size: 2 << 20, image: [0xE9, 0x03, 0x02, 0x20])
        XCTAssertEqual(flash.read(at: 0, count: 6), [0xE9, 0x03, 0x02, 0x20, 0xFF, 0xFF])
        let all = UnsafeRawBufferPointer(start: flash.storage, count: flash.size)
        XCTAssertEqual(all.dropFirst(4).first { $0 != 0xFF }, nil, "0xFF-filled after the image")
        XCTAssertEqual(Int(bitPattern: flash.storage) % (64 << 10), 0, "64 KiB aligned for the cache MMU")
        let empty = try SPIFlash(size: 16 << 20)
        XCTAssertEqual(empty.size, 16 << 20)
        XCTAssertEqual(empty[(16 << 20) - 1], 0xFF)
        // load() writes bytes as they are (no NOR AND) and reports the range.
        var changes: [Range<Int>] = []
        flash.onWrite = { changes.append($0) }
        flash.load([0x12, 0x34], at: 0)
        XCTAssertEqual(flash.read(at: 0, count: 2), [0x12, 0x34])
        XCTAssertEqual(changes, [0..<2])
    }

    func testPersistenceOffKeepsTheFile() throws {
        let path = NSTemporaryDirectory() + "spiflash-\(UUID().uuidString).bin"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let original = pattern(0x2000, seed: 11)
        try Data(original).write(to: URL(fileURLWithPath: path))
        do {
            let flash = try SPIFlash(contentsOf: path, persist: false)
            XCTAssertEqual(flash.size, 4 << 20)
            XCTAssertEqual(flash.read(at: 0, count: 0x2000), original)
            let bus = Bus(flash)
            bus.romEraseSector(0x1000)
            bus.romWrite(0, [0, 0, 0, 0])
            XCTAssertEqual(flash[0x1000], 0xFF)
            flash.flush()
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), Data(original))
    }

    func testPersistenceOnWritesBack() throws {
        let path = NSTemporaryDirectory() + "spiflash-\(UUID().uuidString).bin"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let original = pattern(0x2000, seed: 13)
        try Data(original).write(to: URL(fileURLWithPath: path))
        do {
            let flash = try SPIFlash(contentsOf: path, size: 2 << 20, persist: true)
            XCTAssertEqual(flash.persistPath, path)
            let bus = Bus(flash)
            bus.romEraseSector(0x1000)
            // Write-through: the file is the whole flash (0xFF-padded) after the first change.
            let afterErase = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            XCTAssertEqual(afterErase.count, 2 << 20)
            XCTAssertEqual(Array(afterErase[0..<0x1000]), Array(original[0..<0x1000]))
            XCTAssertEqual(afterErase[0x1000..<0x2000].first { $0 != 0xFF }, nil)
            XCTAssertEqual(afterErase[0x2000...].first { $0 != 0xFF }, nil)
            bus.romWrite(0x1800, [1, 2, 3, 4, 5, 6, 7, 8])
            flash.flush()
            XCTAssertNil(flash.persistError)
        }
        let reopened = try SPIFlash(contentsOf: path, persist: true)
        XCTAssertEqual(reopened.size, 2 << 20)
        XCTAssertEqual(reopened.read(at: 0x1800, count: 8), [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(reopened.read(at: 0x1000, count: 4), [0xFF, 0xFF, 0xFF, 0xFF])
        XCTAssertEqual(reopened.read(at: 0, count: 0x1000), Array(original[0..<0x1000]))

        // A persistence file that does not exist yet starts as an erased chip.
        let fresh = path + ".new"
        defer { try? FileManager.default.removeItem(atPath: fresh) }
        let f2 = try SPIFlash(contentsOf: fresh, size: 2 << 20, persist: true)
        XCTAssertEqual(f2[0], 0xFF)
        XCTAssertFalse(FileManager.default.fileExists(atPath: fresh), "nothing written before a change")
        f2.load([0x42], at: 5)
        XCTAssertEqual((try? Data(contentsOf: URL(fileURLWithPath: fresh)))?.count, 2 << 20)
    }

    func testRegistersAcceptConfigurationAndReset() throws {
        let bus = Bus(try SPIFlash(size: 4 << 20))
        // Reset values (spi_reg.h).
        XCTAssertEqual(bus.read(Reg.ctrl()), 0x0020_A400)
        XCTAssertEqual(bus.read(Reg.user1()), 0x5C00_0007)
        XCTAssertEqual(bus.read(Reg.user2()), 0x7000_0000)
        XCTAssertEqual(bus.read(Reg.pin()), 0x6)
        XCTAssertEqual(bus.read(Reg.clock()), 0x8000_3043)
        XCTAssertEqual(bus.read(Reg.date()), 0x0160_4270)
        // SPI0: spi_cache_mode_switch's QIO configuration and a clock setting stay as written.
        bus.clearBits(Reg.user(0), SPI_USR_MOSI)
        bus.setBits(Reg.user(0), SPI_USR_MISO | SPI_USR_DUMMY | SPI_USR_ADDR)
        bus.setField(Reg.user1(0), 31, mask: 0x3F, shift: SPI_USR_ADDR_BITLEN_S)
        bus.setField(Reg.user1(0), 5, mask: 0xFF, shift: 0)
        bus.setField(Reg.user2(0), 0xEB, mask: 0xFFFF, shift: 0)
        bus.write(Reg.clock(0), 0x0000_1001)
        XCTAssertEqual(bus.read(Reg.user(0)), 0x8000_0040 | SPI_USR_MISO | SPI_USR_DUMMY | SPI_USR_ADDR)
        XCTAssertEqual(bus.read(Reg.user1(0)), 0x7C00_0005)
        XCTAssertEqual(bus.read(Reg.user2(0)), 0x7000_00EB)
        XCTAssertEqual(bus.read(Reg.clock(0)), 0x0000_1001)
        // Sub-word writes merge.
        let (c, o) = bus.controller(Reg.w(3))
        XCTAssertTrue(c.write(offset: o + 1, size: 1, value: 0xAB))
        XCTAssertEqual(bus.read(Reg.w(3)), 0x0000_AB00)
        // Unused holes are not modelled.
        let (c0, o0) = bus.controller(Reg.base(0) + 0x200)
        XCTAssertNil(c0.read(offset: o0, size: 4))
        XCTAssertFalse(c0.write(offset: o0, size: 4, value: 1))
        // Interrupt line: TRANS_DONE & its enable (on at reset); cleared by software.
        bus.command(SPI_FLASH_RDID)
        XCTAssertTrue(bus.spi[1].interruptLine)
        bus.clearBits(Reg.slave(), 1 << 4)
        XCTAssertFalse(bus.spi[1].interruptLine)
        // Reset restores the defaults; the flash keeps its contents.
        bus.spi[0].reset()
        XCTAssertEqual(bus.read(Reg.user1(0)), 0x5C00_0007)
        XCTAssertEqual(bus.spi[0].range, 0x43000..<0x44000)
        XCTAssertEqual(bus.spi[1].range, 0x42000..<0x43000)
    }

    func testFlashResetClearsVolatileState() throws {
        let flash = try SPIFlash(size: 4 << 20)
        _ = flash.transfer([0x06], dummyCycles: 0, readCount: 0)
        _ = flash.transfer([0x01, 0x00, 0x02], dummyCycles: 0, readCount: 0)  // QE (non-volatile)
        _ = flash.transfer([0x06], dummyCycles: 0, readCount: 0)
        _ = flash.transfer([0xB9], dummyCycles: 0, readCount: 0)
        flash.reset()
        XCTAssertFalse(flash.poweredDown)
        XCTAssertEqual(flash.status1 & SPIFlash.wel, 0)
        XCTAssertEqual(flash.status2 & SPIFlash.qe, SPIFlash.qe)
        // Software reset: 0x66 then 0x99 (0x99 alone does nothing).
        _ = flash.transfer([0x06], dummyCycles: 0, readCount: 0)
        _ = flash.transfer([0x99], dummyCycles: 0, readCount: 0)
        XCTAssertEqual(flash.status1 & SPIFlash.wel, SPIFlash.wel)
        _ = flash.transfer([0x66], dummyCycles: 0, readCount: 0)
        _ = flash.transfer([0x99], dummyCycles: 0, readCount: 0)
        XCTAssertEqual(flash.status1 & SPIFlash.wel, 0)
    }
}

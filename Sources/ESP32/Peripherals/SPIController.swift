// SPI0/SPI1 (and the same register block of SPI2/SPI3) as the flash/PSRAM master
// (TRM chapter "SPI"; ESP-IDF soc/esp32/include/soc/spi_reg.h).
//
// SPI1 is how software talks to the flash (ROM esp_rom_spiflash_*, the IDF bootloader's
// bootloader_flash_execute_command_common, IDF spi_flash_hal); SPI0 is the cache's port, whose
// reads the SoC serves by mapping flash directly: its registers just keep the configuration.
// Both share the flash on CS0; a second device (PSRAM) can sit on CS1.
//
// Transactions finish inside the write to SPI_CMD_REG: the command bits read back 0 at once and
// SPI_EXT2_REG (state machine) always reads idle, so every polling loop ends immediately.
//
// SPI_CMD_REG commands (one per write; the highest set bit wins):
//   FLASH_READ  (31)  read: command from SPI_CTRL_REG's mode (0x03/0x0B/0x3B/0x6B/0xBB/0xEB),
//                     address SPI_ADDR_REG[23:0], length SPI_ADDR_REG[31:24] bytes, or
//                     (MISO_DLEN+1)/8 when that is 0; data into W0.. (max 64 bytes)
//   FLASH_WREN  (30)  0x06            FLASH_WRDI (29)  0x04
//   FLASH_RDID  (28)  0x9F, 3 bytes into W0 (manufacturer in bits 7:0)
//   FLASH_RDSR  (27)  0x05, status register 1 into SPI_RD_STATUS_REG[7:0]
//   FLASH_WRSR  (26)  0x01 with SPI_RD_STATUS_REG[7:0], and [15:8] too when SPI_CTRL_REG.WRSR_2B
//   FLASH_PP    (25)  0x02, address SPI_ADDR_REG[23:0], SPI_ADDR_REG[31:24] bytes from W0..
//   FLASH_SE    (24)  0x20 + SPI_ADDR_REG[23:0]    FLASH_BE (23) 0xD8 + address
//   FLASH_CE    (22)  0x60            FLASH_DP (21) 0xB9
//   FLASH_RES   (20)  0xAB; with SPI_CTRL_REG.RESANDRES the device id goes to SPI_RD_STATUS_REG[7:0]
//   FLASH_HPM   (19)  0xA3            FLASH_PES (17) 0x75   FLASH_PER (16) 0x7A
//   USR         (18)  user transaction from SPI_USER_REG/USER1/USER2/MOSI_DLEN/MISO_DLEN:
//                     command phase: USR_COMMAND_BITLEN+1 bits of USR_COMMAND_VALUE, bits 7:0
//                     first, then 15:8 (each MSB first); address phase: USR_ADDR_BITLEN+1 bits
//                     from SPI_ADDR_REG bit 31 down, continuing in SPI_SLV_WR_STATUS_REG; dummy
//                     phase: USR_DUMMY_CYCLELEN+1 clocks; MOSI phase: (MOSI_DBITLEN+1)/8 bytes
//                     from W0.. (W8.. with USR_MOSI_HIGHPART); MISO phase: (MISO_DBITLEN+1)/8
//                     bytes into W0.. (W8.. with USR_MISO_HIGHPART). Buffer bytes are little
//                     endian in each word unless USER.WR_BYTE_ORDER/RD_BYTE_ORDER select big.
// Each finished transaction sets SPI_SLAVE_REG.TRANS_DONE (bit 4); the interrupt line is
// SLAVE[4:0] & SLAVE[9:5]. The transaction goes to the device whose CS line SPI_PIN_REG enables
// (CS0_DIS/CS1_DIS/CS2_DIS); with none, MISO reads 0xFF.
// Not modelled: bit order (WR/RD_BIT_ORDER), full-duplex data (DOUTDIN), flash encryption
// (the PP data is written as given), DMA, slave mode, the CRC registers' computation.

public final class SPIController: RegisterModel, Peripheral {
    public let name: String
    public let range: Range<UInt32>
    public let index: Int
    /// Devices on CS0 (the flash for SPI0/SPI1), CS1 (PSRAM), CS2.
    public var devices: [SPIDevice?] = [nil, nil, nil]
    /// Called when the interrupt line level may have changed.
    public var interruptChanged: (() -> Void)?

    var regs = RegisterFile(count: 0x400 / 4)

    // Register offsets (spi_reg.h).
    public static let cmd: UInt32 = 0x00, addr: UInt32 = 0x04, ctrl: UInt32 = 0x08, ctrl1: UInt32 = 0x0C
    public static let rdStatus: UInt32 = 0x10, ctrl2: UInt32 = 0x14, clock: UInt32 = 0x18, user: UInt32 = 0x1C
    public static let user1: UInt32 = 0x20, user2: UInt32 = 0x24, mosiDlen: UInt32 = 0x28, misoDlen: UInt32 = 0x2C
    public static let slvWrStatus: UInt32 = 0x30, pin: UInt32 = 0x34, slave: UInt32 = 0x38
    public static let w0: UInt32 = 0x80, txCRC: UInt32 = 0xC0
    public static let ext0: UInt32 = 0xF0, ext1: UInt32 = 0xF4, ext2: UInt32 = 0xF8, ext3: UInt32 = 0xFC
    public static let dmaConf: UInt32 = 0x100, date: UInt32 = 0x3FC

    // SPI_CMD_REG bits.
    public static let flashRead: UInt32 = 1 << 31, flashWREN: UInt32 = 1 << 30, flashWRDI: UInt32 = 1 << 29
    public static let flashRDID: UInt32 = 1 << 28, flashRDSR: UInt32 = 1 << 27, flashWRSR: UInt32 = 1 << 26
    public static let flashPP: UInt32 = 1 << 25, flashSE: UInt32 = 1 << 24, flashBE: UInt32 = 1 << 23
    public static let flashCE: UInt32 = 1 << 22, flashDP: UInt32 = 1 << 21, flashRES: UInt32 = 1 << 20
    public static let flashHPM: UInt32 = 1 << 19, usr: UInt32 = 1 << 18, flashPES: UInt32 = 1 << 17
    public static let flashPER: UInt32 = 1 << 16

    // SPI_CTRL_REG bits.
    public static let freadQIO: UInt32 = 1 << 24, freadDIO: UInt32 = 1 << 23, wrsr2B: UInt32 = 1 << 22
    public static let wpReg: UInt32 = 1 << 21, freadQuad: UInt32 = 1 << 20, resAndRes: UInt32 = 1 << 15
    public static let freadDual: UInt32 = 1 << 14, fastrdMode: UInt32 = 1 << 13

    // SPI_USER_REG bits.
    public static let usrCommand: UInt32 = 1 << 31, usrAddr: UInt32 = 1 << 30, usrDummy: UInt32 = 1 << 29
    public static let usrMISO: UInt32 = 1 << 28, usrMOSI: UInt32 = 1 << 27, usrMOSIHighpart: UInt32 = 1 << 25
    public static let usrMISOHighpart: UInt32 = 1 << 24, wrByteOrder: UInt32 = 1 << 11, rdByteOrder: UInt32 = 1 << 10

    static let transDone: UInt32 = 1 << 4

    /// Offset from 0x3FF00000 of SPI0...SPI3.
    public static func offset(of index: Int) -> UInt32 {
        [0x43000, 0x42000, 0x64000, 0x65000][index]
    }

    public init(index: Int, flash: SPIDevice? = nil) {
        precondition((0...3).contains(index), "SPI0...SPI3")
        self.index = index
        name = "SPI\(index)"
        let o = SPIController.offset(of: index)
        range = o..<(o + 0x1000)
        devices[0] = flash
        super.init()
        reset()
    }

    public func reset() {
        // Reset values from spi_reg.h.
        regs = RegisterFile(count: 0x400 / 4, resets: [
            0x08: 0x0020_A400,   // CTRL: WP_REG, RESANDRES, FASTRD_MODE, FCS_CRC_EN
            0x0C: 0x5FFF_0000,   // CTRL1: CS_HOLD_DELAY 5, CS_HOLD_DELAY_RES 0xFFF
            0x14: 0x0000_0011,   // CTRL2: HOLD_TIME 1, SETUP_TIME 1
            0x18: 0x8000_3043,   // CLOCK: CLK_EQU_SYSCLK, CLKCNT_N 3, H 1, L 3
            0x1C: 0x8000_0040,   // USER: USR_COMMAND, CK_I_EDGE
            0x20: 0x5C00_0007,   // USER1: ADDR_BITLEN 23, DUMMY_CYCLELEN 7
            0x24: 0x7000_0000,   // USER2: COMMAND_BITLEN 7
            0x34: 0x0000_0006,   // PIN: CS1_DIS, CS2_DIS
            0x38: 0x0000_0200,   // SLAVE: INT_EN trans_done
            0x3C: 0x0200_0000,   // SLAVE1: STATUS_READBACK
            0x54: 0x15C0_4830,   // CACHE_SCTRL: USR_WCMD, ADDR_BITLEN 23, DUMMY 1, BYTES_LEN 32, RCMD, RD_DUMMY
            0xF0: 0x800A_0050,   // EXT0: T_PP_ENA, SHIFT 10, TIME 80
            0xF4: 0x800F_0000,   // EXT1: T_ERASE_ENA, SHIFT 15
            0x100: 0x0000_0200,  // DMA_CONF: OUT_EOF_MODE
            0x3FC: 0x0160_4270,  // DATE
        ])
    }

    /// Interrupt line (SPI_SLAVE_REG raw bits 4:0 masked by INT_EN 9:5).
    public var interruptLine: Bool {
        let s = regs[SPIController.slave]
        return s & (s >> 5) & 0x1F != 0
    }

    static func modelled(_ o: UInt32) -> Bool {
        switch o {
        case 0x00...0x64, 0x80...0xC0, 0xF0...0x14C, 0x3FC: return true
        default: return false
        }
    }

    public override func read(offset: UInt32, size: Int) -> UInt32? {
        let o = offset & ~3
        guard SPIController.modelled(o) else { return nil }
        switch o {
        case SPIController.cmd: return 0          // commands finish at once
        case SPIController.ext2: return 0         // state machine idle
        default: return regs[o]
        }
    }

    public override func write(offset: UInt32, size: Int, value: UInt32) -> Bool {
        let o = offset & ~3
        guard SPIController.modelled(o) else { return false }
        let v = RegisterFile.merge(regs[o], offset: offset, size: size, value: value)
        switch o {
        case SPIController.cmd:
            execute(v)
        case SPIController.ext2, SPIController.date, 0x10C, 0x114, 0x118, 0x120...0x14C:
            break                                 // read-only
        case SPIController.slave:
            regs[o] = v
            interruptChanged?()
        default:
            regs[o] = v
        }
        return true
    }

    // MARK: Data buffer (W0..W15, 64 bytes)

    func bufferByte(_ i: Int, bigEndian: Bool) -> UInt8 {
        let w = regs[SPIController.w0 + UInt32(i / 4) * 4]
        let shift = bigEndian ? (3 - i % 4) * 8 : (i % 4) * 8
        return UInt8(truncatingIfNeeded: w >> UInt32(shift))
    }

    func setBufferByte(_ i: Int, _ b: UInt8, bigEndian: Bool) {
        let o = SPIController.w0 + UInt32(i / 4) * 4
        let shift = UInt32(bigEndian ? (3 - i % 4) * 8 : (i % 4) * 8)
        regs[o] = regs[o] & ~(0xFF << shift) | UInt32(b) << shift
    }

    /// The 64 data buffer bytes as the guest sees them in memory (little endian words).
    public var buffer: [UInt8] { (0..<64).map { bufferByte($0, bigEndian: false) } }

    // MARK: Transactions

    var selectedDevice: SPIDevice? {
        let pin = regs[SPIController.pin]
        for cs in 0..<3 where pin & (1 << UInt32(cs)) == 0 {
            if let d = devices[cs] { return d }
        }
        return nil
    }

    func transfer(_ out: [UInt8], dummyCycles: Int = 0, readCount: Int) -> [UInt8] {
        defer {
            regs[SPIController.slave] |= SPIController.transDone
            interruptChanged?()
        }
        guard let d = selectedDevice else { return [UInt8](repeating: 0xFF, count: readCount) }
        let r = d.transfer(out, dummyCycles: dummyCycles, readCount: readCount)
        return r.count >= readCount ? r : r + [UInt8](repeating: 0xFF, count: readCount - r.count)
    }

    func store(_ bytes: [UInt8], base: Int = 0, bigEndian: Bool = false) {
        for (i, b) in bytes.enumerated() where base + i < 64 { setBufferByte(base + i, b, bigEndian: bigEndian) }
    }

    var address24: [UInt8] {
        let a = regs[SPIController.addr]
        return [UInt8(a >> 16 & 0xFF), UInt8(a >> 8 & 0xFF), UInt8(a & 0xFF)]
    }

    /// Bytes from a data-length register (bit count - 1), capped to the buffer.
    static func byteCount(_ dlen: UInt32, limit: Int) -> Int {
        min((Int(dlen & 0xFF_FFFF) + 1 + 7) / 8, limit)
    }

    func execute(_ command: UInt32) {
        typealias C = SPIController
        let ctrl = regs[C.ctrl]
        let bit = command == 0 ? 0 : UInt32(1) << UInt32(31 - command.leadingZeroBitCount)
        switch bit {
        case C.flashRead:
            let lengthField = Int(regs[C.addr] >> 24)
            let n = lengthField != 0 ? min(lengthField, 64) : C.byteCount(regs[C.misoDlen], limit: 64)
            store(transfer([readCommand(ctrl)] + address24, readCount: n))
        case C.flashWREN: _ = transfer([SPIFlash.Command.writeEnable], readCount: 0)
        case C.flashWRDI: _ = transfer([SPIFlash.Command.writeDisable], readCount: 0)
        case C.flashRDID: store(transfer([SPIFlash.Command.readID], readCount: 3))
        case C.flashRDSR:
            let s = transfer([SPIFlash.Command.readStatus], readCount: 1)[0]
            regs[C.rdStatus] = regs[C.rdStatus] & ~0xFF | UInt32(s)
        case C.flashWRSR:
            let st = regs[C.rdStatus]
            var out = [SPIFlash.Command.writeStatus, UInt8(st & 0xFF)]
            if ctrl & C.wrsr2B != 0 { out.append(UInt8(st >> 8 & 0xFF)) }
            _ = transfer(out, readCount: 0)
        case C.flashPP:
            let n = min(Int(regs[C.addr] >> 24), 64)
            _ = transfer([SPIFlash.Command.pageProgram] + address24 + buffer.prefix(n), readCount: 0)
        case C.flashSE: _ = transfer([SPIFlash.Command.sectorErase] + address24, readCount: 0)
        case C.flashBE: _ = transfer([SPIFlash.Command.blockErase64K] + address24, readCount: 0)
        case C.flashCE: _ = transfer([SPIFlash.Command.chipErase], readCount: 0)
        case C.flashDP: _ = transfer([SPIFlash.Command.powerDown], readCount: 0)
        case C.flashRES:
            let id = transfer([SPIFlash.Command.releasePowerDown, 0, 0, 0], readCount: 1)[0]
            if ctrl & C.resAndRes != 0 { regs[C.rdStatus] = regs[C.rdStatus] & ~0xFF | UInt32(id) }
        case C.flashHPM: _ = transfer([SPIFlash.Command.highPerformanceMode], readCount: 0)
        case C.flashPES: _ = transfer([SPIFlash.Command.suspend], readCount: 0)
        case C.flashPER: _ = transfer([SPIFlash.Command.resume], readCount: 0)
        case C.usr: userTransaction()
        default: break
        }
    }

    /// The read command SPI_FLASH_READ sends for SPI_CTRL_REG's read mode.
    func readCommand(_ ctrl: UInt32) -> UInt8 {
        typealias C = SPIController
        guard ctrl & C.fastrdMode != 0 else { return SPIFlash.Command.read }
        if ctrl & C.freadQIO != 0 { return SPIFlash.Command.quadIORead }
        if ctrl & C.freadDIO != 0 { return SPIFlash.Command.dualIORead }
        if ctrl & C.freadQuad != 0 { return SPIFlash.Command.quadOutputRead }
        if ctrl & C.freadDual != 0 { return SPIFlash.Command.dualOutputRead }
        return SPIFlash.Command.fastRead
    }

    func userTransaction() {
        typealias C = SPIController
        let user = regs[C.user], user1 = regs[C.user1], user2 = regs[C.user2]
        var out: [UInt8] = []
        if user & C.usrCommand != 0 {
            let bits = Int(user2 >> 28) + 1
            let value = user2 & 0xFFFF
            // Bits 7:0 go out first, then 15:8.
            out += [UInt8(value & 0xFF), UInt8(value >> 8)].prefix((bits + 7) / 8)
        }
        if user & C.usrAddr != 0 {
            let bits = Int(user1 >> 26) + 1
            let word = UInt64(regs[C.addr]) << 32 | UInt64(regs[C.slvWrStatus])
            out += (0..<((bits + 7) / 8)).map { UInt8(truncatingIfNeeded: word >> UInt64(56 - 8 * $0)) }
        }
        let dummy = user & C.usrDummy != 0 ? Int(user1 & 0xFF) + 1 : 0
        if user & C.usrMOSI != 0 {
            let base = user & C.usrMOSIHighpart != 0 ? 32 : 0
            let n = C.byteCount(regs[C.mosiDlen], limit: 64 - base)
            let big = user & C.wrByteOrder != 0
            out += (0..<n).map { bufferByte(base + $0, bigEndian: big) }
        }
        var readCount = 0, readBase = 0
        if user & C.usrMISO != 0 {
            readBase = user & C.usrMISOHighpart != 0 ? 32 : 0
            readCount = C.byteCount(regs[C.misoDlen], limit: 64 - readBase)
        }
        let data = transfer(out, dummyCycles: dummy, readCount: readCount)
        store(data, base: readBase, bigEndian: user & C.rdByteOrder != 0)
    }
}

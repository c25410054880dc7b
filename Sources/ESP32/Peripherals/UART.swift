// UART0/1/2 (TRM chapter "UART Controller"; ESP-IDF soc/uart_reg.h).
// Transmission is instantaneous (bytes go to `output` when written to the FIFO), so the
// TX FIFO always reads empty; received bytes wait in an RX FIFO of 128 bytes.

public final class UART: Peripheral {
    public let name: String
    public let range: Range<UInt32>
    public let index: Int
    /// Receives every byte the guest transmits.
    public var output: ((UInt8) -> Void)?
    /// Called when the interrupt line level may have changed.
    public var interruptChanged: (() -> Void)?

    var rx: [UInt8] = []
    var regs = RegisterFile(count: 0x80 / 4)
    var intRaw: UInt32 = 0
    var intEna: UInt32 = 0

    // Register offsets.
    static let fifo: UInt32 = 0x00, intRawReg: UInt32 = 0x04, intSt: UInt32 = 0x08, intEnaReg: UInt32 = 0x0C
    static let intClr: UInt32 = 0x10, clkdiv: UInt32 = 0x14, autobaud: UInt32 = 0x18, status: UInt32 = 0x1C
    static let conf0: UInt32 = 0x20, conf1: UInt32 = 0x24, date: UInt32 = 0x78, id: UInt32 = 0x7C
    // Interrupt bits.
    static let rxFull: UInt32 = 1 << 0, txEmpty: UInt32 = 1 << 1, rxTimeout: UInt32 = 1 << 8, txDone: UInt32 = 1 << 14

    public init(index: Int, offset: UInt32) {
        self.index = index
        name = "UART\(index)"
        range = offset..<(offset + 0x1000)
        reset()
    }

    public func reset() {
        // CLKDIV for 115200 baud from the 40 MHz XTAL-derived APB clock (as after the ROM's setup);
        // CONF0: 8N1; CONF1: thresholds (rxfifo_full_thrhd 0x60, txfifo_empty_thrhd 0x60).
        regs = RegisterFile(count: 0x80 / 4, resets: [0x14: 0x2B6, 0x20: 0x0800_001C, 0x24: 0x0000_6060,
                                                       0x78: 0x1507_22D0, 0x7C: 0x0000_0500])
        rx.removeAll()
        intRaw = UART.txEmpty
        intEna = 0
    }

    /// Bytes from the host (interactive input, TCP) into the RX FIFO.
    public func receive(_ bytes: [UInt8]) {
        rx.append(contentsOf: bytes)
        if rx.count > 128 { rx.removeFirst(rx.count - 128) }
        updateRxInterrupts()
    }

    public var rxCount: Int { rx.count }

    func updateRxInterrupts() {
        let conf1 = regs[UART.conf1]
        let threshold = Int(conf1 & 0x7F)
        if rx.count >= max(1, threshold) { intRaw |= UART.rxFull } else { intRaw &= ~UART.rxFull }
        // RX timeout fires as soon as data is waiting and the timeout interrupt is enabled.
        if !rx.isEmpty && conf1 & (1 << 31) != 0 { intRaw |= UART.rxTimeout }
        interruptChanged?()
    }

    public var interruptLine: Bool { intRaw & intEna != 0 }

    public func read(offset: UInt32, size: Int) -> UInt32? {
        switch offset & ~3 {
        case UART.fifo:
            guard !rx.isEmpty else { return 0 }
            let b = rx.removeFirst()
            updateRxInterrupts()
            return UInt32(b)
        case UART.intRawReg: return intRaw
        case UART.intSt: return intRaw & intEna
        case UART.intEnaReg: return intEna
        case UART.intClr: return 0
        case UART.status:
            // RXFIFO_CNT in bits 7:0, TXFIFO_CNT (bits 23:16) 0, TX/RX state machines idle.
            return UInt32(min(rx.count, 0xFF))
        case 0x5C: // MEM_RX_STATUS
            return 0
        case 0x60: // MEM_CNT_STATUS: rx fifo count high bits
            return 0
        case 0x64: // POSPULSE
            return 0x000F_FFFF
        case 0x68: // NEGPULSE
            return 0x000F_FFFF
        case 0x28, 0x2C, 0x30, 0x34, 0x38, 0x3C, 0x40, 0x44, 0x48, 0x4C, 0x50, 0x54, 0x58,
             UART.clkdiv, UART.autobaud, UART.conf0, UART.conf1, UART.date, UART.id, 0x6C, 0x70, 0x74:
            return regs[offset & ~3]
        default:
            return nil
        }
    }

    public func write(offset: UInt32, size: Int, value: UInt32) -> Bool {
        let o = offset & ~3
        switch o {
        case UART.fifo:
            output?(UInt8(truncatingIfNeeded: value))
            intRaw |= UART.txEmpty | UART.txDone
            interruptChanged?()
        case UART.intRawReg: break
        case UART.intEnaReg:
            intEna = value
            interruptChanged?()
        case UART.intClr:
            intRaw &= ~value
            // Level conditions come straight back while they hold.
            intRaw |= UART.txEmpty
            updateRxInterrupts()
        case UART.conf0:
            regs[o] = RegisterFile.merge(regs[o], offset: offset, size: size, value: value)
            // RXFIFO_RST (bit 17) empties the RX FIFO.
            if value & (1 << 17) != 0 { rx.removeAll(); updateRxInterrupts() }
        case UART.conf1:
            regs[o] = RegisterFile.merge(regs[o], offset: offset, size: size, value: value)
            updateRxInterrupts()
        case UART.clkdiv, UART.autobaud, 0x28, 0x2C, 0x30, 0x34, 0x38, 0x3C, 0x40, 0x44, 0x48, 0x4C, 0x50, 0x54, 0x58,
             0x6C, 0x70, 0x74, UART.date:
            regs[o] = RegisterFile.merge(regs[o], offset: offset, size: size, value: value)
        default:
            return false
        }
        return true
    }

    /// The baud rate the guest configured, from CLKDIV and the APB clock.
    public func baudRate(apbHz: Int) -> Int {
        let v = regs[UART.clkdiv]
        let div = Double(v & 0xFFFFF) + Double((v >> 20) & 0xF) / 16
        return div > 0 ? Int((Double(apbHz) / div).rounded()) : 0
    }
}

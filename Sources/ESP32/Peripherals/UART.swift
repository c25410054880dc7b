// UART0/1/2 (TRM chapter "UART Controller"; ESP-IDF soc/uart_reg.h).
// Transmission is instantaneous (bytes go to `output` when written to the FIFO), so the
// TX FIFO always reads empty; received bytes wait in an RX FIFO of 128 bytes.
//
// Reception: bytes from the host (`receive`) travel on the RX line one frame at a time, at the
// baud rate and frame format the guest configured (CLKDIV, CONF0), measured in simulated time,
// and enter the RX FIFO as it has room (the host side holds the rest, as flow control would);
// `hostFrameCycles` makes a host line faster than a slow configured rate.
// While autobaud is enabled the line's edges are counted (RXD_CNT); the pulse-width registers
// report a 115200-baud sender, the rate esptool and serial monitors start at.

public final class UART: RegisterModel, Peripheral {
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

    /// Simulated time (1/1920 MHz units) and the APB clock, for RX line timing.
    public var now: () -> UInt64 = { 0 }
    public var apbHz: () -> UInt64 = { 80_000_000 }
    /// Host bytes on the RX line, not yet in the FIFO (survive chip resets, as a wire would).
    var line: [UInt8] = []
    var lineHead = 0
    /// When the next byte on the line finishes its frame.
    var lineDue: UInt64 = 0
    /// RXD edges counted while autobaud is enabled (RXD_CNT).
    var edgeCount: UInt32 = 0
    /// Bytes the guest has transmitted and read from the RX FIFO since power-on (statistics for
    /// the host side's idle detection).
    public private(set) var transmitted: UInt64 = 0
    public private(set) var received: UInt64 = 0
    /// Register accesses since power-on.
    public private(set) var accesses: UInt64 = 0

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
        super.init()
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
        interruptLine = false
        riseStage = 0
        riseAt = .max
        edgeCount = 0
        lineDue = now()
    }

    /// Bytes from the host (interactive input, TCP): they go onto the RX line and reach the RX
    /// FIFO one frame time apart (see `update`).
    public func receive(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        if lineHead == line.count {
            line.removeAll(keepingCapacity: true)
            lineHead = 0
            lineDue = now() &+ frameTime
        }
        line.append(contentsOf: bytes)
    }

    /// The longest a host byte takes on the line, in CPU cycles (0: exactly the configured baud
    /// rate). A TCP socket or a pipe has no baud rate, and clients such as esptool time their
    /// requests by the wall clock as if the link were a real one next to a real-time chip; in CPU
    /// cycles, so that a guest has the same time to take each byte at any clock.
    public var hostFrameCycles = 0
    /// The CPU clock (for `hostFrameCycles`).
    public var cpuHz: () -> UInt64 = { 80_000_000 }

    /// Bytes in the RX FIFO.
    public var rxCount: Int { rx.count }
    /// Host bytes still on the line (not yet in the FIFO).
    public var lineCount: Int { line.count - lineHead }

    /// One frame (start bit, data bits, parity, stop bits) at the configured baud rate, in
    /// 1/1920 MHz units.
    var frameTime: UInt64 {
        let conf0 = regs[UART.conf0]
        let dataBits = 5 + UInt64((conf0 >> 2) & 3)
        let parity: UInt64 = conf0 & 2 != 0 ? 1 : 0
        let stopHalfBits: UInt64 = [2, 2, 3, 4][Int((conf0 >> 4) & 3)]
        let halfBits = 2 * (1 + dataBits + parity) + stopHalfBits
        let v = regs[UART.clkdiv]
        var div16 = max(16, UInt64(v & 0xFFFFF) << 4 | UInt64((v >> 20) & 0xF))   // APB cycles per bit, x16

        // halfBits/2 bits * div16/16 APB cycles each, at 1920 MHz / apbHz units per APB cycle.
        let configured = max(1, halfBits * div16 * 1_920_000_000 / (32 * max(1, apbHz())))
        guard hostFrameCycles > 0 else { return configured }
        return min(configured, UInt64(hostFrameCycles) * (1_920_000_000 / max(1, cpuHz())))
    }

    /// Moves the line's bytes whose frame has ended into the FIFO; returns when the next is due.
    public func update() -> UInt64? {
        let rise = updateInterruptLine()
        guard lineHead < line.count else { return rise }
        let t = now()
        var moved = false
        while lineHead < line.count && t >= lineDue && rx.count < 128 {
            let b = line[lineHead]
            lineHead += 1
            if regs[UART.autobaud] & 1 != 0 { edgeCount = min(0x3FF, edgeCount + UART.edges(b)) }
            rx.append(b)
            lineDue &+= frameTime
            moved = true
        }
        if lineHead < line.count && lineDue <= t { lineDue = t &+ frameTime }   // FIFO full: the sender waits
        var next = lineHead < line.count ? lineDue : UInt64.max
        if moved {
            updateRxInterrupts()
            if let r = updateInterruptLine() { next = min(next, r) }
        } else if let r = rise {
            next = min(next, r)
        }
        return next == .max ? nil : next
    }

    /// Level changes on RXD for one 8N1 frame sent after an idle (high) line.
    static func edges(_ b: UInt8) -> UInt32 {
        var level = 1, n: UInt32 = 0
        for bit in [0] + (0..<8).map({ Int(b >> $0) & 1 }) + [1] {
            if bit != level { n += 1; level = bit }
        }
        return n
    }

    /// Width of a bit, in APB cycles, as the autobaud pulse registers measure it for a
    /// 115200-baud sender (the ROM adds back the 9 cycles the measurement loses per pulse).
    var pulseWidth: UInt32 { UInt32(max(10, (apbHz() + 57_600) / 115_200)) }

    func updateRxInterrupts() {
        let conf1 = regs[UART.conf1]
        let threshold = Int(conf1 & 0x7F)
        if rx.count >= max(1, threshold) { intRaw |= UART.rxFull } else { intRaw &= ~UART.rxFull }
        // RX timeout fires as soon as data is waiting and the timeout interrupt is enabled.
        if !rx.isEmpty && conf1 & (1 << 31) != 0 { intRaw |= UART.rxTimeout }
        conditionChanged()
    }

    /// The interrupt output as the interrupt matrix sees it. It rises a little after its
    /// condition (INT_RAW & INT_ENA) becomes true, as on silicon, where the request reaches the
    /// CPU some cycles after the register write or the received frame that caused it: the ROM's
    /// download loop enables a UART's RX interrupt one instruction before it records which UART
    /// its handler serves. It falls at once.
    public private(set) var interruptLine = false
    /// 0: no rise pending; 1: condition became true during the current run quantum; 2: the line
    /// rises at `riseAt`.
    var riseStage = 0
    var riseAt: UInt64 = .max
    /// Interrupt request latency: four APB cycles (in 1/1920 MHz units).
    var riseLatency: UInt64 { 4 * 1_920_000_000 / max(1, apbHz()) }

    func conditionChanged() {
        if intRaw & intEna == 0 {
            riseStage = 0
            riseAt = .max
            if interruptLine { interruptLine = false; interruptChanged?() }
        } else if !interruptLine && riseStage == 0 {
            riseStage = 1
        }
    }

    /// Advances a pending rise of the interrupt line (called at the end of each run quantum).
    func updateInterruptLine() -> UInt64? {
        if riseStage == 1 { riseStage = 2; riseAt = now() &+ riseLatency }
        guard riseStage == 2 else { return nil }
        if now() >= riseAt {
            riseStage = 0
            riseAt = .max
            interruptLine = true
            interruptChanged?()
            return nil
        }
        return riseAt
    }

    public override func read(offset: UInt32, size: Int) -> UInt32? {
        accesses &+= 1
        switch offset & ~3 {
        case UART.fifo:
            guard !rx.isEmpty else { return 0 }
            let b = rx.removeFirst()
            received &+= 1
            updateRxInterrupts()
            return UInt32(b)
        case UART.intRawReg: return intRaw
        case UART.intSt: return intRaw & intEna
        case UART.intEnaReg: return intEna
        case UART.intClr: return 0
        case UART.status:
            // RXFIFO_CNT in bits 7:0, TXFIFO_CNT (bits 23:16) 0, TX/RX state machines idle.
            return UInt32(min(rx.count, 0xFF))
        case 0x5C, 0x60: // MEM_TX_STATUS, MEM_RX_STATUS (FIFO pointers)
            return 0
        case 0x64: // MEM_CNT_STATUS: RX count above 255 (bits 2:0), TX (5:3)
            return 0
        case 0x28, 0x2C: // LOWPULSE, HIGHPULSE: shortest low/high pulse (autobaud)
            return pulseWidth - 9
        case 0x30: // RXD_CNT
            return edgeCount
        case 0x68, 0x6C: // POSPULSE, NEGPULSE
            return pulseWidth
        case 0x34, 0x38, 0x3C, 0x40, 0x44, 0x48, 0x4C, 0x50, 0x54, 0x58,
             UART.clkdiv, UART.autobaud, UART.conf0, UART.conf1, UART.date, UART.id, 0x70, 0x74:
            return regs[offset & ~3]
        default:
            return nil
        }
    }

    public override func write(offset: UInt32, size: Int, value: UInt32) -> Bool {
        accesses &+= 1
        let o = offset & ~3
        switch o {
        case UART.fifo:
            transmitted &+= 1
            output?(UInt8(truncatingIfNeeded: value))
            intRaw |= UART.txEmpty | UART.txDone
            conditionChanged()
        case UART.intRawReg: break
        case UART.intEnaReg:
            intEna = value
            conditionChanged()
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
        case UART.autobaud:
            let v = RegisterFile.merge(regs[o], offset: offset, size: size, value: value)
            if v & 1 == 0 || regs[o] & 1 == 0 { edgeCount = 0 }   // enabling restarts the count
            regs[o] = v
        case UART.clkdiv, 0x28, 0x2C, 0x30, 0x34, 0x38, 0x3C, 0x40, 0x44, 0x48, 0x4C, 0x50, 0x54, 0x58,
             0x68, 0x6C, 0x70, 0x74, UART.date:
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

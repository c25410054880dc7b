// The host side of the UARTs: TCP serial ports (one client at a time, as esptool's and
// esp-idf-monitor's socket:// ports expect) and stdin. Everything is polled between run slices
// (Session.services) on the thread that runs the session; no other thread touches the chip.
//
// Determinism rule. Simulated time is executed cycles and nothing else: the host's clock never
// enters it. Host bytes are read between run slices but held back until the guest waits for
// input; only then are they released onto the UART's RX line, which carries them at the baud
// rate the guest configured, or faster (`frameCycles`; see UART). While the guest waits and no
// input is held, simulated time stops and the emulator sleeps in poll(2) until the host sends
// something (or a stop is requested). "The guest waits" means, at a slice boundary: an input
// source is open (a TCP port, or stdin before end of file), every RX line is drained, no CPU
// timer (CCOMPARE), timer group, FRC or watchdog event is armed, and either
//   - every running core sits in WAITI, or
//   - the APP CPU is not running and the PRO CPU is in a pure spin: stepped instruction by
//     instruction it returns to an identical register state (over at least 256 cycles), with
//     memory unchanged, no UART traffic and no peripheral access other than UART registers
//     (the ROM's download loop, the esptool stub's command loop, a polling read loop).
// Such a guest can only leave its loop through an interrupt that host input raises, so
// stopping time there changes nothing it can observe, and input released there arrives at a
// point that depends on the guest alone. So the run is a function of the input: of the bytes,
// and of how the host grouped them, i.e. which bytes it had sent by the time the guest waited
// (request/response traffic such as esptool's, or a user typing at a prompt, groups them the
// same way every time). A guest that never waits that way (an RTOS whose tick keeps running)
// gets held input `releaseAfter` of simulated time after it was read: its input timing then
// depends on the host's, as on a real serial line.

import FirmwareFormats
import Foundation
import XtensaCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class SerialHub {
    /// The session owns the hub (through its services) and outlives it.
    public unowned let session: Session
    var soc: ESP32 { session.soc }

    /// A UART served as a TCP socket on 127.0.0.1.
    final class TCPPort {
        let uart: Int
        let listener: Int32
        let port: UInt16
        var client: Int32 = -1
        var outbox: [UInt8] = []
        init(uart: Int, listener: Int32, port: UInt16) { self.uart = uart; self.listener = listener; self.port = port }
    }

    var ports: [TCPPort] = []
    /// stdin feeding a UART (--interactive): nil when not attached or at end of file.
    var stdinUART: Int?
    /// Ctrl-] on stdin ends the run.
    public var quitByte: UInt8 = 0x1D
    /// Most host bytes an RX line holds before the host is not read any more (TCP back-pressure).
    public var lineLimit = 64 * 1024
    /// Host bytes reach a UART at its configured baud rate, or one every this many CPU cycles if
    /// that is faster (see UART.hostFrameCycles): 400 is 921600 baud at the ROM's 40 MHz, and
    /// leaves the ROM's download loop twice the time it needs per byte.
    public var frameCycles = 400 {
        didSet { for u in inputUARTs { soc.uarts[u].hostFrameCycles = frameCycles } }
    }

    /// Host bytes read but not yet released to each UART (see the rule above).
    var held: [[UInt8]] = [[], [], []]
    /// Simulated time (1/1920 MHz units) when the oldest held bytes were read.
    var heldSince: UInt64 = 0
    /// Longest a guest that never waits provably keeps host input waiting (simulated time).
    public var releaseAfter: UInt64 = 100 * 1_920_000   // 100 ms
    /// Set while simulated time stands still for host input; cleared when input is released.
    public private(set) var waitingForInput = false
    /// Times the emulator stopped simulated time to wait for host input (statistics).
    public private(set) var waits = 0
    var probeBackoff = 0, probeSkip = 0
    var lastTraffic: UInt64 = 0

    public init(session: Session) {
        self.session = session
        signal(SIGPIPE, SIG_IGN)
        session.services.append { _ in self.service() }
        session.uartListeners.append { [unowned self] uart, byte in self.transmitted(uart: uart, byte: byte) }
        session.soc.externalWakeSource = { [unowned self] in self.inputPossible }
    }

    deinit {
        for p in ports {
            if p.client >= 0 { close(p.client) }
            close(p.listener)
        }
    }

    // MARK: Endpoints

    /// Serves UART `uart` on 127.0.0.1:`port` (0: any free port); returns the port.
    @discardableResult
    public func listen(uart: Int, port: UInt16) throws -> UInt16 {
        precondition((0..<3).contains(uart))
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw InputError("UART\(uart): cannot create a socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, sysListen(fd, 4) == 0 else {
            let e = String(cString: strerror(errno))
            close(fd)
            throw InputError("--uart\(uart) tcp:\(port): cannot listen on 127.0.0.1:\(port): \(e)")
        }
        setNonBlocking(fd)
        var actual = addr
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        let p = UInt16(bigEndian: actual.sin_port)
        ports.append(TCPPort(uart: uart, listener: fd, port: p))
        soc.uarts[uart].hostFrameCycles = frameCycles
        return p
    }

    /// Feeds stdin to UART `uart` (raw terminal mode is the caller's business, see RawTerminal).
    public func attachStdin(uart: Int = 0) {
        stdinUART = uart
        soc.uarts[uart].hostFrameCycles = frameCycles
    }

    /// Whether any host input can still come (a TCP port, or stdin before end of file).
    public var inputPossible: Bool { !ports.isEmpty || stdinUART != nil }

    /// UARTs that host input reaches.
    var inputUARTs: [Int] { Array(Set(ports.map(\.uart) + (stdinUART.map { [$0] } ?? []))).sorted() }

    // MARK: Output

    func transmitted(uart: Int, byte: UInt8) {
        for p in ports where p.uart == uart && p.client >= 0 {
            p.outbox.append(byte)
            if p.outbox.count >= 4096 { flush(p) }
        }
    }

    func flush(_ p: TCPPort) {
        guard p.client >= 0, !p.outbox.isEmpty else { return }
        let n = p.outbox.withUnsafeBytes { send(p.client, $0.baseAddress, $0.count, 0) }
        if n > 0 {
            p.outbox.removeFirst(n)
        } else if n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
            disconnect(p)
            return
        }
        // A client that does not read loses the oldest output beyond 1 MiB.
        if p.outbox.count > 1 << 20 { p.outbox.removeFirst(p.outbox.count - (1 << 20)) }
    }

    func disconnect(_ p: TCPPort) {
        if p.client >= 0 { close(p.client) }
        p.client = -1
        p.outbox.removeAll()
    }

    // MARK: Input

    /// Accepts waiting clients and reads available host bytes into `held`; true if any.
    func pollInput(timeoutMilliseconds: Int32) -> Bool {
        var fds: [pollfd] = []
        for p in ports {
            fds.append(pollfd(fd: p.client >= 0 ? p.client : p.listener, events: Int16(POLLIN), revents: 0))
        }
        if stdinUART != nil { fds.append(pollfd(fd: 0, events: Int16(POLLIN), revents: 0)) }
        guard !fds.isEmpty else { return false }
        let ready = poll(&fds, nfds_t(fds.count), timeoutMilliseconds)
        guard ready > 0 else { return false }
        var delivered = false
        for (i, p) in ports.enumerated() where fds[i].revents != 0 {
            if p.client < 0 {
                let c = accept(p.listener, nil, nil)
                if c >= 0 {
                    setNonBlocking(c)
                    var one: Int32 = 1
                    setsockopt(c, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
                    p.client = c
                }
                continue
            }
            var buf = [UInt8](repeating: 0, count: 16384)
            while soc.uarts[p.uart].lineCount + held[p.uart].count < lineLimit {
                let n = buf.withUnsafeMutableBytes { recv(p.client, $0.baseAddress, $0.count, 0) }
                if n > 0 {
                    hold(p.uart, Array(buf[0..<n]))
                    delivered = true
                } else {
                    if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { disconnect(p) }
                    break
                }
            }
        }
        if let u = stdinUART, fds[fds.count - 1].revents != 0, soc.uarts[u].lineCount + held[u].count < lineLimit {
            var buf = [UInt8](repeating: 0, count: 4096)
            let n = buf.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if n > 0 {
                var bytes = Array(buf[0..<n])
                if let q = bytes.firstIndex(of: quitByte), RawTerminal.active {
                    bytes = Array(bytes[..<q])
                    session.stopRequested = true
                }
                if !bytes.isEmpty { hold(u, bytes); delivered = true }
            } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
                stdinUART = nil   // end of file: no more input from here
            }
        }
        return delivered
    }

    func hold(_ uart: Int, _ bytes: [UInt8]) {
        if held.allSatisfy(\.isEmpty) { heldSince = soc.timeUnits }
        held[uart] += bytes
    }

    /// Puts the held bytes on the RX lines.
    func release() {
        for u in 0..<3 where !held[u].isEmpty {
            soc.uarts[u].receive(held[u])
            held[u].removeAll()
        }
        waitingForInput = false
        probeBackoff = 0
        probeSkip = 0
        soc.updatePeripherals()   // the lines' first frames are due from now
    }

    // MARK: The service

    func service() {
        for p in ports { flush(p) }
        _ = pollInput(timeoutMilliseconds: 0)
        let pending = !held.allSatisfy(\.isEmpty)
        if !waitingForInput {
            // Evaluated at every slice boundary, whatever the host does, so that where the guest
            // is found waiting depends on the guest alone.
            guard guestWaitsForInput() else {
                if pending && soc.timeUnits &- heldSince >= releaseAfter { release() }
                return
            }
            if pending { release(); return }
            guard inputPossible else { return }   // no input can come: let time run
            waitingForInput = true
            waits += 1
        }
        // Simulated time stands still: sleep until the host sends something (or briefly, so the
        // other services and stop requests keep being served), then take the whole burst.
        if !pending {
            guard pollInput(timeoutMilliseconds: 20) else {
                if inputPossible { session.holdTime = true } else { waitingForInput = false }
                return
            }
        }
        while pollInput(timeoutMilliseconds: 2) {}
        release()
    }

    /// Whether a CCOMPARE match can raise an interrupt the core has enabled.
    static func timerArmed(_ c: XtensaCPU) -> Bool {
        guard c.nextTimerCycle != .max else { return false }
        let mask = c.config.timerInterrupts.reduce(UInt32(0)) { $0 | 1 << UInt32($1) }
        return c.st.pointee.intenable & mask != 0
    }

    /// UART bytes moved in either direction since power-on (all UARTs).
    var traffic: UInt64 { soc.uarts.reduce(0) { $0 &+ $1.transmitted &+ $1.received } }

    /// The idle rule described at the top of this file (the spin probe also needs a slice
    /// without UART traffic first: fewer probes while the guest talks).
    func guestWaitsForInput() -> Bool {
        let t = traffic
        defer { lastTraffic = traffic }
        for u in inputUARTs where soc.uarts[u].lineCount > 0 && soc.uarts[u].rxCount < 128 { return false }
        guard soc.nextTimedEvent == .max, soc.pendingReset == nil else { return false }
        let running = soc.appRunning ? [0, 1] : [0]
        for i in running where SerialHub.timerArmed(soc.cores[i]) { return false }
        if running.allSatisfy({ soc.cores[$0].isWaiting }) { return true }
        guard !soc.appRunning, !soc.cores[0].isWaiting, t == lastTraffic else { return false }
        if probeSkip > 0 { probeSkip -= 1; return false }
        if SpinProbe(soc: soc).provesSpin() {
            probeBackoff = 0
            return true
        }
        probeBackoff = min(8, max(1, probeBackoff * 2))
        probeSkip = probeBackoff
        return false
    }
}

/// Proves that the PRO CPU spins in a loop that only an interrupt can end (see SerialHub).
/// It steps the chip one cycle at a time: that is ordinary execution, so the probe itself is
/// as deterministic as the run.
struct SpinProbe {
    let soc: ESP32
    /// Longest loop looked for, and the shortest stretch it is verified over (one turn proves it:
    /// nothing the loop can observe changes without an interrupt; more turns cost little).
    static let maxLoop = 4096, minVerify = 256

    /// The PRO CPU's architectural state and what of the SoC a loop could observe.
    func state() -> [UInt32] {
        let c = soc.cores[0]
        // Everything in CPUState up to the cycle counters: registers, special registers.
        let end = MemoryLayout<CPUState>.offset(of: \CPUState.cycles)! / 4
        let raw = UnsafeRawPointer(c.st)
        var s = (0..<end).map { raw.load(fromByteOffset: $0 * 4, as: UInt32.self) }
        for i in 0..<64 { s.append(c.phys[i]) }
        for u in soc.uarts { s.append(UInt32(u.rxCount)); s.append(UInt32(u.lineCount)); s.append(u.intRaw) }
        return s
    }

    func memorySnapshot() -> [[UInt8]] {
        let m = soc.memory
        return [m.sram0, m.sram1, m.sram2, m.rtcFast, m.rtcSlow, m.sram1Code].map {
            [UInt8](UnsafeRawBufferPointer(start: $0.bytes, count: $0.size))
        }
    }

    func memoryEquals(_ snap: [[UInt8]]) -> Bool {
        let m = soc.memory
        for (block, copy) in zip([m.sram0, m.sram1, m.sram2, m.rtcFast, m.rtcSlow, m.sram1Code], snap) {
            if copy.withUnsafeBytes({ memcmp(block.bytes, $0.baseAddress!, block.size) }) != 0 { return false }
        }
        return true
    }

    /// True only if the PRO CPU's state recurs exactly, over at least `minVerify` cycles, with
    /// memory unchanged and nothing but UART registers touched.
    func provesSpin() -> Bool {
        let start = state()
        let pc = soc.cores[0].pc
        let memory = memorySnapshot()
        let accesses = soc.peripheralAccesses, uartAccesses = soc.uarts.reduce(0) { $0 &+ $1.accesses }
        let traffic = soc.uarts.reduce(0) { $0 &+ $1.transmitted &+ $1.received }
        // The loop: the first return to this exact state.
        var loop = 0
        repeat {
            guard loop < SpinProbe.maxLoop, step1() else { return false }
            loop += 1
        } while soc.cores[0].pc != pc || state() != start
        // Then whole turns of it until the stretch is long enough.
        var steps = loop
        while steps < SpinProbe.minVerify {
            for _ in 0..<loop { guard step1() else { return false } }
            steps += loop
            guard state() == start else { return false }
        }
        return state() == start
            && soc.peripheralAccesses &- accesses == soc.uarts.reduce(0) { $0 &+ $1.accesses } &- uartAccesses
            && soc.uarts.reduce(0) { $0 &+ $1.transmitted &+ $1.received } == traffic
            && soc.nextTimedEvent == .max && !SerialHub.timerArmed(soc.cores[0])
            && !soc.appRunning && !soc.cores[0].isWaiting
            && memoryEquals(memory)
    }

    /// One PRO CPU cycle of ordinary execution; false if anything but a plain step happened.
    func step1() -> Bool {
        soc.run(cycles: 1) == .limit && soc.pendingReset == nil
    }
}

/// stdin in raw mode (no echo, no line editing, no signals from keys) while a run is
/// interactive; restored at exit, also on SIGTERM/SIGHUP.
public enum RawTerminal {
    nonisolated(unsafe) static var saved: termios?
    public static var active: Bool { saved != nil }

    /// Switches stdin to raw mode if it is a terminal; returns whether it did.
    @discardableResult
    public static func enable() -> Bool {
        guard saved == nil, isatty(0) != 0 else { return false }
        var t = termios()
        guard tcgetattr(0, &t) == 0 else { return false }
        saved = t
        t.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG | IEXTEN)
        t.c_iflag &= ~tcflag_t(IXON | ICRNL | INLCR | IGNCR | BRKINT | ISTRIP)
        withUnsafeMutableBytes(of: &t.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        tcsetattr(0, TCSANOW, &t)
        atexit { RawTerminal.restore() }
        for sig in [SIGTERM, SIGHUP] {
            signal(sig) { s in
                RawTerminal.restore()
                signal(s, SIG_DFL)
                raise(s)
            }
        }
        return true
    }

    public static func restore() {
        guard var t = saved else { return }
        tcsetattr(0, TCSANOW, &t)
        saved = nil
    }
}

func sysListen(_ fd: Int32, _ backlog: Int32) -> Int32 { listen(fd, backlog) }

func setNonBlocking(_ fd: Int32) {
    let flags = fcntl(fd, F_GETFL, 0)
    _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
}

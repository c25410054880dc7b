// A GDB Remote Serial Protocol server on a TCP socket. The socket is non-blocking and polled by
// the DebugController (between run slices, and in a loop while the chip is stopped), so all
// emulator state is touched by the thread that runs the session.
//
// Threads: 1 is the PRO CPU, 2 the APP CPU (all-stop: both stop and run together). Registers are
// numbered as Espressif's xtensa-esp32-elf-gdb numbers them (GDBRegisters). Breakpoints (Z0/Z1)
// and watchpoints (Z2/Z3/Z4) live in the interpreter's hooks, so they work in ROM and in flash
// and survive resets; memory is never patched.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FirmwareFormats
import Foundation
import XtensaCore

public final class GDBServer {
    /// Largest packet accepted and announced in qSupported (PacketSize).
    public static let maxPacket = 0x4000

    public private(set) var port: UInt16 = 0
    public var connected: Bool { client >= 0 }
    unowned let controller: DebugController
    private var listener: Int32 = -1
    private var client: Int32 = -1

    // Receive state.
    private enum ParseState { case idle, data, checksum1, checksum2 }
    private var state = ParseState.idle
    private var packet: [UInt8] = []
    private var overflow = false
    private var sum: UInt8 = 0
    private var received: UInt8 = 0
    private var noAck = false
    private var lastReply: [UInt8] = []

    /// Hg (registers, memory) and Hc (step) threads: 1 or 2, 0 any, -1 all.
    private var gThread = 1
    private var cThread = 0

    init(controller: DebugController, host: String, port: UInt16) throws {
        self.controller = controller
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw InputError("--gdb: cannot create a socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &addr.sin_addr) == 1 else {
            close(fd); throw InputError("--gdb: '\(host)' is not an IPv4 address")
        }
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 1) == 0 else {
            let e = String(cString: strerror(errno))
            close(fd)
            throw InputError("--gdb: cannot listen on \(host):\(port): \(e)")
        }
        var actual = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.port = UInt16(bigEndian: actual.sin_port)
        setNonBlocking(fd)
        listener = fd
    }

    deinit {
        if client >= 0 { close(client) }
        if listener >= 0 { close(listener) }
    }

    private func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL, 0)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    }

    // MARK: I/O

    /// Accepts a connection and handles whatever arrived, waiting up to `timeoutMilliseconds`.
    func poll(timeoutMilliseconds: Int32) {
        var fds = [pollfd(fd: client >= 0 ? client : listener, events: Int16(POLLIN), revents: 0)]
        let n = Glibc_poll(&fds, 1, timeoutMilliseconds)
        guard n > 0 else { return }
        if client < 0 {
            let fd = accept(listener, nil, nil)
            guard fd >= 0 else { return }
            setNonBlocking(fd)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            client = fd
            state = .idle; packet = []; overflow = false; noAck = false; gThread = 1; cThread = 0
            controller.debuggerConnected()
            return
        }
        var buf = [UInt8](repeating: 0, count: 4096)
        while client >= 0 {
            let r = buf.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
            if r > 0 {
                for i in 0..<r { feed(buf[i]) }
                continue
            }
            if r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { disconnect() }
            break
        }
    }

    private func disconnect() {
        if client >= 0 { close(client) }
        client = -1
        controller.debuggerDetached()
    }

    private func sendRaw(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count && client >= 0 {
            #if os(Linux)
            let flags = Int32(MSG_NOSIGNAL)
            #else
            let flags: Int32 = 0
            #endif
            let r = bytes[off...].withUnsafeBytes { sysSend(client, $0.baseAddress, $0.count, flags) }
            if r > 0 { off += r; continue }
            if r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                var fds = [pollfd(fd: client, events: Int16(POLLOUT), revents: 0)]
                if Glibc_poll(&fds, 1, 5000) <= 0 { disconnect(); return }
                continue
            }
            disconnect()
            return
        }
    }

    /// Sends one packet: `$data#checksum`, escaping $ # } and *.
    func send(_ data: [UInt8]) {
        var out: [UInt8] = [0x24]
        out.reserveCapacity(data.count + 4)
        var sum: UInt8 = 0
        for b in data {
            if b == 0x24 || b == 0x23 || b == 0x7D || b == 0x2A {
                out.append(0x7D); out.append(b ^ 0x20)
                sum &+= 0x7D &+ (b ^ 0x20)
            } else {
                out.append(b); sum &+= b
            }
        }
        out.append(0x23)
        out.append(contentsOf: Array(hexDigits(UInt32(sum), 2).utf8))
        lastReply = out
        sendRaw(out)
    }

    func send(_ s: String) { send(Array(s.utf8)) }

    private func feed(_ b: UInt8) {
        switch state {
        case .idle:
            switch b {
            case 0x24: state = .data; packet.removeAll(keepingCapacity: true); overflow = false; sum = 0
            case 0x03: if !controller.halted { controller.requestHalt() }
            case 0x2D: if !noAck && !lastReply.isEmpty { sendRaw(lastReply) }   // '-': resend
            default: break                                                      // '+', noise
            }
        case .data:
            if b == 0x23 { state = .checksum1; return }
            if b == 0x24 { packet.removeAll(keepingCapacity: true); overflow = false; sum = 0; return }
            sum &+= b
            if packet.count < GDBServer.maxPacket { packet.append(b) } else { overflow = true }
        case .checksum1:
            received = (hexValue(b) ?? 0xFF) << 4
            if hexValue(b) == nil { received = 0xFF; sum = ~sum }   // force a mismatch
            state = .checksum2
        case .checksum2:
            state = .idle
            let ok = hexValue(b).map { received | $0 } == sum
            if !noAck {
                sendRaw([ok ? 0x2B : 0x2D])
                if !ok { return }
            }
            if overflow { send("E02"); return }
            handle(packet)
        }
    }

    // MARK: Packets

    private func handle(_ p: [UInt8]) {
        guard let first = p.first else { send(""); return }
        let body = Array(p.dropFirst())
        let text = String(decoding: p, as: UTF8.self)
        switch first {
        case UInt8(ascii: "?"): send(stopReply(controller.lastStop ?? .interrupt(core: 0), signalOverride: controller.lastStop == nil ? 5 : nil))
        case UInt8(ascii: "q"): query(text)
        case UInt8(ascii: "Q"):
            if text == "QStartNoAckMode" { send("OK"); noAck = true } else { send("") }
        case UInt8(ascii: "H"): setThread(body)
        case UInt8(ascii: "T"):
            if let t = parseThread(String(decoding: body, as: UTF8.self)), t == 1 || t == 2 { send("OK") } else { send("E01") }
        case UInt8(ascii: "g"): send(readAllRegisters())
        case UInt8(ascii: "G"): writeAllRegisters(body)
        case UInt8(ascii: "p"): readRegister(body)
        case UInt8(ascii: "P"): writeRegister(body)
        case UInt8(ascii: "m"): readMemory(body)
        case UInt8(ascii: "M"): writeMemory(body, binary: false)
        case UInt8(ascii: "X"): writeMemory(body, binary: true)
        case UInt8(ascii: "Z"), UInt8(ascii: "z"): breakpoint(body, insert: first == UInt8(ascii: "Z"))
        case UInt8(ascii: "c"), UInt8(ascii: "C"): resume(body, step: false, signal: first == UInt8(ascii: "C"))
        case UInt8(ascii: "s"), UInt8(ascii: "S"): resume(body, step: true, signal: first == UInt8(ascii: "S"))
        case UInt8(ascii: "v"): vPacket(text)
        case UInt8(ascii: "D"):
            send("OK")
            disconnect()
        case UInt8(ascii: "k"):
            controller.kill()
            if client >= 0 { close(client) }
            client = -1
        default: send("")
        }
    }

    // MARK: Stop replies

    func reportStop(_ e: DebugStop) {
        send(stopReply(e))
    }

    private func stopReply(_ e: DebugStop, signalOverride: Int? = nil) -> String {
        let thread = "thread:\(e.core + 1);"
        var s: String
        switch e {
        case .breakpoint(_, let pc):
            s = "T05" + thread + (controller.breakpoints[pc] == 1 ? "hwbreak:;" : "swbreak:;")
        case .step: s = "T05" + thread
        case .watch(_, let kind, let a):
            let k = kind == .write ? "watch" : kind == .read ? "rwatch" : "awatch"
            s = "T05" + k + ":" + String(a, radix: 16) + ";" + thread
        case .interrupt: s = "T02" + thread
        case .traceEnd: s = "T05" + thread
        }
        if let sig = signalOverride { s = "T" + hexDigits(UInt32(sig), 2) + s.dropFirst(3) }
        return s
    }

    // MARK: Queries

    private func query(_ q: String) {
        if q.hasPrefix("qSupported") {
            send("PacketSize=\(String(GDBServer.maxPacket, radix: 16));qXfer:features:read+;QStartNoAckMode+;swbreak+;hwbreak+;vContSupported+")
        } else if q.hasPrefix("qXfer:features:read:") {
            xferFeatures(String(q.dropFirst("qXfer:features:read:".count)))
        } else if q == "qAttached" || q.hasPrefix("qAttached:") {
            send("1")
        } else if q == "qC" {
            send("QC" + String(currentThread(gThread), radix: 16))
        } else if q == "qfThreadInfo" {
            send("m1,2")
        } else if q == "qsThreadInfo" {
            send("l")
        } else if q.hasPrefix("qThreadExtraInfo,") {
            guard let t = parseThread(String(q.dropFirst("qThreadExtraInfo,".count))), t == 1 || t == 2 else { send("E01"); return }
            let info = t == 1 ? "PRO CPU" : (controller.soc.appRunning ? "APP CPU" : "APP CPU (not started)")
            send(hexString(Array(info.utf8)))
        } else if q == "qSymbol::" {
            send("OK")
        } else if q.hasPrefix("qRcmd,") {
            guard let bytes = hexBytes(String(q.dropFirst("qRcmd,".count))) else { send("E01"); return }
            monitor(String(decoding: bytes, as: UTF8.self))
        } else {
            send("")
        }
    }

    private func xferFeatures(_ args: String) {
        // annex:offset,length
        let parts = args.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let (off, len) = parsePair(String(parts[1])) else { send("E01"); return }
        guard parts[0] == "target.xml" else { send("E00"); return }
        let xml = Array(GDBRegisters.targetXML.utf8)
        let start = Int(min(off, UInt64(xml.count)))
        let end = Int(min(UInt64(start) + min(len, UInt64(GDBServer.maxPacket - 8)), UInt64(xml.count)))
        send([end < xml.count ? UInt8(ascii: "m") : UInt8(ascii: "l")] + Array(xml[start..<end]))
    }

    private func monitor(_ command: String) {
        let words = command.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
        func output(_ s: String) { send("O" + hexString(Array(s.utf8))) }
        switch words.first ?? "" {
        case "reset":
            controller.resetChip()
            output("Reset: both CPUs at the reset vector (0x40000400), stopped.\n")
            send("OK")
        case "trace":
            if words.count >= 2 && words[1] == "on" {
                let path = words.count >= 3 ? words[2] : (controller.tracer?.path ?? "esp32emu-trace.txt")
                do {
                    try controller.traceInstructions(to: path)
                    output("Instruction trace on: \(path)\n")
                    send("OK")
                } catch {
                    output("\(error)\n"); send("E01")
                }
            } else if words.count == 2 && words[1] == "off" {
                controller.stopInstructionTrace()
                output("Instruction trace off.\n")
                send("OK")
            } else {
                output("usage: monitor trace on [FILE] | monitor trace off\n")
                send("E01")
            }
        case "help", "":
            output("monitor reset            power-on reset; the chip stays stopped at the reset vector\n"
                   + "monitor trace on [FILE]  start the instruction trace (default: the --trace file)\n"
                   + "monitor trace off        stop it\n")
            send("OK")
        default:
            output("unknown monitor command '\(command)' (try 'monitor help')\n")
            send("E01")
        }
    }

    // MARK: Threads

    private func parseThread(_ s: String) -> Int? {
        var t = s
        if t.hasPrefix("p") {   // multiprocess form p<pid>.<tid>
            guard let dot = t.firstIndex(of: ".") else { return nil }
            t = String(t[t.index(after: dot)...])
        }
        if t == "-1" { return -1 }
        guard !t.isEmpty, t.count <= 8, let v = Int(t, radix: 16) else { return nil }
        return v
    }

    private func setThread(_ body: [UInt8]) {
        guard let op = body.first, let t = parseThread(String(decoding: body.dropFirst(), as: UTF8.self)),
              t == -1 || (t >= 0 && t <= 2) else { send("E01"); return }
        switch op {
        case UInt8(ascii: "g"): gThread = t; send("OK")
        case UInt8(ascii: "c"): cThread = t; send("OK")
        default: send("E01")
        }
    }

    /// A concrete thread (1 or 2) for a selection that may be "any" or "all".
    private func currentThread(_ t: Int) -> Int {
        t == 1 || t == 2 ? t : (controller.lastStop?.core ?? 0) + 1
    }

    private var registerCPU: XtensaCPU { controller.soc.cores[currentThread(gThread) - 1] }

    // MARK: Registers

    private func readAllRegisters() -> String {
        let cpu = registerCPU
        var s = ""
        s.reserveCapacity(GDBRegisters.gPacketCount * 8)
        for n in 0..<GDBRegisters.gPacketCount { s += littleEndianHex(GDBRegisters.read(n, cpu: cpu) ?? 0) }
        return s
    }

    private func writeAllRegisters(_ body: [UInt8]) {
        guard body.count == GDBRegisters.gPacketCount * 8, let bytes = hexBytes(String(decoding: body, as: UTF8.self)) else {
            send("E01"); return
        }
        let cpu = registerCPU
        for n in 0..<GDBRegisters.gPacketCount {
            let v = UInt32(bytes[n * 4]) | UInt32(bytes[n * 4 + 1]) << 8 | UInt32(bytes[n * 4 + 2]) << 16 | UInt32(bytes[n * 4 + 3]) << 24
            if GDBRegisters.read(n, cpu: cpu) != v { GDBRegisters.write(n, v, cpu: cpu) }
        }
        send("OK")
    }

    private func readRegister(_ body: [UInt8]) {
        let s = String(decoding: body, as: UTF8.self)
        guard !s.isEmpty, s.count <= 8, let n = Int(s, radix: 16) else { send("E01"); return }
        guard let v = GDBRegisters.read(n, cpu: registerCPU) else { send("E03"); return }
        send(littleEndianHex(v))
    }

    private func writeRegister(_ body: [UInt8]) {
        let s = String(decoding: body, as: UTF8.self)
        let parts = s.split(separator: "=", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[0].count <= 8, let n = Int(parts[0], radix: 16),
              parts[1].count == 8, let b = hexBytes(String(parts[1])) else { send("E01"); return }
        guard n < GDBRegisters.all.count else { send("E03"); return }
        let v = UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
        send(GDBRegisters.write(n, v, cpu: registerCPU) ? "OK" : "E04")
    }

    // MARK: Memory

    private func readMemory(_ body: [UInt8]) {
        guard let (a, n) = parsePair(String(decoding: body, as: UTF8.self)), a <= UInt64(UInt32.max) else { send("E01"); return }
        let count = Int(min(n, UInt64(GDBServer.maxPacket / 2 - 4)))
        if count == 0 { send(""); return }
        let bytes = controller.readMemory(core: currentThread(gThread) - 1, address: UInt32(a), count: count)
        send(bytes.isEmpty ? "E14" : hexString(bytes))
    }

    private func writeMemory(_ body: [UInt8], binary: Bool) {
        guard let colon = body.firstIndex(of: UInt8(ascii: ":")),
              let (a, n) = parsePair(String(decoding: body[..<colon], as: UTF8.self)), a <= UInt64(UInt32.max) else {
            send("E01"); return
        }
        let payload = body[(colon + 1)...]
        var data: [UInt8]
        if binary {
            data = []
            var escape = false
            for b in payload {
                if escape { data.append(b ^ 0x20); escape = false } else if b == 0x7D { escape = true } else { data.append(b) }
            }
            if escape { send("E01"); return }
        } else {
            guard let d = hexBytes(String(decoding: payload, as: UTF8.self)) else { send("E01"); return }
            data = d
        }
        guard UInt64(data.count) == n else { send("E01"); return }
        if data.isEmpty { send("OK"); return }
        send(controller.writeMemory(core: currentThread(gThread) - 1, address: UInt32(a), bytes: data) ? "OK" : "E14")
    }

    // MARK: Breakpoints

    private func breakpoint(_ body: [UInt8], insert: Bool) {
        // type,addr,kind[;cond...]
        let s = String(decoding: body, as: UTF8.self)
        let main = s.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
        let f = main.split(separator: ",", omittingEmptySubsequences: false)
        guard f.count == 3, f[0].count == 1, let type = Int(f[0]), f[1].count <= 8, let a = UInt32(f[1], radix: 16),
              f[2].count <= 8, let kind = UInt32(f[2], radix: 16) else { send("E01"); return }
        switch type {
        case 0, 1:
            if insert { controller.insertBreakpoint(a, hardware: type == 1) } else { controller.removeBreakpoint(a) }
            send("OK")
        case 2, 3, 4:
            guard kind >= 1 && kind <= 0x1000 else { send("E22"); return }
            let w = Watchpoint(address: a, length: kind, kind: type == 2 ? .write : type == 3 ? .read : .access)
            if insert { controller.insertWatchpoint(w) } else { controller.removeWatchpoint(w) }
            send("OK")
        default:
            send("")
        }
    }

    // MARK: Resuming

    private func resume(_ body: [UInt8], step: Bool, signal: Bool) {
        // C/S: sig[;addr] (the signal is not delivered: there are no signals to deliver); c/s: [addr]
        var s = String(decoding: body, as: UTF8.self)
        if signal {
            let parts = s.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts[0].count == 2, UInt8(parts[0], radix: 16) != nil else { send("E01"); return }
            s = parts.count == 2 ? String(parts[1]) : ""
        }
        let core = currentThread(cThread) - 1
        if !s.isEmpty {
            guard s.count <= 8, let a = UInt32(s, radix: 16) else { send("E01"); return }
            controller.soc.cores[core].pc = a
        }
        controller.resume(step: step ? core : nil)
    }

    private func vPacket(_ v: String) {
        if v == "vCont?" {
            send("vCont;c;C;s;S;t")
        } else if v.hasPrefix("vCont;") {
            var stepThread: Int?
            var cont = false
            for action in v.dropFirst("vCont;".count).split(separator: ";", omittingEmptySubsequences: false) {
                let parts = action.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                guard let a = parts.first?.first else { send("E01"); return }
                var thread = -1
                if parts.count == 2 {
                    guard let t = parseThread(String(parts[1])), t == -1 || (t >= 0 && t <= 2) else { send("E01"); return }
                    thread = t
                }
                switch a {
                case "s", "S":
                    if stepThread == nil { stepThread = thread == 1 || thread == 2 ? thread : currentThread(cThread) }
                case "c", "C": cont = true
                case "t": break
                default: send("E01"); return
                }
            }
            if let t = stepThread { controller.resume(step: t - 1) } else if cont { controller.resume() } else { send("OK") }
        } else if v == "vMustReplyEmpty" {
            send("")
        } else if v.hasPrefix("vKill") {
            send("OK")
            controller.kill()
            if client >= 0 { close(client) }
            client = -1
        } else {
            send("")
        }
    }

    // MARK: Encoding

    private func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x61...0x66: return b - 0x61 + 10
        case 0x41...0x46: return b - 0x41 + 10
        default: return nil
        }
    }

    private func hexBytes(_ s: String) -> [UInt8]? {
        let u = Array(s.utf8)
        guard u.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let h = hexValue(u[i]), let l = hexValue(u[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }

    private func hexString(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    private func littleEndianHex(_ v: UInt32) -> String {
        hexString([UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 24)])
    }

    /// "ADDR,LEN" in hex.
    private func parsePair(_ s: String) -> (UInt64, UInt64)? {
        let f = s.split(separator: ",", omittingEmptySubsequences: false)
        guard f.count == 2, !f[0].isEmpty, !f[1].isEmpty, f[0].count <= 16, f[1].count <= 16,
              let a = UInt64(f[0], radix: 16), let n = UInt64(f[1], radix: 16) else { return nil }
        return (a, n)
    }
}

@inline(__always) private func Glibc_poll(_ fds: UnsafeMutablePointer<pollfd>, _ n: Int, _ timeout: Int32) -> Int32 {
    poll(fds, nfds_t(n), timeout)
}

@inline(__always) private func sysSend(_ fd: Int32, _ p: UnsafeRawPointer?, _ n: Int, _ flags: Int32) -> Int {
    send(fd, p, n, flags)
}

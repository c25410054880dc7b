// Step-debugging and tracing of a Session: one object watches every instruction of both cores
// through the interpreter's hooks (installed only while something needs them), keeps the
// breakpoints, watchpoints and single steps, feeds the instruction and call tracers, and serves
// a GDB connection between run slices and while the chip is stopped. Everything runs on the
// thread that runs the session; the debugger's socket is polled, never read by another thread.

import FirmwareFormats
import Foundation
import XtensaCore

/// Why the chip stopped for the debugger.
public enum DebugStop: Equatable, Sendable {
    case breakpoint(core: Int, pc: UInt32)
    case step(core: Int)
    case watch(core: Int, kind: WatchKind, address: UInt32)
    /// Ctrl-C, a new debugger connection, or -S before the first instruction.
    case interrupt(core: Int)
    /// The instruction/call trace reached its end (--trace-until, --trace-max).
    case traceEnd(core: Int)

    public var core: Int {
        switch self {
        case .breakpoint(let c, _), .step(let c), .watch(let c, _, _), .interrupt(let c), .traceEnd(let c): return c
        }
    }
}

public enum WatchKind: Sendable { case write, read, access }

public struct Watchpoint: Equatable, Sendable {
    public var address: UInt32
    public var length: UInt32
    public var kind: WatchKind
}

public final class DebugController {
    public let session: Session
    public let symbolizer: Symbolizer
    public var soc: ESP32 { session.soc }

    /// Instruction trace (--trace) and call trace (--trace-calls).
    public private(set) var tracer: InstructionTracer?
    public private(set) var callTracer: CallTracer?
    /// Where the traces start and end (any core reaching the address): --trace-from/--trace-until.
    public var traceFrom: UInt32? { didSet { if window != .closed { window = traceFrom == nil ? .open : .waiting } } }
    public var traceUntil: UInt32?
    /// End the session when every trace has ended (unless a debugger is connected).
    public var endRunWhenTracesEnd = true
    private enum Window { case waiting, open, closed }
    private var window = Window.open
    private var closeWindowAfter = [false, false]

    public private(set) var gdb: GDBServer?

    // Debugger state.
    public private(set) var breakpoints: [UInt32: Int] = [:]     // address -> Z type (0 software, 1 hardware)
    public private(set) var watchpoints: [Watchpoint] = []
    private var stepCore: Int?
    private var stepFrom: UInt64 = 0
    private var skip: [(pc: UInt32, instructions: UInt64)?] = [nil, nil]
    private var stopNext: [DebugStop?] = [nil, nil]
    private var pendingWatch: [DebugStop?] = [nil, nil]
    private var haltBeforeNext = false
    private var haltRequested = false
    /// The next halt is not reported (a debugger connected, or -S before the first instruction):
    /// `?` answers it.
    private var silentHalt = false
    private var stopEvent: DebugStop?
    /// The last stop reported to the debugger.
    public private(set) var lastStop: DebugStop?
    /// True while the chip is stopped for the debugger.
    public private(set) var halted = false
    /// Stop before the first instruction and wait for a debugger (-S).
    public private(set) var waitForDebugger = false
    private var preInstructions: [UInt64] = [0, 0]
    private var targets: [CoreHooks] = []
    private var serviceInstalled = false

    public init(session: Session) {
        self.session = session
        symbolizer = Symbolizer(table: session.symbols)
        targets = [CoreHooks(core: 0, controller: self), CoreHooks(core: 1, controller: self)]
    }

    // MARK: Setup

    /// Writes an instruction trace to `path`; at most `maxLines` lines when given.
    public func traceInstructions(to path: String, maxLines: UInt64? = nil) throws {
        tracer?.finish()
        tracer = try InstructionTracer(path: path, symbolizer: symbolizer, maxLines: maxLines)
        if window == .closed { window = .open }
        install()
    }

    /// Writes a call trace to `path`.
    public func traceCalls(to path: String, maxLines: UInt64? = nil) throws {
        callTracer = try CallTracer(path: path, symbolizer: symbolizer, maxLines: maxLines)
        install()
    }

    /// Stops instruction tracing (`monitor trace off`).
    public func stopInstructionTrace() {
        tracer?.finish()
        tracer = nil
        updateHooks()
    }

    /// Listens for a GDB connection on `host:port` (port 0: any free port, see `gdb.port`).
    /// With `wait`, the chip stops before its first instruction until a debugger continues it.
    public func listen(host: String = "127.0.0.1", port: UInt16, wait: Bool) throws {
        gdb = try GDBServer(controller: self, host: host, port: port)
        waitForDebugger = wait
        if wait { haltBeforeNext = true; silentHalt = true }
        install()
    }

    /// Resolves `SYMBOL` (through the symbol table) or an address (0x-hex or decimal).
    public func resolve(_ s: String) -> UInt32? {
        if let a = session.symbols.address(of: s) { return a }
        let t = s.lowercased()
        if t.hasPrefix("0x") { return UInt32(t.dropFirst(2), radix: 16) }
        return UInt32(t)
    }

    private func install() {
        if !serviceInstalled {
            serviceInstalled = true
            session.services.append { _ in self.service() }   // the session keeps its debugger
        }
        updateHooks()
    }

    /// Hooks are installed only while something needs them: the plain loop runs otherwise.
    func updateHooks() {
        let needed = haltBeforeNext || tracer != nil || callTracer != nil || gdb?.connected == true
            || !breakpoints.isEmpty || !watchpoints.isEmpty || stepCore != nil
            || stopNext.contains { $0 != nil }
        soc.hooks = needed ? [targets[0], targets[1]] : [nil, nil]
    }

    // MARK: Hooks

    final class CoreHooks: HookTarget {
        let core: Int
        unowned let controller: DebugController
        init(core: Int, controller: DebugController) { self.core = core; self.controller = controller }
        func before(_ cpu: XtensaCPU, pc: UInt32, decoded: Decoded) -> StopReason? {
            controller.before(core, cpu, pc, decoded)
        }
        func after(_ cpu: XtensaCPU, pc: UInt32, decoded: Decoded, completed: Bool) {
            controller.after(core, cpu, pc, decoded, completed)
        }
    }

    @inline(__always) private func stop(_ e: DebugStop) -> StopReason {
        stopEvent = e
        return .breakpoint
    }

    func before(_ core: Int, _ cpu: XtensaCPU, _ pc: UInt32, _ d: Decoded) -> StopReason? {
        let instructions = cpu.st.pointee.instructions
        if haltBeforeNext { haltBeforeNext = false; return stop(.interrupt(core: core)) }
        if let e = stopNext[core] { stopNext[core] = nil; return stop(e) }
        if stepCore == core && instructions != stepFrom { stepCore = nil; return stop(.step(core: core)) }
        if !breakpoints.isEmpty && breakpoints[pc] != nil {
            if let s = skip[core], s.pc == pc, s.instructions == instructions {} else {
                return stop(.breakpoint(core: core, pc: pc))
            }
        }
        preInstructions[core] = instructions
        if pc == cpu.config.resetVector {
            // The PRO CPU starting over means the ROM loads the images again; the APP CPU starts at
            // the same vector when the app releases it.
            if core == 0 { symbolizer.reset() }
            callTracer?.reset(core: core)
        }
        if !watchpoints.isEmpty, let a = DataAccess.of(d, cpu: cpu) { checkWatchpoints(core, a) }
        if tracer != nil || callTracer != nil {
            if window == .waiting, pc == traceFrom { window = .open }
            if window == .open {
                if let u = traceUntil, pc == u { closeWindowAfter[core] = true }
                tracer?.before(core, cpu, pc, d)
            }
        }
        return nil
    }

    func after(_ core: Int, _ cpu: XtensaCPU, _ pc: UInt32, _ d: Decoded, _ completed: Bool) {
        let executed = cpu.st.pointee.instructions != preInstructions[core]
        if let t = tracer, window == .open { t.after(core, cpu, pc, d, executed: executed, completed: completed) }
        if executed && !completed {
            switch d.op {
            case .call0, .callx0, .call4, .call8, .call12, .callx4, .callx8, .callx12, .j, .jx:
                symbolizer.entered(cpu.pc)
            default: break
            }
            if let c = callTracer, window == .open { c.transfer(core, cpu, pc, d) }
        }
        if let w = pendingWatch[core] {
            pendingWatch[core] = nil
            if executed && completed { stopNext[core] = w }
        }
        if closeWindowAfter[core] {
            closeWindowAfter[core] = false
            window = .closed
            tracer?.finish()
            callTracer?.finish()
        }
        if tracesEnded && endRunWhenTracesEnd && gdb?.connected != true && stopNext[core] == nil {
            stopNext[core] = .traceEnd(core: core)
        }
    }

    /// Whether every trace that was asked for has ended.
    private var tracesEnded: Bool {
        guard tracer != nil || callTracer != nil else { return false }
        return (tracer?.finished ?? true) && (callTracer?.finished ?? true)
    }

    private func checkWatchpoints(_ core: Int, _ a: DataAccess) {
        for w in watchpoints {
            let kindMatches: Bool
            switch w.kind {
            case .write: kindMatches = a.write
            case .read: kindMatches = a.read
            case .access: kindMatches = true
            }
            guard kindMatches, a.overlaps(w.address, length: w.length) else { continue }
            pendingWatch[core] = .watch(core: core, kind: w.kind, address: max(a.address, w.address))
            return
        }
    }

    // MARK: Breakpoints and watchpoints

    public func insertBreakpoint(_ a: UInt32, hardware: Bool = false) {
        if breakpoints[a] == nil || !hardware { breakpoints[a] = hardware ? 1 : 0 }
        updateHooks()
    }

    public func removeBreakpoint(_ a: UInt32) {
        breakpoints[a] = nil
        updateHooks()
    }

    public func insertWatchpoint(_ w: Watchpoint) {
        if !watchpoints.contains(w) { watchpoints.append(w) }
        updateHooks()
    }

    public func removeWatchpoint(_ w: Watchpoint) {
        watchpoints.removeAll { $0 == w }
        updateHooks()
    }

    public func removeAllBreakpointsAndWatchpoints() {
        breakpoints = [:]
        watchpoints = []
        updateHooks()
    }

    // MARK: Running and stopping

    /// Lets the chip run again (or execute one instruction on core `step`).
    public func resume(step: Int? = nil) {
        for (i, c) in soc.cores.enumerated() { skip[i] = (c.pc, c.st.pointee.instructions) }
        stepCore = step
        if let s = step { stepFrom = soc.cores[s].st.pointee.instructions }
        halted = false
        updateHooks()
    }

    /// Stops the chip at the end of the current run slice (Ctrl-C).
    public func requestHalt() { haltRequested = true }

    /// Ends the session (gdb `k`).
    public func kill() {
        session.stopRequested = true
        halted = false
    }

    /// The debugger went away: forget its breakpoints and run on.
    func debuggerDetached() {
        removeAllBreakpointsAndWatchpoints()
        stepCore = nil
        stopNext = [nil, nil]
        pendingWatch = [nil, nil]
        halted = false
        updateHooks()
    }

    /// Power-on reset from the debugger (`monitor reset`): the chip stays stopped at the reset vector.
    public func resetChip() {
        soc.reset(cause: .powerOn)
        soc.stoppedSlice = nil
        stepCore = nil
        skip = [nil, nil]
        stopNext = [nil, nil]
        pendingWatch = [nil, nil]
        symbolizer.reset()
        callTracer?.reset(core: 0)
        callTracer?.reset(core: 1)
    }

    /// Between run slices (Session.services) and after a hook stopped a core.
    func service() {
        gdb?.poll(timeoutMilliseconds: 0)
        if let e = stopEvent {
            stopEvent = nil
            handleStop(e)
        } else if haltRequested {
            haltRequested = false
            handleStop(.interrupt(core: lastStop?.core ?? 0))
        }
        if session.stopRequested { tracer?.finish(); callTracer?.finish() }
        tracer?.flush()
        callTracer?.flush()
    }

    private func handleStop(_ e: DebugStop) {
        haltRequested = false
        if case .traceEnd = e {
            tracer?.finish(); callTracer?.finish()
            if gdb?.connected != true { session.stopRequested = true; return }
        }
        guard let server = gdb, server.connected || waitForDebugger else {
            resume()   // nobody to report to
            return
        }
        halted = true
        tracer?.flush()
        callTracer?.flush()
        if silentHalt {
            silentHalt = false
            lastStop = nil
        } else {
            lastStop = e
            if server.connected { server.reportStop(e) }
        }
        while halted && !session.stopRequested {
            server.poll(timeoutMilliseconds: 100)
            if !server.connected && !waitForDebugger { debuggerDetached() }
        }
    }

    /// A debugger connected while the chip runs: stop it (all-stop, as QEMU does).
    func debuggerConnected() {
        updateHooks()
        if !halted { haltRequested = true; silentHalt = true }
        waitForDebugger = false
    }

    // MARK: Memory for the debugger

    /// The bytes core `core` reads at `address...`, up to the first address nothing maps.
    public func readMemory(core: Int, address: UInt32, count: Int) -> [UInt8] {
        soc.debugRead(core: core, address: address, count: count)
    }

    /// Writes bytes as core `core` sees memory; false if some address cannot be written.
    public func writeMemory(core: Int, address: UInt32, bytes: [UInt8]) -> Bool {
        soc.debugWrite(core: core, address: address, bytes: bytes)
    }
}

extension ESP32 {
    /// The peripheral-bus address behind `a` (the AHB alias folded), if it is a modelled register.
    func debugBusAddress(_ a: UInt32) -> UInt32? {
        var x = a
        if x >= AddressMap.peripheralsAHB && x < AddressMap.peripheralsAHB + AddressMap.peripheralsAHBSize {
            x = x - AddressMap.peripheralsAHB + AddressMap.peripheralsAHBTarget
        }
        if x >= AddressMap.peripherals && x < AddressMap.peripherals + AddressMap.peripheralsSize {
            let off = x - AddressMap.peripherals
            if off >= 0x1_0000 && off < 0x1_4000 { return x }
            return owner(off) != nil ? x : nil
        }
        if x >= AddressMap.sram1Instr && x < AddressMap.sram1Instr + UInt32(AddressMap.sram1Size) { return x }
        return nil
    }

    func debugRead(core: Int, address: UInt32, count: Int) -> [UInt8] {
        let cpu = cores[core]
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var word: (UInt32, UInt32)?
        for i in 0..<count {
            let (a, overflow) = address.addingReportingOverflow(UInt32(i))
            if overflow { break }
            if let p = cpu.memory.hostPointer(a) {
                out.append(p.load(as: UInt8.self))
            } else if debugBusAddress(a) != nil {
                let base = a & ~3
                if word?.0 != base { word = (base, read(base, size: 4, cpu: cpu) ?? 0) }
                out.append(UInt8(truncatingIfNeeded: word!.1 >> ((a & 3) * 8)))
            } else {
                break
            }
        }
        return out
    }

    func debugWrite(core: Int, address: UInt32, bytes: [UInt8]) -> Bool {
        let cpu = cores[core]
        var i = 0
        var lastPage = UInt32.max
        while i < bytes.count {
            let (a, overflow) = address.addingReportingOverflow(UInt32(i))
            if overflow { return false }
            if let p = cpu.memory.hostPointer(a) {
                guard cpu.memory.attributes(of: a).contains(.write) else { return false }
                p.storeBytes(of: bytes[i], as: UInt8.self)
                if a >> pageShift != lastPage {
                    lastPage = a >> pageShift
                    for c in cores { c.memory.invalidateCode(at: a) }
                }
                i += 1
            } else if debugBusAddress(a) != nil {
                // Registers take whole words.
                guard a & 3 == 0, i + 4 <= bytes.count else { return false }
                let v = UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
                _ = write(a, size: 4, value: v, cpu: cpu)
                i += 4
            } else {
                return false
            }
        }
        return true
    }
}

// The Xtensa LX6 processor state and its machinery (exceptions, interrupts,
// windows, special registers). The instruction semantics live in Execute.swift.

/// What the core uses to reach anything that is not in its fast memory map. A machine
/// subclasses it and overrides both methods. It is a class, not a protocol, so that the core
/// calls it through the vtable on an unretained reference: an MMIO access costs no reference
/// counting (a call through a protocol existential retains and releases the bus each time).
open class XtensaBus {
    public init() {}
    /// Reads `size` (1, 2 or 4) bytes; nil means a bus error (the core raises LoadStoreError).
    open func read(_ address: UInt32, size: Int, cpu: XtensaCPU) -> UInt32? { nil }
    /// Writes `size` bytes; false means a bus error.
    open func write(_ address: UInt32, size: Int, value: UInt32, cpu: XtensaCPU) -> Bool { false }
}

/// Why `run` returned.
public enum StopReason: Equatable, Sendable {
    case limit                 // the cycle budget ran out
    case exit(Int32)           // semihosting SYS_exit
    case halted                // WAITI with no interrupt that could ever wake it
    case breakpoint            // a debugger breakpoint or single step
    case stopRequested         // requestStop() from the host
    case fatal(String)         // the emulator cannot go on (e.g. double exception loop)
}

/// Architectural state kept in one flat struct behind a pointer, so the
/// interpreter reaches it without ARC or exclusivity checks.
public struct CPUState {
    /// The register file (`XtensaCPU.file`), first in the state.
    var registerFile: (SIMD16<UInt32>, SIMD16<UInt32>, SIMD16<UInt32>, SIMD16<UInt32>) = (.zero, .zero, .zero, .zero)
    /// Where the register file starts in the physical file, in panels: physical register i is
    /// `registerFile` word (i - 4 * fileRotation) mod 64 (see `XtensaCPU.setWindowBase`).
    var fileRotation: UInt32 = 0
    public var pc: UInt32 = 0
    public var sar: UInt32 = 0
    public var lbeg: UInt32 = 0
    public var lend: UInt32 = 0
    public var lcount: UInt32 = 0
    /// The LEND that formed blocks end at (`XtensaCPU.loopEndMoved`).
    var blockLoopEnd: UInt32 = 0
    /// Blocks formed so far (statistics; tests check that blocks ran).
    public var blocksFormed: UInt64 = 0
    public var windowBase: UInt32 = 0
    public var windowStart: UInt32 = 1
    public var ps: UInt32 = 0x1F
    /// Number of register panels above the current one that are free (0...3); instructions naming a
    /// higher panel raise a window overflow. 3 when overflow checks are off.
    public var freePanels: UInt8 = 3
    public var br: UInt32 = 0
    public var scompare1: UInt32 = 0
    public var acc: Int64 = 0              // 40-bit accumulator, sign-extended
    public var m: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    public var epc: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0, 0, 0, 0, 0)
    public var eps: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0, 0, 0, 0, 0)
    public var excsave: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0, 0, 0, 0, 0)
    public var depc: UInt32 = 0
    public var exccause: UInt32 = 0
    public var excvaddr: UInt32 = 0
    public var vecbase: UInt32 = 0
    public var interrupt: UInt32 = 0       // pending (INTERRUPT register)
    public var externalLevels: UInt32 = 0  // level-triggered lines driven by the SoC
    public var intenable: UInt32 = 0
    public var cpenable: UInt32 = 0
    public var debugcause: UInt32 = 0
    public var icount: UInt32 = 0
    public var icountlevel: UInt32 = 0
    public var ibreakenable: UInt32 = 0
    public var ibreaka: (UInt32, UInt32) = (0, 0)
    public var dbreaka: (UInt32, UInt32) = (0, 0)
    public var dbreakc: (UInt32, UInt32) = (0, 0)
    public var ddr: UInt32 = 0
    public var memctl: UInt32 = 1
    public var atomctl: UInt32 = 0x28
    public var misc: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    public var ccompare: (UInt32, UInt32, UInt32) = (0, 0, 0)
    public var threadptr: UInt32 = 0
    public var expstate: UInt32 = 0
    public var f64r: (UInt32, UInt32, UInt32) = (0, 0, 0)
    public var fcr: UInt32 = 0
    public var fsr: UInt32 = 0
    public var f: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32,
                   UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    /// Region protection attributes (WDTLB/WITLB), one per 512 MiB region.
    public var dtlbAttr: UInt32 = 0x2222_2222
    public var itlbAttr: UInt32 = 0x2222_2222
    /// Cycles executed since reset; CCOUNT is its low 32 bits plus `ccountOffset`.
    public var cycles: UInt64 = 0
    public var ccountOffset: UInt32 = 0
    /// The run loop leaves its fast path when `cycles` reaches this.
    public var nextEvent: UInt64 = 0
    public var stopCycle: UInt64 = 0
    public var timerDeadline: UInt64 = .max
    public var timerAt: (UInt64, UInt64, UInt64) = (.max, .max, .max)
    /// Cycles that passed without an instruction retiring (WAITI, idle fast-forward, failed fetches).
    public var idleCycles: UInt64 = 0
    /// Instructions retired since power-on (every retired instruction takes one cycle).
    public var instructions: UInt64 { cycles &- idleCycles }
    public var waiting: Bool = false
    /// Run CCOUNT busy-wait loops in one step (exactly equivalent). Set by `run`: off while
    /// execution hooks observe every instruction.
    public var spinSkipping: Bool = true
    /// How many busy-wait loops were run in one step (statistics).
    public var spinSkips: UInt64 = 0
    public var stopRequested: Bool = false
    /// Set by a slow-path memory access that raised an exception.
    public var faulted: Bool = false
    public var exitCode: Int32 = 0
    public var exited: Bool = false
    /// a0 of the current window in the register file (`XtensaCPU.file`): a0-a15 are the sixteen
    /// words from here. Set by `setWindowBase`.
    var window: UnsafeMutablePointer<UInt32> = unsetWindow
}

/// Where `CPUState.window` points until the CPU sets it.
private let unsetWindow = UnsafeMutablePointer<UInt32>.allocate(capacity: 16)

/// The physical address register file seen from outside the core (debugger, traces, reports).
public struct PhysicalRegisters {
    unowned(unsafe) let cpu: XtensaCPU
    public subscript(i: Int) -> UInt32 {
        get { cpu.physicalRegister(i) }
        nonmutating set { cpu.setPhysicalRegister(i, newValue) }
    }
}

public final class XtensaCPU {
    public let config: CoreConfig
    public let memory: MemoryMap
    /// The bus, unretained: its owner (the machine) outlives the core.
    public var bus: XtensaBus {
        get { busRef.takeUnretainedValue() }
        set { busRef = .passUnretained(newValue) }
    }
    var busRef: Unmanaged<XtensaBus>
    public let st: UnsafeMutablePointer<CPUState>
    /// The 64 physical address registers, rotated by `CPUState.fileRotation` panels so that the
    /// current window is sixteen consecutive words (see `setWindowBase`). Moving the window
    /// moves a pointer, not registers.
    let file: UnsafeMutablePointer<UInt32>
    /// The 64 physical address registers (ar0-ar63), whichever window holds them.
    public var phys: PhysicalRegisters { PhysicalRegisters(cpu: self) }
    /// Bytes written by semihosting SYS_write to fd 1/2.
    public var semihostingOutput: ((Int32, [UInt8]) -> Void)?
    /// Called once per unknown special register access etc. (diagnostics).
    public var diagnostic: ((String) -> Void)?
    // The memory map's tables, held directly so the hot loop touches no class reference.
    let rdTable: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    let rd32Table: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    let wrTable: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    let wr32Table: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    let decodedTable: UnsafeMutablePointer<UnsafeMutablePointer<Decoded>?>
    let softwareMask: UInt32
    /// Consecutive instruction fetches that raised an exception (to detect vector loops).
    var fetchFailures = 0
    /// Cycle count just after the last failed fetch (failures in consecutive cycles form a streak).
    var lastFetchFailure: UInt64 = .max
    let edgeMask: UInt32
    let levelMasks: [UInt32]    // index = level 0...7

    public init(config: CoreConfig, bus: XtensaBus, memory: MemoryMap = MemoryMap()) {
        self.config = config
        self.busRef = .passUnretained(bus)
        self.memory = memory
        rdTable = memory.rd
        rd32Table = memory.rd32
        wrTable = memory.wr
        wr32Table = memory.wr32
        decodedTable = memory.decoded
        st = UnsafeMutablePointer<CPUState>.allocate(capacity: 1)
        st.initialize(to: CPUState())
        memory.codeDropped = UnsafeMutableRawPointer(st).advanced(by: MemoryLayout<CPUState>.offset(of: \CPUState.nextEvent)!)
            .assumingMemoryBound(to: UInt64.self)
        file = UnsafeMutableRawPointer(st).assumingMemoryBound(to: UInt32.self)
        softwareMask = config.mask(of: .software)
        edgeMask = config.mask(of: .edge) | config.mask(of: .nmi)
        var lm = [UInt32](repeating: 0, count: 8)
        for i in 0..<32 { lm[Int(config.interruptLevels[i])] |= 1 << UInt32(i) }
        levelMasks = lm
        reset()
    }

    deinit {
        memory.codeDropped = nil
        st.deinitialize(count: 1)
        st.deallocate()
    }

    /// Power-on reset.
    public func reset() {
        // Cycles and retired instructions are statistics of the run: a reset keeps counting.
        let cycles = st.pointee.cycles, idle = st.pointee.idleCycles
        st.pointee = CPUState()
        st.pointee.cycles = cycles
        st.pointee.idleCycles = idle
        st.pointee.ccountOffset = UInt32(truncatingIfNeeded: 0 &- cycles)
        st.pointee.pc = config.resetVector
        st.pointee.vecbase = config.vecbaseReset
        st.pointee.window = file       // the registers were cleared with the state
        fatalReason = nil
        doubleExceptionRepeats = 0
        updateWindowCheck()
        scheduleTimers()
    }

    /// Set when the core cannot go on (a double-exception loop): `run` returns `.fatal` with it
    /// until a reset. Not while hooks observe the core: a debugger shows the loop as it is (the
    /// core spinning in the vector) and may change PC and go on.
    public private(set) var fatalReason: String?
    var doubleExceptionRepeats = 0
    /// Whether the current `run` reports instructions to hooks (a debugger or a tracer).
    var observed = false

    // MARK: - Registers

    public var pc: UInt32 {
        get { st.pointee.pc }
        set { st.pointee.pc = newValue }
    }

    /// Address register `i` (0...15) of the current window.
    @inline(__always) public func ar(_ i: Int) -> UInt32 { r(UInt8(i & 15)) }

    @inline(__always) public func setAR(_ i: Int, _ v: UInt32) { w(UInt8(i & 15), v) }

    /// Physical address register `i` (0...63).
    public func physicalRegister(_ i: Int) -> UInt32 { file[fileIndex(i)] }

    public func setPhysicalRegister(_ i: Int, _ v: UInt32) { file[fileIndex(i)] = v }

    /// Where physical register `i` is held in `file`.
    @inline(__always) func fileIndex(_ i: Int) -> Int {
        (i &- Int(st.pointee.fileRotation) &* 4) & 63
    }

    /// Moves the register window. Every change of WINDOWBASE goes through here. The window is
    /// sixteen consecutive words of `file` unless it would wrap past the file's end; then the
    /// file is rotated so that the window sits in its middle (six panels from the start), which
    /// leaves room for calls and returns on both sides before the next rotation. The run loop
    /// holds the window pointer in a host register (see `run`).
    @inline(__always) func setWindowBase(_ wb: UInt32) {
        let new = wb & 15
        st.pointee.windowBase = new
        var at = (new &- st.pointee.fileRotation) & 15
        if at > 12 {
            rotateFile(to: (new &- 6) & 15)
            at = 6
        }
        st.pointee.window = file + Int(at) &* 4
    }

    /// Rotates `file` so that it starts at physical panel `rotation`.
    @inline(never) func rotateFile(to rotation: UInt32) {
        let f = UnsafeMutableRawPointer(file)
        let shift = Int((st.pointee.fileRotation &- rotation) & 15)     // panels each moves up
        var copy = st.pointee.registerFile
        withUnsafeBytes(of: &copy) { old in
            for k in 0..<16 {
                f.storeBytes(of: old.loadUnaligned(fromByteOffset: k &* 16, as: SIMD4<UInt32>.self),
                             toByteOffset: ((k &+ shift) & 15) &* 16, as: SIMD4<UInt32>.self)
            }
        }
        st.pointee.fileRotation = rotation
    }

    /// Free panels above window `wb` when overflow checks are on (see `updateWindowCheck`).
    @inline(__always) func freePanelsAbove(_ wb: UInt32, _ ws: UInt32) -> UInt8 {
        let rotated = ((ws | ws &<< 16) &>> (wb &+ 1)) | 8
        return UInt8(truncatingIfNeeded: rotated.trailingZeroBitCount)
    }

    @inline(__always) func fr(_ i: UInt8) -> UInt32 {
        withUnsafeBytes(of: &st.pointee.f) { $0.load(fromByteOffset: Int(i) * 4, as: UInt32.self) }
    }

    @inline(__always) func setFR(_ i: UInt8, _ v: UInt32) {
        withUnsafeMutableBytes(of: &st.pointee.f) { $0.storeBytes(of: v, toByteOffset: Int(i) * 4, as: UInt32.self) }
    }

    public func floatRegister(_ i: Int) -> UInt32 { fr(UInt8(i)) }
    public func setFloatRegister(_ i: Int, _ v: UInt32) { setFR(UInt8(i), v) }

    @inline(__always) func tupleGet(_ t: UnsafeMutableRawPointer, _ i: Int) -> UInt32 {
        t.load(fromByteOffset: i * 4, as: UInt32.self)
    }

    public var ccount: UInt32 { UInt32(truncatingIfNeeded: st.pointee.cycles) &+ st.pointee.ccountOffset }

    // MARK: - Windows

    /// Recomputes how many panels above WINDOWBASE are free, after WB, WS or PS change.
    @inline(__always) func updateWindowCheck() {
        let s = st
        let ps = s.pointee.ps
        guard ps & (PS.woe | PS.excm) == PS.woe else { s.pointee.freePanels = 3; return }
        s.pointee.freePanels = freePanelsAbove(s.pointee.windowBase, s.pointee.windowStart)
    }

    @inline(__always) func wsBit(_ wb: UInt32) -> UInt32 { 1 &<< (wb & 15) }

    /// Raises the window overflow exception for an instruction at `pc` that named a register in a live frame.
    func windowOverflow(pc: UInt32) {
        let s = st
        let wb = s.pointee.windowBase
        let ws = s.pointee.windowStart
        let rot = (ws | ws << 16) >> (wb + 1)
        let n = UInt32(rot.trailingZeroBitCount) + 1
        s.pointee.ps = (s.pointee.ps & ~PS.owbMask) | (wb << PS.owbShift) | PS.excm
        s.pointee.epc.0 = pc
        setWindowBase(wb + n)
        let next = (rot >> n).trailingZeroBitCount
        let vec: UInt32 = next == 0 ? Vector.windowOverflow4 : next == 1 ? Vector.windowOverflow8 : Vector.windowOverflow12
        s.pointee.pc = s.pointee.vecbase &+ vec
        updateWindowCheck()
        requestEventCheck()
    }

    // MARK: - Exceptions

    /// Takes a general (level-1) exception for the instruction at `pc`.
    public func raise(_ cause: ExceptionCause, pc: UInt32, vaddr: UInt32? = nil) {
        let s = st
        if let v = vaddr { s.pointee.excvaddr = v }
        s.pointee.exccause = cause.rawValue
        if s.pointee.ps & PS.excm != 0 {
            // An exception in the double-exception vector itself comes back there for ever.
            if pc &- (s.pointee.vecbase &+ Vector.doubleException) < 0x40 {
                doubleExceptionRepeats += 1
                if doubleExceptionRepeats >= 2 && fatalReason == nil && !observed {
                    fatalReason = "double exception loop: \(cause.name) at 0x\(hex(pc, digits: 8)) in the double-exception vector (VECBASE 0x\(hex(s.pointee.vecbase, digits: 8)), EXCVADDR 0x\(hex(s.pointee.excvaddr, digits: 8)))"
                }
            } else {
                doubleExceptionRepeats = 0
            }
            s.pointee.depc = pc
            s.pointee.pc = s.pointee.vecbase &+ Vector.doubleException
        } else {
            s.pointee.epc.0 = pc
            let user = s.pointee.ps & PS.um != 0
            s.pointee.pc = s.pointee.vecbase &+ (user ? Vector.user : Vector.kernel)
        }
        s.pointee.ps |= PS.excm
        s.pointee.waiting = false
        updateWindowCheck()
        requestEventCheck()
    }

    /// Takes a debug exception (BREAK, BREAK.N, ...) if the current level allows it.
    func debugException(cause: UInt32, pc: UInt32) -> Bool {
        let s = st
        guard currentInterruptLevel() < config.debugLevel else { return false }
        s.pointee.debugcause = cause
        s.pointee.epc.5 = pc
        s.pointee.eps.5 = s.pointee.ps
        s.pointee.ps = (s.pointee.ps & ~PS.intlevelMask) | config.debugLevel | PS.excm
        s.pointee.pc = s.pointee.vecbase &+ Vector.debug
        updateWindowCheck()
        requestEventCheck()
        return true
    }

    @inline(__always) func currentInterruptLevel() -> UInt32 {
        let ps = st.pointee.ps
        let il = ps & PS.intlevelMask
        return ps & PS.excm != 0 ? max(il, config.excmLevel) : il
    }

    // MARK: - Interrupts and timers

    /// Makes the run loop look at interrupts and timers before the next instruction.
    @inline(__always) public func requestEventCheck() { st.pointee.nextEvent = 0 }

    /// Drives the level-triggered external interrupt lines (bit n = CPU interrupt n).
    public func setExternalInterruptLines(_ mask: UInt32) {
        st.pointee.externalLevels = mask
        requestEventCheck()
    }

    /// Raises an edge-triggered or software interrupt bit.
    public func raiseInterrupt(_ n: Int) {
        st.pointee.interrupt |= 1 << UInt32(n)
        requestEventCheck()
    }

    @inline(__always) var pendingInterrupts: UInt32 {
        (st.pointee.interrupt | st.pointee.externalLevels) & st.pointee.intenable
    }

    /// Takes the highest-priority pending interrupt if its level is above the current one.
    func checkInterrupts() -> Bool {
        let pending = pendingInterrupts
        guard pending != 0 else { return false }
        let cur = currentInterruptLevel()
        var level: UInt32 = 7
        while level > cur {
            if pending & levelMasks[Int(level)] != 0 { break }
            level -= 1
        }
        guard level > cur || (level == config.nmiLevel && pending & levelMasks[7] != 0 && cur < 7) else { return false }
        takeInterrupt(level: level)
        return true
    }

    func takeInterrupt(level: UInt32) {
        let s = st
        s.pointee.waiting = false
        if level == 1 {
            raise(.level1Interrupt, pc: s.pointee.pc)
            return
        }
        let pc = s.pointee.pc
        withUnsafeMutableBytes(of: &s.pointee.epc) { $0.storeBytes(of: pc, toByteOffset: Int(level - 1) * 4, as: UInt32.self) }
        let ps = s.pointee.ps
        withUnsafeMutableBytes(of: &s.pointee.eps) { $0.storeBytes(of: ps, toByteOffset: Int(level - 1) * 4, as: UInt32.self) }
        if level == config.nmiLevel { s.pointee.interrupt &= ~levelMasks[7] }
        s.pointee.ps = (ps & ~PS.intlevelMask) | level | PS.excm
        s.pointee.pc = s.pointee.vecbase &+ Vector.level(level)
        updateWindowCheck()
    }

    /// Recomputes when each CCOMPARE next matches CCOUNT (after CCOMPARE or CCOUNT writes).
    func scheduleTimers() {
        let s = st
        let now = s.pointee.cycles
        let cc = ccount
        for i in 0..<min(3, config.timerInterrupts.count) {
            let cmp = ccompareValue(i)
            var delta = UInt64(cmp &- cc)
            if delta == 0 { delta = 1 << 32 }
            setTimerAt(i, now &+ delta)
        }
        updateTimerDeadline()
    }

    @inline(__always) func ccompareValue(_ i: Int) -> UInt32 {
        withUnsafeBytes(of: &st.pointee.ccompare) { $0.load(fromByteOffset: i * 4, as: UInt32.self) }
    }

    @inline(__always) func timerAt(_ i: Int) -> UInt64 {
        withUnsafeBytes(of: &st.pointee.timerAt) { $0.load(fromByteOffset: i * 8, as: UInt64.self) }
    }

    @inline(__always) func setTimerAt(_ i: Int, _ v: UInt64) {
        withUnsafeMutableBytes(of: &st.pointee.timerAt) { $0.storeBytes(of: v, toByteOffset: i * 8, as: UInt64.self) }
    }

    func updateTimerDeadline() {
        var d = UInt64.max
        for i in 0..<min(3, config.timerInterrupts.count) { d = min(d, timerAt(i)) }
        st.pointee.timerDeadline = d
        requestEventCheck()
    }

    /// Sets the interrupt bit of every timer whose CCOMPARE match has been reached.
    func fireTimers() {
        let s = st
        let now = s.pointee.cycles
        guard now >= s.pointee.timerDeadline else { return }
        for i in 0..<min(3, config.timerInterrupts.count) where now >= timerAt(i) {
            s.pointee.interrupt |= 1 << UInt32(config.timerInterrupts[i])
            var t = timerAt(i)
            while t <= now { t &+= 1 << 32 }
            setTimerAt(i, t)
        }
        updateTimerDeadline()
    }

    /// Handles everything that is not an instruction: the stop budget, timers, interrupts, WAITI.
    /// Returns a stop reason when `run` must return.
    func handleEvents() -> StopReason? {
        let s = st
        if !memory.retired.isEmpty { memory.reclaimRetired() }
        while true {
            if let f = fatalReason { recomputeNextEvent(); return .fatal(f) }
            if s.pointee.stopRequested { s.pointee.stopRequested = false; recomputeNextEvent(); return .stopRequested }
            if s.pointee.exited { return .exit(s.pointee.exitCode) }
            fireTimers()
            _ = checkInterrupts()
            if s.pointee.waiting {
                // Fast-forward to the next timer match (or to the stop budget).
                let target = min(s.pointee.timerDeadline, s.pointee.stopCycle)
                if target == .max { recomputeNextEvent(); return .halted }
                if target > s.pointee.cycles {
                    s.pointee.idleCycles &+= target - s.pointee.cycles
                    s.pointee.cycles = target
                }
                if s.pointee.cycles >= s.pointee.stopCycle { recomputeNextEvent(); return .limit }
                continue
            }
            if s.pointee.cycles >= s.pointee.stopCycle { recomputeNextEvent(); return .limit }
            recomputeNextEvent()
            return nil
        }
    }

    @inline(__always) func recomputeNextEvent() {
        st.pointee.nextEvent = min(st.pointee.stopCycle, st.pointee.timerDeadline)
    }

    /// Lets `n` cycles pass on a core that is waiting in WAITI (the SoC skips idle time).
    public func advanceIdle(cycles n: UInt64) {
        st.pointee.cycles &+= n
        st.pointee.idleCycles &+= n
        requestEventCheck()
    }

    /// True while the core waits for an interrupt (WAITI).
    public var isWaiting: Bool { st.pointee.waiting }

    /// The cycle at which the next CCOMPARE timer fires (.max: none).
    public var nextTimerCycle: UInt64 { st.pointee.timerDeadline }

    public func requestStop() {
        st.pointee.stopRequested = true
        requestEventCheck()
    }

    // MARK: - Special registers

    /// RSR. Returns nil for a register this configuration does not have.
    func readSR(_ n: Int) -> UInt32? {
        let s = st
        switch n {
        case SR.lbeg: return s.pointee.lbeg
        case SR.lend: return s.pointee.lend
        case SR.lcount: return s.pointee.lcount
        case SR.sar: return s.pointee.sar
        case SR.br: return s.pointee.br
        case SR.scompare1: return s.pointee.scompare1
        case SR.acclo: return UInt32(truncatingIfNeeded: s.pointee.acc)
        case SR.acchi: return UInt32(bitPattern: Int32(truncatingIfNeeded: s.pointee.acc >> 32))
        case 32...35: return withUnsafeBytes(of: &s.pointee.m) { $0.load(fromByteOffset: (n - 32) * 4, as: UInt32.self) }
        case SR.windowbase: return s.pointee.windowBase
        case SR.windowstart: return s.pointee.windowStart
        case SR.ibreakenable: return s.pointee.ibreakenable
        case SR.memctl: return s.pointee.memctl
        case SR.atomctl: return s.pointee.atomctl
        case SR.ddr: return s.pointee.ddr
        case SR.ibreaka0: return s.pointee.ibreaka.0
        case SR.ibreaka1: return s.pointee.ibreaka.1
        case SR.dbreaka0: return s.pointee.dbreaka.0
        case SR.dbreaka1: return s.pointee.dbreaka.1
        case SR.dbreakc0: return s.pointee.dbreakc.0
        case SR.dbreakc1: return s.pointee.dbreakc.1
        case SR.configid0: return config.configID0
        case SR.configid1: return config.configID1
        case 177...183: return withUnsafeBytes(of: &s.pointee.epc) { $0.load(fromByteOffset: (n - 177) * 4, as: UInt32.self) }
        case SR.depc: return s.pointee.depc
        case 194...199: return withUnsafeBytes(of: &s.pointee.eps) { $0.load(fromByteOffset: (n - 193) * 4, as: UInt32.self) }
        case 209...215: return withUnsafeBytes(of: &s.pointee.excsave) { $0.load(fromByteOffset: (n - 209) * 4, as: UInt32.self) }
        case SR.cpenable: return s.pointee.cpenable
        case SR.interrupt: return s.pointee.interrupt | s.pointee.externalLevels
        case SR.intenable: return s.pointee.intenable
        case SR.ps: return s.pointee.ps
        case SR.vecbase: return s.pointee.vecbase
        case SR.exccause: return s.pointee.exccause
        case SR.debugcause: return s.pointee.debugcause
        case SR.ccount: return ccount
        case SR.prid: return config.prid
        case SR.icount: return s.pointee.icount
        case SR.icountlevel: return s.pointee.icountlevel
        case SR.excvaddr: return s.pointee.excvaddr
        case 240: return s.pointee.ccompare.0
        case 241: return s.pointee.ccompare.1
        case 242: return s.pointee.ccompare.2
        case 244: return s.pointee.misc.0
        case 245: return s.pointee.misc.1
        case 246: return s.pointee.misc.2
        case 247: return s.pointee.misc.3
        default: return nil
        }
    }

    /// WSR. Returns false for a register this configuration does not have (or that is read-only).
    func writeSR(_ n: Int, _ v: UInt32) -> Bool {
        let s = st
        switch n {
        case SR.lbeg: s.pointee.lbeg = v
        case SR.lend: s.pointee.lend = v
        case SR.lcount: s.pointee.lcount = v
        case SR.sar: s.pointee.sar = v & 0x3F
        case SR.br: s.pointee.br = v & 0xFFFF
        case SR.scompare1: s.pointee.scompare1 = v
        case SR.acclo: s.pointee.acc = (s.pointee.acc & ~0xFFFF_FFFF) | Int64(v)
        case SR.acchi: s.pointee.acc = (Int64(Int8(truncatingIfNeeded: v)) << 32) | (s.pointee.acc & 0xFFFF_FFFF)
        case 32...35: withUnsafeMutableBytes(of: &s.pointee.m) { $0.storeBytes(of: v, toByteOffset: (n - 32) * 4, as: UInt32.self) }
        case SR.windowbase: setWindowBase(v); updateWindowCheck(); requestEventCheck()
        case SR.windowstart: s.pointee.windowStart = v & 0xFFFF; updateWindowCheck(); requestEventCheck()
        case 89: break // MMID: trace only
        case SR.ibreakenable: s.pointee.ibreakenable = v & 3
        case SR.memctl: s.pointee.memctl = v & 1
        case SR.atomctl: s.pointee.atomctl = v & 0x3F
        case SR.ddr: s.pointee.ddr = v
        case SR.ibreaka0: s.pointee.ibreaka.0 = v
        case SR.ibreaka1: s.pointee.ibreaka.1 = v
        case SR.dbreaka0: s.pointee.dbreaka.0 = v
        case SR.dbreaka1: s.pointee.dbreaka.1 = v
        case SR.dbreakc0: s.pointee.dbreakc.0 = v & 0xC000_003F
        case SR.dbreakc1: s.pointee.dbreakc.1 = v & 0xC000_003F
        case SR.configid0: break
        case 177...183: withUnsafeMutableBytes(of: &s.pointee.epc) { $0.storeBytes(of: v, toByteOffset: (n - 177) * 4, as: UInt32.self) }
        case SR.depc: s.pointee.depc = v
        case 194...199: withUnsafeMutableBytes(of: &s.pointee.eps) { $0.storeBytes(of: v, toByteOffset: (n - 193) * 4, as: UInt32.self) }
        case 209...215: withUnsafeMutableBytes(of: &s.pointee.excsave) { $0.storeBytes(of: v, toByteOffset: (n - 209) * 4, as: UInt32.self) }
        case SR.cpenable: s.pointee.cpenable = v & 0xFF
        case SR.interrupt: s.pointee.interrupt |= v & softwareMask; requestEventCheck()
        case SR.intclear: s.pointee.interrupt &= ~(v & (softwareMask | edgeMask)); requestEventCheck()
        case SR.intenable: s.pointee.intenable = v; requestEventCheck()
        case SR.ps: s.pointee.ps = v & PS.writableMask; updateWindowCheck(); requestEventCheck()
        case SR.vecbase: s.pointee.vecbase = v & 0xFFFF_FC00
        case SR.exccause: s.pointee.exccause = v & 0x3F
        case SR.debugcause: s.pointee.debugcause = v
        case SR.ccount:
            s.pointee.ccountOffset = v &- UInt32(truncatingIfNeeded: s.pointee.cycles)
            scheduleTimers()
        case SR.icount: s.pointee.icount = v
        case SR.icountlevel: s.pointee.icountlevel = v & 15
        case SR.excvaddr: s.pointee.excvaddr = v
        case 240...242:
            withUnsafeMutableBytes(of: &s.pointee.ccompare) { $0.storeBytes(of: v, toByteOffset: (n - 240) * 4, as: UInt32.self) }
            s.pointee.interrupt &= ~(1 << UInt32(config.timerInterrupts[n - 240]))
            scheduleTimers()
        case 244: s.pointee.misc.0 = v
        case 245: s.pointee.misc.1 = v
        case 246: s.pointee.misc.2 = v
        case 247: s.pointee.misc.3 = v
        default: return false
        }
        return true
    }

    func readUR(_ n: Int) -> UInt32? {
        let s = st
        switch n {
        case 230: return s.pointee.expstate
        case UR.threadptr: return s.pointee.threadptr
        case UR.fcr: return s.pointee.fcr
        case UR.fsr: return s.pointee.fsr
        case 234: return s.pointee.f64r.0
        case 235: return s.pointee.f64r.1
        case 236: return s.pointee.f64r.2
        default: return nil
        }
    }

    func writeUR(_ n: Int, _ v: UInt32) -> Bool {
        let s = st
        switch n {
        case 230: s.pointee.expstate = v
        case UR.threadptr: s.pointee.threadptr = v
        case UR.fcr: s.pointee.fcr = v & 0x7F
        case UR.fsr: s.pointee.fsr = v & 0xF80
        case 234: s.pointee.f64r.0 = v
        case 235: s.pointee.f64r.1 = v
        case 236: s.pointee.f64r.2 = v
        default: return false
        }
        return true
    }

    /// Public access to special registers by number (debugger, tests).
    public func specialRegister(_ n: Int) -> UInt32? { readSR(n) }
    @discardableResult public func setSpecialRegister(_ n: Int, _ v: UInt32) -> Bool { writeSR(n, v) }
    public func userRegister(_ n: Int) -> UInt32? { readUR(n) }
    @discardableResult public func setUserRegister(_ n: Int, _ v: UInt32) -> Bool { writeUR(n, v) }

    // MARK: - Slow memory paths

    /// Region-protection check for data accesses (attribute per 512 MiB region).
    @inline(__always) func dataAccessAllowed(_ a: UInt32, write: Bool) -> Bool {
        let attr = (st.pointee.dtlbAttr >> ((a >> 29) * 4)) & 0xF
        switch attr {
        case 0, 1, 2, 4, 5, 14: return true
        case 3: return false
        default: return false
        }
    }

    @inline(never) func loadSlow(_ a: UInt32, size: Int, pc: UInt32) -> UInt32 {
        let s = st
        s.pointee.pc = pc       // the run loop does not keep the state's PC current (the bus reads it)
        let attrs = memory.attributes(of: a)
        if size < 4 && attrs.contains(.wordOnly) {
            raise(.loadStoreError, pc: pc, vaddr: a); s.pointee.faulted = true; return 0
        }
        if let p = memory.hostPointer(a), attrs.contains(.read) {
            if (Int(a) & (pageSize - 1)) + size <= pageSize {
                switch size {
                case 1: return UInt32(p.load(as: UInt8.self))
                case 2: return UInt32(p.loadUnaligned(as: UInt16.self))
                default: return p.loadUnaligned(as: UInt32.self)
                }
            }
            // Access across a page boundary: byte by byte.
            var v: UInt32 = 0
            for i in 0..<size {
                let b = loadSlow(a &+ UInt32(i), size: 1, pc: pc)
                if s.pointee.faulted { return 0 }
                v |= b << (8 * UInt32(i))
            }
            return v
        }
        if !dataAccessAllowed(a, write: false) {
            raise(.loadProhibited, pc: pc, vaddr: a); s.pointee.faulted = true; return 0
        }
        if let v = busRef._withUnsafeGuaranteedRef({ $0.read(a, size: size, cpu: self) }) { return v }
        raise(.loadStoreError, pc: pc, vaddr: a); s.pointee.faulted = true
        return 0
    }

    @inline(never) func storeSlow(_ a: UInt32, size: Int, value: UInt32, pc: UInt32) {
        let s = st
        s.pointee.pc = pc       // the run loop does not keep the state's PC current (the bus reads it)
        let attrs = memory.attributes(of: a)
        if size < 4 && attrs.contains(.wordOnly) {
            raise(.loadStoreError, pc: pc, vaddr: a); s.pointee.faulted = true; return
        }
        if let p = memory.hostPointer(a), attrs.contains(.write) {
            if (Int(a) & (pageSize - 1)) + size > pageSize {
                for i in 0..<size {
                    storeSlow(a &+ UInt32(i), size: 1, value: value >> (8 * UInt32(i)), pc: pc)
                    if s.pointee.faulted { return }
                }
                return
            }
            if memory.decoded[Int(a >> pageShift)] != nil || memory.aliasHasCode(Int(a >> pageShift)) {
                memory.invalidateCode(at: a)
            }
            switch size {
            case 1: p.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
            case 2: p.storeBytes(of: UInt16(truncatingIfNeeded: value), as: UInt16.self)
            default: p.storeBytes(of: value, as: UInt32.self)
            }
            return
        }
        if memory.hostPointer(a) != nil {
            // Mapped read-only (ROM, flash cache): writes are ignored, as on the bus.
            return
        }
        if !dataAccessAllowed(a, write: true) {
            raise(.storeProhibited, pc: pc, vaddr: a); s.pointee.faulted = true; return
        }
        if !busRef._withUnsafeGuaranteedRef({ $0.write(a, size: size, value: value, cpu: self) }) {
            raise(.loadStoreError, pc: pc, vaddr: a); s.pointee.faulted = true
        }
    }

    /// Reads guest memory for tools (debugger, tests): fast map first, then the bus. No exceptions.
    public func peek(_ a: UInt32, size: Int) -> UInt32? {
        if let p = memory.hostPointer(a) {
            switch size {
            case 1: return UInt32(p.load(as: UInt8.self))
            case 2: return UInt32(p.loadUnaligned(as: UInt16.self))
            default: return p.loadUnaligned(as: UInt32.self)
            }
        }
        return bus.read(a, size: size, cpu: self)
    }

    /// Writes guest memory for tools; invalidates predecoded code.
    public func poke(_ a: UInt32, size: Int, value: UInt32) {
        if let p = memory.hostPointer(a) {
            memory.invalidateCode(at: a)
            switch size {
            case 1: p.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
            case 2: p.storeBytes(of: UInt16(truncatingIfNeeded: value), toByteOffset: 0, as: UInt16.self)
            default: p.storeBytes(of: value, toByteOffset: 0, as: UInt32.self)
            }
            return
        }
        _ = bus.write(a, size: size, value: value, cpu: self)
    }

    /// Fetches instruction bytes for the decoder; nil if the address cannot be fetched.
    func fetchWord(_ pc: UInt32) -> (UInt32, Int)? {
        guard let b0 = fetchByte(pc) else { return nil }
        let len = instructionLength(firstByte: b0)
        guard let b1 = fetchByte(pc &+ 1) else { return nil }
        var w = UInt32(b0) | UInt32(b1) << 8
        if len == 3 {
            guard let b2 = fetchByte(pc &+ 2) else { return nil }
            w |= UInt32(b2) << 16
        }
        return (w, len)
    }

    func fetchByte(_ a: UInt32) -> UInt8? {
        let attrs = memory.attributes(of: a)
        guard attrs.contains(.execute), let p = memory.hostPointer(a) else { return nil }
        return p.load(as: UInt8.self)
    }
}

// The interpreter: fetch a predecoded instruction, switch on its operation.
//
// The loop allocates nothing, calls no existentials or closures, and throws
// nothing. Everything unusual (timers, interrupts, the cycle budget) is
// folded into one comparison against `nextEvent` per straight-line block (Blocks.swift).

extension XtensaCPU {
    // Register operands are 4-bit fields (0...15) of the current window. Out of the run loop
    // the window pointer is read from the state; the loop keeps it in a host register (`Window`).
    @inline(__always) func r(_ i: UInt8) -> UInt32 { Window(st.pointee.window).r(i) }

    @inline(__always) func w(_ i: UInt8, _ v: UInt32) { Window(st.pointee.window).w(i, v) }

    // Loads and stores: the direct page-table path, or the slow path (MMIO, unmapped, word-only
    // memory, code pages, page-crossing accesses). The slow path ends the run of instructions
    // after this one (`n = 1`): the access may have raised an interrupt or dropped code. A nil
    // or false result means the access raised an exception (PC is at the vector).

    @inline(__always) func load8(_ a: UInt32, _ pc: UInt32, _ n: inout Int) -> UInt32? {
        if let p = rdTable[Int(a >> pageShift)] { return UInt32(p.load(fromByteOffset: Int(a & 0xFFF), as: UInt8.self)) }
        return loadChecked(a, size: 1, pc: pc, &n)
    }

    @inline(__always) func load16(_ a: UInt32, _ pc: UInt32, _ n: inout Int) -> UInt32? {
        if a & 0xFFF != 0xFFF, let p = rdTable[Int(a >> pageShift)] {
            return UInt32(p.loadUnaligned(fromByteOffset: Int(a & 0xFFF), as: UInt16.self))
        }
        return loadChecked(a, size: 2, pc: pc, &n)
    }

    @inline(__always) func load32(_ a: UInt32, _ pc: UInt32, _ n: inout Int) -> UInt32? {
        if a & 0xFFF <= 0xFFC, let p = rd32Table[Int(a >> pageShift)] {
            return p.loadUnaligned(fromByteOffset: Int(a & 0xFFF), as: UInt32.self)
        }
        return loadChecked(a, size: 4, pc: pc, &n)
    }

    @inline(__always) func loadChecked(_ a: UInt32, size: Int, pc: UInt32, _ n: inout Int) -> UInt32? {
        n = 1
        let v = loadSlow(a, size: size, pc: pc)
        if st.pointee.faulted { st.pointee.faulted = false; return nil }
        return v
    }

    @inline(__always) func store8(_ a: UInt32, _ v: UInt32, _ pc: UInt32, _ n: inout Int) -> Bool {
        if let p = wrTable[Int(a >> pageShift)] {
            p.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: Int(a & 0xFFF), as: UInt8.self)
            return true
        }
        return storeChecked(a, size: 1, value: v, pc: pc, &n)
    }

    @inline(__always) func store16(_ a: UInt32, _ v: UInt32, _ pc: UInt32, _ n: inout Int) -> Bool {
        if a & 0xFFF != 0xFFF, let p = wrTable[Int(a >> pageShift)] {
            p.storeBytes(of: UInt16(truncatingIfNeeded: v), toByteOffset: Int(a & 0xFFF), as: UInt16.self)
            return true
        }
        return storeChecked(a, size: 2, value: v, pc: pc, &n)
    }

    @inline(__always) func store32(_ a: UInt32, _ v: UInt32, _ pc: UInt32, _ n: inout Int) -> Bool {
        if a & 0xFFF <= 0xFFC, let p = wr32Table[Int(a >> pageShift)] {
            p.storeBytes(of: v, toByteOffset: Int(a & 0xFFF), as: UInt32.self)
            return true
        }
        return storeChecked(a, size: 4, value: v, pc: pc, &n)
    }

    @inline(__always) func storeChecked(_ a: UInt32, size: Int, value v: UInt32, pc: UInt32, _ n: inout Int) -> Bool {
        n = 1
        storeSlow(a, size: size, value: v, pc: pc)
        if st.pointee.faulted { st.pointee.faulted = false; return false }
        return true
    }

    /// Returns the predecoded slot for `pc`, decoding it if needed; nil (after raising the
    /// fetch exception) if the address cannot be fetched.
    @inline(__always) func fetch(_ pc: UInt32) -> UnsafeMutablePointer<Decoded>? {
        let page = Int(pc >> pageShift)
        if let d = decodedTable[page] {
            let e = d + Int(pc & 0xFFF)
            if e.pointee.length != 0 { return e }
        }
        return fetchSlow(pc)
    }

    @inline(never) func fetchSlow(_ pc: UInt32) -> UnsafeMutablePointer<Decoded>? {
        let page = Int(pc >> pageShift)
        guard MemoryAttributes(rawValue: memory.attrs[page]).contains(.execute), memory.host[page] != nil,
              let (word, len) = fetchWord(pc) else {
            let attr = (st.pointee.itlbAttr >> ((pc >> 29) * 4)) & 0xF
            raise(attr == 15 ? .instFetchProhibited : .instructionFetchError, pc: pc, vaddr: pc)
            return nil
        }
        let d = memory.decodePage(page) + Int(pc & 0xFFF)
        d.pointee = Decoder.decode(word, length: len, pc: pc)
        return d
    }

    /// Runs until `cycles` more cycles have passed or something stops the core.
    public func run(cycles budget: UInt64) -> StopReason {
        var hooks = NoHooks()
        return run(cycles: budget, hooks: &hooks)
    }

    /// The interpreter loop, specialised for each hooks type: with `NoHooks` every hook call
    /// compiles to nothing, so tracing and debugging cost the normal loop nothing.
    @inline(__always)
    public func run<H: ExecutionHooks>(cycles budget: UInt64, hooks: inout H) -> StopReason {
        let s = st
        s.pointee.stopCycle = s.pointee.cycles &+ budget
        if s.pointee.stopCycle < s.pointee.cycles { s.pointee.stopCycle = .max }
        recomputeNextEvent()
        if s.pointee.waiting || s.pointee.stopRequested { requestEventCheck() }
        // Observers see every iteration of a busy-wait; the plain loop runs them in one step.
        s.pointee.spinSkipping = !H.active
        observed = H.active
        // The predecoded slot of the next instruction when it is already known: the slot after
        // a sequential instruction, a branch target in the same page, or a jump target the
        // jump-target cache holds. Decode pages carry empty slots past their end, so running off
        // a page falls back to a full fetch. Anything that drops a decode page or changes what
        // runs next (exceptions, interrupts, timers) goes through the event check, which
        // forgets it.
        let unknown = Decoded.unknownSlot
        var next = unknown
        let targets = memory
        // PC of the instruction about to run, kept in a register; every path that lets
        // something else change the state's PC reads it back. The state's PC is written only
        // where something may read it: before the event check, by the memory slow paths (the
        // bus reports accesses with it), by instructions that set it, and for hooks.
        var pc = s.pointee.pc
        // The current window. ENTRY and RETW move it in place; everything else that moves the
        // window (WSR, ROTW, RFWO/RFWU, overflow, underflow) sets PC or requests the event
        // check, and both paths reload it.
        var R = Window(s.pointee.window)
        // The cycle count, kept in a host register and stored (not read back) before each
        // instruction: an increment in memory would make every instruction wait for the last
        // one's store. Only the state path (exceptions, CCOUNT busy-wait skips) reloads it.
        var cyc = s.pointee.cycles
        // The block threshold (`blockNeed`, 4 - free panels): a block whose `blockGate` reaches
        // it names no register of a live frame. Reloaded with `cyc` (every change of WINDOWSTART,
        // PS or WINDOWBASE sets PC or requests the event check; ENTRY and RETW update it in place).
        var need = blockNeed(s)
        if s.pointee.lend != s.pointee.blockLoopEnd { loopEndMoved() }
        while true {
            var dp = next
            // Instructions left in this run: a whole block, or one on the checked path.
            var n: Int
            // The hint keeps the checked path out of line: it decides the host's block layout
            // and register allocation.
            if !H.active, _fastPath(dp.pointee.blockGate >= need
                                    && cyc &+ UInt64(dp.pointee.blockCount) <= s.pointee.nextEvent) {
                n = Int(dp.pointee.blockCount)
            } else {
                // The checked path, one instruction: events, fetch, block forming, hooks, window
                // overflow. With hooks every instruction comes here (`next` is always unknown).
                if cyc >= s.pointee.nextEvent {
                    s.pointee.pc = pc
                    if let reason = handleEvents() { return reason }
                    next = unknown
                    pc = s.pointee.pc
                    R = Window(s.pointee.window)
                    cyc = s.pointee.cycles
                    need = blockNeed(s)
                    dp = unknown
                }
                if dp.pointee.length == 0 {
                    guard let f = fetch(pc) else {
                        // The fetch raised an exception and PC is now its vector. A vector that
                        // cannot be fetched either would loop forever: stop with a report instead.
                        // Consecutive failures (one cycle each) mean the vector itself is unreachable.
                        next = unknown
                        fetchFailures = s.pointee.cycles == lastFetchFailure ? fetchFailures + 1 : 1
                        s.pointee.cycles &+= 1
                        s.pointee.idleCycles &+= 1
                        lastFetchFailure = s.pointee.cycles
                        if fetchFailures > 4 {
                            fetchFailures = 0
                            return .fatal("cannot fetch instructions at \(hex(pc, digits: 8)) (exception vector unreachable; VECBASE \(hex(s.pointee.vecbase, digits: 8)))")
                        }
                        pc = s.pointee.pc
                        R = Window(s.pointee.window)
                        cyc = s.pointee.cycles
                        need = blockNeed(s)
                        continue
                    }
                    dp = f
                    if !H.active { memory.rememberTarget(pc, f) }
                    // A formed block runs as one from the top.
                    if !H.active && f.pointee.blockGate != 0 { next = f; continue }
                }
                if !H.active && dp.pointee.blockGate == 0 {
                    // First time here as a block head: form the block and take the top again.
                    formBlock(dp, pc: pc)
                    next = dp
                    continue
                }
                if H.active {
                    if let stop = hooks.before(self, pc: pc, decoded: dp.pointee) { return stop }
                    R = Window(s.pointee.window)
                    cyc = s.pointee.cycles
                    need = blockNeed(s)
                }
                if dp.pointee.panel > s.pointee.freePanels {
                    windowOverflow(pc: pc)
                    next = unknown
                    if H.active { hooks.after(self, pc: pc, decoded: dp.pointee, completed: false) }
                    pc = s.pointee.pc
                    R = Window(s.pointee.window)
                    need = blockNeed(s)
                    continue
                }
                n = 1
            }
            // The instruction the hooks report (with hooks a run is one instruction).
            let hookPC = pc, hookSlot = dp
            // Inside the run the PC is not kept: slots are one per byte of code, so an
            // instruction's PC is `k` plus its slot's address / 16 (`execute` works it out where
            // an instruction uses it).
            let k = UInt(pc) &- (UInt(bitPattern: dp) &>> 4)
            // Fields are read in place; a decode page dropped by a store during this instruction
            // stays allocated until the next event check (MemoryMap.reclaimRetired).
            var jump: UInt32 = 0
            var flow: Int
            repeat {
                cyc &+= 1
                s.pointee.cycles = cyc
                flow = execute(DecodedRef(p: dp), k: k, s, &R, &jump, &need, &n)
                assert(flow <= 0 || flow == Int(dp.pointee.length))
                // Sequential: the length is a constant of the case that ran.
                if flow == 3 {
                    dp += 3
                } else if flow == 2 {
                    dp += 2
                } else if flow == Flow.target, !H.active {
                    // A taken branch to a fixed target in the same page goes on in the run when
                    // the target's block passes the block check (`k` holds in the whole page).
                    let delta = dp.pointee.jumpDelta
                    if delta == Decoded.farJump { break }
                    let t = dp + Int(delta)
                    guard t.pointee.blockGate >= need,
                          cyc &+ UInt64(t.pointee.blockCount) <= s.pointee.nextEvent else { break }
                    dp = t
                    n = Int(t.pointee.blockCount)
                    continue
                } else {
                    break
                }
                n &-= 1
            } while n != 0
            if !H.active, flow == Flow.target, dp.pointee.jumpDelta == Decoded.farJump {
                // Calls and returns (and any jump without a fixed same-page target): the slot
                // comes from the jump-target cache; one it does not hold is fetched.
                next = targets.target(jump)
                pc = jump
                continue
            }
            pc = UInt32(truncatingIfNeeded: k &+ (UInt(bitPattern: dp) &>> 4))
            var following: UInt32
            if flow > 0 {
                // Fell through the last instruction of the run; zero-overhead loop back-edge.
                next = dp
                following = pc
                if pc == s.pointee.lend, s.pointee.lcount != 0, s.pointee.ps & PS.excm == 0 {
                    s.pointee.lcount &-= 1
                    let target = s.pointee.lbeg
                    s.pointee.pc = target
                    // Page arithmetic from the instruction that ran (`pc` may be in the next page).
                    let lastPC = pc &- UInt32(truncatingIfNeeded: flow), lastSlot = dp - flow
                    next = (target ^ lastPC) >> pageShift == 0 ? lastSlot - Int(lastPC & 0xFFF) + Int(target & 0xFFF) : unknown
                    following = target
                }
                if H.active { s.pointee.pc = following }
            } else if flow < 0 {
                // A taken branch or jump: the target comes in a register, not through the state.
                if H.active { s.pointee.pc = jump }
                // Fixed targets in the same page have their slot distance in the slot.
                let delta = dp.pointee.jumpDelta
                assert(delta == Decoded.farJump || pc &+ UInt32(bitPattern: Int32(delta)) == jump)
                if delta != Decoded.farJump {
                    next = dp + Int(delta)
                } else {
                    next = (jump ^ pc) >> pageShift == 0 ? dp - Int(pc & 0xFFF) + Int(jump & 0xFFF) : targets.target(jump)
                }
                following = jump
            } else {
                let target = s.pointee.pc
                next = (target ^ pc) >> pageShift == 0 ? dp - Int(pc & 0xFFF) + Int(target & 0xFFF) : targets.target(target)
                following = target
                cyc = s.pointee.cycles
                need = blockNeed(s)
            }
            if H.active {
                hooks.after(self, pc: hookPC, decoded: hookSlot.pointee, completed: flow > 0)
                next = unknown
                pc = s.pointee.pc
                R = Window(s.pointee.window)
                cyc = s.pointee.cycles
                need = blockNeed(s)
            } else {
                pc = following
            }
        }
    }

    /// Executes one instruction at `pc`. Returns its length (2 or 3, a constant in each case, so
    /// that the loop finds the next slot without waiting for a load) when execution falls through
    /// to the next instruction; `Flow.target` for a taken branch or jump, whose target is then
    /// in `target`; `Flow.state` when the instruction set the state's PC (exceptions, returns
    /// from them, loops not entered).
    // Transparent: an always-inline function is not inlined into a caller as large as `run`.
    @_transparent
    func execute(_ d: DecodedRef, k: UInt, _ s: UnsafeMutablePointer<CPUState>, _ R: inout Window,
                 _ target: inout UInt32, _ need: inout UInt8, _ n: inout Int) -> Int {
        // Worked out only by the instructions that use it.
        var pc: UInt32 { UInt32(truncatingIfNeeded: k &+ (UInt(bitPattern: d.p) &>> 4)) }
        switch d.op {
        // MARK: ALU
        case .add: R.w(d.a, R.r(d.b) &+ R.r(d.c))
        case .addn: R.w(d.a, R.r(d.b) &+ R.r(d.c)); return 2
        case .addx2: R.w(d.a, (R.r(d.b) << 1) &+ R.r(d.c))
        case .addx4: R.w(d.a, (R.r(d.b) << 2) &+ R.r(d.c))
        case .addx8: R.w(d.a, (R.r(d.b) << 3) &+ R.r(d.c))
        case .sub: R.w(d.a, R.r(d.b) &- R.r(d.c))
        case .subx2: R.w(d.a, (R.r(d.b) << 1) &- R.r(d.c))
        case .subx4: R.w(d.a, (R.r(d.b) << 2) &- R.r(d.c))
        case .subx8: R.w(d.a, (R.r(d.b) << 3) &- R.r(d.c))
        case .and: R.w(d.a, R.r(d.b) & R.r(d.c))
        case .or: R.w(d.a, R.r(d.b) | R.r(d.c))
        case .xor: R.w(d.a, R.r(d.b) ^ R.r(d.c))
        case .neg: R.w(d.a, 0 &- R.r(d.b))
        case .abs:
            let v = Int32(bitPattern: R.r(d.b))
            R.w(d.a, v < 0 ? UInt32(bitPattern: 0 &- v) : UInt32(bitPattern: v))
        case .addi, .addmi: R.w(d.a, R.r(d.b) &+ UInt32(bitPattern: d.imm))
        case .addin: R.w(d.a, R.r(d.b) &+ UInt32(bitPattern: d.imm)); return 2
        case .movi: R.w(d.a, UInt32(bitPattern: d.imm))
        case .movin: R.w(d.a, UInt32(bitPattern: d.imm)); return 2
        case .movn: R.w(d.a, R.r(d.b)); return 2
        case .extui:
            let mask: UInt32 = d.imm2 >= 32 ? 0xFFFF_FFFF : (1 << UInt32(d.imm2)) &- 1
            R.w(d.a, (R.r(d.b) >> UInt32(d.imm)) & mask)
        case .slli: R.w(d.a, d.imm >= 32 ? 0 : R.r(d.b) << UInt32(d.imm))
        case .srai: R.w(d.a, UInt32(bitPattern: Int32(bitPattern: R.r(d.b)) >> Int32(d.imm)))
        case .srli: R.w(d.a, R.r(d.b) >> UInt32(d.imm))
        case .src:
            let v = (UInt64(R.r(d.b)) << 32) | UInt64(R.r(d.c))
            R.w(d.a, UInt32(truncatingIfNeeded: v >> UInt64(s.pointee.sar & 63)))
        case .srl: R.w(d.a, UInt32(truncatingIfNeeded: UInt64(R.r(d.b)) >> UInt64(s.pointee.sar & 63)))
        case .sll: R.w(d.a, UInt32(truncatingIfNeeded: (UInt64(R.r(d.b)) << 32) >> UInt64(s.pointee.sar & 63)))
        case .sra:
            let v = Int64(Int32(bitPattern: R.r(d.b)))
            R.w(d.a, UInt32(truncatingIfNeeded: v >> Int64(min(s.pointee.sar & 63, 63))))
        case .ssr: s.pointee.sar = R.r(d.a) & 31
        case .ssl: s.pointee.sar = 32 - (R.r(d.a) & 31)
        case .ssa8l: s.pointee.sar = (R.r(d.a) & 3) << 3
        case .ssa8b: s.pointee.sar = 32 - ((R.r(d.a) & 3) << 3)
        case .ssai: s.pointee.sar = UInt32(d.imm)
        case .nsa:
            let v = R.r(d.b)
            let x = Int32(bitPattern: v) < 0 ? ~v : v
            R.w(d.a, x == 0 ? 31 : UInt32(x.leadingZeroBitCount - 1))
        case .nsau: R.w(d.a, UInt32(R.r(d.b).leadingZeroBitCount))
        case .min: R.w(d.a, UInt32(bitPattern: Swift.min(Int32(bitPattern: R.r(d.b)), Int32(bitPattern: R.r(d.c)))))
        case .max: R.w(d.a, UInt32(bitPattern: Swift.max(Int32(bitPattern: R.r(d.b)), Int32(bitPattern: R.r(d.c)))))
        case .minu: R.w(d.a, Swift.min(R.r(d.b), R.r(d.c)))
        case .maxu: R.w(d.a, Swift.max(R.r(d.b), R.r(d.c)))
        case .sext:
            let sh = 31 - UInt32(d.imm)
            R.w(d.a, UInt32(bitPattern: Int32(bitPattern: R.r(d.b) << sh) >> Int32(sh)))
        case .clamps:
            let v = Int32(bitPattern: R.r(d.b))
            let hi = Int32(1) << Int32(d.imm) - 1
            let lo = -hi - 1
            R.w(d.a, UInt32(bitPattern: v < lo ? lo : v > hi ? hi : v))
        case .moveqz: if R.r(d.c) == 0 { R.w(d.a, R.r(d.b)) }
        case .movnez: if R.r(d.c) != 0 { R.w(d.a, R.r(d.b)) }
        case .movltz: if Int32(bitPattern: R.r(d.c)) < 0 { R.w(d.a, R.r(d.b)) }
        case .movgez: if Int32(bitPattern: R.r(d.c)) >= 0 { R.w(d.a, R.r(d.b)) }
        case .movf: if s.pointee.br & (1 << UInt32(d.c)) == 0 { R.w(d.a, R.r(d.b)) }
        case .movt: if s.pointee.br & (1 << UInt32(d.c)) != 0 { R.w(d.a, R.r(d.b)) }
        case .mul16u: R.w(d.a, (R.r(d.b) & 0xFFFF) &* (R.r(d.c) & 0xFFFF))
        case .mul16s:
            R.w(d.a, UInt32(bitPattern: Int32(Int16(truncatingIfNeeded: R.r(d.b))) &* Int32(Int16(truncatingIfNeeded: R.r(d.c)))))
        case .mull: R.w(d.a, R.r(d.b) &* R.r(d.c))
        case .muluh: R.w(d.a, UInt32((UInt64(R.r(d.b)) &* UInt64(R.r(d.c))) >> 32))
        case .mulsh:
            let p = Int64(Int32(bitPattern: R.r(d.b))) &* Int64(Int32(bitPattern: R.r(d.c)))
            R.w(d.a, UInt32(truncatingIfNeeded: p >> 32))
        case .quou, .quos, .remu, .rems:
            let b = R.r(d.c)
            if b == 0 { raise(.integerDivideByZero, pc: pc); return Flow.state }
            let a = R.r(d.b)
            switch d.op {
            case .quou: R.w(d.a, a / b)
            case .remu: R.w(d.a, a % b)
            case .quos:
                let (sa, sb) = (Int32(bitPattern: a), Int32(bitPattern: b))
                R.w(d.a, sa == .min && sb == -1 ? a : UInt32(bitPattern: sa / sb))
            default:
                let (sa, sb) = (Int32(bitPattern: a), Int32(bitPattern: b))
                R.w(d.a, sa == .min && sb == -1 ? 0 : UInt32(bitPattern: sa % sb))
            }

        // MARK: Loads and stores
        case .l8ui:
            guard let v = load8(R.r(d.b) &+ UInt32(bitPattern: d.imm), pc, &n) else { return Flow.state }
            R.w(d.a, v)
        case .l16ui:
            guard let v = load16(R.r(d.b) &+ UInt32(bitPattern: d.imm), pc, &n) else { return Flow.state }
            R.w(d.a, v)
        case .l16si:
            guard let v = load16(R.r(d.b) &+ UInt32(bitPattern: d.imm), pc, &n) else { return Flow.state }
            R.w(d.a, UInt32(bitPattern: Int32(Int16(truncatingIfNeeded: v))))
        case .l32i, .l32ai, .l32e:
            guard let v = load32(R.r(d.b) &+ UInt32(bitPattern: d.imm), pc, &n) else { return Flow.state }
            R.w(d.a, v)
        case .l32in:
            guard let v = load32(R.r(d.b) &+ UInt32(bitPattern: d.imm), pc, &n) else { return Flow.state }
            R.w(d.a, v)
            return 2
        case .l32r:
            guard let v = load32(UInt32(bitPattern: d.imm), pc, &n) else { return Flow.state }
            R.w(d.a, v)
        case .s8i:
            if !store8(R.r(d.b) &+ UInt32(bitPattern: d.imm), R.r(d.a), pc, &n) { return Flow.state }
        case .s16i:
            if !store16(R.r(d.b) &+ UInt32(bitPattern: d.imm), R.r(d.a), pc, &n) { return Flow.state }
        case .s32i, .s32ri, .s32e:
            if !store32(R.r(d.b) &+ UInt32(bitPattern: d.imm), R.r(d.a), pc, &n) { return Flow.state }
        case .s32in:
            if !store32(R.r(d.b) &+ UInt32(bitPattern: d.imm), R.r(d.a), pc, &n) { return Flow.state }
            return 2
        case .s32c1i:
            let a = R.r(d.b) &+ UInt32(bitPattern: d.imm)
            if s.pointee.atomctl & 3 == 0 {
                raise(.loadStoreError, pc: pc, vaddr: a); return Flow.state
            }
            guard let old = load32(a, pc, &n) else { return Flow.state }
            if old == s.pointee.scompare1, !store32(a, R.r(d.a), pc, &n) { return Flow.state }
            R.w(d.a, old)

        // MARK: Jumps and calls
        case .j: target = UInt32(bitPattern: d.imm); return Flow.target
        case .jx: target = R.r(d.a); return Flow.target
        case .call0:
            R.w(0, pc &+ 3); target = UInt32(bitPattern: d.imm); return Flow.target
        case .callx0:
            target = R.r(d.a); R.w(0, pc &+ 3); return Flow.target
        case .call4, .call8, .call12:
            let n: UInt32 = d.op == .call4 ? 1 : d.op == .call8 ? 2 : 3
            R.w(UInt8(n * 4), (n << 30) | ((pc &+ 3) & 0x3FFF_FFFF))
            s.pointee.ps = (s.pointee.ps & ~PS.callincMask) | (n << PS.callincShift)
            target = UInt32(bitPattern: d.imm)
            return Flow.target
        case .callx4, .callx8, .callx12:
            let n: UInt32 = d.op == .callx4 ? 1 : d.op == .callx8 ? 2 : 3
            let t = R.r(d.a)
            R.w(UInt8(n * 4), (n << 30) | ((pc &+ 3) & 0x3FFF_FFFF))
            s.pointee.ps = (s.pointee.ps & ~PS.callincMask) | (n << PS.callincShift)
            target = t
            return Flow.target
        case .ret, .retn: target = R.r(0); return Flow.target
        case .retw, .retwn:
            // Returns to a live frame here; an illegal RETW or an underflow in retwException.
            let a0 = R.r(0)
            let n = a0 &>> 30
            let wb = s.pointee.windowBase, ws = s.pointee.windowStart
            let newWB = (wb &- n) & 15
            if n != 0, s.pointee.ps & (PS.woe | PS.excm) == PS.woe, ws & 1 &<< newWB != 0 {
                moveWindow(to: newWB, windowStart: ws & ~(1 &<< wb), s, &R, &need)
                target = (pc & 0xC000_0000) | (a0 & 0x3FFF_FFFF)
                return Flow.target
            }
            retwException(pc: pc, a0: a0)
            R = Window(s.pointee.window)
            return Flow.state
        case .entry:
            // Opens the callee's frame here when there is room (the callee needs `callinc` free
            // panels above the window; with WOE set and EXCM clear `freePanels` counts them, up
            // to 3); an illegal ENTRY or a window overflow in entryException.
            let ps = s.pointee.ps
            let callinc = (ps & PS.callincMask) &>> PS.callincShift
            if d.a <= 3, ps & (PS.woe | PS.excm) == PS.woe, callinc <= UInt32(s.pointee.freePanels) {
                R.w(UInt8(truncatingIfNeeded: callinc &<< 2) | d.a, R.r(d.a) &- UInt32(bitPattern: d.imm))
                let newWB = (s.pointee.windowBase &+ callinc) & 15
                moveWindow(to: newWB, windowStart: s.pointee.windowStart | 1 &<< newWB, s, &R, &need)
                // The rest of the block was checked against the caller's window: it goes on
                // only if its own gate fits the callee's.
                if (d.p + 3).pointee.blockGate < need { n = 1 }
                return 3
            }
            entryException(d, pc: pc)
            R = Window(s.pointee.window)
            return Flow.state
        case .movsp:
            let wb = s.pointee.windowBase, ws = s.pointee.windowStart
            if ws & (wsBit(wb &- 1) | wsBit(wb &- 2) | wsBit(wb &- 3)) == 0 {
                raise(.alloca, pc: pc); return Flow.state
            }
            R.w(d.a, R.r(d.b))
        case .rotw:
            setWindowBase(UInt32(bitPattern: Int32(bitPattern: s.pointee.windowBase) &+ d.imm))
            updateWindowCheck()
            requestEventCheck()     // the run loop reloads the window pointer

        // MARK: Branches
        case .beqz: if R.r(d.a) == 0 { return branch(d, &target) }
        case .beqzn: if R.r(d.a) == 0 { return branch(d, &target) }; return 2
        case .bnez: if R.r(d.a) != 0 { return branch(d, &target) }
        case .bnezn: if R.r(d.a) != 0 { return branch(d, &target) }; return 2
        case .bltz: if Int32(bitPattern: R.r(d.a)) < 0 { return branch(d, &target) }
        case .bgez: if Int32(bitPattern: R.r(d.a)) >= 0 { return branch(d, &target) }
        case .beqi: if Int32(bitPattern: R.r(d.a)) == d.imm { return branch2(d, &target) }
        case .bnei: if Int32(bitPattern: R.r(d.a)) != d.imm { return branch2(d, &target) }
        case .blti: if Int32(bitPattern: R.r(d.a)) < d.imm { return branch2(d, &target) }
        case .bgei: if Int32(bitPattern: R.r(d.a)) >= d.imm { return branch2(d, &target) }
        case .bltui: if R.r(d.a) < UInt32(bitPattern: d.imm) { return branch2(d, &target) }
        case .bgeui: if R.r(d.a) >= UInt32(bitPattern: d.imm) { return branch2(d, &target) }
        case .beq: if R.r(d.a) == R.r(d.b) { return branch(d, &target) }
        case .bne: if R.r(d.a) != R.r(d.b) { return branch(d, &target) }
        case .blt: if Int32(bitPattern: R.r(d.a)) < Int32(bitPattern: R.r(d.b)) { return branch(d, &target) }
        case .bge: if Int32(bitPattern: R.r(d.a)) >= Int32(bitPattern: R.r(d.b)) { return branch(d, &target) }
        case .bltu: if R.r(d.a) < R.r(d.b) { return branch(d, &target) }
        case .bgeu: if R.r(d.a) >= R.r(d.b) { return branch(d, &target) }
        case .bany: if R.r(d.a) & R.r(d.b) != 0 { return branch(d, &target) }
        case .bnone: if R.r(d.a) & R.r(d.b) == 0 { return branch(d, &target) }
        case .ball: if ~R.r(d.a) & R.r(d.b) == 0 { return branch(d, &target) }
        case .bnall: if ~R.r(d.a) & R.r(d.b) != 0 { return branch(d, &target) }
        case .bbc: if R.r(d.a) & (1 << (R.r(d.b) & 31)) == 0 { return branch(d, &target) }
        case .bbs: if R.r(d.a) & (1 << (R.r(d.b) & 31)) != 0 { return branch(d, &target) }
        case .bbci: if R.r(d.a) & (1 << UInt32(d.imm)) == 0 { return branch2(d, &target) }
        case .bbsi: if R.r(d.a) & (1 << UInt32(d.imm)) != 0 { return branch2(d, &target) }
        case .bf: if s.pointee.br & (1 << UInt32(d.a)) == 0 { return branch(d, &target) }
        case .bt: if s.pointee.br & (1 << UInt32(d.a)) != 0 { return branch(d, &target) }
        case .loop, .loopnez, .loopgtz:
            let count = R.r(d.a)
            s.pointee.lcount = count &- 1
            s.pointee.lbeg = pc &+ 3
            s.pointee.lend = UInt32(bitPattern: d.imm)
            if (d.op == .loopnez && count == 0) || (d.op == .loopgtz && Int32(bitPattern: count) <= 0) {
                s.pointee.pc = UInt32(bitPattern: d.imm)
                return Flow.state
            }
            if s.pointee.lend != s.pointee.blockLoopEnd { loopEndMoved() }

        // MARK: System
        case .isync, .rsync, .esync, .dsync, .excw, .memw, .extw, .nop: break
        case .nopn: return 2
        case .illegal, .illn: raise(.illegalInstruction, pc: pc); return Flow.state
        case .syscall: raise(.syscall, pc: pc); return Flow.state
        case .simcall: return executeSimcall(pc: pc) ? 3 : Flow.state
        case .break_:
            if debugException(cause: 1 << 3, pc: pc) { return Flow.state }
        case .breakn:
            if debugException(cause: 1 << 4, pc: pc) { return Flow.state }
            return 2
        case .rfe:
            s.pointee.ps &= ~PS.excm
            s.pointee.pc = s.pointee.epc.0
            updateWindowCheck(); requestEventCheck()
            return Flow.state
        case .rfde:
            s.pointee.ps &= ~PS.excm
            s.pointee.pc = s.pointee.depc
            updateWindowCheck(); requestEventCheck()
            return Flow.state
        case .rfwo, .rfwu:
            if d.op == .rfwo { s.pointee.windowStart &= ~wsBit(s.pointee.windowBase) }
            else { s.pointee.windowStart |= wsBit(s.pointee.windowBase) }
            setWindowBase((s.pointee.ps & PS.owbMask) >> PS.owbShift)
            s.pointee.ps &= ~PS.excm
            s.pointee.pc = s.pointee.epc.0
            updateWindowCheck(); requestEventCheck()
            return Flow.state
        case .rfi:
            let level = Int(d.imm)
            guard level >= 2 && level <= 7 else { raise(.illegalInstruction, pc: pc); return Flow.state }
            s.pointee.pc = withUnsafeBytes(of: &s.pointee.epc) { $0.load(fromByteOffset: (level - 1) * 4, as: UInt32.self) }
            s.pointee.ps = withUnsafeBytes(of: &s.pointee.eps) { $0.load(fromByteOffset: (level - 1) * 4, as: UInt32.self) } & PS.writableMask
            updateWindowCheck(); requestEventCheck()
            return Flow.state
        case .rfme: raise(.illegalInstruction, pc: pc); return Flow.state
        case .rsil:
            let old = s.pointee.ps
            s.pointee.ps = (old & ~PS.intlevelMask) | UInt32(d.imm)
            R.w(d.a, old)
            requestEventCheck()
        case .waiti:
            s.pointee.ps = (s.pointee.ps & ~PS.intlevelMask) | UInt32(d.imm)
            s.pointee.pc = pc &+ 3
            s.pointee.waiting = true
            requestEventCheck()
            return Flow.state
        case .rsr:
            if d.imm == Int32(SR.ccount) {
                let v = UInt32(truncatingIfNeeded: s.pointee.cycles) &+ s.pointee.ccountOffset
                R.w(d.a, v)
                // A busy-wait on CCOUNT whose wait is not over yet (see skipCCountSpin): its
                // shape and "not over" are checked here, so a wait already over costs no call.
                if s.pointee.spinSkipping, pc & 0xFFF <= 0xFF0 {
                    let sub = d.p + 3, br = d.p + 6
                    if sub.pointee.op == .sub, br.pointee.op == .bltu, sub.pointee.b == d.a, br.pointee.a == sub.pointee.a,
                       v &- R.r(sub.pointee.c) < R.r(br.pointee.b),
                       skipCCountSpin(pc: pc, target: d.a, ccount: v, sub: sub, branch: br) { return Flow.state }
                }
                return 3
            }
            guard let v = readSR(Int(d.imm)) else { raise(.illegalInstruction, pc: pc); return Flow.state }
            R.w(d.a, v)
        case .wsr:
            if !writeSR(Int(d.imm), R.r(d.a)) { raise(.illegalInstruction, pc: pc); return Flow.state }
            if s.pointee.lend != s.pointee.blockLoopEnd { loopEndMoved() }
        case .xsr:
            let n = Int(d.imm)
            guard n != SR.interrupt, n != SR.intclear, n != SR.prid, let old = readSR(n) else {
                raise(.illegalInstruction, pc: pc); return Flow.state
            }
            _ = writeSR(n, R.r(d.a))
            R.w(d.a, old)
            if s.pointee.lend != s.pointee.blockLoopEnd { loopEndMoved() }
        case .rur:
            guard let v = readUR(Int(d.imm)) else { raise(.illegalInstruction, pc: pc); return Flow.state }
            if Int(d.imm) == UR.fcr || Int(d.imm) == UR.fsr, s.pointee.cpenable & 1 == 0 {
                raise(.coprocessor0Disabled, pc: pc); return Flow.state
            }
            R.w(d.a, v)
        case .wur:
            if Int(d.imm) == UR.fcr || Int(d.imm) == UR.fsr, s.pointee.cpenable & 1 == 0 {
                raise(.coprocessor0Disabled, pc: pc); return Flow.state
            }
            if !writeUR(Int(d.imm), R.r(d.a)) { raise(.illegalInstruction, pc: pc); return Flow.state }
        case .rer: R.w(d.a, 0)
        case .wer: break
        case .witlb, .wdtlb:
            // Region protection: the attribute of the 512 MiB region named by as[31:29].
            let region = R.r(d.b) >> 29
            let attr = R.r(d.a) & 0xF
            if d.op == .wdtlb {
                s.pointee.dtlbAttr = (s.pointee.dtlbAttr & ~(0xF << (region * 4))) | attr << (region * 4)
            } else {
                s.pointee.itlbAttr = (s.pointee.itlbAttr & ~(0xF << (region * 4))) | attr << (region * 4)
            }
        case .ritlb0, .rdtlb0: R.w(d.a, (R.r(d.b) & 0xE000_0000))
        case .ritlb1, .rdtlb1:
            let region = R.r(d.b) >> 29
            let attrs = d.op == .ritlb1 ? s.pointee.itlbAttr : s.pointee.dtlbAttr
            R.w(d.a, (R.r(d.b) & 0xE000_0000) | ((attrs >> (region * 4)) & 0xF))
        case .pitlb, .pdtlb: R.w(d.a, (R.r(d.b) & 0xE000_0000) | 1)
        case .iitlb, .idtlb: break

        // MARK: Booleans
        case .any4: setB(d.a, (s.pointee.br >> UInt32(d.b)) & 0xF != 0)
        case .all4: setB(d.a, (s.pointee.br >> UInt32(d.b)) & 0xF == 0xF)
        case .any8: setB(d.a, (s.pointee.br >> UInt32(d.b)) & 0xFF != 0)
        case .all8: setB(d.a, (s.pointee.br >> UInt32(d.b)) & 0xFF == 0xFF)
        case .andb: setB(d.a, b(d.b) && b(d.c))
        case .andbc: setB(d.a, b(d.b) && !b(d.c))
        case .orb: setB(d.a, b(d.b) || b(d.c))
        case .orbc: setB(d.a, b(d.b) || !b(d.c))
        case .xorb: setB(d.a, b(d.b) != b(d.c))

        // MARK: MAC16
        case .macAA: mac(d.imm2, R.r(d.a), R.r(d.b))
        case .macAD: mac(d.imm2, R.r(d.a), mreg(d.b))
        case .macDA: mac(d.imm2, mreg(d.a), R.r(d.b))
        case .macDD: mac(d.imm2, mreg(d.a), mreg(d.b))
        case .macDAld, .macDDld, .lddec, .ldinc:
            // Operands: mw, as, (mx, at|my). The product uses the registers' old values.
            let inc = d.op == .ldinc || (d.op != .lddec && (d.imm2 >> 4) == 2)
            let addr = inc ? R.r(d.b) &+ 4 : R.r(d.b) &- 4
            guard let v = load32(addr, pc, &n) else { return Flow.state }
            if d.op == .macDAld { mac(d.imm2 & 0xF, mreg(d.c), R.r(d.d)) }
            if d.op == .macDDld { mac(d.imm2 & 0xF, mreg(d.c), mreg(d.d)) }
            setM(d.a, v)
            R.w(d.b, addr)

        // MARK: Floating point (every operation is named: the switch needs no range check)
        case .lsi, .lsip, .ssi, .ssip, .lsx, .lsxp, .ssx, .ssxp, .addS, .subS, .mulS, .maddS, .msubS,
             .maddnS, .divnS, .roundS, .truncS, .floorS, .ceilS, .floatS, .ufloatS, .utruncS, .movS, .absS,
             .negS, .rfr, .wfr, .constS, .div0S, .recip0S, .sqrt0S, .rsqrt0S, .nexp01S, .mksadjS, .mkdadjS,
             .addexpS, .addexpmS, .unS, .oeqS, .ueqS, .oltS, .ultS, .oleS, .uleS, .moveqzS, .movnezS,
             .movltzS, .movgezS, .movfS, .movtS:
            if s.pointee.cpenable & 1 == 0 { raise(.coprocessor0Disabled, pc: pc); return Flow.state }
            let r = executeFP(d, pc: pc, R)
            if r == FPResult.slowAccess { n = 1; return 3 }
            return r == FPResult.done ? 3 : Flow.state
        }
        return 3
    }

    /// A busy-wait on CCOUNT — `L: rsr.ccount a; sub x, a, y; bltu x, z, L` — runs its
    /// iterations in one step: the registers, CCOUNT, the cycle and instruction counts end
    /// exactly as if each iteration had executed, and no iteration is skipped across an event
    /// (timer, interrupt, run budget), so everything the guest can observe is unchanged.
    /// Returns true (PC set) when iterations were skipped. The RSR case has matched the slots
    /// after it (`sub` at pc+3 reading `a`, `branch` at pc+6 on its result) and found the wait
    /// not over; the rest of the shape is checked here.
    @inline(never)
    func skipCCountSpin(pc: UInt32, target a: UInt8, ccount v0: UInt32,
                        sub: UnsafeMutablePointer<Decoded>, branch br: UnsafeMutablePointer<Decoded>) -> Bool {
        let s = st
        guard sub.pointee.length == 3, br.pointee.length == 3, sub.pointee.c != a, br.pointee.b != sub.pointee.a,
              br.pointee.b != a, UInt32(bitPattern: br.pointee.imm) == pc else { return false }
        let y = r(sub.pointee.c), z = r(br.pointee.b)
        let u0 = v0 &- y
        let iterations = UInt64((z - u0 + 2) / 3)            // iterations until the branch falls through
        let c = s.pointee.cycles
        guard s.pointee.nextEvent > c else { return false }
        let k = min(iterations, (s.pointee.nextEvent - c + 1) / 3)
        guard k > 1 else { return false }
        // Complete iterations 0..<k; this RSR's cycle is already counted.
        s.pointee.cycles = c &+ 3 &* k &- 1
        let last = v0 &+ UInt32(truncatingIfNeeded: 3 &* (k &- 1))
        w(a, last)
        w(sub.pointee.a, last &- y)
        s.pointee.pc = pc
        s.pointee.spinSkips &+= 1
        return true
    }

    /// ENTRY's and RETW's window move: WINDOWBASE `wb` and WINDOWSTART `ws` (overflow checks
    /// on: WOE set, EXCM clear); the run loop's window and gate threshold follow.
    /// Everything comes from `s` (the register file is the state's first field), so the
    /// hot path neither reloads the core's fields nor reads back the window it just stored.
    /// This repeats `setWindowBase` on purpose: a `setWindowBase` that returned the window
    /// instead compiled the run loop differently (Zephyr's boot 8% and the ALU loop 35% slower,
    /// measured side by side).
    @inline(__always) func moveWindow(to wb: UInt32, windowStart ws: UInt32,
                                      _ s: UnsafeMutablePointer<CPUState>, _ R: inout Window, _ need: inout UInt8) {
        s.pointee.windowStart = ws
        s.pointee.windowBase = wb
        let at = (wb &- s.pointee.fileRotation) & 15
        if _fastPath(at <= 12) {
            let w = UnsafeMutableRawPointer(s).assumingMemoryBound(to: UInt32.self) + Int(at) &* 4
            s.pointee.window = w
            R = Window(w)
        } else {
            setWindowBase(wb)
            R = Window(s.pointee.window)
        }
        let free = freePanelsAbove(wb, ws)
        s.pointee.freePanels = free
        need = 4 &- free
    }

    @inline(__always) func branch(_ d: DecodedRef, _ target: inout UInt32) -> Int {
        target = UInt32(bitPattern: d.imm)
        return Flow.target
    }

    @inline(__always) func branch2(_ d: DecodedRef, _ target: inout UInt32) -> Int {
        target = UInt32(bitPattern: d.imm2)
        return Flow.target
    }

    @inline(__always) func b(_ i: UInt8) -> Bool { st.pointee.br & (1 << UInt32(i)) != 0 }

    @inline(__always) func setB(_ i: UInt8, _ v: Bool) {
        if v { st.pointee.br |= 1 << UInt32(i) } else { st.pointee.br &= ~(1 << UInt32(i)) }
    }

    @inline(__always) func mreg(_ i: UInt8) -> UInt32 {
        withUnsafeBytes(of: &st.pointee.m) { $0.load(fromByteOffset: Int(i & 3) * 4, as: UInt32.self) }
    }

    @inline(__always) func setM(_ i: UInt8, _ v: UInt32) {
        withUnsafeMutableBytes(of: &st.pointee.m) { $0.storeBytes(of: v, toByteOffset: Int(i & 3) * 4, as: UInt32.self) }
    }

    /// MAC16 multiply: aux = operation (0 umul, 1 mul, 2 mula, 3 muls) | halves << 2.
    func mac(_ aux: Int32, _ x: UInt32, _ y: UInt32) {
        let oper = aux & 3, half = (aux >> 2) & 3
        let xs = half & 1 != 0 ? x >> 16 : x & 0xFFFF
        let ys = half & 2 != 0 ? y >> 16 : y & 0xFFFF
        let product: Int64
        if oper == 0 {
            product = Int64(xs) * Int64(ys)
        } else {
            product = Int64(Int16(truncatingIfNeeded: xs)) * Int64(Int16(truncatingIfNeeded: ys))
        }
        var acc = st.pointee.acc
        switch oper {
        case 0, 1: acc = product
        case 2: acc = acc &+ product
        default: acc = acc &- product
        }
        // Keep 40 bits, sign-extended.
        st.pointee.acc = (acc << 24) >> 24
    }

    /// An ENTRY that cannot open the callee's frame: illegal (an operand above a3, WOE clear or
    /// EXCM set), or a window overflow first. Sets PC to the vector.
    func entryException(_ d: DecodedRef, pc: UInt32) {
        if d.a > 3 || st.pointee.ps & (PS.woe | PS.excm) != PS.woe {
            raise(.illegalInstruction, pc: pc)
        } else {
            windowOverflow(pc: pc)
        }
    }

    /// A RETW that cannot return to a live frame: illegal (a0[31:30] zero, WOE clear or EXCM
    /// set), or a window underflow (the caller's frame was spilled). Sets PC to the vector.
    func retwException(pc: UInt32, a0: UInt32) {
        let s = st
        let n = a0 &>> 30
        guard n != 0, s.pointee.ps & (PS.woe | PS.excm) == PS.woe else {
            raise(.illegalInstruction, pc: pc); return
        }
        let wb = s.pointee.windowBase
        s.pointee.ps = (s.pointee.ps & ~PS.owbMask) | (wb << PS.owbShift) | PS.excm
        s.pointee.epc.0 = pc
        setWindowBase((wb &- n) & 15)
        let vec = n == 1 ? Vector.windowUnderflow4 : n == 2 ? Vector.windowUnderflow8 : Vector.windowUnderflow12
        s.pointee.pc = s.pointee.vecbase &+ vec
        requestEventCheck()
        updateWindowCheck()
    }

    func executeSimcall(pc: UInt32) -> Bool {
        guard config.semihosting else { raise(.illegalInstruction, pc: pc); return false }
        let call = ar(2)
        switch call {
        case 1: // SYS_exit
            st.pointee.exitCode = Int32(bitPattern: ar(3))
            st.pointee.exited = true
            requestEventCheck()
        case 4: // SYS_write
            let fd = Int32(bitPattern: ar(3)), buf = ar(4), len = Int(ar(5))
            var bytes: [UInt8] = []
            bytes.reserveCapacity(min(len, 1 << 20))
            for i in 0..<min(len, 1 << 20) {
                guard let b = peek(buf &+ UInt32(i), size: 1) else { break }
                bytes.append(UInt8(b))
            }
            semihostingOutput?(fd, bytes)
            setAR(2, UInt32(bytes.count)); setAR(3, 0)
        default:
            setAR(2, 0xFFFF_FFFF); setAR(3, 88)
        }
        return true
    }
}


/// What `execute` returns besides an instruction's length.
enum Flow {
    /// The instruction set the state's PC.
    static let state = 0
    /// A taken branch or jump: the target is in the `target` argument.
    static let target = -1
}

/// The current window's a0-a15: sixteen consecutive words of the register file.
struct Window {
    let p: UnsafeMutablePointer<UInt32>
    @inline(__always) init(_ p: UnsafeMutablePointer<UInt32>) { self.p = p }
    @inline(__always) func r(_ i: UInt8) -> UInt32 { p[Int(i)] }
    @inline(__always) func w(_ i: UInt8, _ v: UInt32) { p[Int(i)] = v }
}

/// A view of a predecoded slot that reads each field where it is used (no copy of the slot).
struct DecodedRef {
    let p: UnsafeMutablePointer<Decoded>
    @inline(__always) var op: Op { p.pointee.op }
    @inline(__always) var a: UInt8 { p.pointee.a }
    @inline(__always) var b: UInt8 { p.pointee.b }
    @inline(__always) var c: UInt8 { p.pointee.c }
    @inline(__always) var d: UInt8 { p.pointee.d }
    @inline(__always) var imm: Int32 { p.pointee.imm }
    @inline(__always) var imm2: Int32 { p.pointee.imm2 }
    @inline(__always) var jumpDelta: Int16 { p.pointee.jumpDelta }
}

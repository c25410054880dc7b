// Guest programs shared by the benchmarks, the tests and the QEMU comparison:
// the window exception vectors every windowed bare-metal program needs, and the
// standard workloads (ALU loop, load/multiply/store loop, windowed calls, FP loop).

public enum GuestWorkloads {
    /// Window overflow/underflow handlers at VECBASE + 0x000...0x140 (the windowed ABI's
    /// stack layout: a frame's a0-a3 are saved below its callee's stack pointer, the rest
    /// below its own extended save area).
    public static let windowVectors = """
        .org 0x000
    _WindowOverflow4:
        s32e a0, a5, -16
        s32e a1, a5, -12
        s32e a2, a5, -8
        s32e a3, a5, -4
        rfwo
        .org 0x040
    _WindowUnderflow4:
        l32e a0, a5, -16
        l32e a1, a5, -12
        l32e a2, a5, -8
        l32e a3, a5, -4
        rfwu
        .org 0x080
    _WindowOverflow8:
        s32e a0, a9, -16
        l32e a0, a1, -12
        s32e a1, a9, -12
        s32e a2, a9, -8
        s32e a3, a9, -4
        s32e a4, a0, -32
        s32e a5, a0, -28
        s32e a6, a0, -24
        s32e a7, a0, -20
        rfwo
        .org 0x0C0
    _WindowUnderflow8:
        l32e a1, a9, -12
        l32e a0, a9, -16
        l32e a7, a1, -12
        l32e a2, a9, -8
        l32e a4, a7, -32
        l32e a3, a9, -4
        l32e a5, a7, -28
        l32e a6, a7, -24
        l32e a7, a7, -20
        rfwu
        .org 0x100
    _WindowOverflow12:
        s32e a0, a13, -16
        l32e a0, a1, -12
        s32e a1, a13, -12
        s32e a2, a13, -8
        s32e a3, a13, -4
        s32e a4, a0, -48
        s32e a5, a0, -44
        s32e a6, a0, -40
        s32e a7, a0, -36
        s32e a8, a0, -32
        s32e a9, a0, -28
        s32e a10, a0, -24
        s32e a11, a0, -20
        rfwo
        .org 0x140
    _WindowUnderflow12:
        l32e a1, a13, -12
        l32e a0, a13, -16
        l32e a11, a1, -12
        l32e a2, a13, -8
        l32e a4, a11, -48
        l32e a8, a11, -32
        l32e a3, a13, -4
        l32e a5, a11, -44
        l32e a6, a11, -40
        l32e a7, a11, -36
        l32e a9, a11, -28
        l32e a10, a11, -24
        l32e a11, a11, -20
        rfwu

    """

    public struct Workload: Sendable {
        public let name: String
        /// Source; assemble at a base that is also VECBASE (it starts with the vectors).
        public let source: String
        /// Register a2 at exit, for correctness checks.
        public let expectedA2: UInt32
    }

    /// End of every workload: SYS_exit(0) keeping a2 in MISC0.
    static let exit = """

    done:
        wsr.misc0 a2
        movi a2, 1
        movi a3, 0
        simcall
    """

    /// 4-instruction ALU loop, `n` iterations.
    public static func aluLoop(iterations n: UInt32) -> Workload {
        // a3 counts up, a4 accumulates; result: sum of 1...n (mod 2^32).
        var sum: UInt32 = 0
        for i in 1...max(1, n) { sum &+= i }
        return Workload(name: "alu-loop", source: windowVectors + """
            .org 0x380
        count: .word \(n)
            .org 0x400
        _start:
            l32r a2, count
            movi a3, 0
            movi a4, 0
        1:  addi a3, a3, 1
            add a4, a4, a3
            addi a2, a2, -1
            bnez a2, 1b
            mov a2, a4
            j done
        """ + exit, expectedA2: sum)
    }

    /// Load, multiply, store over a 256-word array, `passes` times (zero-overhead loop inside).
    public static func loadMulStore(passes: UInt32, dataAddress: UInt32 = 0x3FFE_0000) -> Workload {
        return Workload(name: "load-mul-store", source: windowVectors + """
            .org 0x380
        passes: .word \(passes)
        array: .word \(dataAddress)
            .org 0x400
        _start:
            l32r a2, passes
            l32r a5, array
            movi a6, 3
            movi a7, 0
        outer:
            mov a8, a5
            movi a9, 256
            loop a9, inner_end
            l32i a10, a8, 0
            mull a10, a10, a6
            addi a10, a10, 1
            s32i a10, a8, 0
            addi a8, a8, 4
        inner_end:
            addi a2, a2, -1
            bnez a2, outer
            l32i a2, a5, 0
            j done
        """ + exit, expectedA2: {
            var v: UInt32 = 0
            for _ in 0..<passes { v = v &* 3 &+ 1 }
            return v
        }())
    }

    /// Recursive fibonacci with CALL8/ENTRY/RETW: deep call chains spill and refill windows.
    public static func windowedFib(_ n: UInt32) -> Workload {
        var a: UInt32 = 0, b: UInt32 = 1
        for _ in 0..<n { (a, b) = (b, a &+ b) }
        return Workload(name: "windowed-call", source: windowVectors + """
            .org 0x400
        _start:
            movi a10, \(n)
            call8 fib
            mov a2, a10
            j done
            .align 4
        fib:
            entry a1, 32
            bltui a2, 2, 1f
            addi a10, a2, -1
            call8 fib
            mov a4, a10
            addi a10, a2, -2
            call8 fib
            add a2, a10, a4
        1:  retw
        """ + exit, expectedA2: a)
    }

    /// Single-precision loop: load, multiply-add, add, store, `n` iterations.
    public static func fpLoop(iterations n: UInt32, dataAddress: UInt32 = 0x3FFE_0000) -> Workload {
        return Workload(name: "fp-loop", source: windowVectors + """
            .org 0x380
        count: .word \(n)
        data: .word \(dataAddress)
        one: .word 0x3F800000
        half: .word 0x3F000000
            .org 0x400
        _start:
            l32r a2, count
            l32r a5, data
            movi a6, 0
            s32i a6, a5, 0
            l32r a6, one
            s32i a6, a5, 4
            l32r a6, half
            s32i a6, a5, 8
            lsi f0, a5, 0          # accumulator 0.0
            lsi f1, a5, 4          # 1.0
            lsi f2, a5, 8          # 0.5
        1:  madd.s f0, f1, f2      # acc += 0.5
            add.s f3, f0, f1
            mul.s f4, f3, f2
            ssi f4, a5, 12
            addi a2, a2, -1
            bnez a2, 1b
            rfr a2, f0
            j done
        """ + exit, expectedA2: {
            var acc: Float = 0
            for _ in 0..<n { acc += 0.5 }
            return acc.bitPattern
        }())
    }

    /// A reset stub for QEMU's `-M sim` cores (reset vector 0xfe000000): sets up the windowed ABI
    /// state our bare-metal machine gives a workload (VECBASE, PS.WOE, WINDOWSTART, CPENABLE, a stack
    /// with an outer save area) and jumps to the workload assembled at `workloadBase`.
    public static func qemuResetStub(workloadBase: UInt32, stackTop: UInt32 = 0x0010_0000) -> String {
        """
            j 1f
            .literal_position
            .align 4
        1:  movi a2, \(workloadBase)
            wsr.vecbase a2
            movi a2, 1
            wsr.windowstart a2
            movi a2, 0
            wsr.windowbase a2
            rsync
            movi a2, 1
            wsr.cpenable a2
            movi a2, 0x15
            wsr.atomctl a2
            movi a1, \(stackTop - 256)
            movi a2, \(stackTop - 64)
            addi a3, a1, -16
            s32i a2, a3, 4
            movi a2, 0x40000        # PS: WOE, INTLEVEL 0, EXCM 0
            wsr.ps a2
            rsync
            movi a2, \(workloadBase + 0x400)
            jx a2
        """
    }

    /// Runs a workload on a fresh bare-metal machine; returns (a2, instructions).
    public static func run(_ w: Workload, base: UInt32 = 0x4008_0000, maxCycles: UInt64 = .max) throws -> (a2: UInt32, instructions: UInt64, reason: StopReason) {
        let program = try Assembler.assemble(w.source, base: base, file: w.name)
        let m = BareMetalMachine()
        m.load(program.bytes, at: base)
        m.prepare(entry: program.symbols["_start"] ?? base, vecbase: base)
        let reason = m.cpu.run(cycles: maxCycles)
        return (m.cpu.specialRegister(244) ?? 0, m.cpu.st.pointee.instructions, reason)
    }
}

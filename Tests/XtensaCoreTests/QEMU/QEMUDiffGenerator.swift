// Random instruction sequences (assembly text) and initial states for the QEMU differential test.
// Groups: ALU, shifts/SAR, MUL16/MULL, QUO/REM, booleans, branches, density, loads/stores
// (incl. L32AI/S32RI/S32C1I/L32E/S32E), L32R, MAC16, special/user registers, FP (arithmetic,
// div/sqrt helpers, conversions, compares, moves, loads/stores, FCR/FSR), loops, CALL0/CALLX0/JX,
// windowed calls/ROTW/MOVSP, RSIL/RFE/RFDE/RFI, and exceptions.
//
// Every sequence is deterministic for a seed. The generator keeps to what the ESP32 and QEMU's
// de233_fpu core do the same way (see QEMUDifferentialTests.swift for the list of differences):
//  * memory accesses are aligned and stay inside the 256-byte scratch buffer at 0x9000
//    (de233_fpu raises LoadStoreAlignment on unaligned accesses; the ESP32 does not);
//  * the register window never reaches past physical register 31 (de233_fpu has 32 AR, the
//    ESP32 64): WINDOWBASE starts at 0, windowed calls are one level deep (CALL4/8/12 +
//    ENTRY + RETW) and ROTW moves by at most 3 panels and back; WINDOWSTART bits stay within
//    panels 0...4, so window overflow checks see the same live frames on both cores;
//  * no MULUH/MULSH (absent from de233_fpu), no RECIP0.S/RSQRT0.S (QEMU has no translator),
//    no WSR.EXCCAUSE (6 bits on the ESP32, 32 in QEMU), no MISC2/3, PRID, CCOUNT, CONFIGID;
//  * SAR stays within 0...32 (SLL/SRL/SRA/SRC are undefined by the ISA for larger values;
//    QEMU's SLL then shifts by (32 - SAR) & 63, ours funnel-shifts as the ISA describes);
//  * no WAITI, SIMCALL, RER/WER, TLB or debug registers, RFWO/RFWU (configuration-specific or
//    not deterministic); exception returns (RFE/RFDE/RFI) only to a label ahead;
//  * control flow only goes forward inside the sequence (loops with small counts, forward
//    branches, calls to subroutines placed after the call), so every sequence ends.

import XtensaCore

/// SplitMix64: small, fast and the same on every platform.
struct QEMUDiffRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func u32() -> UInt32 { UInt32(truncatingIfNeeded: next() >> 16) }
    /// Uniform in the closed range.
    mutating func int(_ r: ClosedRange<Int>) -> Int {
        r.lowerBound + Int(next() % UInt64(r.upperBound - r.lowerBound + 1))
    }
    mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
    mutating func pick<T>(_ a: [T]) -> T { a[int(0...(a.count - 1))] }
}

struct QEMUDiffTest {
    var source: String
    var state: DiffState
    var scratch: [UInt8]
    /// Mnemonic -> how often it appears, by instruction group.
    var coverage: [String: [String: Int]]
}

struct QEMUDiffGenerator {
    var rng: QEMUDiffRNG
    private var lines: [String] = []
    private var coverage: [String: [String: Int]] = [:]
    private var label = 0
    /// Inside a subroutine: a0 holds the return address and must not be written.
    private var protectA0 = false

    init(seed: UInt64) { rng = QEMUDiffRNG(seed: seed) }

    static let b4const: [Int] = [-1, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 32, 64, 128, 256]
    static let b4constu: [Int] = [32768, 65536, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 32, 64, 128, 256]

    /// Interesting single-precision bit patterns.
    static let floatSpecials: [UInt32] = [
        0x0000_0000, 0x8000_0000, 0x3F80_0000, 0xBF80_0000, 0x3F00_0000, 0x4000_0000, 0x3FC0_0000, 0x4020_0000,
        0xC020_0000, 0x4060_0000, 0x3EFF_FFFF, 0x3F7F_FFFF, 0x7F7F_FFFF, 0xFF7F_FFFF, 0x0080_0000, 0x8080_0000,
        0x0000_0001, 0x8000_0001, 0x007F_FFFF, 0x807F_FFFF, 0x0040_0000, 0x7F80_0000, 0xFF80_0000, 0x7FC0_0000,
        0xFFC0_0000, 0x7FC1_2345, 0xFFE0_0001, 0x7F80_0001, 0xFF81_2345, 0x7FBF_FFFF, 0x4F00_0000, 0x4EFF_FFFF,
        0xCF00_0000, 0xCF00_0001, 0x4F80_0000, 0x4F7F_FFFF, 0xCF80_0000, 0x4B00_0000, 0x4B7F_FFFF, 0x3400_0000,
        0x0100_0000, 0x7E80_0000, 0x00FF_FFFF,
    ]

    static let intSpecials: [UInt32] = [0, 1, 2, 3, 0xFFFF_FFFF, 0xFFFF_FFFE, 0x8000_0000, 0x7FFF_FFFF, 0x8000_0001,
                                        0xFFFF, 0x8000, 0x7FFF, 0xFFFF_8000, 0x0001_0000, 0xFF, 0x80, 0x7F, 31, 32, 33]

    mutating func randomWord() -> UInt32 {
        switch rng.int(0...9) {
        case 0...2: return rng.pick(Self.intSpecials)
        case 3: return UInt32(rng.int(0...64))
        case 4: return UInt32(bitPattern: Int32(rng.int(-64...(-1))))
        case 5: return rng.pick(Self.floatSpecials)
        case 6: return rng.u32() & 0xFFFF
        case 7: return rng.u32() >> UInt32(rng.int(0...31))
        default: return rng.u32()
        }
    }

    mutating func randomFloat() -> UInt32 {
        switch rng.int(0...11) {
        case 10, 11:
            // Few significant bits at any exponent (also subnormal): products and sums of these
            // are often exact or exactly half-way, which exercises the rounding ties.
            let e = rng.chance(0.3) ? rng.int(0...3) : rng.int(0...254)
            let mant = (rng.u32() & 0x7) << UInt32(rng.int(0...20))
            return (rng.u32() & 0x8000_0000) | UInt32(e) << 23 | (mant & 0x7F_FFFF)
        case 0...3: return rng.pick(Self.floatSpecials)
        case 4...6:
            // A moderate value (exponent 2^-20 ... 2^40), either sign.
            return (rng.u32() & 0x807F_FFFF) | UInt32(rng.int(107...167)) << 23
        case 7:
            // Near the under- or overflow thresholds.
            let e = rng.chance(0.5) ? rng.int(0...24) : rng.int(230...254)
            return (rng.u32() & 0x807F_FFFF) | UInt32(e) << 23
        case 8:
            // Small integers and halves (conversions, rounding ties).
            let v = Float(rng.int(-40...40)) / Float(rng.pick([1, 2, 4]))
            return v.bitPattern
        default: return rng.u32()
        }
    }

    // MARK: Emission

    private mutating func emit(_ group: String, _ text: String) {
        lines.append("    " + text)
        let m = String(text.prefix { $0 != " " })
        coverage[group, default: [:]][m, default: 0] += 1
    }

    private mutating func raw(_ text: String) { lines.append(text) }

    private mutating func newLabel(_ p: String) -> String { label += 1; return ".L\(p)\(label)" }

    private mutating func a() -> String { "a\(rng.int(0...15))" }
    private mutating func d() -> String { "a\(rng.int(protectA0 ? 1...15 : 0...15))" }
    private mutating func f() -> String { "f\(rng.int(0...15))" }
    private mutating func b() -> String { "b\(rng.int(0...15))" }

    /// Sets register `r` to `v` (a movi; the assembler turns values beyond 12 bits into an l32r).
    private mutating func set(_ r: String, _ v: Int64) {
        let fits = v >= -2048 && v <= 2047
        emit(fits ? "alu" : "l32r", "movi \(r), \(v)")
    }

    private mutating func distinct(_ avoid: [String]) -> String {
        while true {
            let r = d()
            if !avoid.contains(r) { return r }
        }
    }

    // MARK: Items

    /// Items are "simple" (straight-line, a few bytes, may end the test by an exception) or
    /// "complex" (loops, calls, ROTW blocks: only at the top level). A simple item may return a
    /// label that the enclosing block places one to three items later (a forward branch).
    private mutating func simpleItem() -> String? {
        let groups: [(String, Int)] = [
            ("alu", 14), ("shift", 6), ("mul", 3), ("div", 3), ("bool", 4), ("branch", 10), ("density", 5),
            ("mem", 8), ("l32r", 1), ("mac16", 7), ("sr", 4), ("misc", 1), ("fparith", 7), ("fpdivsqrt", 2),
            ("fpconv", 5), ("fpcmp", 4), ("fpmove", 5), ("fpmem", 4), ("fpsr", 2), ("system", 1), ("fpedge", 2),
        ]
        // About one sequence in twelve ends early by an exception item.
        if rng.chance(0.003) { exception(); return nil }
        var total = 0
        for g in groups { total += g.1 }
        var x = rng.int(0...(total - 1))
        var group = groups[0].0
        for g in groups {
            if x < g.1 { group = g.0; break }
            x -= g.1
        }
        switch group {
        case "alu": alu()
        case "shift": shift()
        case "mul":
            emit("mul", "\(rng.pick(["mul16u", "mul16s", "mull"])) \(d()), \(a()), \(a())")
        case "div": division(allowZero: rng.chance(0.03))
        case "bool": boolean()
        case "branch": return branch()
        case "density": return density()
        case "mem": memory()
        case "l32r":
            var v = Int64(Int32(bitPattern: randomWord()))
            if v >= -2048 && v <= 2047 { v += 0x10000 }
            set(d(), v)
        case "mac16": mac16()
        case "sr": specialRegister()
        case "misc": emit("misc", rng.pick(["nop", "memw", "extw", "isync", "rsync", "esync", "dsync", "excw", "nop.n"]))
        case "fparith": emit("fparith", "\(rng.pick(["add.s", "sub.s", "mul.s", "madd.s", "msub.s"])) \(f()), \(f()), \(f())")
        case "fpdivsqrt":
            let m = rng.pick(["mkdadj.s", "mksadj.s", "div0.s", "sqrt0.s", "nexp01.s", "addexp.s", "addexpm.s", "const.s", "maddn.s", "divn.s"])
            if m == "const.s" { emit("fpdivsqrt", "const.s \(f()), \(rng.int(0...3))") }
            else if m == "maddn.s" || m == "divn.s" { emit("fpdivsqrt", "\(m) \(f()), \(f()), \(f())") }
            else { emit("fpdivsqrt", "\(m) \(f()), \(f())") }
        case "fpconv":
            let m = rng.pick(["round.s", "trunc.s", "floor.s", "ceil.s", "utrunc.s", "float.s", "ufloat.s"])
            if m == "float.s" || m == "ufloat.s" { emit("fpconv", "\(m) \(f()), \(a()), \(rng.int(0...15))") }
            else { emit("fpconv", "\(m) \(d()), \(f()), \(rng.int(0...15))") }
        case "fpcmp":
            emit("fpcmp", "\(rng.pick(["un.s", "oeq.s", "ueq.s", "olt.s", "ult.s", "ole.s", "ule.s"])) \(b()), \(f()), \(f())")
        case "fpmove": fpMove()
        case "fpmem": fpMemory()
        case "fpsr":
            switch rng.int(0...3) {
            case 0: emit("fpsr", "rur.fcr \(d())")
            case 1: emit("fpsr", "rur.fsr \(d())")
            case 2:
                let r = d()
                set(r, rng.chance(0.8) ? Int64(rng.int(0...0x7F)) : Int64(Int32(bitPattern: rng.u32())))
                emit("fpsr", "wur.fcr \(r)")
            default:
                let r = d()
                set(r, rng.chance(0.8) ? Int64(rng.int(0...31) << 7) : Int64(Int32(bitPattern: rng.u32())))
                emit("fpsr", "wur.fsr \(r)")
            }
        case "system": system()
        case "fpedge": fpEdge()
        default: fpMove()
        }
        return nil
    }

    /// A value with at most three significant bits and a biased exponent in `e`.
    private mutating func shortFloat(_ e: ClosedRange<Int>) -> UInt32 {
        // The significant bits sit at the bottom half of the time (subnormal ties need them there).
        let mant = (rng.u32() & 0x7) << UInt32(rng.chance(0.5) ? rng.int(0...1) : rng.int(0...20))
        let exp = rng.chance(0.3) ? e.lowerBound + rng.int(0...2) : rng.int(e)
        return (rng.u32() & 0x8000_0000) | UInt32(exp) << 23 | (mant & 0x7F_FFFF)
    }

    /// Arithmetic whose result lands in the subnormal range or near overflow, often exactly
    /// half-way between two representable values (rounding, underflow and overflow flags).
    private mutating func fpEdge() {
        let tiny = rng.chance(0.7)
        var x = tiny ? shortFloat(0...30) : shortFloat(200...254)
        let m = rng.pick(["add.s", "sub.s", "mul.s", "madd.s", "msub.s", "mkdadj.s"])
        var y: UInt32
        switch m {
        case "mul.s", "madd.s", "msub.s": y = tiny ? shortFloat(90...127) : shortFloat(127...160)
        case "mkdadj.s": y = tiny ? shortFloat(127...170) : shortFloat(90...127)   // fr = fs / fr
        default: y = tiny ? shortFloat(0...30) : shortFloat(200...254)
        }
        if tiny && rng.chance(0.5) {
            // An odd significand just above or in the subnormal range, scaled by 2^-k (times 1
            // or 1.5): the dropped bits are often exactly one half.
            x = (rng.u32() & 0x8000_0000) | UInt32(rng.int(0...3)) << 23 | ((rng.u32() >> UInt32(rng.int(9...31))) | 1)
            if m == "mul.s" || m == "madd.s" || m == "msub.s" {
                y = (rng.u32() & 0x8000_0000) | UInt32(rng.int(123...126)) << 23 | (rng.chance(0.5) ? 0x40_0000 : 0)
            }
        } else if rng.chance(0.3) {
            y = rng.pick([0x3F00_0000, 0x3E80_0000, 0x3FC0_0000, 0x0000_0001, 0x8000_0001])
        }
        let ra = d(), rb = distinct([ra])
        let fa = f(), fb = f()
        if rng.chance(0.4) {
            set(ra, Int64(rng.int(0...0x7F) & ~3 | rng.pick([0, 0, 1, 2, 3])))
            emit("fpsr", "wur.fcr \(ra)")
        }
        set(ra, Int64(Int32(bitPattern: x)))
        emit("fpmove", "wfr \(fa), \(ra)")
        set(rb, Int64(Int32(bitPattern: y)))
        emit("fpmove", "wfr \(fb), \(rb)")
        switch m {
        case "mkdadj.s": emit("fpdivsqrt", "mkdadj.s \(fb), \(fa)")
        case "madd.s", "msub.s":
            let fc = f()
            if rng.chance(0.5) {
                set(ra, Int64(Int32(bitPattern: shortFloat(0...8))))
                emit("fpmove", "wfr \(fc), \(ra)")
            }
            emit("fparith", "\(m) \(fc), \(fa), \(fb)")
        default: emit("fparith", "\(m) \(f()), \(fa), \(fb)")
        }
    }

    /// RSIL, and the exception returns RFE/RFDE/RFI aimed at a label just ahead.
    private mutating func system() {
        switch rng.int(0...3) {
        case 0: emit("system", "rsil \(d()), \(rng.int(0...15))")
        default:
            let target = newLabel("rf")
            let r = d()
            emit("l32r", "movi \(r), \(target)")
            switch rng.int(0...2) {
            case 0:
                emit("sr", "wsr.epc1 \(r)")
                emit("system", "rfe")
            case 1:
                emit("sr", "wsr.depc \(r)")
                emit("system", "rfde")
            default:
                let level = rng.int(2...5)
                emit("sr", "wsr.epc\(level) \(r)")
                let p = distinct([r])
                emit("sr", "rsr.ps \(p)")
                emit("sr", "wsr.eps\(level) \(p)")
                emit("system", "rfi \(level)")
            }
            emit("alu", "movi \(r), \(rng.int(-2048...2047))")    // skipped
            raw("\(target):")
        }
    }

    private mutating func alu() {
        switch rng.int(0...11) {
        case 0, 1:
            let m = rng.pick(["add", "addx2", "addx4", "addx8", "sub", "subx2", "subx4", "subx8", "and", "or", "xor"])
            emit("alu", "\(m) \(d()), \(a()), \(a())")
        case 2: emit("alu", "\(rng.pick(["neg", "abs"])) \(d()), \(a())")
        case 3:
            if rng.chance(0.5) { emit("alu", "addi \(d()), \(a()), \(rng.int(-128...127))") }
            else { emit("alu", "addmi \(d()), \(a()), \(rng.int(-128...127) * 256)") }
        case 4: set(d(), Int64(rng.int(-2048...2047)))
        case 5: emit("alu", "extui \(d()), \(a()), \(rng.int(0...31)), \(rng.int(1...16))")
        case 6:
            switch rng.int(0...2) {
            case 0: emit("alu", "slli \(d()), \(a()), \(rng.int(1...31))")
            case 1: emit("alu", "srai \(d()), \(a()), \(rng.int(0...31))")
            default: emit("alu", "srli \(d()), \(a()), \(rng.int(0...15))")
            }
        case 7: emit("alu", "\(rng.pick(["min", "max", "minu", "maxu"])) \(d()), \(a()), \(a())")
        case 8: emit("alu", "\(rng.pick(["sext", "clamps"])) \(d()), \(a()), \(rng.int(7...22))")
        case 9: emit("alu", "\(rng.pick(["moveqz", "movnez", "movltz", "movgez"])) \(d()), \(a()), \(a())")
        case 10: emit("alu", "\(rng.pick(["nsa", "nsau"])) \(d()), \(a())")
        default: emit("alu", "mov \(d()), \(a())")
        }
    }

    private mutating func shift() {
        switch rng.int(0...8) {
        case 0, 1: emit("shift", "src \(d()), \(a()), \(a())")
        case 2: emit("shift", "srl \(d()), \(a())")
        case 3: emit("shift", "sll \(d()), \(a())")
        case 4: emit("shift", "sra \(d()), \(a())")
        case 5: emit("shift", "\(rng.pick(["ssr", "ssl", "ssa8l", "ssa8b"])) \(a())")
        case 6: emit("shift", "ssai \(rng.int(0...31))")
        case 7:
            // SAR stays within 0...32: SLL/SRL/SRA/SRC are undefined for larger values (ISA).
            let r = d()
            if rng.chance(0.8) {
                set(r, Int64(rng.int(0...32)))
                emit("shift", "\(rng.pick(["wsr", "xsr"])).sar \(r)")
            } else {
                emit("shift", "wsr.sar \(r)")          // any value: WSR keeps 6 bits
                emit("shift", "rsr.sar \(d())")
                emit("shift", "ssai \(rng.int(0...31))")
            }
        default: emit("shift", "rsr.sar \(d())")
        }
    }

    /// QUOU/QUOS/REMU/REMS. Unless `allowZero`, a zero divisor is replaced first (bnez.n guard).
    private mutating func division(allowZero: Bool) {
        let m = rng.pick(["quou", "quos", "remu", "rems"])
        let divisor = d()
        if allowZero {
            if rng.chance(0.5) { set(divisor, 0) }
        } else {
            let l = newLabel("nz")
            emit("density", "bnez.n \(divisor), \(l)")
            emit("density", "movi.n \(divisor), \(rng.pick([-1, 1, 2, 3, 7, 95, -32]))")
            raw("\(l):")
        }
        emit(allowZero ? "exception" : "div", "\(m) \(d()), \(a()), \(divisor)")
    }

    private mutating func boolean() {
        switch rng.int(0...6) {
        case 0: emit("bool", "\(rng.pick(["any4", "all4"])) \(b()), b\(rng.int(0...3) * 4)")
        case 1: emit("bool", "\(rng.pick(["any8", "all8"])) \(b()), b\(rng.int(0...1) * 8)")
        case 2, 3: emit("bool", "\(rng.pick(["andb", "andbc", "orb", "orbc", "xorb"])) \(b()), \(b()), \(b())")
        case 4: emit("bool", "\(rng.pick(["movt", "movf"])) \(d()), \(a()), \(b())")
        case 5:
            let r = d()
            if rng.chance(0.5) { set(r, Int64(Int32(bitPattern: rng.u32()))) }
            emit("bool", "\(rng.pick(["wsr", "xsr"])).br \(r)")
        default: emit("bool", "rsr.br \(d())")
        }
    }

    private mutating func branch() -> String {
        let l = newLabel("b")
        switch rng.int(0...6) {
        case 0: emit("branch", "\(rng.pick(["beqz", "bnez", "bltz", "bgez"])) \(a()), \(l)")
        case 1:
            let preset = rng.chance(0.3)
            let r = preset ? d() : a()
            let c = rng.pick(Self.b4const)
            if preset { set(r, Int64(c + rng.int(-1...1))) }
            emit("branch", "\(rng.pick(["beqi", "bnei", "blti", "bgei"])) \(r), \(c), \(l)")
        case 2:
            let preset = rng.chance(0.3)
            let r = preset ? d() : a()
            let c = rng.pick(Self.b4constu)
            if preset { set(r, Int64(c + rng.int(-1...1))) }
            emit("branch", "\(rng.pick(["bltui", "bgeui"])) \(r), \(c), \(l)")
        case 3, 4:
            let m = rng.pick(["bnone", "beq", "blt", "bltu", "ball", "bbc", "bany", "bne", "bge", "bgeu", "bnall", "bbs"])
            emit("branch", "\(m) \(a()), \(a()), \(l)")
        case 5: emit("branch", "\(rng.pick(["bbci", "bbsi"])) \(a()), \(rng.int(0...31)), \(l)")
        default:
            if rng.chance(0.7) { emit("branch", "\(rng.pick(["bf", "bt"])) \(b()), \(l)") }
            else { emit("branch", "j \(l)") }
        }
        return l
    }

    private mutating func density() -> String? {
        switch rng.int(0...6) {
        case 0: emit("density", "add.n \(d()), \(a()), \(a())")
        case 1: emit("density", "addi.n \(d()), \(a()), \(rng.pick([-1] + Array(1...15)))")
        case 2: emit("density", "movi.n \(d()), \(rng.int(-32...95))")
        case 3: emit("density", "mov.n \(d()), \(a())")
        case 4:
            let l = newLabel("n")
            emit("density", "\(rng.pick(["beqz.n", "bnez.n"])) \(a()), \(l)")
            emit("density", "nop.n")    // beqz.n/bnez.n reach pc + 4 at the nearest
            return l
        case 5:
            let (base, off) = scratchBase(align: 4, maxOffset: 60)
            emit("density", rng.chance(0.5) ? "l32i.n \(d()), \(base), \(off)" : "s32i.n \(a()), \(base), \(off)")
        default: emit("density", "nop.n")
        }
        return nil
    }

    /// Picks an aligned effective address in the scratch buffer and an offset of at most
    /// `maxOffset`, loads the base register (EA - offset) and returns (base register, offset).
    private mutating func scratchBase(align: Int, maxOffset: Int, base fixed: String? = nil) -> (String, Int) {
        let ea = rng.int(0...(QEMUBatch.scratchSize / align - 1)) * align
        let off = rng.int(0...(min(ea, maxOffset) / align)) * align
        let r = fixed ?? d()
        set(r, Int64(QEMUBatch.scratchAddress) + Int64(ea - off))
        return (r, off)
    }

    private mutating func memory() {
        switch rng.int(0...11) {
        case 0:
            let (base, off) = scratchBase(align: 1, maxOffset: 255)
            emit("mem", "l8ui \(d()), \(base), \(off)")
        case 1:
            let (base, off) = scratchBase(align: 2, maxOffset: 510)
            emit("mem", "\(rng.pick(["l16ui", "l16si"])) \(d()), \(base), \(off)")
        case 2, 3:
            let (base, off) = scratchBase(align: 4, maxOffset: 1020)
            emit("mem", "\(rng.pick(["l32i", "l32i", "l32ai"])) \(d()), \(base), \(off)")
        case 4:
            let (base, off) = scratchBase(align: 1, maxOffset: 255)
            emit("mem", "s8i \(a()), \(base), \(off)")
        case 5:
            let (base, off) = scratchBase(align: 2, maxOffset: 510)
            emit("mem", "s16i \(a()), \(base), \(off)")
        case 6, 7:
            let (base, off) = scratchBase(align: 4, maxOffset: 1020)
            emit("mem", "\(rng.pick(["s32i", "s32i", "s32ri"])) \(a()), \(base), \(off)")
        case 8, 9:
            // L32E/S32E: offsets -64...-4.
            let ea = rng.int(0...(QEMUBatch.scratchSize / 4 - 1)) * 4
            let off = -4 * rng.int(1...16)
            let base = d()
            set(base, Int64(QEMUBatch.scratchAddress) + Int64(ea - off))
            if rng.chance(0.5) { emit("mem", "l32e \(d()), \(base), \(off)") } else { emit("mem", "s32e \(a()), \(base), \(off)") }
        default:
            // S32C1I, half the time with SCOMPARE1 equal to the memory word.
            let (base, off) = scratchBase(align: 4, maxOffset: 1020)
            if rng.chance(0.5) {
                let t = distinct([base])
                emit("mem", "l32i \(t), \(base), \(off)")
                emit("sr", "wsr.scompare1 \(t)")
            }
            emit("mem", "s32c1i \(d()), \(base), \(off)")
        }
    }

    private mutating func mac16() {
        let halves = ["ll", "hl", "lh", "hh"]
        let h = rng.pick(halves)
        let op = rng.pick(["mul", "mula", "muls"])
        let mx = "m\(rng.int(0...1))", my = "m\(rng.int(2...3))"
        switch rng.int(0...8) {
        case 0: emit("mac16", "\(rng.pick(["umul", "mul", "mula", "muls"])).aa.\(h) \(a()), \(a())")
        case 1: emit("mac16", "\(op).ad.\(h) \(a()), \(my)")
        case 2: emit("mac16", "\(op).da.\(h) \(mx), \(a())")
        case 3: emit("mac16", "\(op).dd.\(h) \(mx), \(my)")
        case 4, 5:
            // LDINC/LDDEC forms: the load address is as + 4 / as - 4.
            let inc = rng.chance(0.5)
            let ea = rng.int(0...(QEMUBatch.scratchSize / 4 - 1)) * 4
            let base = d()
            set(base, Int64(QEMUBatch.scratchAddress) + Int64(ea + (inc ? -4 : 4)))
            let sfx = inc ? "ldinc" : "lddec"
            let mw = "m\(rng.int(0...3))"
            switch rng.int(0...2) {
            case 0: emit("mac16", "\(sfx) \(mw), \(base)")
            case 1: emit("mac16", "mula.da.\(h).\(sfx) \(mw), \(base), \(mx), \(a())")
            default: emit("mac16", "mula.dd.\(h).\(sfx) \(mw), \(base), \(mx), \(my)")
            }
        case 6:
            let r = d()
            if rng.chance(0.5) { set(r, Int64(Int32(bitPattern: randomWord()))) }
            emit("mac16", "\(rng.pick(["wsr", "xsr"])).\(rng.pick(["acclo", "acchi", "m0", "m1", "m2", "m3"])) \(r)")
        default: emit("mac16", "rsr.\(rng.pick(["acclo", "acchi", "m0", "m1", "m2", "m3"])) \(d())")
        }
    }

    private mutating func specialRegister() {
        switch rng.int(0...5) {
        case 0: emit("sr", "rsr.\(rng.pick(["lbeg", "lend", "lcount", "ps", "windowbase", "windowstart", "cpenable", "atomctl"])) \(d())")
        case 1: emit("sr", "rsr.\(rng.pick(["exccause", "epc1", "excvaddr", "depc", "excsave1", "scompare1"])) \(d())")
        case 2:
            let r = d()
            if rng.chance(0.5) { set(r, Int64(Int32(bitPattern: rng.u32()))) }
            emit("sr", "\(rng.pick(["wsr", "xsr"])).\(rng.pick(["epc1", "excvaddr", "depc", "excsave1", "scompare1"])) \(r)")
        case 3:
            if rng.chance(0.5) { emit("sr", "rur.threadptr \(d())") } else { emit("sr", "wur.threadptr \(a())") }
        case 4:
            // CPENABLE on or off (FP instructions after "off" raise Coprocessor0Disabled).
            let r = d()
            set(r, rng.chance(0.95) ? Int64(rng.pick([1, 0xFF, 0x101])) : Int64(rng.pick([0, 0xFE])))
            emit("sr", "wsr.cpenable \(r)")
        default: emit("sr", "rsr.sar \(d())")
        }
    }

    private mutating func fpMove() {
        switch rng.int(0...6) {
        case 0: emit("fpmove", "\(rng.pick(["mov.s", "abs.s", "neg.s"])) \(f()), \(f())")
        case 1: emit("fpmove", "rfr \(d()), \(f())")
        case 2:
            let r = d()
            if rng.chance(0.6) { set(r, Int64(Int32(bitPattern: randomFloat()))) }
            emit("fpmove", "wfr \(f()), \(r)")
        case 3: emit("fpmove", "const.s \(f()), \(rng.int(0...3))")
        case 4: emit("fpmove", "\(rng.pick(["moveqz.s", "movnez.s", "movltz.s", "movgez.s"])) \(f()), \(f()), \(a())")
        default: emit("fpmove", "\(rng.pick(["movf.s", "movt.s"])) \(f()), \(f()), \(b())")
        }
    }

    private mutating func fpMemory() {
        switch rng.int(0...3) {
        case 0:
            let (base, off) = scratchBase(align: 4, maxOffset: 1020)
            emit("fpmem", "\(rng.pick(["lsi", "ssi"])) \(f()), \(base), \(off)")
        case 1:
            // Post-increment: the address is the base; the base then moves by imm.
            let (base, _) = scratchBase(align: 4, maxOffset: 0)
            emit("fpmem", "\(rng.pick(["lsip", "ssip"])) \(f()), \(base), \(rng.int(0...255) * 4)")
        case 2:
            let (base, off) = scratchBase(align: 4, maxOffset: 252)
            let idx = distinct([base])
            set(idx, Int64(off))
            emit("fpmem", "\(rng.pick(["lsx", "ssx"])) \(f()), \(base), \(idx)")
        default:
            let (base, _) = scratchBase(align: 4, maxOffset: 0)
            let idx = distinct([base])
            if rng.chance(0.7) { set(idx, Int64(rng.int(-512...512))) }
            emit("fpmem", "\(rng.pick(["lsxp", "ssxp"])) \(f()), \(base), \(idx)")
        }
    }

    /// Items that end the test with an exception.
    private mutating func exception() {
        switch rng.int(0...5) {
        case 5: emit("exception", rng.chance(0.5) ? "break \(rng.int(0...15)), \(rng.int(0...15))" : "break.n \(rng.int(0...15))")
        case 0: emit("exception", "syscall")
        case 1: emit("exception", rng.pick(["ill", "ill.n"]))
        case 2: division(allowZero: true)
        case 3: emit("exception", "movsp \(d()), \(a())")     // WINDOWSTART has no caller frame: Alloca
        default:
            let r = d()
            set(r, 0)
            emit("sr", "wsr.cpenable \(r)")
            emit("exception", "\(rng.pick(["add.s", "mul.s"])) \(f()), \(f()), \(f())")
        }
    }

    // MARK: Blocks

    /// A straight-line block of simple items; forward branch labels land 1...3 items later and
    /// never leave the block.
    private mutating func simpleBlock(_ n: Int) {
        var pending: [(String, Int)] = []
        for _ in 0..<n {
            let l = simpleItem()
            pending = pending.compactMap { p in
                if p.1 <= 1 { raw("\(p.0):"); return nil }
                return (p.0, p.1 - 1)
            }
            if let l = l { pending.append((l, rng.int(1...3))) }
        }
        for p in pending { raw("\(p.0):") }
    }

    private mutating func loop() {
        let m = rng.pick(["loop", "loopnez", "loopgtz"])
        let count = m == "loop" ? rng.int(1...4) : m == "loopnez" ? rng.int(0...4) : rng.int(-2...4)
        let r = d()
        set(r, Int64(count))
        let end = newLabel("le")
        emit("loop", "\(m) \(r), \(end)")
        simpleBlock(rng.int(1...4))
        raw("\(end):")
    }

    private mutating func subroutine() {
        let windowed = rng.chance(0.6)
        let fn = newLabel("fn"), skip = newLabel("sk")
        if windowed {
            let n = rng.pick([4, 8, 12])
            if rng.chance(0.3) {
                let r = d()
                emit("l32r", "movi \(r), \(fn)")
                emit("window", "callx\(n) \(r)")
            } else {
                emit("window", "call\(n) \(fn)")
            }
        } else if rng.chance(0.3) {
            let r = d()
            emit("l32r", "movi \(r), \(fn)")
            emit("call", "callx0 \(r)")
        } else {
            emit("call", "call0 \(fn)")
        }
        emit("branch", "j \(skip)")
        raw("    .align 4")
        raw("\(fn):")
        protectA0 = true
        if windowed {
            emit("window", "entry a\(rng.pick([1, 1, 1, 2, 3])), \(rng.int(0...8) * 8)")
            if rng.chance(0.15) { emit("window", "movsp \(d()), \(a())") }
        }
        simpleBlock(rng.int(1...4))
        protectA0 = false
        if windowed { emit("window", rng.pick(["retw", "retw.n"])) } else { emit("call", rng.pick(["ret", "ret.n"])) }
        raw("\(skip):")
    }

    private mutating func rotwBlock() {
        let n = rng.int(1...3)
        emit("window", "rotw \(n)")
        simpleBlock(rng.int(1...3))
        emit("window", "rotw \(-n)")
    }

    private mutating func jumpIndirect() {
        let target = newLabel("jx")
        let r = d()
        emit("l32r", "movi \(r), \(target)")
        emit("call", "jx \(r)")
        simpleBlock(1)
        raw("\(target):")
    }

    // MARK: Tests

    mutating func makeTest() -> QEMUDiffTest {
        lines = []
        coverage = [:]
        protectA0 = false
        raw("    .literal_position")
        // A few explicit literals for l32r.
        var lits: [String] = []
        for _ in 0..<rng.int(0...2) {
            let l = newLabel("lit")
            raw("\(l):")
            raw("    .word \(randomWord())")
            lits.append(l)
        }
        raw("_start:")
        for l in lits { emit("l32r", "l32r \(d()), \(l)") }
        let n = rng.int(4...16)
        for _ in 0..<n {
            switch rng.int(0...29) {
            case 0, 1: loop()
            case 2, 3: subroutine()
            case 4: rotwBlock()
            case 5: jumpIndirect()
            default: simpleBlock(rng.int(1...3))
            }
        }
        return QEMUDiffTest(source: lines.joined(separator: "\n") + "\n", state: initialState(), scratch: scratch(), coverage: coverage)
    }

    mutating func initialState() -> DiffState {
        var s = DiffState()
        for i in 0..<32 { s.ar[i] = randomWord() }
        for i in 0..<16 { s.f[i] = randomFloat() }
        s["sar"] = UInt32(rng.int(0...32))
        s["lbeg"] = rng.u32()
        s["lend"] = rng.u32()
        s["lcount"] = 0
        s["br"] = rng.u32() & 0xFFFF
        s["acclo"] = randomWord()
        s["acchi"] = UInt32(bitPattern: Int32(Int8(truncatingIfNeeded: rng.u32())))
        for m in ["m0", "m1", "m2", "m3"] { s[m] = randomWord() }
        s["scompare1"] = randomWord()
        var ps: UInt32 = UInt32(rng.int(0...3)) << 16 | UInt32(rng.int(0...15)) << 8
        if rng.chance(0.97) { ps |= PS.woe }
        if rng.chance(0.2) { ps |= PS.um }
        s["ps"] = ps
        s["windowbase"] = 0
        // Mostly only the current frame is live. Sometimes more frames (bits 1...4: window
        // overflow exceptions; both cores agree while no live bit wraps past 8 panels), or none
        // (RETW then takes a window underflow exception).
        let wsKind = rng.int(0...99)
        s["windowstart"] = wsKind < 6 ? 1 | UInt32(rng.int(1...15)) << 1 : wsKind < 9 ? 0 : 1
        s["threadptr"] = rng.u32()
        s["fcr"] = UInt32(rng.int(0...0x7F))
        s["fsr"] = UInt32(rng.int(0...31)) << 7
        s["cpenable"] = rng.chance(0.98) ? rng.pick([1, 1, 1, 0xFF]) : rng.pick([0, 0xFE])
        s["exccause"] = UInt32(rng.int(0...63))
        for n in ["epc1", "excvaddr", "depc", "excsave1"] { s[n] = rng.u32() }
        s["atomctl"] = rng.chance(0.97) ? rng.pick([0x15, 0x15, 0x2A, 0x3F]) : 0
        return s
    }

    mutating func scratch() -> [UInt8] {
        var out: [UInt8] = []
        for _ in 0..<(QEMUBatch.scratchSize / 4) {
            let w = rng.chance(0.5) ? randomFloat() : randomWord()
            out += [UInt8(w & 0xFF), UInt8((w >> 8) & 0xFF), UInt8((w >> 16) & 0xFF), UInt8(w >> 24)]
        }
        return out
    }
}

// The one table of Xtensa instructions of the ESP32 configuration.
//
// Every entry names the operation (which the interpreter switches on), the
// GNU mnemonic, the fixed bits of its encoding and its operands in the
// order GNU as/objdump write them. The decoder, the disassembler and the
// assembler are all built from this table, so they cannot disagree.

/// Operation identifiers. One per distinct semantic; variants of the same
/// semantic (MAC16 halves, ...) carry their detail in `InstrDef.aux`.
public enum Op: UInt16, Sendable {
    case illegal
    // Core ALU
    case add, addx2, addx4, addx8, sub, subx2, subx4, subx8, and, or, xor, neg, abs
    case addi, addmi, movi, extui, slli, srai, srli, src, srl, sll, sra
    case ssr, ssl, ssa8l, ssa8b, ssai, nsa, nsau, min, max, minu, maxu, sext, clamps
    case moveqz, movnez, movltz, movgez, movf, movt
    case mul16u, mul16s, mull, muluh, mulsh, quou, quos, remu, rems
    // Loads/stores
    case l8ui, l16ui, l16si, l32i, s8i, s16i, s32i, l32ai, s32ri, s32c1i, l32r, l32e, s32e
    // Jumps, calls, branches
    case j, jx, call0, callx0, call4, call8, call12, callx4, callx8, callx12, ret, retw, entry, movsp, rotw
    case beqz, bnez, bltz, bgez, beqi, bnei, blti, bgei, bltui, bgeui
    case bnone, beq, blt, bltu, ball, bbc, bbci, bany, bne, bge, bgeu, bnall, bbs, bbsi
    case bf, bt, loop, loopnez, loopgtz
    // Density
    case l32in, s32in, addn, addin, movin, beqzn, bnezn, movn, retn, retwn, breakn, nopn, illn
    // System
    case isync, rsync, esync, dsync, excw, memw, extw, nop
    case rfe, rfde, rfwo, rfwu, rfi, rfme, break_, syscall, simcall, rsil, waiti
    case rsr, wsr, xsr, rur, wur, rer, wer
    case ritlb0, iitlb, pitlb, witlb, ritlb1, rdtlb0, idtlb, pdtlb, wdtlb, rdtlb1
    // Booleans
    case any4, all4, any8, all8, andb, andbc, orb, orbc, xorb
    // MAC16: aux = operation (0 umul,1 mul,2 mula,3 muls) | half << 2 | (load: 1 dec, 2 inc) << 4
    case macAA, macAD, macDA, macDD, macDAld, macDDld, lddec, ldinc
    // Floating point (coprocessor 0)
    case lsi, lsip, ssi, ssip, lsx, lsxp, ssx, ssxp
    case addS, subS, mulS, maddS, msubS, maddnS, divnS
    case roundS, truncS, floorS, ceilS, floatS, ufloatS, utruncS
    case movS, absS, negS, rfr, wfr, constS
    case div0S, recip0S, sqrt0S, rsqrt0S, nexp01S, mksadjS, mkdadjS, addexpS, addexpmS
    case unS, oeqS, ueqS, oltS, ultS, oleS, uleS
    case moveqzS, movnezS, movltzS, movgezS, movfS, movtS
}

public struct InstrDef: Sendable {
    public let op: Op
    public let mnemonic: String
    public let length: Int          // 2 or 3 bytes
    public let match: UInt32
    public let mask: UInt32
    public let operands: [OperandKind]
    public let aux: Int32

    init(_ op: Op, _ mnemonic: String, length: Int = 3, _ match: UInt32, _ operands: [OperandKind], aux: Int32 = 0, extraMask: UInt32 = 0) {
        self.op = op
        self.mnemonic = mnemonic
        self.length = length
        self.match = match
        self.operands = operands
        self.aux = aux
        var opBits: UInt32 = 0
        for o in operands { opBits |= o.bitMask }
        let full: UInt32 = length == 3 ? 0xFF_FFFF : 0xFFFF
        self.mask = full & ~opBits & ~extraMask
        precondition(match & ~self.mask == 0, "\(mnemonic): fixed bits overlap operands")
    }

    /// Special-register instructions print their register as part of the mnemonic (rsr.ps).
    public var hasSRSuffix: Bool { op == .rsr || op == .wsr || op == .xsr }
}

/// Builds an encoding from field values.
@inline(__always) private func enc(op0: UInt32, t: UInt32 = 0, s: UInt32 = 0, r: UInt32 = 0, op1: UInt32 = 0, op2: UInt32 = 0) -> UInt32 {
    op0 | t << 4 | s << 8 | r << 12 | op1 << 16 | op2 << 20
}

private func rrr(_ op: Op, _ m: String, op1: UInt32, op2: UInt32, r: UInt32 = 0, s: UInt32 = 0, t: UInt32 = 0, _ ops: [OperandKind], aux: Int32 = 0) -> InstrDef {
    InstrDef(op, m, enc(op0: 0, t: t, s: s, r: r, op1: op1, op2: op2), ops, aux: aux)
}

private let rst: [OperandKind] = [.ar(.r), .ar(.s), .ar(.t)]
private let frst: [OperandKind] = [.fr(.r), .fr(.s), .fr(.t)]
private let brst: [OperandKind] = [.br(.r), .br(.s), .br(.t)]

private func buildTable() -> [InstrDef] {
    var d: [InstrDef] = []
    // ---- QRST / RST0 / ST0 (op0=0 op1=0 op2=0)
    d.append(rrr(.illegal, "ill", op1: 0, op2: 0, []))
    d.append(rrr(.ret, "ret", op1: 0, op2: 0, t: 8, []))
    d.append(rrr(.retw, "retw", op1: 0, op2: 0, t: 9, []))
    d.append(rrr(.jx, "jx", op1: 0, op2: 0, t: 10, [.ar(.s)]))
    d.append(rrr(.callx0, "callx0", op1: 0, op2: 0, t: 12, [.ar(.s)]))
    d.append(rrr(.callx4, "callx4", op1: 0, op2: 0, t: 13, [.ar(.s)]))
    d.append(rrr(.callx8, "callx8", op1: 0, op2: 0, t: 14, [.ar(.s)]))
    d.append(rrr(.callx12, "callx12", op1: 0, op2: 0, t: 15, [.ar(.s)]))
    d.append(rrr(.movsp, "movsp", op1: 0, op2: 0, r: 1, [.ar(.t), .ar(.s)]))
    for (op, m, t) in [(Op.isync, "isync", 0), (.rsync, "rsync", 1), (.esync, "esync", 2), (.dsync, "dsync", 3),
                       (.excw, "excw", 8), (.memw, "memw", 12), (.extw, "extw", 13), (.nop, "nop", 15)] as [(Op, String, UInt32)] {
        d.append(rrr(op, m, op1: 0, op2: 0, r: 2, t: t, []))
    }
    d.append(rrr(.rfe, "rfe", op1: 0, op2: 0, r: 3, s: 0, t: 0, []))
    d.append(rrr(.rfde, "rfde", op1: 0, op2: 0, r: 3, s: 2, t: 0, []))
    d.append(rrr(.rfwo, "rfwo", op1: 0, op2: 0, r: 3, s: 4, t: 0, []))
    d.append(rrr(.rfwu, "rfwu", op1: 0, op2: 0, r: 3, s: 5, t: 0, []))
    d.append(rrr(.rfi, "rfi", op1: 0, op2: 0, r: 3, t: 1, [.u4(.s)]))
    // No RFME (r = 3, t = 2): it needs the memory ECC/parity option (XCHAL_HAVE_MEM_ECC_PARITY = 0 on the ESP32).
    d.append(rrr(.break_, "break", op1: 0, op2: 0, r: 4, [.u4(.s), .u4(.t)]))
    d.append(rrr(.syscall, "syscall", op1: 0, op2: 0, r: 5, s: 0, t: 0, []))
    d.append(rrr(.simcall, "simcall", op1: 0, op2: 0, r: 5, s: 1, t: 0, []))
    d.append(rrr(.rsil, "rsil", op1: 0, op2: 0, r: 6, [.ar(.t), .u4(.s)]))
    d.append(rrr(.waiti, "waiti", op1: 0, op2: 0, r: 7, [.u4(.s)]))
    d.append(rrr(.any4, "any4", op1: 0, op2: 0, r: 8, [.br(.t), .br4(.s)]))
    d.append(rrr(.all4, "all4", op1: 0, op2: 0, r: 9, [.br(.t), .br4(.s)]))
    d.append(rrr(.any8, "any8", op1: 0, op2: 0, r: 10, [.br(.t), .br8(.s)]))
    d.append(rrr(.all8, "all8", op1: 0, op2: 0, r: 11, [.br(.t), .br8(.s)]))
    // ---- RST0 logic / ST1 / TLB / RT0 / add-sub
    d.append(rrr(.and, "and", op1: 0, op2: 1, rst))
    d.append(rrr(.or, "or", op1: 0, op2: 2, rst))
    d.append(rrr(.xor, "xor", op1: 0, op2: 3, rst))
    d.append(rrr(.ssr, "ssr", op1: 0, op2: 4, r: 0, [.ar(.s)]))
    d.append(rrr(.ssl, "ssl", op1: 0, op2: 4, r: 1, [.ar(.s)]))
    d.append(rrr(.ssa8l, "ssa8l", op1: 0, op2: 4, r: 2, [.ar(.s)]))
    d.append(rrr(.ssa8b, "ssa8b", op1: 0, op2: 4, r: 3, [.ar(.s)]))
    d.append(rrr(.ssai, "ssai", op1: 0, op2: 4, r: 4, [.ssaiAmt]))
    d.append(rrr(.rer, "rer", op1: 0, op2: 4, r: 6, [.ar(.t), .ar(.s)]))
    d.append(rrr(.wer, "wer", op1: 0, op2: 4, r: 7, [.ar(.t), .ar(.s)]))
    d.append(rrr(.rotw, "rotw", op1: 0, op2: 4, r: 8, [.rotw]))
    d.append(rrr(.nsa, "nsa", op1: 0, op2: 4, r: 14, [.ar(.t), .ar(.s)]))
    d.append(rrr(.nsau, "nsau", op1: 0, op2: 4, r: 15, [.ar(.t), .ar(.s)]))
    d.append(rrr(.ritlb0, "ritlb0", op1: 0, op2: 5, r: 3, [.ar(.t), .ar(.s)]))
    d.append(rrr(.iitlb, "iitlb", op1: 0, op2: 5, r: 4, [.ar(.s)]))
    d.append(rrr(.pitlb, "pitlb", op1: 0, op2: 5, r: 5, [.ar(.t), .ar(.s)]))
    d.append(rrr(.witlb, "witlb", op1: 0, op2: 5, r: 6, [.ar(.t), .ar(.s)]))
    d.append(rrr(.ritlb1, "ritlb1", op1: 0, op2: 5, r: 7, [.ar(.t), .ar(.s)]))
    d.append(rrr(.rdtlb0, "rdtlb0", op1: 0, op2: 5, r: 11, [.ar(.t), .ar(.s)]))
    d.append(rrr(.idtlb, "idtlb", op1: 0, op2: 5, r: 12, [.ar(.s)]))
    d.append(rrr(.pdtlb, "pdtlb", op1: 0, op2: 5, r: 13, [.ar(.t), .ar(.s)]))
    d.append(rrr(.wdtlb, "wdtlb", op1: 0, op2: 5, r: 14, [.ar(.t), .ar(.s)]))
    d.append(rrr(.rdtlb1, "rdtlb1", op1: 0, op2: 5, r: 15, [.ar(.t), .ar(.s)]))
    d.append(rrr(.neg, "neg", op1: 0, op2: 6, s: 0, [.ar(.r), .ar(.t)]))
    d.append(rrr(.abs, "abs", op1: 0, op2: 6, s: 1, [.ar(.r), .ar(.t)]))
    for (i, (op, m)) in [(Op.add, "add"), (.addx2, "addx2"), (.addx4, "addx4"), (.addx8, "addx8"),
                         (.sub, "sub"), (.subx2, "subx2"), (.subx4, "subx4"), (.subx8, "subx8")].enumerated() {
        d.append(rrr(op, m, op1: 0, op2: UInt32(8 + i), rst))
    }
    // ---- RST1
    d.append(rrr(.slli, "slli", op1: 1, op2: 0, [.ar(.r), .ar(.s), .slliAmt]))
    d.append(rrr(.srai, "srai", op1: 1, op2: 2, [.ar(.r), .ar(.t), .sraiAmt]))
    d.append(rrr(.srli, "srli", op1: 1, op2: 4, [.ar(.r), .ar(.t), .u4(.s)]))
    d.append(rrr(.xsr, "xsr", op1: 1, op2: 6, [.ar(.t), .sr]))
    d.append(rrr(.src, "src", op1: 1, op2: 8, rst))
    d.append(rrr(.srl, "srl", op1: 1, op2: 9, s: 0, [.ar(.r), .ar(.t)]))
    d.append(rrr(.sll, "sll", op1: 1, op2: 10, t: 0, [.ar(.r), .ar(.s)]))
    d.append(rrr(.sra, "sra", op1: 1, op2: 11, s: 0, [.ar(.r), .ar(.t)]))
    d.append(rrr(.mul16u, "mul16u", op1: 1, op2: 12, rst))
    d.append(rrr(.mul16s, "mul16s", op1: 1, op2: 13, rst))
    // ---- RST2
    for (i, (op, m)) in [(Op.andb, "andb"), (.andbc, "andbc"), (.orb, "orb"), (.orbc, "orbc"), (.xorb, "xorb")].enumerated() {
        d.append(rrr(op, m, op1: 2, op2: UInt32(i), brst))
    }
    for (op, m, op2) in [(Op.mull, "mull", 8), (.muluh, "muluh", 10), (.mulsh, "mulsh", 11), (.quou, "quou", 12),
                         (.quos, "quos", 13), (.remu, "remu", 14), (.rems, "rems", 15)] as [(Op, String, UInt32)] {
        d.append(rrr(op, m, op1: 2, op2: op2, rst))
    }
    // ---- RST3
    d.append(rrr(.rsr, "rsr", op1: 3, op2: 0, [.ar(.t), .sr]))
    d.append(rrr(.wsr, "wsr", op1: 3, op2: 1, [.ar(.t), .sr]))
    d.append(rrr(.sext, "sext", op1: 3, op2: 2, [.ar(.r), .ar(.s), .sext7]))
    d.append(rrr(.clamps, "clamps", op1: 3, op2: 3, [.ar(.r), .ar(.s), .sext7]))
    for (i, (op, m)) in [(Op.min, "min"), (.max, "max"), (.minu, "minu"), (.maxu, "maxu"),
                         (.moveqz, "moveqz"), (.movnez, "movnez"), (.movltz, "movltz"), (.movgez, "movgez")].enumerated() {
        d.append(rrr(op, m, op1: 3, op2: UInt32(4 + i), rst))
    }
    d.append(rrr(.movf, "movf", op1: 3, op2: 12, [.ar(.r), .ar(.s), .br(.t)]))
    d.append(rrr(.movt, "movt", op1: 3, op2: 13, [.ar(.r), .ar(.s), .br(.t)]))
    d.append(rrr(.rur, "rur", op1: 3, op2: 14, [.ar(.r), .urST]))
    d.append(rrr(.wur, "wur", op1: 3, op2: 15, [.ar(.t), .urRS]))
    // ---- EXTUI, LSCX, LSC4
    d.append(InstrDef(.extui, "extui", enc(op0: 0, op1: 4), [.ar(.r), .ar(.t), .extuiShift, .extuiMask]))
    d.append(rrr(.lsx, "lsx", op1: 8, op2: 0, [.fr(.r), .ar(.s), .ar(.t)]))
    d.append(rrr(.lsxp, "lsxp", op1: 8, op2: 1, [.fr(.r), .ar(.s), .ar(.t)]))
    d.append(rrr(.ssx, "ssx", op1: 8, op2: 4, [.fr(.r), .ar(.s), .ar(.t)]))
    d.append(rrr(.ssxp, "ssxp", op1: 8, op2: 5, [.fr(.r), .ar(.s), .ar(.t)]))
    d.append(rrr(.l32e, "l32e", op1: 9, op2: 0, [.ar(.t), .ar(.s), .l32eOff]))
    d.append(rrr(.s32e, "s32e", op1: 9, op2: 4, [.ar(.t), .ar(.s), .l32eOff]))
    // ---- FP0
    for (op, m, op2) in [(Op.addS, "add.s", 0), (.subS, "sub.s", 1), (.mulS, "mul.s", 2), (.maddS, "madd.s", 4),
                         (.msubS, "msub.s", 5), (.maddnS, "maddn.s", 6), (.divnS, "divn.s", 7)] as [(Op, String, UInt32)] {
        d.append(rrr(op, m, op1: 10, op2: op2, frst))
    }
    for (op, m, op2) in [(Op.roundS, "round.s", 8), (.truncS, "trunc.s", 9), (.floorS, "floor.s", 10),
                         (.ceilS, "ceil.s", 11), (.utruncS, "utrunc.s", 14)] as [(Op, String, UInt32)] {
        d.append(rrr(op, m, op1: 10, op2: op2, [.ar(.r), .fr(.s), .u4(.t)]))
    }
    d.append(rrr(.floatS, "float.s", op1: 10, op2: 12, [.fr(.r), .ar(.s), .u4(.t)]))
    d.append(rrr(.ufloatS, "ufloat.s", op1: 10, op2: 13, [.fr(.r), .ar(.s), .u4(.t)]))
    d.append(rrr(.movS, "mov.s", op1: 10, op2: 15, t: 0, [.fr(.r), .fr(.s)]))
    d.append(rrr(.absS, "abs.s", op1: 10, op2: 15, t: 1, [.fr(.r), .fr(.s)]))
    d.append(rrr(.constS, "const.s", op1: 10, op2: 15, t: 3, [.fr(.r), .u4(.s)]))
    d.append(rrr(.rfr, "rfr", op1: 10, op2: 15, t: 4, [.ar(.r), .fr(.s)]))
    d.append(rrr(.wfr, "wfr", op1: 10, op2: 15, t: 5, [.fr(.r), .ar(.s)]))
    d.append(rrr(.negS, "neg.s", op1: 10, op2: 15, t: 6, [.fr(.r), .fr(.s)]))
    for (op, m, t) in [(Op.div0S, "div0.s", 7), (.recip0S, "recip0.s", 8), (.sqrt0S, "sqrt0.s", 9), (.rsqrt0S, "rsqrt0.s", 10),
                       (.nexp01S, "nexp01.s", 11), (.mksadjS, "mksadj.s", 12), (.mkdadjS, "mkdadj.s", 13),
                       (.addexpS, "addexp.s", 14), (.addexpmS, "addexpm.s", 15)] as [(Op, String, UInt32)] {
        d.append(rrr(op, m, op1: 10, op2: 15, t: t, [.fr(.r), .fr(.s)]))
    }
    // ---- FP1
    for (op, m, op2) in [(Op.unS, "un.s", 1), (.oeqS, "oeq.s", 2), (.ueqS, "ueq.s", 3), (.oltS, "olt.s", 4),
                         (.ultS, "ult.s", 5), (.oleS, "ole.s", 6), (.uleS, "ule.s", 7)] as [(Op, String, UInt32)] {
        d.append(rrr(op, m, op1: 11, op2: op2, [.br(.r), .fr(.s), .fr(.t)]))
    }
    for (op, m, op2) in [(Op.moveqzS, "moveqz.s", 8), (.movnezS, "movnez.s", 9), (.movltzS, "movltz.s", 10),
                         (.movgezS, "movgez.s", 11)] as [(Op, String, UInt32)] {
        d.append(rrr(op, m, op1: 11, op2: op2, [.fr(.r), .fr(.s), .ar(.t)]))
    }
    d.append(rrr(.movfS, "movf.s", op1: 11, op2: 12, [.fr(.r), .fr(.s), .br(.t)]))
    d.append(rrr(.movtS, "movt.s", op1: 11, op2: 13, [.fr(.r), .fr(.s), .br(.t)]))

    // ---- L32R, LSAI, LSCI
    d.append(InstrDef(.l32r, "l32r", enc(op0: 1), [.ar(.t), .l32r]))
    let lsai: [(Op, String, UInt32, OperandKind)] = [
        (.l8ui, "l8ui", 0, .off8(scale: 1)), (.l16ui, "l16ui", 1, .off8(scale: 2)), (.l32i, "l32i", 2, .off8(scale: 4)),
        (.s8i, "s8i", 4, .off8(scale: 1)), (.s16i, "s16i", 5, .off8(scale: 2)), (.s32i, "s32i", 6, .off8(scale: 4)),
        (.l16si, "l16si", 9, .off8(scale: 2)), (.l32ai, "l32ai", 11, .off8(scale: 4)), (.addi, "addi", 12, .imm8s),
        (.addmi, "addmi", 13, .imm8sh8), (.s32c1i, "s32c1i", 14, .off8(scale: 4)), (.s32ri, "s32ri", 15, .off8(scale: 4)),
    ]
    for (op, m, r, k) in lsai { d.append(InstrDef(op, m, enc(op0: 2, r: r), [.ar(.t), .ar(.s), k])) }
    d.append(InstrDef(.movi, "movi", enc(op0: 2, r: 10), [.ar(.t), .movi12]))
    d.append(InstrDef(.lsi, "lsi", enc(op0: 3, r: 0), [.fr(.t), .ar(.s), .off8(scale: 4)]))
    d.append(InstrDef(.ssi, "ssi", enc(op0: 3, r: 4), [.fr(.t), .ar(.s), .off8(scale: 4)]))
    d.append(InstrDef(.lsip, "lsip", enc(op0: 3, r: 8), [.fr(.t), .ar(.s), .off8(scale: 4)]))
    d.append(InstrDef(.ssip, "ssip", enc(op0: 3, r: 12), [.fr(.t), .ar(.s), .off8(scale: 4)]))

    // ---- MAC16 (op0=4)
    let halves = ["ll", "hl", "lh", "hh"]
    let opers = ["umul", "mul", "mula", "muls"]
    for oper in 0..<4 {
        for h in 0..<4 {
            let op1 = UInt32(oper << 2 | h)
            let aux = Int32(oper | h << 2)
            let sfx = halves[h]
            d.append(InstrDef(.macAA, "\(opers[oper]).aa.\(sfx)", enc(op0: 4, op1: op1, op2: 7), [.ar(.s), .ar(.t)], aux: aux))
            guard oper > 0 else { continue }
            d.append(InstrDef(.macAD, "\(opers[oper]).ad.\(sfx)", enc(op0: 4, op1: op1, op2: 3), [.ar(.s), .my], aux: aux))
            d.append(InstrDef(.macDA, "\(opers[oper]).da.\(sfx)", enc(op0: 4, op1: op1, op2: 6), [.mx, .ar(.t)], aux: aux))
            d.append(InstrDef(.macDD, "\(opers[oper]).dd.\(sfx)", enc(op0: 4, op1: op1, op2: 2), [.mx, .my], aux: aux))
            guard oper == 2 else { continue }
            d.append(InstrDef(.macDAld, "mula.da.\(sfx).lddec", enc(op0: 4, op1: op1, op2: 5), [.mw, .ar(.s), .mx, .ar(.t)], aux: aux | 1 << 4))
            d.append(InstrDef(.macDAld, "mula.da.\(sfx).ldinc", enc(op0: 4, op1: op1, op2: 4), [.mw, .ar(.s), .mx, .ar(.t)], aux: aux | 2 << 4))
            d.append(InstrDef(.macDDld, "mula.dd.\(sfx).lddec", enc(op0: 4, op1: op1, op2: 1), [.mw, .ar(.s), .mx, .my], aux: aux | 1 << 4))
            d.append(InstrDef(.macDDld, "mula.dd.\(sfx).ldinc", enc(op0: 4, op1: op1, op2: 0), [.mw, .ar(.s), .mx, .my], aux: aux | 2 << 4))
        }
    }
    d.append(InstrDef(.ldinc, "ldinc", enc(op0: 4, op2: 8), [.mw, .ar(.s)]))
    d.append(InstrDef(.lddec, "lddec", enc(op0: 4, op2: 9), [.mw, .ar(.s)]))

    // ---- CALLN (op0=5)
    d.append(InstrDef(.call0, "call0", 0x05, [.call18]))
    d.append(InstrDef(.call4, "call4", 0x15, [.call18]))
    d.append(InstrDef(.call8, "call8", 0x25, [.call18]))
    d.append(InstrDef(.call12, "call12", 0x35, [.call18]))
    // ---- SI (op0=6)
    d.append(InstrDef(.j, "j", 0x06, [.label18]))
    d.append(InstrDef(.beqz, "beqz", 0x16, [.ar(.s), .label12]))
    d.append(InstrDef(.bnez, "bnez", 0x56, [.ar(.s), .label12]))
    d.append(InstrDef(.bltz, "bltz", 0x96, [.ar(.s), .label12]))
    d.append(InstrDef(.bgez, "bgez", 0xD6, [.ar(.s), .label12]))
    d.append(InstrDef(.beqi, "beqi", 0x26, [.ar(.s), .b4const, .label8]))
    d.append(InstrDef(.bnei, "bnei", 0x66, [.ar(.s), .b4const, .label8]))
    d.append(InstrDef(.blti, "blti", 0xA6, [.ar(.s), .b4const, .label8]))
    d.append(InstrDef(.bgei, "bgei", 0xE6, [.ar(.s), .b4const, .label8]))
    d.append(InstrDef(.entry, "entry", 0x36, [.ar(.s), .entryImm]))
    d.append(InstrDef(.bf, "bf", 0x76 | 0 << 12, [.br(.s), .label8]))
    d.append(InstrDef(.bt, "bt", 0x76 | 1 << 12, [.br(.s), .label8]))
    d.append(InstrDef(.loop, "loop", 0x76 | 8 << 12, [.ar(.s), .label8u]))
    d.append(InstrDef(.loopnez, "loopnez", 0x76 | 9 << 12, [.ar(.s), .label8u]))
    d.append(InstrDef(.loopgtz, "loopgtz", 0x76 | 10 << 12, [.ar(.s), .label8u]))
    d.append(InstrDef(.bltui, "bltui", 0xB6, [.ar(.s), .b4constu, .label8]))
    d.append(InstrDef(.bgeui, "bgeui", 0xF6, [.ar(.s), .b4constu, .label8]))
    // ---- B (op0=7)
    let bops: [(Op, String, UInt32)] = [(.bnone, "bnone", 0), (.beq, "beq", 1), (.blt, "blt", 2), (.bltu, "bltu", 3),
                                        (.ball, "ball", 4), (.bbc, "bbc", 5), (.bany, "bany", 8), (.bne, "bne", 9),
                                        (.bge, "bge", 10), (.bgeu, "bgeu", 11), (.bnall, "bnall", 12), (.bbs, "bbs", 13)]
    for (op, m, r) in bops { d.append(InstrDef(op, m, enc(op0: 7, r: r), [.ar(.s), .ar(.t), .label8])) }
    d.append(InstrDef(.bbci, "bbci", enc(op0: 7, r: 6), [.ar(.s), .bbiBit, .label8]))
    d.append(InstrDef(.bbsi, "bbsi", enc(op0: 7, r: 14), [.ar(.s), .bbiBit, .label8]))
    // ---- Density (op0=8..13)
    d.append(InstrDef(.l32in, "l32i.n", length: 2, 0x8, [.ar(.t), .ar(.s), .l32nOff]))
    d.append(InstrDef(.s32in, "s32i.n", length: 2, 0x9, [.ar(.t), .ar(.s), .l32nOff]))
    d.append(InstrDef(.addn, "add.n", length: 2, 0xA, rst))
    d.append(InstrDef(.addin, "addi.n", length: 2, 0xB, [.ar(.r), .ar(.s), .addinImm]))
    d.append(InstrDef(.movin, "movi.n", length: 2, 0xC, [.ar(.s), .moviNImm]))
    d.append(InstrDef(.beqzn, "beqz.n", length: 2, 0xC | 8 << 4, [.ar(.s), .label6]))
    d.append(InstrDef(.bnezn, "bnez.n", length: 2, 0xC | 12 << 4, [.ar(.s), .label6]))
    d.append(InstrDef(.movn, "mov.n", length: 2, 0xD, [.ar(.t), .ar(.s)]))
    d.append(InstrDef(.retn, "ret.n", length: 2, 0xD | 15 << 12 | 0 << 4, []))
    d.append(InstrDef(.retwn, "retw.n", length: 2, 0xD | 15 << 12 | 1 << 4, []))
    d.append(InstrDef(.breakn, "break.n", length: 2, 0xD | 15 << 12 | 2 << 4, [.u4(.s)]))
    d.append(InstrDef(.nopn, "nop.n", length: 2, 0xD | 15 << 12 | 3 << 4, []))
    d.append(InstrDef(.illn, "ill.n", length: 2, 0xD | 15 << 12 | 6 << 4, []))
    return d
}

/// The instruction table of the ESP32's Xtensa LX6 configuration.
public let instructionTable: [InstrDef] = buildTable()

/// Instruction length in bytes from the first byte (op0), per the ESP32 configuration.
@inline(__always) public func instructionLength(firstByte: UInt8) -> Int {
    let op0 = firstByte & 0xF
    return (op0 >= 8 && op0 <= 0xD) ? 2 : 3
}

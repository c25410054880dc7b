// Decoding instruction words through the instruction table.

/// A decoded instruction in the form the interpreter executes.
/// Register operands fill `a`, `b`, `c`, `d` in table order; the first
/// immediate or target goes to `imm`, a second one to `imm2`.
public struct Decoded: Sendable {
    public var op: Op = .illegal
    /// The instruction's length (bits 0-1: 2 or 3, 0 for an empty slot) and, once the slot heads
    /// a straight-line block (`blockGate` != 0), the block's instruction count (bits 2-7).
    var lengthAndCount: UInt8 = 3
    /// 4 - panel for a decoded instruction, 0 for an empty slot: the instruction names no
    /// register of a live frame when `gate >= 4 - free panels`.
    public var gate: UInt8 = 4
    public var a: UInt8 = 0
    public var b: UInt8 = 0
    /// The lowest `gate` of the straight-line block this slot heads, 0 while no block has been
    /// formed from it: the run loop runs the whole block without a check per instruction when
    /// `blockGate >= 4 - free panels` and no event falls inside it (see `XtensaCPU.formBlock`).
    var blockGate: UInt8 = 0
    /// Operands `c` (low byte) and `d`; for branches and jumps (which name at most two
    /// registers) the 16 bits are `jumpDelta`.
    var cd: UInt16 = 0
    public var imm: Int32 = 0
    public var imm2: Int32 = 0

    public var c: UInt8 {
        @inline(__always) get { UInt8(truncatingIfNeeded: cd) }
        set { cd = cd & 0xFF00 | UInt16(newValue) }
    }
    public var d: UInt8 {
        @inline(__always) get { UInt8(truncatingIfNeeded: cd &>> 8) }
        set { cd = cd & 0x00FF | UInt16(newValue) &<< 8 }
    }

    public var length: UInt8 {
        @inline(__always) get { lengthAndCount & 3 }
        @inline(__always) set { lengthAndCount = newValue & 3 }
    }

    /// Instructions in the block this slot heads (valid when `blockGate` != 0).
    var blockCount: UInt8 { @inline(__always) get { lengthAndCount &>> 2 } }
    /// The most instructions one block holds.
    static let maxBlock = 63

    /// Highest register panel (AR index / 4) the instruction names, for the window overflow check.
    public var panel: UInt8 {
        @inline(__always) get { 4 &- gate }
        @inline(__always) set { gate = 4 &- newValue }
    }

    /// Instructions that may jump (`Flow.target`): the distance in bytes from the instruction to
    /// its target when the target is fixed and in the same 4 KiB page (the run loop's next slot
    /// is then this many slots on), else `Decoded.farJump`.
    public var jumpDelta: Int16 {
        @inline(__always) get { Int16(bitPattern: cd) }
        @inline(__always) set { cd = UInt16(bitPattern: newValue) }
    }
    public static let farJump = Int16.min

    public init() {}
}

public enum Decoder {
    /// Candidate entries per op0, most specific mask first.
    static let byOp0: [[Int]] = {
        var lists = [[Int]](repeating: [], count: 16)
        for (i, def) in instructionTable.enumerated() { lists[Int(def.match & 0xF)].append(i) }
        for k in 0..<16 {
            lists[k].sort { instructionTable[$0].mask.nonzeroBitCount > instructionTable[$1].mask.nonzeroBitCount }
        }
        return lists
    }()

    /// Finds the table entry for an instruction word (24 bits, or 16 for density).
    public static func lookup(_ word: UInt32) -> InstrDef? {
        let op0 = Int(word & 0xF)
        for i in byOp0[op0] {
            let def = instructionTable[i]
            if word & def.mask == def.match {
                switch def.op {
                case .rsr, .wsr, .xsr, .rur, .wur:
                    // Only the registers the ESP32 has (the register is the last operand).
                    guard let reg = def.operands.last,
                          registerAccessExists(Int(reg.decode(word, pc: 0)), op: def.op) else { return nil }
                default: break
                }
                return def
            }
        }
        return nil
    }

    /// Reads an instruction word from bytes (little-endian), returning the word and its length.
    public static func word(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8) -> (UInt32, Int) {
        let len = instructionLength(firstByte: b0)
        let w = len == 2 ? UInt32(b0) | UInt32(b1) << 8 : UInt32(b0) | UInt32(b1) << 8 | UInt32(b2) << 16
        return (w, len)
    }

    /// Decodes one instruction at `pc` into the interpreter's form.
    public static func decode(_ word: UInt32, length: Int, pc: UInt32) -> Decoded {
        var d = Decoded()
        d.length = UInt8(length)
        guard let def = lookup(word) else { d.op = .illegal; return d }
        d.op = def.op
        var regs: [UInt8] = []
        var imms: [Int32] = []
        var maxAR = -1
        for o in def.operands {
            let v = o.decode(word, pc: pc)
            if o.isRegister {
                regs.append(UInt8(truncatingIfNeeded: v))
                if case .ar = o { maxAR = max(maxAR, Int(v)) }
            } else {
                imms.append(Int32(truncatingIfNeeded: v))
            }
        }
        // Implicit register references.
        switch def.op {
        case .call4, .callx4: maxAR = max(maxAR, 4)
        case .call8, .callx8: maxAR = max(maxAR, 8)
        case .call12, .callx12: maxAR = max(maxAR, 12)
        case .ret, .retw, .retn, .retwn: maxAR = max(maxAR, 0)
        default: break
        }
        d.panel = maxAR < 0 ? 0 : UInt8(maxAR / 4)
        if regs.count > 0 { d.a = regs[0] }
        if regs.count > 1 { d.b = regs[1] }
        if regs.count > 2 { d.c = regs[2] }
        if regs.count > 3 { d.d = regs[3] }
        if imms.count > 0 { d.imm = imms[0] }
        if imms.count > 1 { d.imm2 = imms[1] }
        if def.aux != 0 { d.imm2 = def.aux }
        switch def.op {
        case .j, .call0, .call4, .call8, .call12, .beqz, .bnez, .bltz, .bgez, .beq, .bne, .blt, .bge, .bltu,
             .bgeu, .bany, .bnone, .ball, .bnall, .bbc, .bbs, .bf, .bt, .beqzn, .bnezn:
            d.jumpDelta = jumpDelta(from: pc, to: UInt32(bitPattern: d.imm))
        case .beqi, .bnei, .blti, .bgei, .bltui, .bgeui, .bbci, .bbsi:
            d.jumpDelta = jumpDelta(from: pc, to: UInt32(bitPattern: d.imm2))
        case .jx, .callx0, .callx4, .callx8, .callx12, .ret, .retn, .retw, .retwn:
            d.jumpDelta = Decoded.farJump
        default: break
        }
        return d
    }

    /// The branch distance when `target` is in the same 4 KiB page as `pc`.
    static func jumpDelta(from pc: UInt32, to target: UInt32) -> Int16 {
        (target ^ pc) >> 12 == 0 ? Int16(Int32(bitPattern: target &- pc)) : Decoded.farJump
    }
}

// Operand kinds of the Xtensa instruction formats.
//
// Each kind knows how to pull its value out of an instruction word (for the
// decoder and the disassembler) and how to put a value back (for the
// assembler). Bit positions follow the little-endian layout of the Xtensa
// ISA: op0 = w[3:0], t = w[7:4], s = w[11:8], r = w[15:12], op1 = w[19:16],
// op2 = w[23:20].

/// A 4-bit register/immediate field of the instruction word.
public enum Field: UInt8, Sendable {
    case t = 4, s = 8, r = 12, op1 = 16, op2 = 20

    @inline(__always) public func get(_ w: UInt32) -> UInt32 { (w >> UInt32(rawValue)) & 0xF }
    @inline(__always) public func put(_ v: UInt32) -> UInt32 { (v & 0xF) << UInt32(rawValue) }
}

/// How an operand is displayed and what values it takes.
public enum OperandKind: Sendable, Equatable {
    // Registers
    case ar(Field)            // address register a0..a15
    case fr(Field)            // floating-point register f0..f15
    case br(Field)            // boolean register b0..b15
    case br4(Field)           // boolean register group start, multiple of 4 (any4/all4)
    case br8(Field)           // multiple of 8 (any8/all8)
    case mx                   // MAC16 m0/m1 from r[2]
    case my                   // MAC16 m2/m3 from t[2]
    case mw                   // MAC16 m0..m3 from r[1:0]
    // Plain immediates
    case u4(Field)            // 0..15 straight from a field
    case imm8s                // sign-extended imm8 (addi)
    case imm8sh8              // sign-extended imm8 << 8 (addmi)
    case movi12               // s:imm8, sign-extended 12 bits (movi)
    case off8(scale: UInt8)   // unsigned imm8 * scale (loads/stores)
    case b4const              // table-coded constant in r (beqi...)
    case b4constu             // table-coded unsigned constant in r (bltui...)
    case bbiBit               // bit number t | r[0]<<4 (bbci/bbsi)
    case entryImm             // imm12 * 8 (entry)
    case ssaiAmt              // s | t[0]<<4
    case slliAmt              // 32 - (t | op2[0]<<4)
    case sraiAmt              // t-field-free form: s | op2[0]<<4
    case extuiShift           // s | op1[0]<<4
    case extuiMask            // op2 + 1
    case sext7                // t + 7 (sext, clamps)
    case rotw                 // signed 4-bit in t
    case l32eOff              // (r - 16) * 4
    case l32nOff              // r * 4 (l32i.n/s32i.n)
    case addinImm             // t, with 0 meaning -1 (addi.n)
    case moviNImm             // r | t[2:0]<<4, -32..95 (movi.n)
    case sr                   // special register r:s (part of the mnemonic)
    case urRS                 // user register r:s (wur)
    case urST                 // user register s:t (rur)
    // Code addresses (absolute targets)
    case label8               // pc + 4 + sext(imm8)
    case label8u              // pc + 4 + imm8 (loops)
    case label12              // pc + 4 + sext(imm12)
    case label18              // pc + 4 + sext(offset18) (j)
    case call18               // (pc & ~3) + 4 + sext(offset18) * 4
    case label6               // pc + 4 + (r | t[1:0]<<4) (beqz.n/bnez.n)
    case l32r                 // ((pc + 3) & ~3) + (one-extended imm16 << 2)

    public var isRegister: Bool {
        switch self {
        case .ar, .fr, .br, .br4, .br8, .mx, .my, .mw: return true
        default: return false
        }
    }

    public var isTarget: Bool {
        switch self {
        case .label8, .label8u, .label12, .label18, .call18, .label6, .l32r: return true
        default: return false
        }
    }

    /// Bits of the instruction word this operand occupies.
    public var bitMask: UInt32 {
        switch self {
        case .ar(let f), .fr(let f), .br(let f), .u4(let f): return f.put(0xF)
        // bs must be a multiple of 4 (8): the low bits of the field are fixed zeros, so
        // any4 b0, b1 is not an instruction (MOD's field bs4 is s[3:2], bs8 is s[3]).
        case .br4(let f): return f.put(0xC)
        case .br8(let f): return f.put(0x8)
        case .mx: return 0x4000
        case .my: return 0x40
        case .mw: return 0x3000
        case .imm8s, .imm8sh8, .off8, .label8, .label8u: return 0xFF0000
        case .movi12: return 0xFF0F00
        case .b4const, .b4constu: return 0xF000
        case .bbiBit: return 0x10F0
        case .entryImm, .label12: return 0xFFF000
        case .ssaiAmt: return 0x0F10
        case .slliAmt: return 0x1000F0
        case .sraiAmt: return 0x100F00
        case .extuiShift: return 0x010F00
        case .extuiMask: return 0xF00000
        case .sext7, .rotw: return 0xF0
        case .l32eOff, .l32nOff: return 0xF000
        case .addinImm: return 0xF0
        case .moviNImm: return 0xF070
        case .label6: return 0xF030
        case .sr, .urRS: return 0xFF00
        case .urST: return 0x0FF0
        case .label18, .call18: return 0xFFFFC0
        case .l32r: return 0xFFFF00
        }
    }
}

/// B4CONST and B4CONSTU tables (beqi/bnei/blti/bgei and bltui/bgeui).
public let b4constTable: [Int32] = [-1, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 32, 64, 128, 256]
public let b4constuTable: [Int32] = [32768, 65536, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 32, 64, 128, 256]

@inline(__always) func sext(_ v: UInt32, bits: UInt32) -> Int32 {
    let shift = 32 - bits
    return Int32(bitPattern: v << shift) >> Int32(shift)
}

extension OperandKind {
    /// The operand's value: a register number, an immediate, or an absolute target address.
    @inline(__always)
    public func decode(_ w: UInt32, pc: UInt32) -> Int64 {
        switch self {
        case .ar(let f), .fr(let f), .br(let f), .br4(let f), .br8(let f), .u4(let f):
            return Int64(f.get(w))
        case .mx: return Int64((w >> 14) & 1)
        case .my: return Int64(2 + ((w >> 6) & 1))
        case .mw: return Int64((w >> 12) & 3)
        case .imm8s: return Int64(sext(w >> 16, bits: 8))
        case .imm8sh8: return Int64(sext(w >> 16, bits: 8)) * 256
        case .movi12: return Int64(sext(((w >> 16) & 0xFF) | (((w >> 8) & 0xF) << 8), bits: 12))
        case .off8(let scale): return Int64((w >> 16) & 0xFF) * Int64(scale)
        case .b4const: return Int64(b4constTable[Int(Field.r.get(w))])
        case .b4constu: return Int64(b4constuTable[Int(Field.r.get(w))])
        case .bbiBit: return Int64(Field.t.get(w) | ((w >> 12) & 1) << 4)
        case .entryImm: return Int64((w >> 12) & 0xFFF) * 8
        case .ssaiAmt: return Int64(Field.s.get(w) | ((w >> 4) & 1) << 4)
        case .slliAmt: return Int64(32 - (Field.t.get(w) | ((w >> 20) & 1) << 4))
        case .sraiAmt: return Int64(Field.s.get(w) | ((w >> 20) & 1) << 4)
        case .extuiShift: return Int64(Field.s.get(w) | ((w >> 16) & 1) << 4)
        case .extuiMask: return Int64(Field.op2.get(w) + 1)
        case .sext7: return Int64(Field.t.get(w) + 7)
        case .rotw: return Int64(sext(Field.t.get(w), bits: 4))
        case .l32eOff: return (Int64(Field.r.get(w)) - 16) * 4
        case .l32nOff: return Int64(Field.r.get(w)) * 4
        case .addinImm: let t = Field.t.get(w); return t == 0 ? -1 : Int64(t)
        case .moviNImm:
            let v = Int64(Field.r.get(w) | (Field.t.get(w) & 7) << 4)
            return v >= 96 ? v - 128 : v
        case .sr, .urRS: return Int64((w >> 8) & 0xFF)
        case .urST: return Int64((w >> 4) & 0xFF)
        case .label8: return Int64(pc &+ 4 &+ UInt32(bitPattern: sext(w >> 16, bits: 8)))
        case .label8u: return Int64(pc &+ 4 &+ ((w >> 16) & 0xFF))
        case .label12: return Int64(pc &+ 4 &+ UInt32(bitPattern: sext(w >> 12, bits: 12)))
        case .label18: return Int64(pc &+ 4 &+ UInt32(bitPattern: sext(w >> 6, bits: 18)))
        case .call18: return Int64((pc & ~3) &+ 4 &+ (UInt32(bitPattern: sext(w >> 6, bits: 18)) << 2))
        case .label6: return Int64(pc &+ 4 &+ (Field.r.get(w) | (Field.t.get(w) & 3) << 4))
        case .l32r: return Int64(((pc &+ 3) & ~3) &+ ((0xFFFF_0000 | ((w >> 8) & 0xFFFF)) << 2))
        }
    }

    /// Encodes `value` into the operand's bits, or returns nil if it does not fit.
    public func encode(_ value: Int64, pc: UInt32) -> UInt32? {
        func inRange(_ lo: Int64, _ hi: Int64) -> Bool { value >= lo && value <= hi }
        let v32 = UInt32(truncatingIfNeeded: value)
        switch self {
        case .ar(let f), .fr(let f), .br(let f), .u4(let f):
            return inRange(0, 15) ? f.put(v32) : nil
        case .br4(let f): return inRange(0, 15) && value % 4 == 0 ? f.put(v32) : nil
        case .br8(let f): return inRange(0, 15) && value % 8 == 0 ? f.put(v32) : nil
        case .mx: return inRange(0, 1) ? v32 << 14 : nil
        case .my: return inRange(2, 3) ? (v32 - 2) << 6 : nil
        case .mw: return inRange(0, 3) ? v32 << 12 : nil
        case .imm8s: return inRange(-128, 127) ? (v32 & 0xFF) << 16 : nil
        case .imm8sh8:
            return inRange(-32768, 32512) && value % 256 == 0 ? ((v32 >> 8) & 0xFF) << 16 : nil
        case .movi12: return inRange(-2048, 2047) ? ((v32 & 0xFF) << 16) | (((v32 >> 8) & 0xF) << 8) : nil
        case .off8(let scale):
            let s = Int64(scale)
            return inRange(0, 255 * s) && value % s == 0 ? UInt32(value / s) << 16 : nil
        case .b4const:
            guard let i = b4constTable.firstIndex(of: Int32(truncatingIfNeeded: value)), inRange(-1, 256) else { return nil }
            return UInt32(i) << 12
        case .b4constu:
            guard let i = b4constuTable.firstIndex(of: Int32(truncatingIfNeeded: value)), inRange(0, 65536) else { return nil }
            return UInt32(i) << 12
        case .bbiBit: return inRange(0, 31) ? ((v32 & 0xF) << 4) | ((v32 >> 4) << 12) : nil
        case .entryImm: return inRange(0, 32760) && value % 8 == 0 ? UInt32(value / 8) << 12 : nil
        case .ssaiAmt: return inRange(0, 31) ? ((v32 & 0xF) << 8) | ((v32 >> 4) << 4) : nil
        case .slliAmt:
            // 1...32: the field holds 32 - sa in 5 bits, so 32 is encoded as 0 (as GNU as does).
            guard inRange(1, 32) else { return nil }
            let e = 32 - v32
            return ((e & 0xF) << 4) | ((e >> 4) << 20)
        case .sraiAmt: return inRange(0, 31) ? ((v32 & 0xF) << 8) | ((v32 >> 4) << 20) : nil
        case .extuiShift: return inRange(0, 31) ? ((v32 & 0xF) << 8) | ((v32 >> 4) << 16) : nil
        case .extuiMask: return inRange(1, 16) ? (v32 - 1) << 20 : nil
        case .sext7: return inRange(7, 22) ? (v32 - 7) << 4 : nil
        case .rotw: return inRange(-8, 7) ? (v32 & 0xF) << 4 : nil
        case .l32eOff: return inRange(-64, -4) && value % 4 == 0 ? UInt32(value / 4 + 16) << 12 : nil
        case .l32nOff: return inRange(0, 60) && value % 4 == 0 ? UInt32(value / 4) << 12 : nil
        case .addinImm:
            if value == -1 { return 0 }
            return inRange(1, 15) ? v32 << 4 : nil
        case .moviNImm:
            guard inRange(-32, 95) else { return nil }
            let e = value < 0 ? UInt32(value + 128) : v32
            return ((e & 0xF) << 12) | ((e >> 4) << 4)
        case .sr, .urRS: return inRange(0, 255) ? v32 << 8 : nil
        case .urST: return inRange(0, 255) ? v32 << 4 : nil
        case .label8:
            let d = value - Int64(pc) - 4
            return d >= -128 && d <= 127 ? (UInt32(truncatingIfNeeded: d) & 0xFF) << 16 : nil
        case .label8u:
            let d = value - Int64(pc) - 4
            return d >= 0 && d <= 255 ? UInt32(d) << 16 : nil
        case .label12:
            let d = value - Int64(pc) - 4
            return d >= -2048 && d <= 2047 ? (UInt32(truncatingIfNeeded: d) & 0xFFF) << 12 : nil
        case .label18:
            let d = value - Int64(pc) - 4
            return d >= -131072 && d <= 131071 ? (UInt32(truncatingIfNeeded: d) & 0x3FFFF) << 6 : nil
        case .call18:
            let d = value - Int64((pc & ~3) &+ 4)
            guard d % 4 == 0 else { return nil }
            let q = d / 4
            return q >= -131072 && q <= 131071 ? (UInt32(truncatingIfNeeded: q) & 0x3FFFF) << 6 : nil
        case .label6:
            let d = value - Int64(pc) - 4
            guard d >= 0 && d <= 63 else { return nil }
            let u = UInt32(d)
            return ((u & 0xF) << 12) | ((u >> 4) << 4)
        case .l32r:
            let base = Int64((pc &+ 3) & ~3)
            let d = value - base
            guard d % 4 == 0, d >= -262144, d <= -4 else { return nil }
            return (UInt32(truncatingIfNeeded: d / 4) & 0xFFFF) << 8
        }
    }
}

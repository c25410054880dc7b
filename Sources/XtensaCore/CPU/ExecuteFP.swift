// Floating-point coprocessor (CP0) instructions. Arithmetic is the soft-float in FPU.swift,
// so results and FSR flags are the same on every host.

/// What `executeFP` reports: done, done through the memory slow path (which ends the run
/// loop's block), or an exception raised.
enum FPResult {
    static let done = 3, slowAccess = 1, exception = 0
}

extension XtensaCPU {
    func executeFP(_ d: DecodedRef, pc: UInt32, _ R: Window) -> Int {
        var n = 0      // set to 1 by an access that took the memory slow path
        let s = st
        switch d.op {
        case .lsi, .lsip:
            let base = R.r(d.b)
            let a = d.op == .lsi ? base &+ UInt32(bitPattern: d.imm) : base
            guard let v = load32(a, pc, &n) else { return FPResult.exception }
            setFR(d.a, v)
            if d.op == .lsip { R.w(d.b, base &+ UInt32(bitPattern: d.imm)) }
        case .ssi, .ssip:
            let base = R.r(d.b)
            let a = d.op == .ssi ? base &+ UInt32(bitPattern: d.imm) : base
            if !store32(a, fr(d.a), pc, &n) { return FPResult.exception }
            if d.op == .ssip { R.w(d.b, base &+ UInt32(bitPattern: d.imm)) }
        case .lsx, .lsxp:
            let base = R.r(d.b)
            let a = d.op == .lsx ? base &+ R.r(d.c) : base
            guard let v = load32(a, pc, &n) else { return FPResult.exception }
            setFR(d.a, v)
            if d.op == .lsxp { R.w(d.b, base &+ R.r(d.c)) }
        case .ssx, .ssxp:
            let base = R.r(d.b)
            let a = d.op == .ssx ? base &+ R.r(d.c) : base
            if !store32(a, fr(d.a), pc, &n) { return FPResult.exception }
            if d.op == .ssxp { R.w(d.b, base &+ R.r(d.c)) }
        case .addS: setFR(d.a, FPU.add(fr(d.b), fr(d.c), fcr: s.pointee.fcr, fsr: &s.pointee.fsr))
        case .subS: setFR(d.a, FPU.sub(fr(d.b), fr(d.c), fcr: s.pointee.fcr, fsr: &s.pointee.fsr))
        case .mulS: setFR(d.a, FPU.mul(fr(d.b), fr(d.c), fcr: s.pointee.fcr, fsr: &s.pointee.fsr))
        case .maddS: setFR(d.a, FPU.madd(fr(d.a), fr(d.b), fr(d.c), fcr: s.pointee.fcr, fsr: &s.pointee.fsr))
        case .msubS: setFR(d.a, FPU.msub(fr(d.a), fr(d.b), fr(d.c), fcr: s.pointee.fcr, fsr: &s.pointee.fsr))
        case .roundS, .truncS, .floorS, .ceilS:
            let mode: FPRounding = d.op == .roundS ? .nearestEven : d.op == .truncS ? .towardZero : d.op == .floorS ? .down : .up
            R.w(d.a, FPU.toInt32(fr(d.b), scale: Int(d.imm), rounding: mode, fsr: &s.pointee.fsr))
        case .utruncS: R.w(d.a, FPU.utrunc(fr(d.b), scale: Int(d.imm), fsr: &s.pointee.fsr))
        case .floatS, .ufloatS:
            setFR(d.a, FPU.fromInt(R.r(d.b), signed: d.op == .floatS, scale: Int(d.imm), fcr: s.pointee.fcr, fsr: &s.pointee.fsr))
        case .movS: setFR(d.a, fr(d.b))
        case .absS: setFR(d.a, fr(d.b) & 0x7FFF_FFFF)
        case .negS: setFR(d.a, fr(d.b) ^ 0x8000_0000)
        case .rfr: R.w(d.a, fr(d.b))
        case .wfr: setFR(d.a, R.r(d.b))
        case .constS:
            let values: (UInt32, UInt32, UInt32, UInt32) = (0, 0x3F80_0000, 0x4000_0000, 0x3F00_0000)
            setFR(d.a, withUnsafeBytes(of: values) { $0.load(fromByteOffset: Int(d.imm & 3) * 4, as: UInt32.self) })
        // The division/square-root helpers: the hardware's intermediate values are not
        // documented, so (as QEMU does) the adjust steps produce the final result and the
        // refinement steps leave their destination alone.
        case .div0S, .sqrt0S, .nexp01S, .addexpS, .maddnS, .divnS: break
        case .recip0S, .rsqrt0S:
            // Seed instructions: the configuration lists only the V and Z flags for them.
            var flags: UInt32 = 0
            let v = d.op == .recip0S ? FPU.recip(fr(d.b), fcr: s.pointee.fcr, fsr: &flags)
                                     : FPU.rsqrt(fr(d.b), fcr: s.pointee.fcr, fsr: &flags)
            s.pointee.fsr |= flags & 0xC00
            setFR(d.a, v)
        case .mksadjS: setFR(d.a, FPU.sqrt(fr(d.b), fcr: s.pointee.fcr, fsr: &s.pointee.fsr))
        case .mkdadjS: setFR(d.a, FPU.div(fr(d.b), fr(d.a), fcr: s.pointee.fcr, fsr: &s.pointee.fsr))
        case .addexpmS: setFR(d.a, fr(d.b))
        case .unS: setB(d.a, FPU.un(fr(d.b), fr(d.c), fsr: &s.pointee.fsr))
        case .oeqS: setB(d.a, FPU.oeq(fr(d.b), fr(d.c), fsr: &s.pointee.fsr))
        case .ueqS: setB(d.a, FPU.ueq(fr(d.b), fr(d.c), fsr: &s.pointee.fsr))
        case .oltS: setB(d.a, FPU.olt(fr(d.b), fr(d.c), fsr: &s.pointee.fsr))
        case .ultS: setB(d.a, FPU.ult(fr(d.b), fr(d.c), fsr: &s.pointee.fsr))
        case .oleS: setB(d.a, FPU.ole(fr(d.b), fr(d.c), fsr: &s.pointee.fsr))
        case .uleS: setB(d.a, FPU.ule(fr(d.b), fr(d.c), fsr: &s.pointee.fsr))
        case .moveqzS: if R.r(d.c) == 0 { setFR(d.a, fr(d.b)) }
        case .movnezS: if R.r(d.c) != 0 { setFR(d.a, fr(d.b)) }
        case .movltzS: if Int32(bitPattern: R.r(d.c)) < 0 { setFR(d.a, fr(d.b)) }
        case .movgezS: if Int32(bitPattern: R.r(d.c)) >= 0 { setFR(d.a, fr(d.b)) }
        case .movfS: if !b(d.c) { setFR(d.a, fr(d.b)) }
        case .movtS: if b(d.c) { setFR(d.a, fr(d.b)) }
        default:
            raise(.illegalInstruction, pc: pc)
            return FPResult.exception
        }
        return n != 0 ? FPResult.slowAccess : FPResult.done
    }
}

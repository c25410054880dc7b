// FPU.swift
// Xtensa single-precision floating-point unit (ESP32 "DFPU single only" coprocessor, CP0).
//
// Pure integer soft-float on raw IEEE-754 binary32 bit patterns. No host FPU, no Foundation,
// no allocation, so results are deterministic on every host.
//
// Behaviour follows QEMU 7.2 softfloat as configured for an Xtensa DFPU core
// (target/xtensa/cpu.c reset + fpu_helper.c + fpu/softfloat*.c.inc), because the emulator is
// differentially tested against qemu-system-xtensa:
//  * SNaNs are recognised (quiet bit = fraction bit 22 set means quiet). Any SNaN operand
//    raises Invalid; a propagated SNaN is quieted by setting bit 22 (payload and sign kept).
//  * Default NaN = 0x7FC00000 (positive, quiet bit only).
//  * NaN propagation (DFPU: use_first_nan = false): 2-operand ops return operand B's NaN if B
//    is a NaN, else operand A's ("ba" rule), regardless of signalling-ness. For
//    FMA (float32_muladd(a, b, c)) the order is c, b, a ("cba"); inf*0 + NaN returns the
//    addend NaN c and raises Invalid.
//  * Tininess is detected after rounding (float_status default); Underflow is raised only when
//    the result is tiny and inexact. Overflow raises Overflow+Inexact and returns inf or the
//    largest finite number according to the rounding mode.
//  * Float->int conversions saturate (NaN -> max positive), raising only Invalid on
//    saturation (the Inexact of that conversion is dropped, as in softfloat).
//
// FSR sticky flag bits: I = bit 7, U = bit 8, O = bit 9, Z = bit 10, V = bit 11.
// FCR bits 1:0 = rounding mode (0 nearest-even, 1 toward zero, 2 toward +inf, 3 toward -inf).

public enum FPRounding: UInt32 { case nearestEven = 0, towardZero = 1, up = 2, down = 3 }

public enum FPU {
    // MARK: - Flag bits (FSR layout)

    @usableFromInline static let flagI: UInt32 = 1 << 7
    @usableFromInline static let flagU: UInt32 = 1 << 8
    @usableFromInline static let flagO: UInt32 = 1 << 9
    @usableFromInline static let flagZ: UInt32 = 1 << 10
    @usableFromInline static let flagV: UInt32 = 1 << 11
    @usableFromInline static let flagMask: UInt32 = 0xF80

    @usableFromInline static let defaultNaN: UInt32 = 0x7FC0_0000
    @usableFromInline static let quietBit: UInt32 = 0x0040_0000
    @usableFromInline static let posInf: UInt32 = 0x7F80_0000
    @usableFromInline static let one: UInt32 = 0x3F80_0000

    // Internal rounding-mode encoding is the FCR encoding (0..3).
    @usableFromInline static let rmNearest: UInt32 = 0
    @usableFromInline static let rmZero: UInt32 = 1
    @usableFromInline static let rmUp: UInt32 = 2
    @usableFromInline static let rmDown: UInt32 = 3

    // MARK: - Classification

    @inline(__always) static func isNaN(_ a: UInt32) -> Bool { (a & 0x7FFF_FFFF) > 0x7F80_0000 }
    @inline(__always) static func isSNaN(_ a: UInt32) -> Bool { isNaN(a) && (a & quietBit) == 0 }
    @inline(__always) static func isInf(_ a: UInt32) -> Bool { (a & 0x7FFF_FFFF) == 0x7F80_0000 }
    @inline(__always) static func isZero(_ a: UInt32) -> Bool { (a & 0x7FFF_FFFF) == 0 }
    /// Infinity or NaN.
    @inline(__always) static func isInfOrNaN(_ a: UInt32) -> Bool { (a & 0x7F80_0000) == 0x7F80_0000 }
    @inline(__always) static func signOf(_ a: UInt32) -> UInt32 { a >> 31 }

    /// Quiet NaN result for a single NaN operand (raises V if it was signalling).
    @inline(__always)
    static func returnNaN(_ a: UInt32, _ fsr: inout UInt32) -> UInt32 {
        if isSNaN(a) { fsr |= flagV }
        return a | quietBit
    }

    /// Two-operand NaN propagation, QEMU Xtensa DFPU rule "ba" (second operand first).
    @inline(__always)
    static func propagateNaN(_ a: UInt32, _ b: UInt32, _ fsr: inout UInt32) -> UInt32 {
        if isSNaN(a) || isSNaN(b) { fsr |= flagV }
        return (isNaN(b) ? b : a) | quietBit
    }

    // MARK: - Shifts

    @inline(__always)
    static func shiftRightJam32(_ x: UInt32, _ n: Int32) -> UInt32 {
        if n <= 0 { return x }
        if n >= 31 { return x != 0 ? 1 : 0 }
        let s = UInt32(n)
        return (x >> s) | ((x << (32 - s)) != 0 ? 1 : 0)
    }

    @inline(__always)
    static func shiftRightJam64(_ x: UInt64, _ n: Int32) -> UInt64 {
        if n <= 0 { return x }
        if n >= 63 { return x != 0 ? 1 : 0 }
        let s = UInt64(n)
        return (x >> s) | ((x << (64 - s)) != 0 ? 1 : 0)
    }

    // MARK: - Unpack / round / pack

    /// Unpacks a finite non-zero value into (e, sig) with sig in [2^23, 2^24) and
    /// value = sig * 2^(e - 150). Denormals are normalised (e <= 0).
    @inline(__always)
    static func unpack(_ a: UInt32) -> (Int32, UInt32) {
        let e = Int32((a >> 23) & 0xFF)
        let f = a & 0x007F_FFFF
        if e == 0 {
            let shift = Int32(f.leadingZeroBitCount) - 8
            return (1 - shift, f << UInt32(shift))
        }
        return (e, f | 0x0080_0000)
    }

    /// Rounds and packs. `sig` must lie in [2^30, 2^31); value = sig * 2^(e - 157), so `e` is
    /// the biased exponent the result has when rounding does not carry (it may be <= 0 for
    /// results in the subnormal range, or >= 255 for overflow). Sets I, U, O as appropriate.
    @inline(__always)
    static func roundPack(_ sign: UInt32, _ e: Int32, _ sigIn: UInt32, _ rm: UInt32,
                          _ fsr: inout UInt32) -> UInt32 {
        var sig = sigIn
        let inc: UInt32
        switch rm {
        case rmNearest: inc = 0x40
        case rmZero: inc = 0
        case rmUp: inc = sign != 0 ? 0 : 0x7F
        default: inc = sign != 0 ? 0x7F : 0
        }
        if e <= 0 {
            // Subnormal range. Tininess after rounding: the result is tiny unless rounding to
            // 24 bits with an unbounded exponent would carry it up to 2^-126.
            let tiny = e < 0 || sig &+ inc < 0x8000_0000
            sig = shiftRightJam32(sig, 1 - e)
            let roundBits = sig & 0x7F
            if roundBits != 0 {
                fsr |= flagI
                if tiny { fsr |= flagU }
            }
            var s = (sig &+ inc) >> 7
            if rm == rmNearest && roundBits == 0x40 { s &= ~1 }
            return (sign << 31) | s          // a carry into bit 23 yields exponent field 1
        }
        if e >= 0xFF || (e == 0xFE && sig &+ inc >= 0x8000_0000) {
            fsr |= flagO | flagI
            return (sign << 31) | (inc == 0 ? 0x7F7F_FFFF : posInf)
        }
        let roundBits = sig & 0x7F
        if roundBits != 0 { fsr |= flagI }
        var s = (sig &+ inc) >> 7
        if rm == rmNearest && roundBits == 0x40 { s &= ~1 }
        return (sign << 31) &+ (UInt32(e - 1) << 23) &+ s
    }

    /// Normalises an arbitrary non-zero 64-bit significand and rounds.
    /// value = sig * 2^(e - 189) (the LSB of `sig` may be a sticky bit).
    @inline(__always)
    static func normRoundPack64(_ sign: UInt32, _ e: Int32, _ sigIn: UInt64, _ rm: UInt32,
                                _ fsr: inout UInt32) -> UInt32 {
        var sig = sigIn
        var exp = e
        let lz = Int32(sig.leadingZeroBitCount)
        if lz >= 1 {
            sig <<= UInt64(lz - 1)
            exp -= lz - 1
        } else {
            sig = shiftRightJam64(sig, 1)
            exp += 1
        }
        // Leading one now at bit 62: keep 31 bits + sticky.
        let sig32 = UInt32(truncatingIfNeeded: sig >> 32) | (UInt32(truncatingIfNeeded: sig) != 0 ? 1 : 0)
        return roundPack(sign, exp, sig32, rm, &fsr)
    }

    // MARK: - Add / Sub

    static func addCore(_ a: UInt32, _ b: UInt32, _ signB: UInt32, _ rm: UInt32,
                        _ fsr: inout UInt32) -> UInt32 {
        // a, b are not NaN. signB is b's effective sign (flipped for subtraction).
        let signA = signOf(a)
        let aSpecial = isInfOrNaN(a) || isZero(a)
        let bSpecial = isInfOrNaN(b) || isZero(b)
        if aSpecial || bSpecial {
            let aInf = isInf(a), bInf = isInf(b)
            if aInf || bInf {
                if aInf && bInf {
                    if signA != signB { fsr |= flagV; return defaultNaN }
                    return a
                }
                return aInf ? a : ((signB << 31) | posInf)
            }
            let aZero = isZero(a), bZero = isZero(b)
            if aZero && bZero {
                if signA == signB { return signA << 31 }
                return rm == rmDown ? 0x8000_0000 : 0
            }
            if bZero { return a }
            return (b & 0x7FFF_FFFF) | (signB << 31)
        }
        let (ea, sa) = unpack(a)
        let (eb, sb) = unpack(b)
        // Leading one at bit 61; value = X * 2^(e - 188). The unshifted operand keeps 38 zero
        // low bits, which makes the jammed subtraction round correctly.
        var x = UInt64(sa) << 38
        var y = UInt64(sb) << 38
        var e: Int32
        if ea >= eb {
            y = shiftRightJam64(y, ea - eb)
            e = ea
        } else {
            x = shiftRightJam64(x, eb - ea)
            e = eb
        }
        var sign = signA
        let sum: UInt64
        if signA == signB {
            sum = x + y
        } else if x > y {
            sum = x - y
        } else if y > x {
            sum = y - x
            sign = signB
        } else {
            return rm == rmDown ? 0x8000_0000 : 0
        }
        e += 1  // 2^(e-188) == 2^((e+1) - 189)
        return normRoundPack64(sign, e, sum, rm, &fsr)
    }

    public static func add(_ a: UInt32, _ b: UInt32, fcr: UInt32, fsr: inout UInt32) -> UInt32 {
        if isNaN(a) || isNaN(b) { return propagateNaN(a, b, &fsr) }
        return addCore(a, b, signOf(b), fcr & 3, &fsr)
    }

    public static func sub(_ a: UInt32, _ b: UInt32, fcr: UInt32, fsr: inout UInt32) -> UInt32 {
        // NaN operands keep their own sign (softfloat negates b only for non-NaN classes).
        if isNaN(a) || isNaN(b) { return propagateNaN(a, b, &fsr) }
        return addCore(a, b, signOf(b) ^ 1, fcr & 3, &fsr)
    }

    // MARK: - Mul

    public static func mul(_ a: UInt32, _ b: UInt32, fcr: UInt32, fsr: inout UInt32) -> UInt32 {
        if isNaN(a) || isNaN(b) { return propagateNaN(a, b, &fsr) }
        let sign = signOf(a ^ b)
        let aInf = isInf(a), bInf = isInf(b)
        let aZero = isZero(a), bZero = isZero(b)
        if aInf || bInf {
            if aZero || bZero { fsr |= flagV; return defaultNaN }
            return (sign << 31) | posInf
        }
        if aZero || bZero { return sign << 31 }
        let (ea, sa) = unpack(a)
        let (eb, sb) = unpack(b)
        let prod = UInt64(sa) * UInt64(sb)   // value = prod * 2^(ea + eb - 300)
        return normRoundPack64(sign, ea + eb - 111, prod, fcr & 3, &fsr)
    }

    // MARK: - Fused multiply-add

    /// float32_muladd(a, b, c) with optional product negation: c + (±a*b), one rounding.
    static func fma(_ a: UInt32, _ b: UInt32, _ c: UInt32, negateProduct: Bool, _ rm: UInt32,
                    _ fsr: inout UInt32) -> UInt32 {
        let aNaN = isNaN(a), bNaN = isNaN(b), cNaN = isNaN(c)
        let infZero = (isInf(a) && isZero(b)) || (isZero(a) && isInf(b))
        if aNaN || bNaN || cNaN {
            if isSNaN(a) || isSNaN(b) || isSNaN(c) { fsr |= flagV }
            if infZero {
                // Xtensa: inf * 0 + NaN returns the addend NaN and raises Invalid.
                fsr |= flagV
                return c | quietBit
            }
            let r = cNaN ? c : (bNaN ? b : a)   // "cba" propagation
            return r | quietBit
        }
        let signP = signOf(a ^ b) ^ (negateProduct ? 1 : 0)
        let signC = signOf(c)
        let aInf = isInf(a), bInf = isInf(b)
        let aZero = isZero(a), bZero = isZero(b)
        if aInf || bInf || aZero || bZero {
            if infZero { fsr |= flagV; return defaultNaN }
            if aInf || bInf {
                if isInf(c) && signC != signP { fsr |= flagV; return defaultNaN }
                return (signP << 31) | posInf
            }
            // Product is an exact zero.
            if isInf(c) { return c }
            if isZero(c) {
                if signC != signP { return rm == rmDown ? 0x8000_0000 : 0 }
                return signP << 31
            }
            return c
        }
        if isInf(c) { return c }
        let (ea, sa) = unpack(a)
        let (eb, sb) = unpack(b)
        var p = UInt64(sa) * UInt64(sb)      // [2^46, 2^48); value = p * 2^(ea + eb - 300)
        if isZero(c) {
            return normRoundPack64(signP, ea + eb - 111, p, rm, &fsr)
        }
        // Align both to a leading one at bit 61 (value = X * 2^eX).
        var eP = ea + eb - 300
        if p >= (1 << 47) {
            p <<= 14; eP -= 14
        } else {
            p <<= 15; eP -= 15
        }
        let (ec, sc) = unpack(c)
        var q = UInt64(sc) << 38
        let eC = ec - 150 - 38
        var e: Int32
        if eP >= eC {
            q = shiftRightJam64(q, eP - eC)
            e = eP
        } else {
            p = shiftRightJam64(p, eC - eP)
            e = eC
        }
        var sign = signP
        let sum: UInt64
        if signP == signC {
            sum = p + q
        } else if p > q {
            sum = p - q
        } else if q > p {
            sum = q - p
            sign = signC
        } else {
            return rm == rmDown ? 0x8000_0000 : 0
        }
        e += 189
        return normRoundPack64(sign, e, sum, rm, &fsr)
    }

    /// MADD.S: acc + a*b with a single rounding. MSUB.S: acc - a*b (negated product), single rounding.
    public static func madd(_ acc: UInt32, _ a: UInt32, _ b: UInt32, fcr: UInt32, fsr: inout UInt32) -> UInt32 {
        fma(a, b, acc, negateProduct: false, fcr & 3, &fsr)
    }

    public static func msub(_ acc: UInt32, _ a: UInt32, _ b: UInt32, fcr: UInt32, fsr: inout UInt32) -> UInt32 {
        fma(a, b, acc, negateProduct: true, fcr & 3, &fsr)
    }

    // MARK: - Div / Sqrt

    /// a / b (used by MKDADJ.S).
    public static func div(_ a: UInt32, _ b: UInt32, fcr: UInt32, fsr: inout UInt32) -> UInt32 {
        if isNaN(a) || isNaN(b) { return propagateNaN(a, b, &fsr) }
        let sign = signOf(a ^ b)
        let aInf = isInf(a), bInf = isInf(b)
        let aZero = isZero(a), bZero = isZero(b)
        if (aZero && bZero) || (aInf && bInf) { fsr |= flagV; return defaultNaN }
        if aInf || bZero {
            if bZero && !aInf { fsr |= flagZ }
            return (sign << 31) | posInf
        }
        if aZero || bInf { return sign << 31 }
        let (ea, sa) = unpack(a)
        let (eb, sb) = unpack(b)
        let n = UInt64(sa) << 39
        let d = UInt64(sb)
        var q = n / d                       // >= 2^38
        if n % d != 0 { q |= 1 }
        // value = q * 2^(ea - eb - 39)
        return normRoundPack64(sign, ea - eb + 150, q, fcr & 3, &fsr)
    }

    /// Integer square root of a 64-bit value: (floor(sqrt(n)), n - root^2 != 0).
    /// Restoring digit-by-digit method, written branch-free.
    @inline(__always)
    static func isqrt64(_ nIn: UInt64) -> (UInt64, Bool) {
        var n = nIn
        var rem: UInt64 = 0
        var root: UInt64 = 0
        for _ in 0..<32 {
            rem = (rem << 2) | (n >> 62)
            n <<= 2
            root <<= 1
            let t = (root << 1) | 1
            // rem < 2^35 and t < 2^34, so bit 63 of the difference is the borrow.
            let d = rem &- t
            let borrow = d >> 63
            let keep = borrow &- 1             // all ones when rem >= t
            rem = (d & keep) | (rem & ~keep)
            root |= 1 &- borrow
        }
        return (root, rem != 0)
    }

    /// Square root (used by MKSADJ.S).
    public static func sqrt(_ a: UInt32, fcr: UInt32, fsr: inout UInt32) -> UInt32 {
        if isNaN(a) { return returnNaN(a, &fsr) }
        if isZero(a) { return a }                 // sqrt(±0) = ±0
        if signOf(a) != 0 { fsr |= flagV; return defaultNaN }
        if isInf(a) { return a }
        let (e, s) = unpack(a)
        var m = UInt64(s)
        var x = e - 150                            // value = m * 2^x
        if x & 1 != 0 { m <<= 1; x -= 1 }
        m <<= 38; x -= 38                          // m in [2^61, 2^63)
        var (root, inexact) = isqrt64(m)           // root in [2^30, 2^31.5)
        if inexact { root |= 1 }
        // value = root * 2^(x/2)
        return normRoundPack64(0, x / 2 + 189, root, fcr & 3, &fsr)
    }

    // MARK: - Reciprocal / reciprocal square root (RECIP0.S / RSQRT0.S)

    /// Correctly rounded 1/a; flags as IEEE division 1.0 / a.
    public static func recip(_ a: UInt32, fcr: UInt32, fsr: inout UInt32) -> UInt32 {
        div(one, a, fcr: fcr, fsr: &fsr)
    }

    /// Correctly rounded 1/sqrt(a); flags as IEEE rSqrt: ±0 -> ±inf with Z, negative -> V + default NaN,
    /// +inf -> +0, inexact results set I.
    public static func rsqrt(_ a: UInt32, fcr: UInt32, fsr: inout UInt32) -> UInt32 {
        if isNaN(a) { return returnNaN(a, &fsr) }
        if isZero(a) { fsr |= flagZ; return (a & 0x8000_0000) | posInf }
        if signOf(a) != 0 { fsr |= flagV; return defaultNaN }
        if isInf(a) { return 0 }
        let (e, s0) = unpack(a)
        var s = UInt64(s0)
        var x = e - 150                            // value = s * 2^x
        if x & 1 != 0 { s <<= 1; x -= 1 }          // s in [2^23, 2^25)
        // q = floor(2^43 / sqrt(s)) = largest q with q^2 * s <= 2^86 (q < 2^32).
        // Estimate from r = floor(sqrt(s * 2^38)): sqrt(s * 2^38) is in [r, r + 1), so
        // floor(2^62 / (r + 1)) <= q <= floor(2^62 / (r + 1)) + 3. Then correct exactly.
        let sv = s
        let (r, _) = isqrt64(sv << 38)
        var q = (UInt64(1) << 62) / (r + 1)
        @inline(__always) func cmp86(_ v: UInt64) -> Int {      // sign of v^2 * s - 2^86
            let (hi, lo) = (v * v).multipliedFullWidth(by: sv)
            if hi != (1 << 22) { return hi < (1 << 22) ? -1 : 1 }
            return lo == 0 ? 0 : 1
        }
        while cmp86(q + 1) <= 0 { q += 1 }
        if cmp86(q) != 0 { q |= 1 }              // inexact: sticky bit (q >= 2^30)
        // value = q * 2^(-43 - x/2)
        return normRoundPack64(0, 146 - x / 2, q, fcr & 3, &fsr)
    }

    // MARK: - Scaling and conversions

    /// float32_scalbn: a * 2^n, rounded per rm.
    static func scalbn(_ a: UInt32, _ n: Int, _ rm: UInt32, _ fsr: inout UInt32) -> UInt32 {
        if isNaN(a) { return returnNaN(a, &fsr) }
        if isZero(a) || isInf(a) { return a }
        let (e, s) = unpack(a)
        let nn = Int32(max(-0x10000, min(0x10000, n)))
        return roundPack(signOf(a), e + nn, s << 7, rm, &fsr)
    }

    /// Rounds a finite float to an integer magnitude with the given mode.
    /// Returns (sign, magnitude (saturated at 2^40 for huge values), inexact).
    @inline(__always)
    static func roundToIntMagnitude(_ a: UInt32, _ rm: UInt32) -> (UInt32, UInt64, Bool) {
        let sign = signOf(a)
        if isZero(a) { return (sign, 0, false) }
        let (e, s) = unpack(a)
        let sh = 150 - e                           // value = s / 2^sh
        if sh <= 0 {
            if sh < -16 { return (sign, 1 << 40, false) }
            return (sign, UInt64(s) << UInt64(-sh), false)
        }
        let sig = UInt64(s)
        let intPart: UInt64
        let rem: UInt64
        let half: UInt64
        if sh >= 40 {
            intPart = 0; rem = sig; half = 1 << 39   // rem < 2^24 < half; only "non-zero" matters
        } else {
            let u = UInt64(sh)
            intPart = sig >> u
            rem = sig & ((1 << u) - 1)
            half = 1 << (u - 1)
        }
        if rem == 0 { return (sign, intPart, false) }
        var roundUp: Bool
        switch rm {
        case rmNearest: roundUp = rem > half || (rem == half && (intPart & 1) != 0)
        case rmZero: roundUp = false
        case rmUp: roundUp = sign == 0
        default: roundUp = sign != 0
        }
        return (sign, intPart + (roundUp ? 1 : 0), true)
    }

    /// float32_to_int32 with the given rounding mode (saturating).
    @inline(__always)
    static func f32ToI32(_ a: UInt32, _ rm: UInt32, _ fsr: inout UInt32) -> UInt32 {
        if isNaN(a) { fsr |= flagV; return 0x7FFF_FFFF }
        if isInf(a) { fsr |= flagV; return signOf(a) != 0 ? 0x8000_0000 : 0x7FFF_FFFF }
        let (sign, mag, inexact) = roundToIntMagnitude(a, rm)
        if sign != 0 {
            if mag > 0x8000_0000 { fsr |= flagV; return 0x8000_0000 }
            if inexact { fsr |= flagI }
            return UInt32(truncatingIfNeeded: 0 &- mag)
        }
        if mag > 0x7FFF_FFFF { fsr |= flagV; return 0x7FFF_FFFF }
        if inexact { fsr |= flagI }
        return UInt32(truncatingIfNeeded: mag)
    }

    /// float32_to_uint32 with the given rounding mode (saturating).
    @inline(__always)
    static func f32ToU32(_ a: UInt32, _ rm: UInt32, _ fsr: inout UInt32) -> UInt32 {
        if isNaN(a) { fsr |= flagV; return 0xFFFF_FFFF }
        if isInf(a) { fsr |= flagV; return signOf(a) != 0 ? 0 : 0xFFFF_FFFF }
        let (sign, mag, inexact) = roundToIntMagnitude(a, rm)
        if mag == 0 {
            if inexact { fsr |= flagI }
            return 0
        }
        if sign != 0 { fsr |= flagV; return 0 }
        if mag > 0xFFFF_FFFF { fsr |= flagV; return 0xFFFF_FFFF }
        if inexact { fsr |= flagI }
        return UInt32(truncatingIfNeeded: mag)
    }

    /// ROUND.S/TRUNC.S/FLOOR.S/CEIL.S: Int32(a * 2^scale) with the given fixed rounding, saturating, flags V and I.
    /// (QEMU: float32_to_int32(float32_scalbn(a, scale)) with both steps in the fixed mode, so an
    /// overflowing scale also raises O and I.)
    public static func toInt32(_ a: UInt32, scale: Int, rounding: FPRounding, fsr: inout UInt32) -> UInt32 {
        let rm = rounding.rawValue
        let scaled = scalbn(a, scale, rm, &fsr)
        return f32ToI32(scaled, rm, &fsr)
    }

    /// UTRUNC.S (QEMU semantics incl. its negative-input special case): for a negative non-NaN
    /// input the result is float32_to_int32(a * 2^scale) (toward zero); if that is non-zero the
    /// accumulated flags are replaced by V alone. Otherwise float32_to_uint32 (toward zero).
    public static func utrunc(_ a: UInt32, scale: Int, fsr: inout UInt32) -> UInt32 {
        let scaled = scalbn(a, scale, rmZero, &fsr)
        if signOf(a) != 0 && !isNaN(a) {
            let r = f32ToI32(scaled, rmZero, &fsr)
            if r != 0 { fsr = (fsr & ~flagMask) | flagV }
            return r
        }
        return f32ToU32(scaled, rmZero, &fsr)
    }

    /// FLOAT.S / UFLOAT.S: (float)v * 2^-scale, rounded per fcr.
    public static func fromInt(_ v: UInt32, signed: Bool, scale: Int, fcr: UInt32, fsr: inout UInt32) -> UInt32 {
        let rm = fcr & 3
        var r: UInt32 = 0
        if v != 0 {
            var sign: UInt32 = 0
            var mag = UInt64(v)
            if signed && Int32(bitPattern: v) < 0 {
                sign = 1
                mag = UInt64(0 &- Int64(Int32(bitPattern: v)))
            }
            r = normRoundPack64(sign, 189, mag, rm, &fsr)
        }
        if scale != 0 { r = scalbn(r, -max(-0x10000, min(0x10000, scale)), rm, &fsr) }
        return r
    }

    // MARK: - Compares

    /// Returns -1 less, 0 equal, 1 greater, 2 unordered. Quiet compares raise V only for SNaN
    /// operands; signalling compares raise V for any NaN.
    @inline(__always)
    static func compare(_ a: UInt32, _ b: UInt32, quiet: Bool, _ fsr: inout UInt32) -> Int {
        if isNaN(a) || isNaN(b) {
            if !quiet || isSNaN(a) || isSNaN(b) { fsr |= flagV }
            return 2
        }
        let ka: Int64 = signOf(a) != 0 ? -Int64(a & 0x7FFF_FFFF) : Int64(a)
        let kb: Int64 = signOf(b) != 0 ? -Int64(b & 0x7FFF_FFFF) : Int64(b)
        return ka < kb ? -1 : (ka == kb ? 0 : 1)
    }

    /// UN.S: unordered (quiet).
    public static func un(_ a: UInt32, _ b: UInt32, fsr: inout UInt32) -> Bool {
        compare(a, b, quiet: true, &fsr) == 2
    }
    /// OEQ.S: ordered and equal (quiet).
    public static func oeq(_ a: UInt32, _ b: UInt32, fsr: inout UInt32) -> Bool {
        compare(a, b, quiet: true, &fsr) == 0
    }
    /// UEQ.S: unordered or equal (quiet).
    public static func ueq(_ a: UInt32, _ b: UInt32, fsr: inout UInt32) -> Bool {
        let r = compare(a, b, quiet: true, &fsr)
        return r == 0 || r == 2
    }
    /// OLT.S: ordered and less (signalling).
    public static func olt(_ a: UInt32, _ b: UInt32, fsr: inout UInt32) -> Bool {
        compare(a, b, quiet: false, &fsr) == -1
    }
    /// ULT.S: unordered or less (quiet).
    public static func ult(_ a: UInt32, _ b: UInt32, fsr: inout UInt32) -> Bool {
        let r = compare(a, b, quiet: true, &fsr)
        return r == -1 || r == 2
    }
    /// OLE.S: ordered and less or equal (signalling).
    public static func ole(_ a: UInt32, _ b: UInt32, fsr: inout UInt32) -> Bool {
        let r = compare(a, b, quiet: false, &fsr)
        return r == -1 || r == 0
    }
    /// ULE.S: unordered, less or equal (quiet).
    public static func ule(_ a: UInt32, _ b: UInt32, fsr: inout UInt32) -> Bool {
        compare(a, b, quiet: true, &fsr) != 1
    }
}

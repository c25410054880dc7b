import XCTest
@testable import XtensaCore

/// Single-precision FPU semantics through assembled programs: rounding modes, NaN/infinity/
/// denormal handling and the FSR sticky flags (I=0x80, U=0x100, O=0x200, Z=0x400, V=0x800).
final class FloatingPointTests: XCTestCase {
    let I: UInt32 = 0x80, U: UInt32 = 0x100, O: UInt32 = 0x200, Z: UInt32 = 0x400, V: UInt32 = 0x800

    /// Runs `body` with f1 = a, f2 = b, FCR = fcr, FSR = 0; returns (a4 = f0 bits, FSR).
    func fp(_ body: String, a: UInt32, b: UInt32 = 0, fcr: UInt32 = 0) throws -> (UInt32, UInt32) {
        let m = try runProgram("""
            movi a2, \(a)
            wfr f1, a2
            movi a2, \(b)
            wfr f2, a2
            movi a2, \(fcr)
            wur.fcr a2
            movi a2, 0
            wur.fsr a2
            wfr f0, a2
        \(body)
            rfr a4, f0
            rur.fsr a5
            j _exit_ok
        """)
        return (m.cpu[a: 4], m.cpu[a: 5])
    }

    func testAddRoundingModes() throws {
        let one: UInt32 = 0x3F80_0000, half_ulp: UInt32 = 0x3380_0000, tiny: UInt32 = 0x3300_0000
        // 1 + 2^-24 is exactly half an ulp: nearest-even keeps 1.0.
        XCTAssertEqual(try fp("add.s f0, f1, f2", a: one, b: half_ulp, fcr: 0).0, one)
        XCTAssertEqual(try fp("add.s f0, f1, f2", a: one, b: half_ulp, fcr: 0).1, I)
        XCTAssertEqual(try fp("add.s f0, f1, f2", a: one, b: tiny, fcr: 1).0, one)            // toward zero
        XCTAssertEqual(try fp("add.s f0, f1, f2", a: one, b: tiny, fcr: 2).0, one + 1)        // toward +inf
        XCTAssertEqual(try fp("add.s f0, f1, f2", a: one, b: tiny, fcr: 3).0, one)            // toward -inf
        XCTAssertEqual(try fp("sub.s f0, f1, f2", a: one, b: tiny, fcr: 3).0, 0x3F7F_FFFF)    // 1 - tiny, down
        XCTAssertEqual(try fp("sub.s f0, f1, f2", a: one, b: tiny, fcr: 0).0, one)
    }

    func testSpecialValuesAndFlags() throws {
        let inf: UInt32 = 0x7F80_0000, maxf: UInt32 = 0x7F7F_FFFF
        var r = try fp("mul.s f0, f1, f2", a: 0, b: inf)                 // 0 * inf
        XCTAssertEqual(r.0, 0x7FC0_0000); XCTAssertEqual(r.1, V)
        r = try fp("sub.s f0, f1, f2", a: inf, b: inf)                   // inf - inf
        XCTAssertEqual(r.0, 0x7FC0_0000); XCTAssertEqual(r.1, V)
        r = try fp("add.s f0, f1, f2", a: maxf, b: maxf)                 // overflow
        XCTAssertEqual(r.0, inf); XCTAssertEqual(r.1, O | I)
        r = try fp("add.s f0, f1, f2", a: maxf, b: maxf, fcr: 1)         // overflow toward zero: max
        XCTAssertEqual(r.0, maxf); XCTAssertEqual(r.1, O | I)
        r = try fp("mul.s f0, f1, f2", a: 0x0080_0000, b: 0x3E80_0000)   // 2^-126 * 0.25: exact denormal
        XCTAssertEqual(r.0, 0x0020_0000); XCTAssertEqual(r.1, 0)
        r = try fp("mul.s f0, f1, f2", a: 0x0080_0001, b: 0x3E80_0000)   // inexact denormal: U and I
        XCTAssertEqual(r.1, U | I)
        r = try fp("mul.s f0, f1, f2", a: 0x0000_0001, b: 0x3F00_0000)   // smallest denormal / 2 -> 0
        XCTAssertEqual(r.0, 0); XCTAssertEqual(r.1, U | I)
        r = try fp("add.s f0, f1, f2", a: 0x7FA0_0000, b: 0x3F80_0000)   // signalling NaN: quieted, V
        XCTAssertEqual(r.0, 0x7FE0_0000); XCTAssertEqual(r.1, V)
        r = try fp("add.s f0, f1, f2", a: 0x7FC0_0001, b: 0x3F80_0000)   // quiet NaN propagates, no flag
        XCTAssertEqual(r.0, 0x7FC0_0001); XCTAssertEqual(r.1, 0)
        r = try fp("neg.s f0, f1", a: 0x7FA0_0000)                       // sign flip only, no flags
        XCTAssertEqual(r.0, 0xFFA0_0000); XCTAssertEqual(r.1, 0)
        r = try fp("abs.s f0, f1", a: 0xBF80_0000)
        XCTAssertEqual(r.0, 0x3F80_0000)
    }

    func testFusedMultiplyAdd() throws {
        // f0 = 1 + (1 + 2^-12)^2 ... check single rounding: (1+e)(1-e) - 1 = -e^2 exactly.
        let m = try runProgram("""
            movi a2, 0x3F800800     # 1 + 2^-12
            wfr f1, a2
            movi a2, 0x3F7FF000     # 1 - 2^-12
            wfr f2, a2
            movi a2, 0xBF800000     # -1
            wfr f0, a2
            madd.s f0, f1, f2       # -1 + (1+e)(1-e) = -e^2 = -2^-24 exactly (unfused: 0)
            rfr a4, f0
            movi a2, 0x3F800000
            wfr f3, a2
            msub.s f3, f1, f1       # 1 - (1+e)^2
            rfr a5, f3
            j _exit_ok
        """)
        XCTAssertEqual(m.cpu[a: 4], 0xB380_0000)
        XCTAssertEqual(m.cpu[a: 5], 0xBA00_0400)   // -(2e + e^2) = -(2^-11 + 2^-24), exact
    }

    func testConversions() throws {
        XCTAssertEqual(try fp("round.s a6, f1, 0\n wfr f0, a6", a: 0x4020_0000).0, 2)          // 2.5 -> 2 (even)
        XCTAssertEqual(try fp("round.s a6, f1, 0\n wfr f0, a6", a: 0x4060_0000).0, 4)          // 3.5 -> 4
        XCTAssertEqual(try fp("ceil.s a6, f1, 0\n wfr f0, a6", a: 0x4006_6666).0, 3)           // 2.1 -> 3
        XCTAssertEqual(try fp("floor.s a6, f1, 0\n wfr f0, a6", a: 0xC006_6666).0, UInt32(bitPattern: -3))
        XCTAssertEqual(try fp("trunc.s a6, f1, 4\n wfr f0, a6", a: 0x3FC0_0000).0, 24)         // 1.5 * 16
        let sat = try fp("trunc.s a6, f1, 0\n wfr f0, a6", a: 0x4F80_0000)                     // 2^32 -> saturate
        XCTAssertEqual(sat.0, 0x7FFF_FFFF); XCTAssertEqual(sat.1, V)
        let nan = try fp("trunc.s a6, f1, 0\n wfr f0, a6", a: 0x7FC0_0000)
        XCTAssertEqual(nan.0, 0x7FFF_FFFF); XCTAssertEqual(nan.1, V)
        XCTAssertEqual(try fp("utrunc.s a6, f1, 0\n wfr f0, a6", a: 0x4F00_0000).0, 0x8000_0000) // 2^31 fits unsigned
        let neg = try fp("utrunc.s a6, f1, 0\n wfr f0, a6", a: 0xC000_0000)                    // -2.0
        XCTAssertEqual(neg.1, V)
        XCTAssertEqual(try fp("movi a6, -3\n float.s f0, a6, 1", a: 0).0, 0xBFC0_0000)          // -3 / 2
        let u = try fp("movi a6, -1\n ufloat.s f0, a6, 0", a: 0)                               // 2^32-1 -> 2^32, inexact
        XCTAssertEqual(u.0, 0x4F80_0000); XCTAssertEqual(u.1, I)
        XCTAssertEqual(try fp("movi a6, -1\n ufloat.s f0, a6, 0", a: 0, fcr: 1).0, 0x4F7F_FFFF)
    }

    func testComparesWithNaN() throws {
        let m = try runProgram("""
            movi a2, 0x7FC00000
            wfr f1, a2
            movi a2, 0x3F800000
            wfr f2, a2
            movi a2, 0
            wur.fsr a2
            wsr.br a2
            un.s b0, f1, f2         # 1
            ueq.s b1, f1, f2        # 1
            ult.s b2, f1, f2        # 1
            oeq.s b3, f1, f2        # 0
            rur.fsr a6              # quiet compares: no flag
            olt.s b4, f1, f2        # 0, signalling: V
            rur.fsr a7
            ole.s b5, f2, f2        # 1
            ule.s b6, f2, f2        # 1
            olt.s b7, f2, f2        # 0
            rsr.br a8
            movi a3, 0
            movf.s f3, f2, b3       # b3 = 0: f3 = 1.0
            movt.s f4, f2, b3       # unchanged
            moveqz.s f5, f2, a3     # a3 = 0: f5 = 1.0
            rfr a9, f3
            rfr a10, f5
            j _exit_ok
        """)
        let c = m.cpu
        XCTAssertEqual(c[a: 8] & 0xFF, 0b0110_0111)
        XCTAssertEqual(c[a: 6], 0)
        XCTAssertEqual(c[a: 7], 0x800)
        XCTAssertEqual(c[a: 9], 0x3F80_0000)
        XCTAssertEqual(c[a: 10], 0x3F80_0000)
    }

    func testDivisionAndSquareRootSequences() throws {
        // The libgcc single-precision division and the ESP-IDF square-root sequences.
        let m = try runProgram("""
            movi a2, 0x3F800000     # 1.0
            wfr f1, a2
            movi a2, 0x40400000     # 3.0
            wfr f2, a2
            div0.s f3, f2
            nexp01.s f4, f2
            const.s f5, 1
            maddn.s f5, f4, f3
            mov.s f6, f3
            mov.s f7, f2
            nexp01.s f2, f1
            maddn.s f6, f5, f6
            const.s f5, 1
            const.s f0, 0
            neg.s f8, f2
            maddn.s f5, f4, f6
            maddn.s f0, f8, f3
            mkdadj.s f7, f1
            maddn.s f6, f5, f6
            maddn.s f8, f4, f0
            const.s f3, 1
            maddn.s f3, f4, f6
            maddn.s f0, f8, f6
            neg.s f2, f2
            maddn.s f6, f3, f6
            maddn.s f2, f4, f0
            addexpm.s f0, f7
            addexp.s f6, f7
            divn.s f0, f2, f6
            rfr a4, f0              # 1/3
            movi a2, 0x40000000     # 2.0
            wfr f0, a2
            sqrt0.s f2, f0
            const.s f5, 0
            maddn.s f5, f2, f2
            nexp01.s f3, f0
            const.s f4, 3
            addexp.s f3, f4
            maddn.s f4, f5, f3
            nexp01.s f5, f0
            neg.s f6, f5
            maddn.s f2, f4, f2
            const.s f1, 0
            const.s f4, 0
            const.s f7, 0
            maddn.s f1, f6, f2
            maddn.s f4, f2, f3
            const.s f6, 3
            maddn.s f7, f6, f2
            maddn.s f5, f1, f1
            maddn.s f6, f4, f2
            neg.s f3, f7
            maddn.s f1, f5, f3
            maddn.s f7, f6, f7
            mksadj.s f2, f0
            nexp01.s f5, f0
            maddn.s f5, f1, f1
            neg.s f3, f7
            addexpm.s f1, f2
            addexp.s f3, f2
            divn.s f1, f5, f3
            rfr a5, f1              # sqrt(2)
            j _exit_ok
        """)
        XCTAssertEqual(m.cpu[a: 4], Float(1.0 / 3.0).bitPattern)
        XCTAssertEqual(m.cpu[a: 5], Float(2).squareRoot().bitPattern)
    }

    func testFPLoadsStoresWithPostIncrement() throws {
        let m = try runProgram("""
            movi a2, 0x3FFE0400
            movi a3, 0x40490FDB     # pi
            s32i a3, a2, 0
            movi a3, 0x402DF854     # e
            s32i a3, a2, 4
            mov a6, a2
            lsip f1, a6, 4          # f1 = pi, a6 += 4
            lsi f2, a6, 0           # e
            movi a7, 8
            ssx f2, a2, a7          # [a2+8] = e
            ssip f1, a6, 8          # [a6] = pi, a6 += 8
            l32i a8, a2, 8
            l32i a9, a2, 4
            rfr a10, f1
            j _exit_ok
        """)
        let c = m.cpu
        XCTAssertEqual(c[a: 6], 0x3FFE_040C)
        XCTAssertEqual(c[a: 8], 0x402D_F854)
        XCTAssertEqual(c[a: 9], 0x4049_0FDB)
        XCTAssertEqual(c[a: 10], 0x4049_0FDB)
    }
}

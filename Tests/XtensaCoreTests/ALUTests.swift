import XCTest
@testable import XtensaCore

final class ALUTests: XCTestCase {
    func testArithmeticAndLogic() throws {
        let m = try runProgram("""
            movi a2, 100
            movi a3, -7
            add a4, a2, a3        # 93
            sub a5, a3, a2        # -107
            addx2 a6, a2, a3      # 193
            addx4 a7, a2, a3      # 393
            addx8 a8, a2, a3      # 793
            subx8 a9, a2, a3      # 807
            and a10, a2, a3       # 100 & -7
            neg a11, a2
            abs a12, a3
            addi a13, a2, -128
            addmi a14, a2, 0x7f00
            add.n a15, a2, a2
            j _exit_ok
        """)
        let c = m.cpu
        XCTAssertEqual(c[a: 4], 93)
        XCTAssertEqual(Int32(bitPattern: c[a: 5]), -107)
        XCTAssertEqual(c[a: 6], 193)
        XCTAssertEqual(c[a: 7], 393)
        XCTAssertEqual(c[a: 8], 793)
        XCTAssertEqual(c[a: 9], 807)
        XCTAssertEqual(c[a: 10], 100 & UInt32(bitPattern: -7))
        XCTAssertEqual(Int32(bitPattern: c[a: 11]), -100)
        XCTAssertEqual(c[a: 12], 7)
        XCTAssertEqual(Int32(bitPattern: c[a: 13]), -28)
        XCTAssertEqual(c[a: 14], 0x7f00 + 100)
        XCTAssertEqual(c[a: 15], 200)
    }

    func testAbsOfMinimum() throws {
        let m = try runProgram("""
            movi a2, 1
            slli a2, a2, 31
            abs a3, a2
            j _exit_ok
        """)
        XCTAssertEqual(m.cpu[a: 3], 0x8000_0000)
    }

    func testShifts() throws {
        let m = try runProgram("""
            movi a2, 0x123
            slli a3, a2, 20        # 0x12300000
            srai a4, a3, 24        # 0x12
            movi a5, -256
            srai a6, a5, 4         # -16
            srli a7, a5, 15        # 0x1ffff
            ssai 8
            src a8, a2, a3         # (0x123:0x12300000) >> 8 = 0x23123000
            movi a9, 12
            ssl a9
            sll a10, a2            # 0x123000
            ssr a9
            srl a11, a3            # 0x12300
            sra a12, a5            # -1 (>> 12 of -256)
            ssa8l a9               # sar = (12&3)*8 = 0
            rsr.sar a13
            extui a14, a3, 20, 8   # 0x23
            j _exit_ok
        """)
        let c = m.cpu
        XCTAssertEqual(c[a: 3], 0x1230_0000)
        XCTAssertEqual(c[a: 4], 0x12)
        XCTAssertEqual(Int32(bitPattern: c[a: 6]), -16)
        XCTAssertEqual(c[a: 7], 0x1FFFF)
        XCTAssertEqual(c[a: 8], 0x2312_3000)
        XCTAssertEqual(c[a: 10], 0x12_3000)
        XCTAssertEqual(c[a: 11], 0x1_2300)
        XCTAssertEqual(Int32(bitPattern: c[a: 12]), -1)
        XCTAssertEqual(c[a: 13], 0)
        XCTAssertEqual(c[a: 14], 0x23)
    }

    func testNSAEdgeCases() throws {
        let m = try runProgram("""
            movi a2, 0
            nsa a3, a2          # 31
            movi a2, -1
            nsa a4, a2          # 31
            movi a2, 1
            nsa a5, a2          # 30
            movi a2, 0
            nsau a6, a2         # 32
            movi a2, 1
            nsau a7, a2         # 31
            movi a2, -2
            nsa a8, a2          # 30
            j _exit_ok
        """)
        let c = m.cpu
        XCTAssertEqual([c[a: 3], c[a: 4], c[a: 5], c[a: 6], c[a: 7], c[a: 8]], [31, 31, 30, 32, 31, 30])
    }

    func testMinMaxSextClamps() throws {
        let m = try runProgram("""
            movi a2, -5
            movi a3, 3
            min a4, a2, a3
            max a5, a2, a3
            minu a6, a2, a3
            maxu a7, a2, a3
            movi a8, 0x180
            sext a9, a8, 7          # -128
            movi a10, 1000
            clamps a11, a10, 7      # 127
            movi a10, -1000
            clamps a12, a10, 7      # -128
            movi a10, 100
            clamps a13, a10, 7      # 100
            j _exit_ok
        """)
        let c = m.cpu
        XCTAssertEqual(Int32(bitPattern: c[a: 4]), -5)
        XCTAssertEqual(c[a: 5], 3)
        XCTAssertEqual(c[a: 6], 3)
        XCTAssertEqual(Int32(bitPattern: c[a: 7]), -5)
        XCTAssertEqual(Int32(bitPattern: c[a: 9]), -128)
        XCTAssertEqual(c[a: 11], 127)
        XCTAssertEqual(Int32(bitPattern: c[a: 12]), -128)
        XCTAssertEqual(c[a: 13], 100)
    }

    func testMultiplyDivide() throws {
        let m = try runProgram("""
            movi a2, -3
            movi a3, 7
            mull a4, a2, a3         # -21
            muluh a5, a2, a3        # 6
            mulsh a6, a2, a3        # -1
            mul16u a7, a2, a3       # 0xfffd * 7
            mul16s a8, a2, a3       # -21
            movi a9, 100
            quou a10, a9, a3        # 14
            remu a11, a9, a3        # 2
            quos a12, a2, a3        # 0
            movi a13, -100
            rems a14, a13, a3       # -2
            j _exit_ok
        """)
        let c = m.cpu
        XCTAssertEqual(Int32(bitPattern: c[a: 4]), -21)
        XCTAssertEqual(c[a: 5], 6)
        XCTAssertEqual(Int32(bitPattern: c[a: 6]), -1)
        XCTAssertEqual(c[a: 7], 0xFFFD * 7)
        XCTAssertEqual(Int32(bitPattern: c[a: 8]), -21)
        XCTAssertEqual(c[a: 10], 14)
        XCTAssertEqual(c[a: 11], 2)
        XCTAssertEqual(c[a: 12], 0)
        XCTAssertEqual(Int32(bitPattern: c[a: 14]), -2)
    }

    func testDivideByZeroRaisesException() throws {
        let m = try runProgram("""
            j _start
            .org 0x300
        kernel_vector:
            rsr.exccause a10
            rsr.epc1 a11
            j _exit_ok
            .org 0x400
        _start:
            movi a2, 5
            movi a3, 0
        div:
            quou a4, a2, a3
            movi a12, 1            # not reached
            j _exit_ok
        """)
        XCTAssertEqual(m.cpu[a: 10], ExceptionCause.integerDivideByZero.rawValue)
        XCTAssertEqual(m.cpu[a: 11], 0x4008_0400 + 6)
        XCTAssertEqual(m.cpu[a: 12], 0)
    }

    func testQuosOverflow() throws {
        let m = try runProgram("""
            movi a2, 1
            slli a2, a2, 31
            movi a3, -1
            quos a4, a2, a3
            rems a5, a2, a3
            j _exit_ok
        """)
        XCTAssertEqual(m.cpu[a: 4], 0x8000_0000)
        XCTAssertEqual(m.cpu[a: 5], 0)
    }
}

import XCTest
@testable import XtensaCore

final class ExceptionInterruptTests: XCTestCase {
    func testExceptionInHandlerGoesToDoubleExceptionVector() throws {
        let m = try runProgram("""
            j _start
            .org 0x300
        kernel:
            rsr.exccause a10
            rsr.epc1 a11
        second:
            ill                     # exception with PS.EXCM = 1: double exception
            .org 0x3C0
        double:
            rsr.depc a12
            rsr.exccause a13
            rsr.ps a14
            j _exit_ok
            .literal_position
            .org 0x400
        _start:
            movi a10, 0
        first:
            syscall
        """)
        let c = m.cpu
        XCTAssertEqual(c[a: 10], ExceptionCause.syscall.rawValue)
        XCTAssertEqual(c[a: 11], 0x4008_0403)
        XCTAssertEqual(c[a: 12], 0x4008_0306)
        XCTAssertEqual(c[a: 13], ExceptionCause.illegalInstruction.rawValue)
        XCTAssertNotEqual(c[a: 14] & PS.excm, 0)
    }

    func testUserVectorWhenPSUM() throws {
        let m = try runProgram("""
            j _start
            .org 0x300
            movi a10, 1
            j _exit_ok
            .org 0x340
            movi a10, 2
            j _exit_ok
            .literal_position
            .org 0x400
        _start:
            movi a2, 0x40020        # WOE | UM
            wsr.ps a2
            rsync
            syscall
        """)
        XCTAssertEqual(m.cpu[a: 10], 2)
    }

    func testRFEAndEPC1Return() throws {
        let m = try runProgram("""
            j _start
            .org 0x300
            rsr.epc1 a2
            addi a2, a2, 3          # skip the syscall
            wsr.epc1 a2
            addi a10, a10, 1
            rfe
            .literal_position
            .org 0x400
        _start:
            movi a10, 0
            syscall
            syscall
            rsr.ps a11
            j _exit_ok
        """)
        XCTAssertEqual(m.cpu[a: 10], 2)
        XCTAssertEqual(m.cpu[a: 11] & PS.excm, 0)
    }

    func testLevel1InterruptMaskedByIntlevelThenTaken() throws {
        // Software interrupt 7 (level 1): pending while PS.INTLEVEL = 1, taken after rsil 0.
        let m = try runProgram("""
            j _start
            .org 0x300
            rsr.exccause a12
            rsr.interrupt a13
            movi a2, 0x80
            wsr.intclear a2
            j _exit_ok
            .literal_position
            .org 0x400
        _start:
            movi a12, 99
            rsil a2, 1
            movi a3, 0x80
            wsr.intenable a3
            wsr.intset a3
            rsync
            movi a4, 1              # runs: masked
            rsil a2, 0              # unmask: taken before the next instruction
            movi a5, 1              # not reached
            j _exit_ok
        """)
        let c = m.cpu
        XCTAssertEqual(c[a: 12], ExceptionCause.level1Interrupt.rawValue)
        XCTAssertEqual(c[a: 13] & 0x80, 0x80)
        XCTAssertEqual(c[a: 4], 1)
        XCTAssertEqual(c[a: 5], 0)
    }

    func testEXCMMasksLevelsUpToThreeButNotFive() throws {
        // With PS.EXCM = 1 the level-3 software interrupt 29 stays pending; CCOMPARE2's
        // level-5 interrupt (16) is still taken at the level-5 vector.
        let m = try runProgram("""
            j _start
            .org 0x1C0
            movi a9, 3              # level 3 vector: must not be taken
            j _exit_ok
            .org 0x240
            rsr.eps5 a10
            rsr.epc5 a11
            rsr.ps a12
            rsr.interrupt a13
            j _exit_ok
            .literal_position
            .org 0x400
        _start:
            movi a9, 0
            movi a2, 0x40010        # WOE | EXCM, INTLEVEL 0
            wsr.ps a2
            movi a3, 0x20010000     # int 29 (software, level 3) and 16 (CCOMPARE2, level 5)
            wsr.intenable a3
            movi a3, 0x20000000
            wsr.intset a3
            rsr.ccount a4
            addi a4, a4, 40
            wsr.ccompare2 a4
        1:  j 1b
        """)
        let c = m.cpu
        XCTAssertEqual(c[a: 9], 0)
        XCTAssertEqual(c[a: 10] & PS.excm, PS.excm)
        XCTAssertEqual(c[a: 12] & 0xF, 5)
        XCTAssertEqual(c[a: 13] & 0x2001_0000, 0x2001_0000)
    }

    func testCCompareFiresAtTheRightCCount() throws {
        let m = try runProgram("""
            j _start
            .org 0x300
            rsr.ccount a10
            rsr.exccause a11
            rsr.ccompare0 a12       # does not clear the interrupt
            wsr.ccompare0 a12       # writing it does
            rsr.interrupt a13
            j _exit_ok
            .literal_position
            .org 0x400
        _start:
            movi a2, 0x40
            wsr.intenable a2
            rsr.ccount a3
            movi a5, 200
            add a3, a3, a5
            wsr.ccompare0 a3
            movi a4, 0
        1:  addi a4, a4, 1
            j 1b
        """)
        let c = m.cpu
        XCTAssertEqual(c[a: 11], ExceptionCause.level1Interrupt.rawValue)
        // Taken at the instruction boundary right after CCOUNT reached CCOMPARE0.
        let late = Int64(c[a: 10]) - Int64(c[a: 12])
        XCTAssertGreaterThanOrEqual(late, 0)
        XCTAssertLessThanOrEqual(late, 2)
        XCTAssertEqual(c[a: 13] & 0x40, 0)
        XCTAssertGreaterThan(c[a: 4], 50)
    }

    func testWaitiFastForwardsToTimer() throws {
        let m = try runProgram("""
            j _start
            .org 0x300
            rsr.ccount a10
            movi a2, 0
            wsr.intenable a2
            j _exit_ok
            .literal_position
            .org 0x400
        _start:
            movi a2, 0x40
            wsr.intenable a2
            rsr.ccount a3
            movi a5, 100000
            add a3, a3, a5
            wsr.ccompare0 a3
            waiti 0
            movi a11, 1
        """, maxCycles: 1_000_000)
        XCTAssertGreaterThanOrEqual(m.cpu[a: 10], 100_000)
        XCTAssertLessThan(m.cpu.st.pointee.instructions, 100, "WAITI must not spin")
    }

    func testRSILAndHighLevelInterruptReturnWithRFI() throws {
        let m = try runProgram("""
            j _start
            .org 0x1C0
            addi a10, a10, 1
            movi a2, 0x20000000
            wsr.intclear a2
            rfi 3
            .literal_position
            .org 0x400
        _start:
            movi a10, 0
            movi a3, 0x20000000     # int 29: software, level 3
            wsr.intenable a3
            rsil a4, 3              # masked at level 3
            wsr.intset a3
            rsync
            movi a11, 7
            rsil a4, 2              # level 3 > 2: taken
            movi a12, 8
            j _exit_ok
        """)
        XCTAssertEqual(m.cpu[a: 10], 1)
        XCTAssertEqual(m.cpu[a: 11], 7)
        XCTAssertEqual(m.cpu[a: 12], 8)
    }

    func testCoprocessorDisabled() throws {
        let m = try runProgram("""
            j _start
            .org 0x300
            rsr.exccause a10
            j _exit_ok
            .org 0x400
        _start:
            movi a2, 0
            wsr.cpenable a2
            rsync
            wfr f0, a2
        """)
        XCTAssertEqual(m.cpu[a: 10], ExceptionCause.coprocessor0Disabled.rawValue)
    }

    func testIllegalAndUnknownSpecialRegister() throws {
        let m = try runProgram("""
            j _start
            .org 0x300
            rsr.exccause a10
            rsr.epc1 a11
            j _exit_ok
            .org 0x400
        _start:
            rsr a2, 5               # LITBASE is not configured
        """)
        XCTAssertEqual(m.cpu[a: 10], ExceptionCause.illegalInstruction.rawValue)
        XCTAssertEqual(m.cpu[a: 11], 0x4008_0400)
    }

    func testSpecialAndUserRegisters() throws {
        let m = try runProgram("""
            movi a2, 0x1234
            wur.threadptr a2
            rur.threadptr a3
            wsr.scompare1 a2
            xsr.scompare1 a4        # a4 <- 0x1234, scompare1 <- old a4
            rsr.prid a5
            rsr.configid0 a6
            movi a7, 3
            wur.fcr a7
            rur.fcr a8
            movi a9, -1
            wsr.br a9
            rsr.br a9
            wsr.sar a2
            rsr.sar a11
            j _exit_ok
        """)
        let c = m.cpu
        XCTAssertEqual(c[a: 3], 0x1234)
        XCTAssertEqual(c[a: 4], 0x1234)
        XCTAssertEqual(c[a: 5], 0xCDCD)
        XCTAssertEqual(c[a: 6], 0xC2BC_FFFE)
        XCTAssertEqual(c[a: 8], 3)
        XCTAssertEqual(c[a: 9], 0xFFFF)
        XCTAssertEqual(c[a: 11], 0x34)
    }
}

import XCTest
@testable import XtensaCore

final class ControlFlowTests: XCTestCase {
    func testBranchesAllForms() throws {
        // Each taken branch adds a distinct bit to a15; not-taken ones must not.
        let m = try runProgram("""
            movi a15, 0
            movi a2, 5
            movi a3, -3
            movi a4, 0
            beqz a4, 1f
            j fail
        1:  bnez a4, fail
            bltz a3, 1f
            j fail
        1:  bgez a3, fail
            beqi a2, 5, 1f
            j fail
        1:  bnei a2, 5, fail
            blti a3, -1, 1f
            j fail
        1:  bgei a3, 1, fail
            bltui a2, 6, 1f
            j fail
        1:  bgeui a2, 6, fail
            beq a2, a2, 1f
            j fail
        1:  bne a2, a2, fail
            blt a3, a2, 1f
            j fail
        1:  bge a3, a2, fail
            bltu a2, a3, 1f
            j fail
        1:  bgeu a2, a3, fail
            movi a5, 0x0f
            movi a6, 0x03
            ball a5, a6, 1f
            j fail
        1:  bnall a5, a6, fail
            bany a5, a6, 1f
            j fail
        1:  movi a7, 0x30
            bnone a5, a7, 1f
            j fail
        1:  bbsi a5, 3, 1f
            j fail
        1:  bbci a5, 4, 1f
            j fail
        1:  movi a8, 31
            bbc a5, a8, 1f
            j fail
        1:  movi a8, 0
            bbs a5, a8, 1f
            j fail
        1:  beqz.n a4, 1f
            j fail
        1:  bnez.n a2, 1f
            j fail
        1:  movi a15, 1
            j _exit_ok
        fail:
            movi a15, 2
            j _exit_ok
        """)
        XCTAssertEqual(m.cpu[a: 15], 1)
    }

    func testCall0AndJX() throws {
        let m = try runProgram("""
            j 1f
            .literal_position
        1:
            movi a2, 0
            call0 f
            addi a2, a2, 10
            movi a4, g
            callx0 a4
            j _exit_ok
            .align 4
        f:  addi a2, a2, 1
            ret
            .align 4
        g:  addi a2, a2, 100
            ret.n
        """)
        XCTAssertEqual(m.cpu[a: 2], 111)
    }

    func testZeroOverheadLoop() throws {
        let m = try runProgram("""
            movi a2, 0
            movi a3, 5
            loop a3, 1f
            addi a2, a2, 1
        1:  movi a4, 0
            movi a5, 0
            loopnez a5, 2f          # zero count: body skipped
            addi a4, a4, 1
        2:  rsr.lcount a6           # 0xffffffff after LOOPNEZ with 0
            movi a7, 0
            movi a8, -3
            loopgtz a8, 3f          # count <= 0: body skipped
            addi a7, a7, 1
        3:  movi a9, 0
            movi a10, 7
            loopgtz a10, 4f
            addi a9, a9, 2
        4:  rsr.lcount a11
            j _exit_ok
        """)
        let c = m.cpu
        XCTAssertEqual(c[a: 2], 5)
        XCTAssertEqual(c[a: 4], 0)
        XCTAssertEqual(c[a: 6], 0xFFFF_FFFF)
        XCTAssertEqual(c[a: 7], 0)
        XCTAssertEqual(c[a: 9], 14)
        XCTAssertEqual(c[a: 11], 0)
    }

    func testLoopEndingInTakenBranchDoesNotLoopBack() throws {
        let m = try runProgram("""
            movi a5, 0
            movi a3, 4
            loop a3, 1f
            addi a5, a5, 1
            bnez a3, 1f             # taken, to LEND: the loop exits after one pass
        1:  rsr.lcount a6
            movi a7, 0
            movi a3, 4
            loop a3, 2f
            addi a7, a7, 1
            beqz a3, 2f             # not taken: falls through and loops back
        2:  j _exit_ok
        """)
        XCTAssertEqual(m.cpu[a: 5], 1)
        XCTAssertEqual(m.cpu[a: 6], 3)
        XCTAssertEqual(m.cpu[a: 7], 4)
    }

    func testLoopBackDisabledWithEXCM() throws {
        let m = try runProgram("""
            j 1f
            .literal_position
        1:
            movi a2, 0x40010         # WOE | EXCM
            wsr.ps a2
            rsync
            movi a4, 0
            movi a3, 3
            loop a3, 1f
            addi a4, a4, 1
        1:  movi a2, 0x40000
            wsr.ps a2
            j _exit_ok
        """)
        XCTAssertEqual(m.cpu[a: 4], 1)
    }

    func testWindowedCallsAllSizesAndDeepCall12Chain() throws {
        // sum12(n) = n + sum12(n-1) through CALL12: 24 levels spill every frame (overflow12)
        // and refill them (underflow12). mix(n) alternates call4/call8/call12.
        let m = try runProgram(literalPool: false, GuestWorkloads.windowVectors + """
            .org 0x400
        _start:
            movi a14, 24
            call12 sum12
            mov a15, a14            # 300
            movi a10, 30
            call8 mix
            mov a13, a10
            j _exit_ok
            .align 4
        sum12:
            entry a1, 48
            beqz a2, 1f
            addi a14, a2, -1
            call12 sum12
            add a2, a2, a14
        1:  retw
            .align 4
        mix:
            entry a1, 48
            beqz a2, 9f
            extui a3, a2, 0, 2
            addi a6, a2, -1
            mov a10, a6
            mov a14, a6
            beqz a3, 4f
            beqi a3, 1, 8f
            call12 mix
            add a2, a2, a14
            retw
        4:  mov a6, a6
            call4 mix
            add a2, a2, a6
            retw
        8:  call8 mix
            add a2, a2, a10
        9:  retw
        """)
        XCTAssertEqual(m.cpu[a: 15], 300)
        XCTAssertEqual(m.cpu[a: 13], 465)
        XCTAssertEqual(m.cpu.specialRegister(SR.windowstart)! & (1 << m.cpu.specialRegister(SR.windowbase)!), 1 << m.cpu.specialRegister(SR.windowbase)!)
    }

    func testWindowOverflowVectorsAndRotationState() throws {
        // Count overflows and underflows taken while going 20 frames deep with call8.
        let vectors = """
            .org 0x000
            rfwo
            .org 0x040
            rfwu
            .org 0x080
            s32e a0, a9, -16
            l32e a0, a1, -12
            s32e a1, a9, -12
            s32e a2, a9, -8
            s32e a3, a9, -4
            s32e a4, a0, -32
            s32e a5, a0, -28
            s32e a6, a0, -24
            s32e a7, a0, -20
            j count_of
            .org 0x0C0
            j count_uf

        """
        let m = try runProgram(literalPool: false, vectors + """
            .org 0x200
        count_of:
            rsr.misc2 a0
            addi a0, a0, 1
            wsr.misc2 a0
            rsr.epc1 a0             # EPC1 is the instruction that overflowed
            wsr.misc3 a0
            rfwo
        count_uf:
            rsr.misc2 a0
            addmi a0, a0, 256
            wsr.misc2 a0
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
            .org 0x400
        _start:
            movi a10, 20
            call8 deep
            mov a15, a10
            j _exit_ok
            .align 4
        deep:
            entry a1, 32
            beqz a2, 1f
            addi a10, a2, -1
        ovf:
            call8 deep
            addi a2, a10, 1
        1:  retw
        """)
        let counts = m.cpu.specialRegister(246)!
        XCTAssertEqual(m.cpu[a: 15], 20)
        // 21 frames of 2 panels each in a 16-panel file: the oldest frames spill.
        XCTAssertGreaterThan(counts & 0xFF, 10)
        XCTAssertEqual(counts & 0xFF, counts >> 8, "every spilled frame is refilled")
    }

    func testMovspAllocaException() throws {
        let m = try runProgram("""
            j _start
            .org 0x300
            rsr.exccause a12
            j _exit_ok
            .literal_position
            .org 0x400
        _start:
            movi a12, 99
            movi a3, 0x1000
            movsp a1, a3            # no caller frames live: Alloca exception
            j _exit_ok
        """)
        XCTAssertEqual(m.cpu[a: 12], ExceptionCause.alloca.rawValue)
    }
}

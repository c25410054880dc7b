import XCTest
@testable import XtensaCore

final class MemoryTests: XCTestCase {
    func testLoadsStoresAllSizes() throws {
        let m = try runProgram("""
            movi a2, 0x3FFE0100
            movi a3, 0x8765ABCD
            s32i a3, a2, 0
            l8ui a4, a2, 0          # 0xCD
            l8ui a5, a2, 3          # 0x87
            l16ui a6, a2, 2         # 0x8765
            l16si a7, a2, 2         # sign-extended
            movi a8, 0x1FF
            s8i a8, a2, 4
            s16i a3, a2, 6
            l32i a9, a2, 4          # 0xABCD00FF
            s32i.n a3, a2, 8
            l32i.n a10, a2, 8
            movi a11, 0x77
            s32ri a11, a2, 12
            l32ai a12, a2, 12
            j _exit_ok
        """)
        let c = m.cpu
        XCTAssertEqual(c[a: 4], 0xCD)
        XCTAssertEqual(c[a: 5], 0x87)
        XCTAssertEqual(c[a: 6], 0x8765)
        XCTAssertEqual(c[a: 7], 0xFFFF_8765)
        XCTAssertEqual(c[a: 9], 0xABCD_00FF)
        XCTAssertEqual(c[a: 10], 0x8765_ABCD)
        XCTAssertEqual(c[a: 12], 0x77)
    }

    func testL32RLiteral() throws {
        let m = try runProgram("""
            j 1f
            .align 4
        lit: .word 0xDEADBEEF
        1:  l32r a2, lit
            j _exit_ok
        """)
        XCTAssertEqual(m.cpu[a: 2], 0xDEAD_BEEF)
    }

    func testS32C1ISuccessAndFailure() throws {
        let m = try runProgram("""
            movi a2, 0x3FFE0200
            movi a3, 5
            s32i a3, a2, 0
            wsr.scompare1 a3        # expect 5: the swap happens
            movi a4, 9
            s32c1i a4, a2, 0        # a4 <- old (5), mem <- 9
            l32i a5, a2, 0
            movi a6, 1
            s32c1i a6, a2, 0        # scompare1 (5) != 9: no store, a6 <- 9
            l32i a7, a2, 0
            j _exit_ok
        """)
        let c = m.cpu
        XCTAssertEqual(c[a: 4], 5)
        XCTAssertEqual(c[a: 5], 9)
        XCTAssertEqual(c[a: 6], 9)
        XCTAssertEqual(c[a: 7], 9)
    }

    func testS32C1IWithAtomctlBypassZeroRaisesLoadStoreError() throws {
        let m = try runProgram("""
            j _start
            .org 0x300
            rsr.exccause a10
            j _exit_ok
            .org 0x400
        _start:
            movi a2, 0x28
            wsr.atomctl a2
            movi a2, 0x3FFE0200
            s32c1i a3, a2, 0
        """)
        XCTAssertEqual(m.cpu[a: 10], ExceptionCause.loadStoreError.rawValue)
    }

    func testSelfModifyingCodeInvalidatesPredecode() throws {
        // Execute a `movi a3, 1`, overwrite it with `movi a3, 2`, execute it again.
        let m = try runProgram("""
            movi a4, 0
            movi a6, patch
            l32i a7, a6, 0          # original word (movi a3, 1 + next byte)
        again:
            call0 patch
            addi a4, a4, 1
            bnei a4, 1, done
            movi a8, 0xFF00FFFF     # keep everything but imm8 (bits 23:16)
            and a7, a7, a8
            movi a8, 0x00020000     # imm8 = 2
            or a7, a7, a8
            s32i a7, a6, 0
            j again
            .align 4
        patch:
            movi a3, 1
            ret
        done:
            mov a10, a3
            j _exit_ok
        """)
        XCTAssertEqual(m.cpu[a: 10], 2)
    }

    func testWordOnlyMemoryRaisesLoadStoreErrorOnByteAccess() throws {
        let base: UInt32 = 0x4008_0000
        let program = try Assembler.assemble("""
            j _start
            .org 0x300
            rsr.exccause a10
            rsr.excvaddr a11
            movi a2, 1
            movi a3, 0
            simcall
            .literal_position
            .org 0x400
        _start:
            movi a2, 0x40090000
            movi a3, 0x11223344
            s32i a3, a2, 0
            l32i a4, a2, 0
            wsr.misc0 a4
            l8ui a5, a2, 1
        """, base: base)
        let m = BareMetalMachine(ram: [(base, 0x1_0000), (0x3FFE_0000, 0x1_0000)])
        let iram = UnsafeMutableRawPointer.allocate(byteCount: 0x1_0000, alignment: 4096)
        defer { iram.deallocate() }
        m.cpu.memory.map(base: 0x4009_0000, size: 0x1_0000, host: iram, attributes: [.read, .write, .execute, .wordOnly])
        m.load(program.bytes, at: base)
        m.prepare(entry: base + 0x400, vecbase: base)
        XCTAssertEqual(m.cpu.run(cycles: 10_000), .exit(0))
        XCTAssertEqual(m.cpu.specialRegister(244), 0x1122_3344)
        XCTAssertEqual(m.cpu.ar(10), ExceptionCause.loadStoreError.rawValue)
        XCTAssertEqual(m.cpu.ar(11), 0x4009_0001)
    }

    func testBusErrorOnUnmappedAddress() throws {
        let m = try runProgram("""
            j _start
            .org 0x300
            rsr.exccause a10
            rsr.excvaddr a11
            j _exit_ok
            .literal_position
            .org 0x400
        _start:
            movi a2, 0x60000000
            l32i a3, a2, 4
        """)
        XCTAssertEqual(m.cpu[a: 10], ExceptionCause.loadStoreError.rawValue)
        XCTAssertEqual(m.cpu[a: 11], 0x6000_0004)
    }

    func testRegionProtectionStoreProhibited() throws {
        let m = try runProgram("""
            j _start
            .org 0x300
            rsr.exccause a10
            rsr.excvaddr a11
            j _exit_ok
            .literal_position
            .org 0x400
        _start:
            movi a2, 0
            movi a3, 15
            wdtlb a3, a2            # region 0 (0x00000000-0x1FFFFFFF): no access
            dsync
            s32i a3, a2, 0
        """)
        XCTAssertEqual(m.cpu[a: 10], ExceptionCause.storeProhibited.rawValue)
        XCTAssertEqual(m.cpu[a: 11], 0)
    }
}

final class BooleanMAC16Tests: XCTestCase {
    func testBooleans() throws {
        let m = try runProgram("""
            movi a2, 0x00F1         # b0=1, b4..b7=1
            wsr.br a2
            any4 b8, b0             # 1
            all4 b9, b0             # 0
            all4 b10, b4            # 1
            any8 b11, b8            # b8..b15 contains b8=1 -> 1
            andb b12, b0, b10       # 1
            andbc b13, b0, b10      # 0
            orbc b14, b9, b9        # 1
            xorb b15, b0, b10       # 0
            rsr.br a3
            movi a4, 5
            movi a5, 6
            movt a4, a5, b0         # b0 true -> a4 = 6
            movi a6, 5
            movf a6, a5, b0         # b0 true -> unchanged 5
            movi a7, 0
            bt b0, 1f
            movi a7, 1
        1:  bf b9, 2f
            movi a7, 2
        2:  j _exit_ok
        """)
        let c = m.cpu
        let br = c[a: 3]
        XCTAssertEqual(br & 0xFF00, (1 << 8) | (1 << 10) | (1 << 11) | (1 << 12) | (1 << 14))
        XCTAssertEqual(c[a: 4], 6)
        XCTAssertEqual(c[a: 6], 5)
        XCTAssertEqual(c[a: 7], 0)
    }

    func testMAC16() throws {
        let m = try runProgram("""
            movi a2, 0x00030002     # high 3, low 2
            movi a3, 0xFFFF0005     # high -1, low 5
            umul.aa.ll a2, a3       # acc = 2*5 = 10
            mula.aa.hl a2, a3       # acc += 3*5 = 25
            muls.aa.hh a2, a3       # acc -= 3*-1 -> 28
            rsr.acclo a4
            rsr.acchi a5
            mul.aa.lh a2, a3        # acc = 2*-1 = -2
            rsr.acclo a6
            rsr.acchi a7
            movi a8, 0x3FFE0300
            movi a9, 0x00070004
            s32i a9, a8, 4
            movi a9, 0x00100020
            s32i a9, a8, 8
            ldinc m0, a8            # a8 += 4, m0 = 0x00070004
            ldinc m2, a8            # m2 = 0x00100020
            mul.dd.ll m0, m2        # 4 * 0x20 = 128
            mula.dd.hh.ldinc m1, a8, m0, m2   # acc += 7*0x10 = 240 (m1 <- mem[a8+4])
            rsr.acclo a10
            rsr.m1 a11
            mula.da.ll.lddec m3, a8, m0, a2   # acc += 4*2 = 248, a8 -= 4, m3 = mem
            rsr.acclo a12
            rsr.m3 a13
            j _exit_ok
        """)
        let c = m.cpu
        XCTAssertEqual(c[a: 4], 28)
        XCTAssertEqual(c[a: 5], 0)
        XCTAssertEqual(Int32(bitPattern: c[a: 6]), -2)
        XCTAssertEqual(c[a: 7], 0xFFFF_FFFF)
        XCTAssertEqual(c[a: 10], 240)
        XCTAssertEqual(c[a: 12], 248)
        XCTAssertEqual(c[a: 13], 0x0010_0020)
        XCTAssertEqual(c[a: 8], 0x3FFE_0308)
    }

    func testMAC16AccumulatorIs40BitsSignExtended() throws {
        let m = try runProgram("""
            movi a2, 0x7FFF
            wsr.acchi a2            # only 8 bits, sign-extended: 0xFF -> -1
            rsr.acchi a3
            movi a4, 0x7F
            wsr.acchi a4
            movi a5, -1
            wsr.acclo a5            # acc = 0x7F_FFFF_FFFF (max)
            movi a6, 0x7FFF
            mula.aa.ll a6, a6       # wraps in 40 bits
            rsr.acchi a7
            j _exit_ok
        """)
        XCTAssertEqual(m.cpu[a: 3], 0xFFFF_FFFF)
        XCTAssertEqual(m.cpu[a: 7], 0xFFFF_FF80)
    }
}

/// Two cores over the same RAM: a store by one drops the code the other has predecoded.
final class SharedCodeTests: XCTestCase {
    func testStoreByOneCoreReachesTheOthersPredecodedCode() throws {
        let base: UInt32 = 0x4008_0000
        let ram = UnsafeMutableRawPointer.allocate(byteCount: 0x1_0000, alignment: pageSize)
        defer { ram.deallocate() }
        ram.initializeMemory(as: UInt8.self, repeating: 0, count: 0x1_0000)
        var cfg = CoreConfig.esp32()
        cfg.semihosting = true
        let a = XtensaCPU(config: cfg, bus: NullBus.shared)
        let b = XtensaCPU(config: cfg, bus: NullBus.shared)
        for c in [a, b] { c.memory.map(base: base, size: 0x1_0000, host: ram, attributes: .rwx) }
        a.memory.share(with: b.memory)
        // B runs `code`: movi a5, 1 then exits; A then patches it to movi a5, 2 (a plain store
        // through A's map) and B runs it again.
        let program = try Assembler.assemble("""
            j _start
            .literal_position
        _start:
            movi a5, 1
            movi a2, 1
            movi a3, 0
            simcall
        patcher:
            s32i a6, a7, 0
            movi a2, 1
            movi a3, 0
            simcall
        """, base: base, file: "shared.S")
        program.bytes.withUnsafeBytes { ram.copyMemory(from: $0.baseAddress!, byteCount: program.bytes.count) }
        let start = program.symbols["_start"]!
        let patch = try Assembler.assemble("movi a5, 2", base: start, file: "patch.S").bytes
        let word = UInt32(patch[0]) | UInt32(patch[1]) << 8 | UInt32(patch[2]) << 16
            | UInt32(ram.load(fromByteOffset: Int(start - base) + 3, as: UInt8.self)) << 24

        func runFrom(_ c: XtensaCPU, _ entry: UInt32) {
            c.reset()
            c.pc = entry
            c.setSpecialRegister(SR.ps, PS.woe)
            c.setSpecialRegister(SR.windowstart, 1)
            c.setSpecialRegister(SR.vecbase, base)
            XCTAssertEqual(c.run(cycles: 10_000), .exit(0))
        }
        runFrom(b, start)
        XCTAssertEqual(b.ar(5), 1)
        a.reset()
        a.setAR(6, word)
        a.setAR(7, start)
        a.pc = program.symbols["patcher"]!
        a.setSpecialRegister(SR.ps, PS.woe)
        a.setSpecialRegister(SR.windowstart, 1)
        XCTAssertEqual(a.run(cycles: 10_000), .exit(0))
        runFrom(b, start)
        XCTAssertEqual(b.ar(5), 2, "core B ran its stale predecoded copy")
    }
}

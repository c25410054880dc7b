import XCTest
@testable import XtensaCore

/// Straight-line blocks (Blocks.swift) give exactly what running one instruction at a time
/// gives: registers, memory, PC, cycle and instruction counts.
final class BlockTests: XCTestCase {
    struct Outcome: Equatable {
        var reason: String
        var pc: UInt32
        var registers: [UInt32]
        var specials: [UInt32]
        var cycles: UInt64
        var instructions: UInt64
        var data: [UInt32]
    }

    /// Runs `source` (assembled at 0x40080000, which is also VECBASE) in blocks, or one
    /// instruction at a time (any active hooks make the loop take its checked path always).
    func run(_ source: String, blocks: Bool, maxCycles: UInt64 = 10_000_000) throws -> (Outcome, UInt64) {
        let base: UInt32 = 0x4008_0000
        let program = try Assembler.assemble(source, base: base, file: "blocks.S")
        let m = BareMetalMachine()
        m.load(program.bytes, at: base)
        m.prepare(entry: program.symbols["_start"] ?? base, vecbase: base)
        let reason: StopReason
        if blocks {
            reason = m.cpu.run(cycles: maxCycles)
        } else {
            var hooks = CountingHooks()
            reason = m.cpu.run(cycles: maxCycles, hooks: &hooks)
        }
        let data = (0..<256).map { m.cpu.peek(0x3FFE_0000 + UInt32($0) * 4, size: 4) ?? 0 }
        let specials = [SR.lbeg, SR.lend, SR.lcount, SR.windowbase, SR.windowstart, SR.ps, SR.epc1, SR.exccause]
            .map { m.cpu.specialRegister($0) ?? 0 }
        let outcome = Outcome(reason: "\(reason)", pc: m.cpu.pc, registers: (0..<64).map { m.cpu.physicalRegister($0) },
                              specials: specials, cycles: m.cpu.st.pointee.cycles,
                              instructions: m.cpu.st.pointee.instructions, data: data)
        return (outcome, m.cpu.st.pointee.blocksFormed)
    }

    func checkSame(_ source: String, file: StaticString = #filePath, line: UInt = #line) throws -> Outcome {
        let (stepped, _) = try run(source, blocks: false)
        let (inBlocks, formed) = try run(source, blocks: true)
        XCTAssertGreaterThan(formed, 0, "no block was formed", file: file, line: line)
        XCTAssertEqual(inBlocks, stepped, file: file, line: line)
        XCTAssertEqual(inBlocks.reason, "exit(0)", file: file, line: line)
        return inBlocks
    }

    static let exit = """
        movi a2, 1
        movi a3, 0
        simcall
    """

    /// LEND moves into the middle of a block formed before: the block must end there so the
    /// loop goes back.
    func testLoopEndMovedIntoAFormedBlock() throws {
        let source = """
            j _start
            .literal_position
        _start:
            movi a7, 0
            movi a8, 0
            call0 body              # formed as one block: addi, addi, addi, ret
            movi a9, body
            wsr.lbeg a9
            movi a9, mid
            wsr.lend a9
            movi a9, 3
            wsr.lcount a9
            isync
            call0 body              # body's first two run 4 times, then mid
            mov a11, a7
            mov a12, a8
        \(BlockTests.exit)
            .align 4
        body:
            addi a7, a7, 1
            addi a8, a8, 2
        mid:
            addi a7, a7, 10
            ret
        """
        let o = try checkSame(source)
        // First call: 11, 2. Second: 4 x (1, 2) then 10.
        XCTAssertEqual(o.registers[11], 11 + 14)
        XCTAssertEqual(o.registers[12], 2 + 8)
    }

    /// A zero-overhead loop whose body is one block, with a load/multiply/store inside.
    func testZeroOverheadLoopInBlocks() throws {
        let source = """
            j _start
            .literal_position
        _start:
            movi a3, 0x3FFE0000
            movi a4, 64
            movi a5, 0
            loop a4, 1f
            mull a6, a5, a5
            s32i a6, a3, 0
            l32i a7, a3, 0
            addi a3, a3, 4
            addi a5, a5, 1
        1:  mov a11, a5
        \(BlockTests.exit)
        """
        let o = try checkSame(source)
        XCTAssertEqual(o.registers[11], 64)
        XCTAssertEqual(o.data[63], 63 * 63)
    }

    /// A store rewrites the next instructions of its own block: they run as rewritten.
    func testStoreIntoItsOwnBlock() throws {
        let patch = try Assembler.assemble("movi.n a5, 2\nmovi.n a6, 3", base: 0x4008_0000, file: "patch.S").bytes
        XCTAssertEqual(patch.count, 4)
        let word = UInt32(patch[0]) | UInt32(patch[1]) << 8 | UInt32(patch[2]) << 16 | UInt32(patch[3]) << 24
        let source = """
            j _start
            .literal_position
        _start:
            movi a3, target
            movi a4, \(word)
            movi a5, 0
            movi a6, 0
            call0 code              # first run: forms the block, writes the patch over itself
            mov a11, a5
            mov a12, a6
            call0 code              # second run: the patched code from the start
            mov a13, a5
            mov a14, a6
        \(BlockTests.exit)
            .align 4
        code:
            s32i a4, a3, 0
        target:
            movi.n a5, 1
            movi.n a6, 1
            ret
        """
        let o = try checkSame(source)
        XCTAssertEqual(o.registers[11], 2)
        XCTAssertEqual(o.registers[12], 3)
        XCTAssertEqual(o.registers[13], 2)
        XCTAssertEqual(o.registers[14], 3)
    }

    /// Windowed calls deep enough to overflow and underflow: ENTRY continues blocks only when
    /// the rest fits the callee's window.
    func testWindowedRecursion() throws {
        let w = GuestWorkloads.windowedFib(14)
        let (stepped, _) = try run(w.source, blocks: false)
        let (inBlocks, formed) = try run(w.source, blocks: true)
        XCTAssertGreaterThan(formed, 0)
        XCTAssertEqual(inBlocks, stepped)
        XCTAssertEqual(inBlocks.reason, "exit(0)")
    }

    /// Every benchmark workload: the same end state both ways.
    func testWorkloads() throws {
        for w in [GuestWorkloads.aluLoop(iterations: 500), GuestWorkloads.loadMulStore(passes: 3),
                  GuestWorkloads.fpLoop(iterations: 100)] {
            let (stepped, _) = try run(w.source, blocks: false)
            let (inBlocks, _) = try run(w.source, blocks: true)
            XCTAssertEqual(inBlocks, stepped, w.name)
        }
    }
}

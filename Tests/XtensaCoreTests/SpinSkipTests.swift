import XCTest
@testable import XtensaCore

/// CCOUNT busy-waits run in one step with exactly the same result as executing them.
final class SpinSkipTests: XCTestCase {
    var skips: UInt64 = 0

    func spin(skipping: Bool) throws -> (UInt32, UInt32, UInt32, UInt64) {
        let base: UInt32 = 0x4008_0000
        let program = try Assembler.assemble("""
            rsr.ccount a9
            movi a10, 2000
            call0 wait
            call0 wait          # second call: the loop is predecoded now
            rsr.ccount a11
            movi a2, 1
            movi a3, 0
            simcall
            .align 4
        wait:
            rsr.ccount a9
        1:  rsr.ccount a5
            sub a8, a5, a9
            bltu a8, a10, 1b
            ret
        """, base: base)
        let m = BareMetalMachine()
        m.load(program.bytes, at: base)
        m.prepare(entry: base, vecbase: base)
        if skipping {
            XCTAssertEqual(m.cpu.run(cycles: 1_000_000), .exit(0))
        } else {
            var observe = CountingHooks()
            XCTAssertEqual(m.cpu.run(cycles: 1_000_000, hooks: &observe), .exit(0))
        }
        skips = m.cpu.st.pointee.spinSkips
        return (m.cpu.ar(5), m.cpu.ar(8), m.cpu.ar(11), m.cpu.st.pointee.instructions)
    }

    func testSkippingIsExact() throws {
        let a = try spin(skipping: false)
        let b = try spin(skipping: true)
        XCTAssertGreaterThan(skips, 0, "the busy-wait was not run in one step")
        XCTAssertEqual(a.0, b.0)
        XCTAssertEqual(a.1, b.1)
        XCTAssertEqual(a.2, b.2)
        XCTAssertEqual(a.3, b.3)
        XCTAssertGreaterThan(a.3, 2000)
    }
}

/// Hooks that only count: with any active hooks every instruction executes one by one.
struct CountingHooks: ExecutionHooks {
    static var active: Bool { true }
    var count = 0
    mutating func before(_ cpu: XtensaCPU, pc: UInt32, decoded: Decoded) -> StopReason? { count += 1; return nil }
    mutating func after(_ cpu: XtensaCPU, pc: UInt32, decoded: Decoded, completed: Bool) {}
}

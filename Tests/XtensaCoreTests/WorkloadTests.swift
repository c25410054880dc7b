import XCTest
@testable import XtensaCore

/// The benchmark workloads compute what they should (so the benchmarks measure real work).
final class WorkloadTests: XCTestCase {
    func check(_ w: GuestWorkloads.Workload) throws {
        let r = try GuestWorkloads.run(w, maxCycles: 50_000_000)
        XCTAssertEqual(r.reason, .exit(0), w.name)
        XCTAssertEqual(r.a2, w.expectedA2, w.name)
        XCTAssertGreaterThan(r.instructions, 100, w.name)
    }

    func testALULoop() throws { try check(GuestWorkloads.aluLoop(iterations: 10_000)) }
    func testLoadMulStore() throws { try check(GuestWorkloads.loadMulStore(passes: 20)) }
    func testWindowedFib() throws { try check(GuestWorkloads.windowedFib(18)) }
    func testFPLoop() throws { try check(GuestWorkloads.fpLoop(iterations: 1000)) }
}

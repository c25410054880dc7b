import Foundation
import XCTest
@testable import XtensaCore

/// Random byte streams executed from RAM must end in guest exceptions (or run out of budget),
/// never crash or hang the host.
final class RandomCodeTests: XCTestCase {
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    func testOneMillionRandomInstructions() throws {
        let vecbase: UInt32 = 0x4007_0000
        let codeBase: UInt32 = 0x4008_0000
        let codeSize = 0x1_0000
        // Every vector ends the run through semihosting (exit code = vector offset / 0x40 + 1).
        var vectors = ""
        for off in stride(from: 0, through: 0x3C0, by: 0x40) {
            vectors += "    .org \(off)\n    movi a2, 1\n    movi a3, \(off / 0x40 + 1)\n    simcall\n"
        }
        let handler = try Assembler.assemble(vectors, base: vecbase)
        let m = BareMetalMachine(ram: [(codeBase, codeSize), (0x3FFE_0000, 0x2_0000)])
        // The vectors live in read/execute-only memory so random stores cannot destroy them.
        let vecMem = UnsafeMutableRawPointer.allocate(byteCount: 0x1000, alignment: 4096)
        defer { vecMem.deallocate() }
        vecMem.initializeMemory(as: UInt8.self, repeating: 0, count: 0x1000)
        handler.bytes.withUnsafeBytes { vecMem.copyMemory(from: $0.baseAddress!, byteCount: handler.bytes.count) }
        m.cpu.memory.map(base: vecbase, size: 0x1000, host: vecMem, attributes: [.read, .execute])

        var rng = SplitMix64(state: 0xE5B3_2024)
        var total: UInt64 = 0
        var runs = 0, exceptions = 0, limits = 0
        let deadline = Date().addingTimeInterval(120)
        var bytes = [UInt8](repeating: 0, count: codeSize)
        for i in 0..<codeSize { bytes[i] = UInt8(truncatingIfNeeded: rng.next()) }
        m.load(bytes, at: codeBase)
        while total < 1_000_000 {
            // Fresh random bytes where this run starts (the rest is what earlier runs left).
            let entry = codeBase &+ UInt32(rng.next() % UInt64(codeSize - 64))
            var fresh = [UInt8](repeating: 0, count: 64)
            for i in 0..<64 { fresh[i] = UInt8(truncatingIfNeeded: rng.next()) }
            m.load(fresh, at: entry)
            m.prepare(entry: entry, vecbase: vecbase)
            // Random registers too.
            for i in 2..<16 { m.cpu.setAR(i, UInt32(truncatingIfNeeded: rng.next())) }
            let before = m.cpu.st.pointee.instructions
            let reason = m.cpu.run(cycles: 20_000)
            total += m.cpu.st.pointee.instructions - before
            runs += 1
            switch reason {
            case .exit: exceptions += 1
            case .limit, .halted: limits += 1
            case .fatal: exceptions += 1   // e.g. VECBASE rewritten to unmapped memory
            default: XCTFail("unexpected stop \(reason)")
            }
            XCTAssertLessThan(Date(), deadline, "random code took too long")
            if Date() > deadline { break }
        }
        XCTAssertGreaterThanOrEqual(total, 1_000_000)
        XCTAssertGreaterThan(exceptions, runs / 2, "most random streams end in a guest exception")
        print("random code: \(total) instructions in \(runs) runs, \(exceptions) ended in exceptions, \(limits) ran out of budget")
    }
}

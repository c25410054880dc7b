import XCTest
@testable import XtensaCore

/// Prints an instruction trace of a program (for debugging; enabled by XTENSA_TRACE_TEST=1).
final class DebugTraceTests: XCTestCase {
    func testTraceFib() throws {
        guard ProcessInfo.processInfo.environment["XTENSA_TRACE_TEST"] != nil else { return }
        let w = GuestWorkloads.windowedFib(4)
        let program = try Assembler.assemble(w.source, base: 0x4008_0000)
        let m = BareMetalMachine()
        m.load(program.bytes, at: 0x4008_0000)
        m.prepare(entry: program.symbols["_start"]!, vecbase: 0x4008_0000)
        for _ in 0..<200 {
            let pc = m.cpu.pc
            let bytes = (0..<3).map { UInt8(m.cpu.peek(pc &+ UInt32($0), size: 1) ?? 0) }
            let ins = bytes.withUnsafeBufferPointer { Disassembler.disassemble($0, offset: 0, address: pc) }
            print(ins?.line ?? "?", " WB=\(m.cpu.specialRegister(72)!) WS=\(String(m.cpu.specialRegister(73)!, radix: 2)) PS=\(String(m.cpu.specialRegister(230)!, radix: 16)) a0=\(String(m.cpu.ar(0), radix: 16)) a1=\(String(m.cpu.ar(1), radix: 16)) a2=\(m.cpu.ar(2))")
            if m.cpu.run(cycles: 1) != .limit { break }
        }
    }
}

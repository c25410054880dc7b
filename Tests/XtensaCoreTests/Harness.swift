import XCTest
@testable import XtensaCore

/// Assembles `source` at 0x40080000 (vectors there too: VECBASE = 0x40080000), runs it from
/// `_start` (or the base) until SYS_exit, and returns the machine.
@discardableResult
func runProgram(literalPool: Bool = true, _ source: String, maxCycles: UInt64 = 1_000_000, file: StaticString = #filePath, line: UInt = #line) throws -> BareMetalMachine {
    let base: UInt32 = 0x4008_0000
    let exitStub = """

    _exit_ok:
        wsr.misc0 a2
        wsr.misc1 a3
        movi a2, 1
        movi a3, 0
        simcall
    """
    // A literal pool at the start serves every `movi` with a large value.
    let prologue = """
        j _after_pool
        .literal_position
    _after_pool:

    """
    let program = try Assembler.assemble((literalPool ? prologue : "") + source + exitStub, base: base, file: "test.S")
    let m = BareMetalMachine()
    m.load(program.bytes, at: base)
    m.prepare(entry: program.symbols["_start"] ?? base, vecbase: base)
    let reason = m.cpu.run(cycles: maxCycles)
    // The exit stub saved a2/a3 in MISC0/MISC1; put them back for the assertions.
    m.cpu.setAR(2, m.cpu.specialRegister(244)!)
    m.cpu.setAR(3, m.cpu.specialRegister(245)!)
    guard reason == .exit(0) else {
        XCTFail("program stopped with \(reason) at pc \(String(m.cpu.pc, radix: 16)), exccause \(m.cpu.specialRegister(SR.exccause)!)", file: file, line: line)
        return m
    }
    return m
}

extension XtensaCPU {
    /// Address register of the current window.
    subscript(a i: Int) -> UInt32 { ar(i) }
}

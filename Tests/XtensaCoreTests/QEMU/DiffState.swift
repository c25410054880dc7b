// The register state compared by the QEMU differential test, and how our emulator runs one test.

import XtensaCore

/// Everything the differential test sets before and compares after a test sequence.
/// `ar` holds the physical address registers 0...31 (the part of the register file both cores
/// have; the sequences never reach physical registers 32...63 of the ESP32).
struct DiffState: Equatable {
    var ar = [UInt32](repeating: 0, count: 32)
    var f = [UInt32](repeating: 0, count: 16)
    /// Special and user registers in `QEMUBatch.srFields` order.
    var sr = [UInt32](repeating: 0, count: QEMUBatch.srFields.count)

    static let srIndex: [String: Int] = Dictionary(uniqueKeysWithValues: QEMUBatch.srFields.enumerated().map { ($1, $0) })

    subscript(_ name: String) -> UInt32 {
        get { sr[Self.srIndex[name]!] }
        set { sr[Self.srIndex[name]!] = newValue }
    }

    /// (name, value) of every compared field, in a fixed order.
    var fields: [(String, UInt32)] {
        var out: [(String, UInt32)] = []
        for i in 0..<32 { out.append(("a\(i)", ar[i])) }
        for (i, n) in QEMUBatch.srFields.enumerated() { out.append((n, sr[i])) }
        for i in 0..<16 { out.append(("f\(i)", f[i])) }
        return out
    }

    func formatted(indent: String = "    ") -> String {
        var lines: [String] = []
        let all = fields
        for start in stride(from: 0, to: all.count, by: 6) {
            lines.append(indent + all[start..<min(start + 6, all.count)].map { "\($0.0)=\(DiffState.hex($0.1))" }.joined(separator: " "))
        }
        return lines.joined(separator: "\n")
    }
}

extension DiffState {
    /// Eight hex digits.
    static func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, 8 - s.count)) + s
    }
}

/// Runs test sequences on our interpreter with the memory layout the QEMU runner uses:
/// code at 0x8000, scratch at 0x9000, VECBASE 0x2000. Each exception vector holds `j .`, so a
/// test ends when the PC reaches the end of its code or any vector.
final class LocalDiffRunner {
    let machine: BareMetalMachine
    var cpu: XtensaCPU { machine.cpu }

    init() {
        machine = BareMetalMachine(ram: [(0, 0x1_0000)])
        for ofs in stride(from: 0, to: 0x400, by: 0x40) {
            machine.load([0x06, 0xFF, 0xFF], at: QEMUBatch.vecbase + UInt32(ofs))   // j .
        }
    }

    struct Outcome {
        var reason: UInt32
        var state: DiffState
        var scratch: [UInt8]
        var steps: Int
    }

    /// Special registers set and read through WSR/RSR numbers, as (index in DiffState.sr, SR).
    /// PS comes last so that the window and loop registers are in place when it is written.
    static let srNumbers: [(Int, Int)] = [
        ("sar", SR.sar), ("lbeg", SR.lbeg), ("lend", SR.lend), ("lcount", SR.lcount), ("br", SR.br),
        ("acclo", SR.acclo), ("acchi", SR.acchi), ("m0", SR.m0), ("m1", SR.m1), ("m2", SR.m2), ("m3", SR.m3),
        ("scompare1", SR.scompare1), ("windowbase", SR.windowbase), ("windowstart", SR.windowstart),
        ("cpenable", SR.cpenable), ("exccause", SR.exccause), ("epc1", SR.epc1), ("excvaddr", SR.excvaddr),
        ("depc", SR.depc), ("excsave1", SR.excsave1), ("atomctl", SR.atomctl), ("ps", SR.ps),
    ].map { (DiffState.srIndex[$0.0]!, $0.1) }
    static let urNumbers: [(Int, Int)] = [("threadptr", UR.threadptr), ("fcr", UR.fcr), ("fsr", UR.fsr)]
        .map { (DiffState.srIndex[$0.0]!, $0.1) }

    func run(_ r: QEMUBatch.Record, maxSteps: Int) -> Outcome {
        let c = cpu
        c.reset()
        let codeStart = QEMUBatch.codeAddress
        let end = codeStart &+ UInt32(r.code.count)
        // Code followed by `j .` (QEMU's runner appends a jump to its dump there), and the scratch image.
        let ram = machine.regions[0].memory
        let code = r.code + [0x06, 0xFF, 0xFF]
        code.withUnsafeBytes { ram.advanced(by: Int(codeStart)).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        r.scratch.withUnsafeBytes { ram.advanced(by: Int(QEMUBatch.scratchAddress)).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        c.memory.invalidateCode(at: codeStart)
        c.memory.invalidateCode(at: QEMUBatch.scratchAddress)
        let s = r.state
        for i in 0..<64 { c.phys[i] = i < 32 ? s.ar[i] : 0 }
        for i in 0..<16 { c.setFloatRegister(i, s.f[i]) }
        c.setSpecialRegister(SR.vecbase, QEMUBatch.vecbase)
        for (i, num) in Self.srNumbers { c.setSpecialRegister(num, s.sr[i]) }
        for (i, num) in Self.urNumbers { c.setUserRegister(num, s.sr[i]) }
        c.pc = codeStart &+ r.entryOffset
        // Run in small slices until the PC parks on the `j .` at the end or at a vector.
        var reason: UInt32 = 0xFFFF_FFFF
        var steps = 0
        while steps < maxSteps {
            _ = c.run(cycles: 16)
            steps += 16
            let pc = c.pc
            if pc == end { reason = 0; break }
            if pc >= QEMUBatch.vecbase && pc < QEMUBatch.vecbase + 0x400 { reason = 0x400 + (pc - QEMUBatch.vecbase); break }
        }
        var out = DiffState()
        for i in 0..<32 { out.ar[i] = c.phys[i] }
        for i in 0..<16 { out.f[i] = c.floatRegister(i) }
        for (i, num) in Self.srNumbers { out.sr[i] = c.specialRegister(num)! }
        for (i, num) in Self.urNumbers { out.sr[i] = c.userRegister(num)! }
        let scratch = [UInt8](UnsafeRawBufferPointer(start: ram.advanced(by: Int(QEMUBatch.scratchAddress)), count: QEMUBatch.scratchSize))
        return Outcome(reason: reason, state: out, scratch: scratch, steps: Int(c.st.pointee.instructions))
    }
}

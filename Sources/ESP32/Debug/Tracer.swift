// The instruction trace: one line per executed instruction,
//
//   CORE <TAB> CYCLE <TAB> PC <TAB> SYMBOL+OFF <TAB> BYTES <TAB> DISASSEMBLY <TAB> EFFECTS
//
// CYCLE is the core's cycle count before the instruction, BYTES the instruction word as objdump
// prints it, EFFECTS the registers the instruction changed with their new values (a0-a15 in the
// window after it; physical registers outside it as arNN; special and user registers, FP
// registers by name) and the memory it wrote as [ADDRESS]=VALUE. Instructions that did not execute
// (a window overflow taken before them) have no line; they run again after the handler.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FirmwareFormats
import Foundation
import XtensaCore

/// A buffered text file for traces.
final class TraceFile {
    private var file: UnsafeMutablePointer<FILE>?
    let path: String

    init(path: String) throws {
        self.path = path
        guard let f = fopen(path, "w") else { throw InputError("\(path): cannot create trace file") }
        file = f
        setvbuf(f, nil, _IOFBF, 1 << 20)
    }

    func write(_ s: String) {
        guard let f = file else { return }
        fputs(s, f)
    }

    func flush() { if let f = file { fflush(f) } }

    func close() {
        if let f = file { fclose(f) }
        file = nil
    }

    deinit { close() }
}

@inline(__always) func hex8(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return s.count >= 8 ? s : String(repeating: "0", count: 8 - s.count) + s
}

@inline(__always) func hexDigits(_ v: UInt32, _ n: Int) -> String {
    let s = String(v, radix: 16)
    return s.count >= n ? s : String(repeating: "0", count: n - s.count) + s
}

public final class InstructionTracer {
    let out: TraceFile
    let symbolizer: Symbolizer
    public let maxLines: UInt64?
    public private(set) var lines: UInt64 = 0
    public private(set) var finished = false
    public var path: String { out.path }

    /// Registers compared before and after each instruction (besides pc and the ARs), named and
    /// ordered as in GDBRegisters: everything an instruction can write, without the registers that
    /// change by themselves (CCOUNT, INTERRUPT) or not at all (PRID, CONFIGID).
    public static let registerNames: [String] = {
        var n = ["lbeg", "lend", "lcount", "sar", "windowbase", "windowstart", "ps", "threadptr", "br", "scompare1",
                 "acclo", "acchi", "m0", "m1", "m2", "m3", "expstate", "f64r_lo", "f64r_hi", "f64s"]
        n += (0..<16).map { "f\($0)" }
        n += ["fcr", "fsr", "ibreakenable", "memctl", "atomctl", "ddr", "ibreaka0", "ibreaka1", "dbreaka0", "dbreaka1",
              "dbreakc0", "dbreakc1"]
        n += (1...7).map { "epc\($0)" } + ["depc"] + (2...7).map { "eps\($0)" } + (1...7).map { "excsave\($0)" }
        n += ["cpenable", "intenable", "vecbase", "exccause", "debugcause", "icount", "icountlevel", "excvaddr",
              "ccompare0", "ccompare1", "ccompare2", "misc0", "misc1", "misc2", "misc3"]
        return n
    }()

    /// The values of `registerNames`, read straight from the state (the trace reads them twice
    /// per instruction).
    @inline(__always)
    static func capture(_ st: UnsafeMutablePointer<CPUState>, _ o: UnsafeMutablePointer<UInt32>) {
        let s = st.pointee
        o[0] = s.lbeg; o[1] = s.lend; o[2] = s.lcount; o[3] = s.sar; o[4] = s.windowBase; o[5] = s.windowStart
        o[6] = s.ps; o[7] = s.threadptr; o[8] = s.br; o[9] = s.scompare1
        o[10] = UInt32(truncatingIfNeeded: s.acc); o[11] = UInt32(bitPattern: Int32(truncatingIfNeeded: s.acc >> 32))
        o[12] = s.m.0; o[13] = s.m.1; o[14] = s.m.2; o[15] = s.m.3
        o[16] = s.expstate; o[17] = s.f64r.0; o[18] = s.f64r.1; o[19] = s.f64r.2
        withUnsafeBytes(of: s.f) { f in for i in 0..<16 { o[20 + i] = f.load(fromByteOffset: i * 4, as: UInt32.self) } }
        o[36] = s.fcr; o[37] = s.fsr; o[38] = s.ibreakenable; o[39] = s.memctl; o[40] = s.atomctl; o[41] = s.ddr
        o[42] = s.ibreaka.0; o[43] = s.ibreaka.1; o[44] = s.dbreaka.0; o[45] = s.dbreaka.1; o[46] = s.dbreakc.0; o[47] = s.dbreakc.1
        withUnsafeBytes(of: s.epc) { e in for i in 0..<7 { o[48 + i] = e.load(fromByteOffset: i * 4, as: UInt32.self) } }
        o[55] = s.depc
        withUnsafeBytes(of: s.eps) { e in for i in 0..<6 { o[56 + i] = e.load(fromByteOffset: (i + 1) * 4, as: UInt32.self) } }
        withUnsafeBytes(of: s.excsave) { e in for i in 0..<7 { o[62 + i] = e.load(fromByteOffset: i * 4, as: UInt32.self) } }
        o[69] = s.cpenable; o[70] = s.intenable; o[71] = s.vecbase; o[72] = s.exccause; o[73] = s.debugcause
        o[74] = s.icount; o[75] = s.icountlevel; o[76] = s.excvaddr
        o[77] = s.ccompare.0; o[78] = s.ccompare.1; o[79] = s.ccompare.2
        o[80] = s.misc.0; o[81] = s.misc.1; o[82] = s.misc.2; o[83] = s.misc.3
    }

    /// `registerNames`' values for a core (for tests: they must match GDBRegisters).
    public static func registerValues(of cpu: XtensaCPU) -> [UInt32] {
        let buf = UnsafeMutablePointer<UInt32>.allocate(capacity: registerNames.count)
        defer { buf.deallocate() }
        capture(cpu.st, buf)
        return Array(UnsafeBufferPointer(start: buf, count: registerNames.count))
    }

    private var active = [false, false]
    private var cycle: [UInt64] = [0, 0]
    /// Per core: the 64 physical registers, then `registerNames`, before the instruction.
    private let saved: [UnsafeMutablePointer<UInt32>]
    private let now = UnsafeMutablePointer<UInt32>.allocate(capacity: 64 + 84)
    private var store: [(access: DataAccess, value: UInt32)?] = [nil, nil]
    private var disassembly: [UInt32: (word: UInt32, bytes: String, text: String)] = [:]

    init(path: String, symbolizer: Symbolizer, maxLines: UInt64?) throws {
        out = try TraceFile(path: path)
        self.symbolizer = symbolizer
        self.maxLines = maxLines
        precondition(InstructionTracer.registerNames.count == 84)
        saved = [.allocate(capacity: 64 + 84), .allocate(capacity: 64 + 84)]
        if maxLines == 0 { finished = true }
    }

    deinit {
        for p in saved { p.deallocate() }
        now.deallocate()
    }

    func before(_ core: Int, _ cpu: XtensaCPU, _ pc: UInt32, _ d: Decoded) {
        guard !finished else { return }
        active[core] = true
        cycle[core] = cpu.st.pointee.cycles
        let b = saved[core]
        for i in 0..<64 { b[i] = cpu.phys[i] }
        InstructionTracer.capture(cpu.st, b + 64)
        // The value a store writes, from its register: reading it back from memory could disturb
        // a peripheral register (reads have side effects).
        if let a = DataAccess.of(d, cpu: cpu), a.write {
            let v: UInt32
            switch d.op {
            case .ssi, .ssip, .ssx, .ssxp: v = cpu.floatRegister(Int(d.a))
            default: v = cpu.ar(Int(d.a))
            }
            store[core] = (a, a.size == 4 ? v : v & ((1 << UInt32(a.size * 8)) - 1))
        } else {
            store[core] = nil
        }
    }

    func after(_ core: Int, _ cpu: XtensaCPU, _ pc: UInt32, _ d: Decoded, executed: Bool, completed: Bool) {
        guard active[core] else { return }
        active[core] = false
        guard executed, !finished else { return }
        var line = "\(core)\t\(cycle[core])\t\(hex8(pc))\t\(symbolizer.describe(pc) ?? "-")\t"
        let (bytes, text) = disassemble(cpu, pc)
        line += bytes + "\t" + text + "\t"
        var effects: [String] = []
        let wb = Int(cpu.st.pointee.windowBase)
        let b = saved[core]
        for i in 0..<64 where cpu.phys[i] != b[i] {
            let k = (i - wb * 4) & 63
            effects.append((k < 16 ? "a\(k)" : "ar\(i)") + "=" + hex8(cpu.phys[i]))
        }
        InstructionTracer.capture(cpu.st, now)
        for i in 0..<84 where now[i] != b[64 + i] {
            effects.append(InstructionTracer.registerNames[i] + "=" + hex8(now[i]))
        }
        // A store that raised an exception wrote nothing (its instruction did not complete);
        // S32C1I writes only when the compare matched (it returns the old value, equal to SCOMPARE1).
        if let s = store[core], completed {
            if d.op != .s32c1i || cpu.ar(Int(d.a)) == cpu.st.pointee.scompare1 {
                effects.append("[" + hex8(s.access.address) + "]=" + hexDigits(s.value, s.access.size * 2))
            }
        }
        line += effects.joined(separator: " ") + "\n"
        out.write(line)
        lines += 1
        if let m = maxLines, lines >= m { finish() }
    }

    private func disassemble(_ cpu: XtensaCPU, _ pc: UInt32) -> (String, String) {
        // Code is always in mapped memory (never read through the bus).
        func byte(_ a: UInt32) -> UInt8 { cpu.memory.hostPointer(a)?.load(as: UInt8.self) ?? 0 }
        let b0 = byte(pc)
        let len = instructionLength(firstByte: b0)
        let b1 = byte(pc &+ 1)
        let b2: UInt8 = len == 3 ? byte(pc &+ 2) : 0
        let (word, _) = Decoder.word(b0, b1, b2)
        if let c = disassembly[pc], c.word == word { return (c.bytes, c.text) }
        let ins = Disassembler.format(word: word, length: len, address: pc)
        let bytes = hexDigits(word, len * 2)
        let text = ins?.text ?? ".word 0x\(bytes)"
        if disassembly.count > 1 << 20 { disassembly.removeAll(keepingCapacity: true) }
        disassembly[pc] = (word, bytes, text)
        return (bytes, text)
    }

    func flush() { out.flush() }

    func finish() {
        finished = true
        out.flush()
    }
}

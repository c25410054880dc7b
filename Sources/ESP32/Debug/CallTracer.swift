// The call trace: function entries and returns of each core as an indented tree,
//
//   CORE <TAB> CYCLE <TAB> INDENT> NAME @ADDRESS (HOW from CALLER+OFF)
//   CORE <TAB> CYCLE <TAB> INDENT< NAME
//
// Entries are CALL0/4/8/12 and CALLX0/4/8/12; returns are RET/RETW (matched to the frame whose
// return address they go to, so returns of frames that were never seen are ignored). Control
// that reaches the exact start of a known function by other means (the ROM and the bootloader
// jumping to the next stage, a J/JX tail call, a new task started by RFE/RFI) is an entry too,
// marked with how it got there. Exception and interrupt vectors are not entries. NAME lists a
// function's aliases (start_cpu0/start_cpu0_default).

import XtensaCore

public final class CallTracer {
    struct Frame {
        var target: UInt32
        var name: String
        /// Where a return from this frame goes (nil: entered by a jump).
        var returnAddress: UInt32?
    }

    let out: TraceFile
    let symbolizer: Symbolizer
    public let maxLines: UInt64?
    public private(set) var lines: UInt64 = 0
    public private(set) var finished = false
    /// Frames kept per core (the oldest are dropped beyond this).
    public var maxDepth = 256
    private var stacks: [[Frame]] = [[], []]

    init(path: String, symbolizer: Symbolizer, maxLines: UInt64?) throws {
        out = try TraceFile(path: path)
        self.symbolizer = symbolizer
        self.maxLines = maxLines
        if maxLines == 0 { finished = true }
    }

    /// The core starts again from its reset vector.
    func reset(core: Int) {
        stacks[core].removeAll()
    }

    /// `d` at `pc` executed and set PC itself (call, return, jump, taken branch, exception).
    func transfer(_ core: Int, _ cpu: XtensaCPU, _ pc: UInt32, _ d: Decoded) {
        guard !finished else { return }
        let target = cpu.pc
        switch d.op {
        case .call0, .callx0:
            enter(core, cpu, target, returnAddress: pc &+ 3, how: d.op == .call0 ? "call0" : "callx0", from: pc)
        case .call4, .call8, .call12, .callx4, .callx8, .callx12:
            let how: String
            switch d.op {
            case .call4: how = "call4"
            case .call8: how = "call8"
            case .call12: how = "call12"
            case .callx4: how = "callx4"
            case .callx8: how = "callx8"
            default: how = "callx12"
            }
            enter(core, cpu, target, returnAddress: pc &+ 3, how: how, from: pc)
        case .ret, .retn, .retw, .retwn:
            let windowed = d.op == .retw || d.op == .retwn
            if !returned(core, cpu, to: target, windowed: windowed) { jumped(core, cpu, target, how: windowed ? "retw" : "ret", from: pc) }
        case .j, .jx:
            jumped(core, cpu, target, how: d.op == .j ? "j" : "jx", from: pc)
        case .rfe, .rfde, .rfi:
            jumped(core, cpu, target, how: d.op == .rfi ? "rfi" : d.op == .rfe ? "rfe" : "rfde", from: pc)
        default:
            break
        }
    }

    private func name(_ a: UInt32) -> String {
        if let f = symbolizer.function(startingAt: a) { return f.names.joined(separator: "/") }
        return symbolizer.describe(a) ?? "0x" + hex8(a)
    }

    private func isVector(_ cpu: XtensaCPU, _ a: UInt32) -> Bool {
        let base = cpu.st.pointee.vecbase
        return a >= base && a < base &+ 0x400
    }

    private func enter(_ core: Int, _ cpu: XtensaCPU, _ target: UInt32, returnAddress: UInt32?, how: String, from pc: UInt32) {
        let n = name(target)
        let depth = stacks[core].count
        emit(core, cpu, String(repeating: "  ", count: depth) + "> " + n + " @" + hex8(target)
             + " (" + how + " from " + (symbolizer.describe(pc) ?? "0x" + hex8(pc)) + ")")
        stacks[core].append(Frame(target: target, name: n, returnAddress: returnAddress))
        if stacks[core].count > maxDepth { stacks[core].removeFirst(stacks[core].count - maxDepth) }
    }

    /// A jump or an exception return: an entry only at the exact start of a known function.
    private func jumped(_ core: Int, _ cpu: XtensaCPU, _ target: UInt32, how: String, from pc: UInt32) {
        guard !isVector(cpu, target), symbolizer.function(startingAt: target) != nil else { return }
        if let top = stacks[core].last, top.target == target { return }   // a loop back to the start
        enter(core, cpu, target, returnAddress: nil, how: how, from: pc)
    }

    private func returned(_ core: Int, _ cpu: XtensaCPU, to target: UInt32, windowed: Bool) -> Bool {
        let stack = stacks[core]
        var i = stack.count - 1
        let lowest = max(0, stack.count - 64)
        while i >= lowest {
            if let r = stack[i].returnAddress,
               windowed ? (r & 0x3FFF_FFFF) == (target & 0x3FFF_FFFF) : r == target {
                for k in stride(from: stack.count - 1, through: i, by: -1) {
                    emit(core, cpu, String(repeating: "  ", count: k) + "< " + stack[k].name)
                }
                stacks[core].removeSubrange(i...)
                return true
            }
            i -= 1
        }
        return false
    }

    private func emit(_ core: Int, _ cpu: XtensaCPU, _ text: String) {
        guard !finished else { return }
        out.write("\(core)\t\(cpu.st.pointee.cycles)\t" + text + "\n")
        lines += 1
        if let m = maxLines, lines >= m { finish() }
    }

    func flush() { out.flush() }

    func finish() {
        finished = true
        out.flush()
    }
}

// Reports in terms of the program: addresses named `function at file:line` (symbols of the ROM
// and the ELFs, DWARF line tables), ESP-IDF panic backtraces decoded as esp-idf-monitor does,
// and the emulator's own report of a core stopped on a fatal guest condition (registers and a
// windowed-ABI backtrace).

import FirmwareFormats
import Foundation
import XtensaCore

/// Names code addresses from a symbol table and the line tables of ELF files (read on first use).
public final class AddressDecoder {
    public let symbols: SymbolTable
    public let elfPaths: [String]
    private var tables: [LineTable]?

    public init(symbols: SymbolTable, elfPaths: [String]) {
        self.symbols = symbols
        self.elfPaths = elfPaths
    }

    /// The DWARF line tables of the ELFs (ELFs without, or with an unreadable .debug_line, give none).
    public var lineTables: [LineTable] {
        if let t = tables { return t }
        let t = elfPaths.compactMap { p -> LineTable? in
            guard let elf = try? ELFFile(path: p) else { return nil }
            return try? LineTable(elf: elf)
        }
        tables = t
        return t
    }

    public func line(_ a: UInt32) -> LineTable.Location? {
        for t in lineTables { if let l = t.lookup(a) { return l } }
        return nil
    }

    /// `function at file:line` (as addr2line -pf), `function+0xoff` without line info, or nil.
    public func describe(_ a: UInt32) -> String? {
        let symbol = symbols.describe(a)
        guard let loc = line(a) else { return symbol }
        var name = symbol ?? "??"
        if let plus = name.range(of: "+0x", options: .backwards) { name = String(name[..<plus.lowerBound]) }
        return "\(name) at \(loc)"
    }
}

/// Watches a UART byte stream for ESP-IDF panic output and decodes the code addresses of
/// `Backtrace:` lines (and of the `PC :` register line and `abort() was called at PC` lines)
/// into `--- 0xADDR: function at file:line` lines, as esp-idf-monitor prints them after the line.
public final class PanicMonitor {
    let decoder: AddressDecoder
    let output: (String) -> Void
    private var line: [UInt8] = []
    /// Lines decoded so far.
    public private(set) var decodedLines: [String] = []

    public init(decoder: AddressDecoder, output: @escaping (String) -> Void) {
        self.decoder = decoder
        self.output = output
    }

    public func feed(_ b: UInt8) {
        if b == 10 {
            process(line)
            line.removeAll(keepingCapacity: true)
        } else if line.count < 8192 {
            line.append(b)
        }
    }

    /// The code addresses a panic line names, in order.
    public static func addresses(inLine raw: String) -> [UInt32] {
        let text = stripEscapes(raw)
        if let r = text.range(of: "Backtrace:") {
            // "0xPC:0xSP" pairs (IDF v3/v4 print no space after the colon); "|<-CORRUPTED" ends it.
            return pairs(in: text[r.upperBound...]).map(\.0)
        }
        if text.hasPrefix("PC") && text.contains(":"), let pc = hexWords(in: text).first { return [pc] }
        if let r = text.range(of: "was called at PC "), let pc = hexWords(in: text[r.upperBound...]).first { return [pc] }
        return []
    }

    func process(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.contains("Backtrace:") || text.hasPrefix("PC") || text.contains("was called at PC ") else { return }
        for a in PanicMonitor.addresses(inLine: text) where a >= 0x4000_0000 && a < 0x5000_0000 {
            guard let d = decoder.describe(a) else { continue }
            let out = "--- 0x\(String(a, radix: 16)): \(d)"
            decodedLines.append(out)
            output(out)
        }
    }

    static func stripEscapes(_ s: String) -> String {
        var out = ""
        var it = s.unicodeScalars.makeIterator()
        while let c = it.next() {
            if c == "\u{1B}" {
                // CSI: ESC [ ... final byte in 0x40-0x7E
                if let n = it.next(), n == "[" {
                    while let f = it.next(), !(0x40...0x7E).contains(f.value) {}
                }
                continue
            }
            if c != "\r" { out.unicodeScalars.append(c) }
        }
        return out
    }

    static func pairs<S: StringProtocol>(in s: S) -> [(UInt32, UInt32)] {
        var out: [(UInt32, UInt32)] = []
        for token in s.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            let parts = token.split(separator: ":")
            guard parts.count == 2, let pc = hexWord(parts[0]), let sp = hexWord(parts[1]) else {
                if token.contains("CORRUPTED") { break }
                continue
            }
            out.append((pc, sp))
        }
        return out
    }

    static func hexWords<S: StringProtocol>(in s: S) -> [UInt32] {
        s.split(whereSeparator: { !($0.isHexDigit || $0 == "x" || $0 == "X") }).compactMap { hexWord($0) }
    }

    static func hexWord<S: StringProtocol>(_ s: S) -> UInt32? {
        guard s.hasPrefix("0x") || s.hasPrefix("0X"), s.count == 10 else { return nil }
        return UInt32(s.dropFirst(2), radix: 16)
    }
}

/// A windowed-ABI backtrace of a core, read without changing anything.
public enum WindowedBacktrace {
    public struct Frame: Equatable {
        /// The frame's PC: the current PC for frame 0, the call instruction (return address - 3) above.
        public var pc: UInt32
        public var sp: UInt32
    }

    /// A stack pointer ESP-IDF's backtrace accepts: 16-byte aligned, in internal DRAM.
    static func saneStack(_ sp: UInt32) -> Bool { sp >= 0x3FFA_E010 && sp <= 0x3FFF_FFF0 && sp & 0xF == 0 }
    static func executable(_ pc: UInt32) -> Bool { pc >= 0x4000_0000 && pc < 0x40C0_0000 }

    /// Walks the frames: the live ones from the register file (WINDOWSTART bits), then through
    /// the base save areas in memory (a spilled caller's a0 at sp - 16, its sp at sp - 12). The
    /// return address's bits 31:30 (call size) are replaced by the PC's region bits.
    /// `complete` is false when the walk stopped at an implausible frame (as IDF's `|<-CORRUPTED`).
    public static func walk(_ c: XtensaCPU, maxFrames: Int = 64) -> (frames: [Frame], complete: Bool) {
        var pc = c.pc, sp = c.ar(1), ra = c.ar(0)
        var wb = Int(c.st.pointee.windowBase & 15)
        let ws = c.st.pointee.windowStart
        let windowed = c.st.pointee.ps & PS.woe != 0
        var live = windowed
        // Panels between the current frame and the caller being looked at: a full turn of the
        // 16 panels would be the current frame again.
        var distance = 0
        var frames = [Frame(pc: pc, sp: sp)]
        while frames.count < maxFrames {
            let inc = Int(ra >> 30)
            if ra == 0 || inc == 0 { return (frames, true) }   // outermost frame (or call0 code)
            let callerPC = (ra & 0x3FFF_FFFF) | (pc & 0xC000_0000)
            var callerRA: UInt32 = 0, callerSP: UInt32 = 0
            if live {
                let cwb = (wb - inc) & 15
                distance += inc
                if distance < 16 && ws & (1 << UInt32(cwb)) != 0 {
                    callerRA = c.phys[cwb * 4]
                    callerSP = c.phys[cwb * 4 + 1]
                    wb = cwb
                } else {
                    live = false
                }
            }
            if !live {
                guard saneStack(sp), let r = c.peek(sp &- 16, size: 4), let s = c.peek(sp &- 12, size: 4) else { return (frames, false) }
                callerRA = r; callerSP = s
            }
            guard executable(callerPC), saneStack(callerSP) else { return (frames, false) }
            frames.append(Frame(pc: callerPC &- 3, sp: callerSP))
            pc = callerPC; sp = callerSP; ra = callerRA
        }
        return (frames, false)
    }
}

extension Session {
    /// Decodes panic backtraces in UART0 output: feed it the bytes after they went out (see PanicMonitor).
    public func panicMonitor(output: @escaping (String) -> Void) -> PanicMonitor {
        PanicMonitor(decoder: addresses, output: output)
    }

    /// Why a core stopped, its PC with symbol, registers and backtrace (one block per running core).
    func detailedCoreReport() -> [String] {
        var lines: [String] = []
        func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }
        func named(_ a: UInt32) -> String {
            if let d = addresses.describe(a) { return "\(hex(a)) (\(d))" }
            return hex(a)
        }
        for (i, c) in soc.cores.enumerated() where i == 0 || soc.appRunning {
            let sr = { (n: Int) in c.specialRegister(n) ?? 0 }
            let cause = sr(SR.exccause)
            let causeName = ExceptionCause(rawValue: cause)?.name ?? "cause \(cause)"
            var state = c.st.pointee.waiting ? "waiting in WAITI" : "running"
            if sr(SR.ps) & PS.excm != 0 { state = "in an exception handler (PS.EXCM), last EXCCAUSE \(causeName)" }
            lines.append("core \(i) (\(i == 0 ? "PRO" : "APP") CPU), \(state): PC=\(named(c.pc))")
            lines.append("  PS=\(hex(sr(SR.ps))) EXCCAUSE=\(cause) (\(causeName)) EXCVADDR=\(hex(sr(SR.excvaddr))) EPC1=\(named(sr(SR.epc1))) DEPC=\(hex(sr(SR.depc)))")
            lines.append("  SAR=\(sr(SR.sar)) LBEG=\(hex(sr(SR.lbeg))) LEND=\(hex(sr(SR.lend))) LCOUNT=\(hex(sr(SR.lcount))) WINDOWBASE=\(sr(SR.windowbase)) WINDOWSTART=\(hex(sr(SR.windowstart))) VECBASE=\(hex(sr(SR.vecbase)))")
            lines.append("  INTENABLE=\(hex(sr(SR.intenable))) INTERRUPT=\(hex(sr(SR.interrupt))) CCOUNT=\(hex(c.ccount)) CCOMPARE0=\(hex(sr(SR.ccompare0)))")
            for row in 0..<4 {
                lines.append("  " + (0..<4).map { k -> String in
                    let r = row * 4 + k
                    let name = "a\(r)".padding(toLength: 3, withPad: " ", startingAt: 0)
                    return "\(name)=" + String(format: "%08x", c.ar(r))
                }.joined(separator: " "))
            }
            let (frames, complete) = WindowedBacktrace.walk(c)
            lines.append("  Backtrace: " + frames.map { "\(hex($0.pc)):\(hex($0.sp))" }.joined(separator: " ") + (complete ? "" : " |<-CORRUPTED"))
            for (k, f) in frames.enumerated() {
                lines.append("    #\(k) \(named(f.pc)) sp=\(hex(f.sp))")
            }
        }
        return lines
    }
}

// One emulation run as users and tests describe it: a ROM, a flash made of an image and
// parts, and the conditions that end the run (expected/failure texts, simulated timeout,
// instruction limit). The command line and the boot-chain tests both go through here.

import FirmwareFormats
import Foundation
import XtensaCore

public final class Session {
    public let soc = ESP32()
    public private(set) var symbols = SymbolTable()
    /// The ELFs whose symbols are in `symbols` (--symbols files and a directly booted app).
    public private(set) var elfPaths: [String] = []
    /// Names addresses with symbols and DWARF line info (the ELFs are read again on first use).
    public private(set) lazy var addresses = AddressDecoder(symbols: symbols, elfPaths: elfPaths)
    public let flash: SPIFlash

    public struct Part {
        public var offset: Int
        public var path: String
        public init(offset: Int, path: String) { self.offset = offset; self.path = path }
    }

    /// Builds the chip: loads the ROM, writes `image` at 0 and each part at its offset into a
    /// 0xFF-filled flash of `flashSize` bytes (default 4 MB, or the image's size if larger).
    ///
    /// With `appELF`, the app is booted directly (see DirectBoot): through the ROM when
    /// `romPath` is given, otherwise by the emulator itself.
    public init(romPath: String?, image: [UInt8] = [], imagePath: String? = nil, parts: [Part] = [],
                flashSize: Int? = nil, symbolFiles: [String] = [], efusePath: String? = nil,
                appELF: String? = nil, persist: Bool = false,
                chainBootloader: [UInt8]? = nil, chainPartitionTable: [UInt8]? = nil,
                imageAt0x1000: [UInt8]? = nil, directStartPath: String? = nil) throws {
        if let r = romPath { symbols.add(try soc.loadROM(path: r)) }
        var symbolFiles = symbolFiles
        var layout: DirectBoot.Layout?
        var generated: [(Int, [UInt8])] = []
        if let boot = imageAt0x1000 {
            generated.append((0x1000, boot))
            if let p = directStartPath { layout = try DirectBoot.layout(image: boot, path: p) }
        }
        if let elf = appELF {
            let l = try DirectBoot.layout(elfPath: elf, flashSize: flashSize ?? 4 << 20)
            if let bootloader = chainBootloader {
                // The whole chain around the ELF: a real 2nd-stage bootloader at 0x1000, a
                // partition table at 0x8000 and the converted app at 0x10000.
                generated = [(0x1000, bootloader),
                             (DirectBoot.tableOffset, chainPartitionTable ?? DirectBoot.singleAppTable(appSize: l.appImage.count)),
                             (DirectBoot.appOffset, l.appImage)]
            } else {
                generated = try DirectBoot.flashParts(l, withStub: romPath != nil)
                layout = l
            }
            symbolFiles.append(elf)
        }
        for s in symbolFiles {
            let elf = try ELFFile(path: s)
            try elf.requireXtensa()
            symbols.add(elf.symbols)
        }
        elfPaths = symbolFiles
        if let e = efusePath { try soc.loadEFuse(path: e) }
        var size = flashSize ?? max(4 << 20, image.count)
        if size & (size - 1) != 0 { size = 1 << (Int.bitWidth - (size - 1).leadingZeroBitCount) }
        let name = imagePath ?? "image"
        guard image.count <= size else {
            throw InputError("\(name): image is \(image.count) bytes, larger than the \(size >> 20) MB flash")
        }
        var bytes = image + [UInt8](repeating: 0xFF, count: size - image.count)
        var occupied: [(Range<Int>, String)] = []
        for (off, data) in generated {
            guard off + data.count <= size else { throw InputError("\(appELF ?? ""): the app image does not fit in the \(size >> 20) MB flash") }
            bytes.replaceSubrange(off..<(off + data.count), with: data)
            occupied.append((off..<(off + data.count), off == DirectBoot.appOffset ? "the app image" : "the generated boot data"))
        }
        for p in parts {
            guard let data = FileManager.default.contents(atPath: p.path) else {
                throw InputError("\(p.path): cannot read file (--part 0x\(String(p.offset, radix: 16)))")
            }
            guard !data.isEmpty else { throw InputError("\(p.path): empty file (--part 0x\(String(p.offset, radix: 16)))") }
            guard p.offset + data.count <= size else {
                throw InputError("\(p.path): part at offset 0x\(String(p.offset, radix: 16)) ends at 0x\(String(p.offset + data.count, radix: 16)), past the \(size >> 20) MB flash")
            }
            let r = p.offset..<(p.offset + data.count)
            if let clash = occupied.first(where: { $0.0.overlaps(r) }) {
                throw InputError("\(p.path): part at offset 0x\(String(p.offset, radix: 16)) overlaps \(clash.1)")
            }
            occupied.append((r, p.path))
            bytes.replaceSubrange(r, with: [UInt8](data))
        }
        do {
            flash = try SPIFlash(size: size, image: bytes, persistPath: persist ? imagePath : nil)
        } catch {
            throw InputError("\(name): \(error)")
        }
        soc.attach(flash: flash)
        if let l = layout, romPath == nil { DirectBoot.start(soc, layout: l) }
        let table = symbols
        soc.diagnostics.symbolizer = { table.describe($0) }
    }

    public enum Outcome: Equatable {
        case expectedTextSeen, failTextSeen, timeout, instructionLimit, guestExit(Int32), fatal(String), stopped
    }

    public struct Result {
        public var outcome: Outcome
        public var instructions: UInt64
        public var cycles: UInt64
        public var simulatedMilliseconds: UInt64
        public var wallSeconds: Double
    }

    /// UART0 output so far.
    public private(set) var output: [UInt8] = []

    /// Called between run slices (every ~200,000 cycles and whenever a core stops): host I/O
    /// such as TCP serial ports and debugger connections is serviced here.
    public var services: [(Session) -> Void] = []
    /// Set (e.g. by a service) to end `run` after the current slice.
    public var stopRequested = false
    /// Set by a service when simulated time must not advance because the guest waits for host
    /// input (see SerialHub): the next round runs only the services, then this is cleared.
    public var holdTime = false
    /// Extra receivers of every UART0 byte (besides `sink`).
    public var uartListeners: [(Int, UInt8) -> Void] = []

    /// Runs until every `expect` text has appeared on UART0, a `fail` text appears, the simulated
    /// timeout passes or the instruction limit is reached. `sink` receives UART0 bytes as they come.
    /// With `ordered`, the expected texts must appear one after the other (a text listed twice
    /// must appear twice); otherwise in any order, as wokwi-cli's --expect-text.
    public func run(expect: [String] = [], fail: [String] = [], ordered: Bool = false, timeoutMilliseconds: UInt64? = nil,
                    maxInstructions: UInt64? = nil, sink: ((UInt8) -> Void)? = nil) -> Result {
        let matcher = TextMatcher(expect: expect, fail: fail, ordered: ordered)
        soc.uartOutput = { [unowned self] index, byte in
            for l in self.uartListeners { l(index, byte) }
            guard index == 0 else { return }
            self.output.append(byte)
            sink?(byte)
            matcher.feed(byte)
        }
        let start = DispatchTime.now().uptimeNanoseconds
        var outcome: Outcome = .timeout
        let chunk: UInt64 = 200_000
        loop: while true {
            if let t = timeoutMilliseconds, soc.simulatedMilliseconds >= t { outcome = .timeout; break }
            if let m = maxInstructions, instructionCount >= m { outcome = .instructionLimit; break }
            let r = holdTime ? .limit : soc.run(cycles: chunk, shouldStop: { matcher.decided || self.stopRequested })
            holdTime = false
            for service in services { service(self) }
            if stopRequested { outcome = .stopped; break }
            if matcher.failed { outcome = .failTextSeen; break }
            if matcher.allExpected { outcome = .expectedTextSeen; break }
            switch r {
            case .limit, .stopped: continue
            case .exit(let c): outcome = .guestExit(c); break loop
            case .fatal(let m): outcome = .fatal(m); break loop
            }
        }
        let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return Result(outcome: outcome, instructions: instructionCount, cycles: soc.cores[0].st.pointee.cycles,
                      simulatedMilliseconds: soc.simulatedMilliseconds, wallSeconds: wall)
    }

    /// Instructions retired by both cores since power-on.
    public var instructionCount: UInt64 { soc.cores[0].st.pointee.instructions + soc.cores[1].st.pointee.instructions }

    /// A report of both cores for a stop on a fatal guest condition: state, PC with symbol and
    /// source line, registers and a windowed-ABI backtrace per core (see PanicReport.swift).
    public func coreReport() -> [String] { detailedCoreReport() }

    /// The short form: PC, a few special registers and a0-a15.
    public func briefCoreReport() -> [String] {
        var lines: [String] = []
        for (i, c) in soc.cores.enumerated() where i == 0 || soc.appRunning {
            var s = "core \(i): PC=0x\(String(c.pc, radix: 16))"
            if let name = symbols.describe(c.pc) { s += " (\(name))" }
            s += " PS=0x\(String(c.specialRegister(SR.ps) ?? 0, radix: 16)) EXCCAUSE=\(c.specialRegister(SR.exccause) ?? 0) EXCVADDR=0x\(String(c.specialRegister(SR.excvaddr) ?? 0, radix: 16))"
            lines.append(s)
            lines.append("  INTENABLE=0x\(String(c.specialRegister(SR.intenable) ?? 0, radix: 16)) INTERRUPT=0x\(String(c.specialRegister(SR.interrupt) ?? 0, radix: 16)) CCOUNT=0x\(String(c.ccount, radix: 16)) CCOMPARE0=0x\(String(c.specialRegister(240) ?? 0, radix: 16))")
            var regs = "  "
            for r in 0..<16 {
                regs += "a\(r)=" + String(c.ar(r), radix: 16) + " "
                if r % 8 == 7 { lines.append(regs); regs = "  " }
            }
        }
        return lines
    }
}

/// Watches a byte stream for expected and failure texts.
public final class TextMatcher {
    let expect: [[UInt8]]
    let fail: [[UInt8]]
    var seen: Set<Int> = []
    var window: [UInt8] = []
    let maxNeedle: Int
    public private(set) var failed = false
    public var allExpected: Bool { !expect.isEmpty && seen.count == expect.count }
    public var decided: Bool { failed || allExpected }

    let ordered: Bool

    public init(expect: [String], fail: [String], ordered: Bool = false) {
        self.ordered = ordered
        self.expect = expect.map { Array($0.utf8) }
        self.fail = fail.map { Array($0.utf8) }
        maxNeedle = (self.expect + self.fail).map(\.count).max() ?? 0
    }

    public func feed(_ b: UInt8) {
        guard maxNeedle > 0 else { return }
        window.append(b)
        if window.count > 4 * maxNeedle + 64 { window.removeFirst(window.count - 2 * maxNeedle) }
        if ordered {
            if seen.count < expect.count && window.hasSuffix(expect[seen.count]) {
                seen.insert(seen.count)
                window.removeAll(keepingCapacity: true)
            }
        } else {
            for (i, t) in expect.enumerated() where !seen.contains(i) && window.hasSuffix(t) { seen.insert(i) }
        }
        for t in fail where window.hasSuffix(t) { failed = true }
    }
}

extension Array where Element == UInt8 {
    func hasSuffix(_ suffix: [UInt8]) -> Bool {
        guard !suffix.isEmpty, count >= suffix.count else { return false }
        return self[(count - suffix.count)...].elementsEqual(suffix)
    }
}

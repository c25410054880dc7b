import ArgumentParser
import ESP32
import FirmwareFormats
import Foundation
import XtensaCore

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Boot firmware on the emulated ESP32: the mask ROM runs from reset and loads what the flash holds.")

    @Argument(help: "Whole-flash image (.bin, written at offset 0).") var file: String?
    @Option(help: "Mask ROM: raw .bin or ROM .elf (default: $ESP32EMU_ROM, ESP-IDF's esp-rom-elfs, Espressif QEMU's ROM, then Roms/).") var rom: String?
    @Option(name: .customLong("part"), help: "OFFSET=FILE: write FILE at OFFSET in the flash (repeatable).") var parts: [String] = []
    @Option(help: "Flash size: 2MB, 4MB, 8MB or 16MB (default: 4MB, or the image's size).") var flashSize: String?
    @Option(help: "ELF whose symbols name addresses in reports (repeatable).") var symbols: [String] = []
    @Option(help: "Exit 0 as soon as every such text has appeared on UART0 (repeatable).") var expectText: [String] = []
    @Option(help: "Exit 1 as soon as this text appears on UART0 (repeatable).") var failText: [String] = []
    @Option(help: "Stop after this many simulated milliseconds.") var timeout: UInt64?
    @Option(help: "Exit code when --timeout expires (default 42).") var timeoutExitCode: Int32 = 42
    @Option(help: "Also write UART0 output to this file.") var serialLogFile: String?
    @Option(help: "Stop after this many instructions (PRO CPU).") var maxInstructions: UInt64?
    @Flag(help: "Print instructions, cycles, simulated time and MIPS on stderr at exit.") var stats = false
    @Flag(help: "Stop at the first access to an address no model covers.") var strict = false

    func validate() throws {
        if let s = flashSize, Run.parseFlashSize(s) == nil { throw ValidationError("--flash-size: '\(s)' is not one of 2MB, 4MB, 8MB, 16MB") }
        for p in parts where Run.parsePart(p) == nil { throw ValidationError("--part: '\(p)' is not OFFSET=FILE") }
    }

    static func parseFlashSize(_ s: String) -> Int? {
        switch s.uppercased() {
        case "2MB", "2M": return 2 << 20
        case "4MB", "4M": return 4 << 20
        case "8MB", "8M": return 8 << 20
        case "16MB", "16M": return 16 << 20
        default: return nil
        }
    }

    static func parsePart(_ s: String) -> (Int, String)? {
        guard let eq = s.firstIndex(of: "=") else { return nil }
        guard let off = parseNumber(String(s[s.startIndex..<eq])), off < 1 << 30 else { return nil }
        let f = String(s[s.index(after: eq)...])
        return f.isEmpty ? nil : (Int(off), f)
    }

    /// Finds the ROM: --rom, $ESP32EMU_ROM, ESP-IDF / Espressif QEMU installs, then Roms/.
    static func findROM(_ explicit: String?) throws -> String {
        if let r = explicit { return r }
        let env = ProcessInfo.processInfo.environment
        if let r = env["ESP32EMU_ROM"], !r.isEmpty { return r }
        let fm = FileManager.default
        let home = fm.homeDirectoryForCurrentUser.path
        var places: [String] = []
        let romElfs = home + "/.espressif/tools/esp-rom-elfs"
        if let vers = try? fm.contentsOfDirectory(atPath: romElfs) {
            for v in vers.sorted(by: >) { places.append("\(romElfs)/\(v)/esp32_rev300_rom.elf") }
        }
        let qemu = home + "/.espressif/tools/qemu-xtensa"
        if let vers = try? fm.contentsOfDirectory(atPath: qemu) {
            for v in vers.sorted(by: >) { places.append("\(qemu)/\(v)/qemu/share/qemu/esp32-v3-rom.bin") }
        }
        for dir in romDirectories() {
            places.append(dir + "/esp32_rev300_rom.elf")
            places.append(dir + "/esp32-v3-rom.bin")
        }
        for p in places where fm.fileExists(atPath: p) { return p }
        throw ValidationError("no ESP32 ROM found: pass --rom, set ESP32EMU_ROM, install ESP-IDF's esp-rom-elfs (~/.espressif/tools/esp-rom-elfs/*/esp32_rev300_rom.elf) or Espressif's QEMU (~/.espressif/tools/qemu-xtensa/*/qemu/share/qemu/esp32-v3-rom.bin), or put esp32_rev300_rom.elf / esp32-v3-rom.bin in Roms/ (see Roms/README.md)")
    }

    /// Roms/ in the current directory and in the package the executable was built from.
    static func romDirectories() -> [String] {
        var dirs = [FileManager.default.currentDirectoryPath + "/Roms"]
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = url.appendingPathComponent("Roms").path
            if FileManager.default.fileExists(atPath: candidate) { dirs.append(candidate) }
            url.deleteLastPathComponent()
        }
        return dirs
    }

    func run() throws {
        let soc = ESP32()
        var table = SymbolTable()
        do {
            let romPath = try Run.findROM(rom)
            table.add(try soc.loadROM(path: romPath))
            for s in symbols {
                let elf = try ELFFile(path: s)
                try elf.requireXtensa()
                table.add(elf.symbols)
            }
        } catch let e as InputError { throw ValidationError(e.message) }
        let symbolTable = table
        soc.diagnostics.symbolizer = { symbolTable.describe($0) }
        soc.diagnostics.strict = strict

        // Flash contents.
        var image: [UInt8] = []
        if let f = file { image = try readInput(f) }
        var size = flashSize.flatMap(Run.parseFlashSize) ?? max(4 << 20, image.count)
        if size & (size - 1) != 0 { size = 1 << (Int.bitWidth - (size - 1).leadingZeroBitCount) }
        guard image.count <= size else {
            throw ValidationError("\(file!): image is \(image.count) bytes, larger than the \(size >> 20) MB flash")
        }
        var flash = image
        flash += [UInt8](repeating: 0xFF, count: size - image.count)
        var occupied: [(Range<Int>, String)] = []
        for p in parts {
            let (off, path) = Run.parsePart(p)!
            let bytes = try readInput(path)
            guard !bytes.isEmpty else { throw ValidationError("\(path): empty file (--part \(p))") }
            guard off + bytes.count <= size else {
                throw ValidationError("\(path): --part at 0x\(String(off, radix: 16)) ends at 0x\(String(off + bytes.count, radix: 16)), past the \(size >> 20) MB flash")
            }
            let r = off..<(off + bytes.count)
            if let clash = occupied.first(where: { $0.0.overlaps(r) }) {
                throw ValidationError("\(path): --part at 0x\(String(off, radix: 16)) overlaps \(clash.1)")
            }
            occupied.append((r, path))
            flash.replaceSubrange(r, with: bytes)
        }
        let chip: SPIFlash
        do {
            chip = try SPIFlash(size: size, image: flash)
        } catch {
            throw ValidationError("\(file ?? "flash"): \(error)")
        }
        flash = []
        soc.attach(flash: chip)

        // UART0 -> stdout (and the serial log), with the text checks.
        let console = Console(expect: expectText, fail: failText, logPath: serialLogFile)
        soc.uartOutput = { index, byte in if index == 0 { console.put(byte) } }

        let start = DispatchTime.now().uptimeNanoseconds
        var result: ESP32.RunResult = .limit
        var exitCode: Int32 = 0
        let chunk: UInt64 = 200_000
        while true {
            if let t = timeout, soc.simulatedMilliseconds >= t { exitCode = timeoutExitCode; break }
            if let m = maxInstructions, soc.cores[0].st.pointee.instructions >= m { break }
            result = soc.run(cycles: chunk, shouldStop: { console.decided })
            if console.decided { break }
            if case .limit = result { continue }
            if case .stopped = result { continue }
            break
        }
        console.flush()
        switch result {
        case .fatal(let msg):
            soc.diagnostics.note("stopped: \(msg)")
            reportCore(soc, symbolTable)
            exitCode = 3
        case .exit(let c): exitCode = c
        default: break
        }
        if console.failed { exitCode = 1 } else if console.allExpected && !expectText.isEmpty { exitCode = 0 }
        if stats {
            let wall = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let n = soc.cores[0].st.pointee.instructions + soc.cores[1].st.pointee.instructions
            let line = String(format: "instructions=%llu cycles=%llu simulated_ms=%llu wall_s=%.3f mips=%.1f",
                              n, soc.cores[0].st.pointee.cycles, soc.simulatedMilliseconds, wall, Double(n) / max(wall, 1e-9) / 1e6)
            FileHandle.standardError.write(Data((line + "\n").utf8))
            if ProcessInfo.processInfo.environment["ESP32EMU_DEBUG_STATE"] != nil {
                soc.diagnostics.note("cpu clock \(soc.cpuHz / 1_000_000) MHz, APB \(soc.apbHz / 1_000_000) MHz")
                reportCore(soc, symbolTable)
            }
        }
        if exitCode != 0 { throw CLIExit(code: exitCode) }
    }

    func reportCore(_ soc: ESP32, _ symbols: SymbolTable) {
        for (i, c) in soc.cores.enumerated() where i == 0 || soc.appRunning {
            var s = "core \(i): PC=0x\(String(c.pc, radix: 16))"
            if let name = symbols.describe(c.pc) { s += " (\(name))" }
            s += " PS=0x\(String(c.specialRegister(SR.ps) ?? 0, radix: 16)) EXCCAUSE=\(c.specialRegister(SR.exccause) ?? 0) EXCVADDR=0x\(String(c.specialRegister(SR.excvaddr) ?? 0, radix: 16))"
            soc.diagnostics.note(s)
            soc.diagnostics.note("INTENABLE=0x\(String(c.specialRegister(SR.intenable) ?? 0, radix: 16)) INTERRUPT=0x\(String(c.specialRegister(SR.interrupt) ?? 0, radix: 16)) CCOUNT=0x\(String(c.ccount, radix: 16)) CCOMPARE0=0x\(String(c.specialRegister(240) ?? 0, radix: 16)) CCOMPARE1=0x\(String(c.specialRegister(241) ?? 0, radix: 16))")
            var regs = ""
            for r in 0..<16 { regs += String(format: "a%-2d=%08x ", r, c.ar(r)); if r % 8 == 7 { soc.diagnostics.note(regs); regs = "" } }
        }
    }
}

/// UART0 output: stdout byte for byte, an optional log file, and the expect/fail text checks.
final class Console {
    let expect: [String]
    let fail: [String]
    var seen: Set<Int> = []
    var window: [UInt8] = []
    var pending: [UInt8] = []
    let log: FileHandle?
    private(set) var failed = false
    var allExpected: Bool { !expect.isEmpty && seen.count == expect.count }
    var decided: Bool { failed || allExpected }
    let maxNeedle: Int

    init(expect: [String], fail: [String], logPath: String?) {
        self.expect = expect
        self.fail = fail
        maxNeedle = (expect + fail).map { $0.utf8.count }.max() ?? 0
        if let p = logPath {
            FileManager.default.createFile(atPath: p, contents: nil)
            log = FileHandle(forWritingAtPath: p)
        } else {
            log = nil
        }
    }

    func put(_ b: UInt8) {
        pending.append(b)
        if pending.count >= 4096 { flush() }
        guard maxNeedle > 0 else { return }
        window.append(b)
        if window.count > 4 * maxNeedle + 64 { window.removeFirst(window.count - 2 * maxNeedle) }
        check()
    }

    func check() {
        for (i, t) in expect.enumerated() where !seen.contains(i) {
            if window.ends(with: Array(t.utf8)) { seen.insert(i) }
        }
        for t in fail where window.ends(with: Array(t.utf8)) { failed = true }
    }

    func flush() {
        guard !pending.isEmpty else { return }
        FileHandle.standardOutput.write(Data(pending))
        log?.write(Data(pending))
        pending.removeAll(keepingCapacity: true)
    }
}

extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool {
        guard !suffix.isEmpty, count >= suffix.count else { return false }
        return self[(count - suffix.count)...].elementsEqual(suffix)
    }
}

import ArgumentParser
import ESP32
import FirmwareFormats
import Foundation
import XtensaCore

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Boot firmware on the emulated ESP32: the mask ROM runs from reset and loads what the flash holds.")

    @Argument(help: "Whole-flash image (.bin, written at offset 0), or an app ELF to boot directly.") var file: String?
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
    @Flag(help: "Run every instruction through the interpreter's plain path (no carried predecode slots, no busy-wait skip): slower, with the same output and instruction count; to rule the shortcuts out when something looks wrong.") var noShortcuts = false
    @Flag(help: "Write flash changes back to FILE (otherwise they go to a private copy).") var flashPersist = false
    @Flag(help: "Boot an app ELF without running the ROM (for programs that do not use ROM functions).") var noRom = false
    @Option(help: "With an app ELF: a 2nd-stage bootloader image for 0x1000, to boot the ELF (converted with elf2image, at 0x10000) through the whole chain.") var bootloader: String?
    @Option(help: "With --bootloader: the partition table for 0x8000 (default: a single factory app at 0x10000).") var partitionTable: String?

    func validate() throws {
        if let s = flashSize, Run.parseFlashSize(s) == nil { throw ValidationError("--flash-size: '\(s)' is not one of 2MB, 4MB, 8MB, 16MB") }
        for p in parts {
            guard let eq = p.firstIndex(of: "="), !p[p.index(after: eq)...].isEmpty else { throw ValidationError("--part: '\(p)' is not OFFSET=FILE") }
            let off = String(p[p.startIndex..<eq])
            guard let v = parseNumber(off) else { throw ValidationError("--part: offset '\(off)' in '\(p)' is not a number (decimal or 0x-hex, optional K/M)") }
            guard v < UInt64(FlashChecks.maxFlashSize) else {
                throw ValidationError("--part: offset '\(off)' in '\(p)' is past the end of the largest flash (16 MB)")
            }
        }
        if let t = timeout, t == 0 { throw ValidationError("--timeout: must be at least 1 ms") }
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
        guard let off = parseNumber(String(s[s.startIndex..<eq])), off < UInt64(FlashChecks.maxFlashSize) else { return nil }
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

    @Option(help: "eFuse contents: a 124-byte Espressif QEMU eFuse image (qemu_efuse.bin).") var efuse: String?
    @OptionGroup(title: "Serial ports") var serial: SerialOptions
    @OptionGroup(title: "Debugging and tracing") var debugging: DebugOptions

    func run() throws {
        let session: Session
        do {
            var image: [UInt8] = []
            var elf: String?
            if let f = file {
                image = try readInput(f)
                guard !image.isEmpty else { throw ValidationError("\(f): empty file") }
                if image.starts(with: [0x7F, 0x45, 0x4C, 0x46]) { elf = f; image = [] }
            }
            // Check every input before anything runs or is written (see FlashChecks for the rules).
            let partList = parts.map { Run.parsePart($0)! }
            for (offset, path) in partList {
                let bytes = try readInput(path)
                if bytes.starts(with: [0x7F, 0x45, 0x4C, 0x46]) {
                    throw ValidationError("\(path): an ELF file, not flash contents [--part 0x\(String(offset, radix: 16))]: convert it with 'esp32emu elf2image', or give an app ELF as FILE to boot it directly")
                }
                try FlashChecks.part(bytes, path: path, offset: offset)
            }
            if let f = file, elf == nil {
                let replaced = partList.contains { $0.0 <= FlashChecks.bootloaderOffset && FlashChecks.bootloaderOffset < $0.0 + max(1, (try? readInput($0.1).count) ?? 1) }
                try FlashChecks.wholeFlash(image, path: f, needsBootloader: !replaced && serial.bootMode != "download")
            }
            if flashPersist && (file == nil || elf != nil) {
                throw ValidationError("--flash-persist needs a flash image FILE to write back to")
            }
            let romPath = noRom ? nil : try Run.findROM(rom)
            if romPath == nil && elf == nil { throw ValidationError("--no-rom boots an app ELF: give one as FILE") }
            var chainBootloader: [UInt8]?, chainTable: [UInt8]?
            if let b = bootloader {
                guard elf != nil else { throw ValidationError("--bootloader builds the chain around an app ELF: give the ELF as FILE") }
                guard romPath != nil else { throw ValidationError("--bootloader needs the ROM (it boots the chain from reset); drop --no-rom") }
                let bytes = try readInput(b)
                try FlashChecks.part(bytes, path: b, offset: FlashChecks.bootloaderOffset)
                chainBootloader = bytes
            }
            if let t = partitionTable {
                guard bootloader != nil else { throw ValidationError("--partition-table goes with --bootloader") }
                let bytes = try readInput(t)
                try FlashChecks.part(bytes, path: t, offset: 0x8000)
                chainTable = bytes
            }
            session = try Session(romPath: romPath, image: image, imagePath: file,
                                  parts: partList.map { Session.Part(offset: $0.0, path: $0.1) },
                                  flashSize: flashSize.flatMap(Run.parseFlashSize), symbolFiles: symbols, efusePath: efuse,
                                  appELF: elf, persist: flashPersist,
                                  chainBootloader: chainBootloader, chainPartitionTable: chainTable)
        } catch let e as InputError { throw ValidationError(e.message) }
        session.soc.diagnostics.strict = strict
        session.soc.shortcuts = !noShortcuts
        try serial.attach(to: session)
        try debugging.attach(to: session)
        if let dump = ProcessInfo.processInfo.environment["ESP32EMU_DUMP_FLASH"] {
            FileManager.default.createFile(atPath: dump, contents: Data(bytes: session.flash.storage, count: session.flash.size))
        }

        // UART0 -> stdout (and the serial log).
        if let p = serialLogFile, !FileManager.default.createFile(atPath: p, contents: nil) {
            throw ValidationError("\(p): cannot create the serial log file (--serial-log-file)")
        }
        let out = OutputBuffer(logPath: serialLogFile)
        session.services.append { _ in out.flush() }   // partial lines (prompts) show up between slices
        // The live status line (stderr a terminal, runs over a second): erased before other output.
        let status = StatusLine.forTerminal()
        // ESP-IDF panic backtraces are decoded on stderr right after their line (esp-idf-monitor style).
        let panic = session.panicMonitor { line in
            out.flush()
            status?.clear()
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
        if let st = status {
            out.beforeWrite = { st.clear(); st.wroteToStdout($0) }
            let sink = session.soc.diagnostics.sink
            session.soc.diagnostics.sink = { st.clear(); sink($0) }
            session.services.append { st.update($0) }
        }
        let r = session.run(expect: expectText, fail: failText, timeoutMilliseconds: timeout,
                            maxInstructions: maxInstructions, sink: { out.put($0); panic.feed($0) })
        out.flush()
        status?.clear()
        var exitCode: Int32 = 0
        switch r.outcome {
        case .expectedTextSeen: exitCode = 0
        case .failTextSeen: exitCode = 1
        case .timeout: exitCode = timeout == nil ? 0 : timeoutExitCode
        case .instructionLimit, .stopped: exitCode = 0
        case .guestExit(let c): exitCode = c
        case .fatal(let msg):
            session.soc.diagnostics.note("stopped: \(msg)")
            for l in session.coreReport() { session.soc.diagnostics.note(l) }
            exitCode = 3
        }
        if stats {
            let line = String(format: "instructions=%llu cycles=%llu simulated_ms=%llu wall_s=%.3f mips=%.1f peak_rss_mb=%.1f",
                              r.instructions, r.cycles, r.simulatedMilliseconds, r.wallSeconds,
                              Double(r.instructions) / max(r.wallSeconds, 1e-9) / 1e6, Run.peakRSSMegabytes())
            FileHandle.standardError.write(Data((line + "\n").utf8))
            if ProcessInfo.processInfo.environment["ESP32EMU_DEBUG_STATE"] != nil {
                session.soc.diagnostics.note("cpu clock \(session.soc.cpuHz / 1_000_000) MHz, APB \(session.soc.apbHz / 1_000_000) MHz")
                for l in session.coreReport() { session.soc.diagnostics.note(l) }
            }
        }
        if exitCode != 0 { throw CLIExit(code: exitCode) }
    }
}

/// UART0 output: stdout byte for byte and an optional log file, written in chunks.
final class OutputBuffer {
    var pending: [UInt8] = []
    let log: FileHandle?

    init(logPath: String?) {
        if let p = logPath {
            FileManager.default.createFile(atPath: p, contents: nil)
            log = FileHandle(forWritingAtPath: p)
        } else {
            log = nil
        }
    }

    func put(_ b: UInt8) {
        pending.append(b)
        if b == 10 || pending.count >= 4096 { flush() }
    }

    /// Called with the bytes about to go to stdout (the status line erases itself).
    var beforeWrite: (([UInt8]) -> Void)?

    func flush() {
        guard !pending.isEmpty else { return }
        beforeWrite?(pending)
        FileHandle.standardOutput.write(Data(pending))
        log?.write(Data(pending))
        pending.removeAll(keepingCapacity: true)
    }
}

extension Run {
    /// This process's peak resident memory: VmHWM from /proc/self/status (getrusage's maxrss
    /// would include the memory of a parent that forked us before exec).
    static func peakRSSMegabytes() -> Double {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kb = Double(line.split(separator: " ").dropFirst().first ?? "") {
            return kb / 1024
        }
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}

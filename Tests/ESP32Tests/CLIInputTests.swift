import ESP32
import FirmwareFormats
import Foundation
import XCTest
import XtensaCore

/// Runs the built esp32emu executable (next to the test bundle, or $ESP32EMU_BIN).
enum CLITool {
    static func binary() throws -> String {
        if let p = ProcessInfo.processInfo.environment["ESP32EMU_BIN"], !p.isEmpty { return p }
        var candidates: [URL] = []
        for b in Bundle.allBundles + [Bundle.main] {
            candidates.append(b.bundleURL.deletingLastPathComponent())
            if let e = b.executableURL { candidates.append(e.deletingLastPathComponent()) }
        }
        for c in candidates {
            let p = c.appendingPathComponent("esp32emu").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        throw XCTSkip("esp32emu executable not found next to the test bundle (swift build --build-tests, or set ESP32EMU_BIN)")
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var stderrLines: [String] { stderr.split(separator: "\n").map(String.init) }
    }

    /// Runs `esp32emu ARGS` in `cwd`, killing it after `limit` seconds (a hang fails the test).
    static func run(_ args: [String], cwd: URL? = nil, limit: TimeInterval = 60) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try binary())
        p.arguments = args
        if let cwd { p.currentDirectoryURL = cwd }
        var env = ProcessInfo.processInfo.environment
        env["ESP32EMU_ROM"] = nil
        p.environment = env
        let tmp = FileManager.default.temporaryDirectory
        let outURL = tmp.appendingPathComponent("esp32emu-cli-out-\(UUID().uuidString)")
        let errURL = tmp.appendingPathComponent("esp32emu-cli-err-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outURL); try? FileManager.default.removeItem(at: errURL) }
        let outHandle = try FileHandle(forWritingTo: outURL), errHandle = try FileHandle(forWritingTo: errURL)
        p.standardOutput = outHandle
        p.standardError = errHandle
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(limit)
        while p.isRunning && Date() < deadline { usleep(20_000) }
        let hung = p.isRunning
        if hung { p.terminate(); p.waitUntilExit() } else { p.waitUntilExit() }
        try? outHandle.close(); try? errHandle.close()
        if hung { XCTFail("esp32emu \(args.joined(separator: " ")) did not finish within \(limit) s") }
        return Result(status: p.terminationStatus,
                      stdout: String(decoding: FileManager.default.contents(atPath: outURL.path) ?? Data(), as: UTF8.self),
                      stderr: String(decoding: FileManager.default.contents(atPath: errURL.path) ?? Data(), as: UTF8.self))
    }
}

/// Bad input for `esp32emu run`: each case exits with code 2 and one line on stderr naming the
/// file and what is wrong; nothing runs (no UART output), nothing is written (the serial log file
/// is not created, a --flash-persist FILE is untouched), nothing crashes or hangs.
final class CLIInputTests: XCTestCase {
    var dir: URL!
    /// A stand-in ROM of the right size: every bad input is refused before the ROM runs.
    var rom: String { dir.appendingPathComponent("rom.bin").path }
    var log: String { dir.appendingPathComponent("serial.log").path }

    override func setUpWithError() throws {
        _ = try CLITool.binary()
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("esp32emu-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: rom, contents: Data(count: 455_722))
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    @discardableResult
    func file(_ name: String, _ bytes: [UInt8]) -> String {
        let p = dir.appendingPathComponent(name).path
        FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }

    /// Runs `run ARGS` (with the stand-in ROM and a serial log file) and checks the refusal.
    @discardableResult
    func refuse(_ args: [String], mentions parts: [String], withROM: Bool = true,
                file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let full = ["run"] + args + (withROM ? ["--rom", rom] : []) + ["--serial-log-file", log, "--timeout", "2000"]
        let r = try CLITool.run(full, cwd: dir)
        XCTAssertEqual(r.status, 2, "exit code; stderr: \(r.stderr)", file: file, line: line)
        XCTAssertEqual(r.stderrLines.count, 1, "exactly one line on stderr: \(r.stderr)", file: file, line: line)
        let message = r.stderrLines.first ?? ""
        XCTAssertTrue(message.hasPrefix("esp32emu: "), message, file: file, line: line)
        for p in parts { XCTAssertTrue(message.contains(p), "'\(message)' lacks '\(p)'", file: file, line: line) }
        XCTAssertEqual(r.stdout, "", "nothing may run", file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: log), "the serial log must not be created", file: file, line: line)
        return message
    }

    // MARK: Inputs made here

    /// An ESP32 image: header (declaring `declared` segments, default: as many as given), the
    /// segments, the checksum; `cut` drops that many bytes from the end.
    static func image(segments: [(UInt32, [UInt8])], declared: Int? = nil, lengthOverride: [Int: UInt32] = [:], cut: Int = 0) -> [UInt8] {
        var out: [UInt8] = [0xE9, UInt8(declared ?? segments.count), 0x02, 0x20, 0x00, 0x04, 0x08, 0x40]
        out += [0xEE, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0]
        var checksum: UInt8 = 0xEF
        for (i, (addr, data)) in segments.enumerated() {
            let len = lengthOverride[i] ?? UInt32(data.count)
            out += withUnsafeBytes(of: addr.littleEndian, Array.init) + withUnsafeBytes(of: len.littleEndian, Array.init) + data
            for b in data { checksum ^= b }
        }
        while out.count % 16 != 15 { out.append(0) }
        out.append(checksum)
        return Array(out.dropLast(cut))
    }

    static let goodImage = image(segments: [(0x4008_0400, [UInt8](repeating: 0x11, count: 64))])

    /// A whole flash: 0xFF with `boot` at 0x1000.
    static func flash(boot: [UInt8], size: Int = 0x9000) -> [UInt8] {
        var f = [UInt8](repeating: 0xFF, count: size)
        f.replaceSubrange(0x1000..<(0x1000 + boot.count), with: boot)
        return f
    }

    // MARK: Files

    func testMissingFile() throws {
        try refuse(["missing.bin"], mentions: ["missing.bin", "no such file"])
        try refuse(["--part", "0x1000=nothere.bin"], mentions: ["nothere.bin", "no such file"])
        try refuse(["--symbols", "nosyms.elf"], mentions: ["nosyms.elf"])
        try refuse(["--part", "0x1000=" + file("b.bin", CLIInputTests.goodImage), "--rom", "norom.bin"], mentions: ["norom.bin", "cannot read"], withROM: false)
    }

    func testEmptyFile() throws {
        let empty = file("empty.bin", [])
        try refuse([empty], mentions: ["empty.bin", "empty file"])
        try refuse(["--part", "0x1000=\(empty)"], mentions: ["empty.bin", "empty file", "--part 0x1000"])
        try refuse(["--part", "0x1000=" + file("b.bin", CLIInputTests.goodImage), "--rom", empty], mentions: ["empty.bin", "ROM file is empty"], withROM: false)
    }

    func testTruncatedImage() throws {
        // The header promises 3 segments; the file ends after the first one.
        let short = Array(CLIInputTests.image(segments: [(0x4008_0400, [UInt8](repeating: 1, count: 32))], declared: 3).prefix(24 + 8 + 32))
        let p = file("short.bin", short)
        try refuse(["--part", "0x1000=\(p)"], mentions: ["short.bin", "truncated image", "promises 3 segments", "--part 0x1000"])
        try refuse(["--part", "0x10000=\(p)", "--part", "0x1000=" + file("b.bin", CLIInputTests.goodImage)],
                   mentions: ["short.bin", "promises 3 segments", "--part 0x10000"])
        // A whole flash whose bootloader at 0x1000 is truncated the same way.
        try refuse([file("flash.bin", CLIInputTests.flash(boot: short, size: 0x1000 + short.count))], mentions: ["flash.bin", "promises 3 segments", "offset 0x1040"])
        // An image given as FILE is checked too.
        try refuse([p], mentions: ["short.bin", "promises 3 segments"])
        // Missing its checksum byte.
        let noChecksum = file("nochk.bin", Array(CLIInputTests.goodImage.dropLast()))
        try refuse(["--part", "0x1000=\(noChecksum)"], mentions: ["nochk.bin", "checksum byte lies past the end"])
    }

    func testSegmentLargerThanFile() throws {
        let big = CLIInputTests.image(segments: [(0x4008_0400, [UInt8](repeating: 1, count: 32))], lengthOverride: [0: 0x10000])
        let p = file("big.bin", big)
        try refuse(["--part", "0x1000=\(p)"], mentions: ["big.bin", "segment 0", "65536 bytes, larger than the", "left in the file"])
        try refuse([file("flash.bin", CLIInputTests.flash(boot: big))], mentions: ["flash.bin", "65536 bytes, larger than"])
    }

    func testWrongMagic() throws {
        let text = file("text.bin", Array("not an image at all".utf8))
        try refuse(["--part", "0x1000=\(text)"], mentions: ["text.bin", "not an ESP32 image", "0x6e", "expected 0xe9", "--part 0x1000"])
        try refuse(["--part", "0x10000=\(text)"], mentions: ["text.bin", "not an ESP32 image", "--part 0x10000"])
        try refuse(["--part", "0x8000=\(text)"], mentions: ["text.bin", "not a partition table", "--part 0x8000"])
        // A whole flash without a bootloader image at 0x1000 (SPI boot) ...
        var noBoot = [UInt8](repeating: 0xFF, count: 0x9000)
        noBoot[0x1000] = 0x00
        try refuse([file("flash.bin", noBoot)], mentions: ["flash.bin", "no 2nd-stage bootloader at offset 0x1000", "magic byte is 0x00"])
        try refuse([text], mentions: ["text.bin", "no 2nd-stage bootloader at offset 0x1000", "only 19 bytes"])
        // ... an app image given as the whole flash ...
        try refuse([file("app.bin", CLIInputTests.goodImage)], mentions: ["app.bin", "not a whole-flash image", "--part 0x1000="])
        // ... and an ELF given as a part.
        let elf = ELFWriter.executable(code: [0, 0, 0, 0], base: 0x4008_0000, entry: 0x4008_0000, symbols: [:])
        try refuse(["--part", "0x10000=" + file("app.elf", elf)], mentions: ["app.elf", "an ELF file", "elf2image"])
    }

    func testImageLargerThanFlash() throws {
        var whole = CLIInputTests.flash(boot: CLIInputTests.goodImage, size: (2 << 20) + 16)
        whole[whole.count - 1] = 0
        let p = file("flash.bin", whole)
        try refuse([p, "--flash-size", "2MB"], mentions: ["flash.bin", "larger than the 2 MB flash"])
        let huge = file("huge.bin", CLIInputTests.flash(boot: CLIInputTests.goodImage, size: (16 << 20) + 1))
        try refuse([huge], mentions: ["huge.bin", "larger than the largest ESP32 flash"])
        // A part that runs past the end of the flash.
        let app = file("app.bin", CLIInputTests.image(segments: [(0x400D_0020, [UInt8](repeating: 7, count: 0x3000))]))
        try refuse(["--part", "0x1000=" + file("b.bin", CLIInputTests.goodImage), "--part", "0x1FF000=\(app)", "--flash-size", "2MB"],
                   mentions: ["app.bin", "0x1ff000", "past the 2 MB flash"])
    }

    func testPartOffsetOutOfRangeOrOverlapping() throws {
        let boot = file("b.bin", CLIInputTests.goodImage)
        try refuse(["--part", "0x1000000=\(boot)"], mentions: ["--part", "0x1000000", "past the end of the largest flash"])
        try refuse(["--part", "0x1000=\(boot)", "--part", "0x1040=\(boot)"], mentions: ["b.bin", "0x1040", "overlaps"])
        try refuse(["--part", "oops=\(boot)"], mentions: ["--part", "'oops'", "not a number"])
        try refuse(["--part", "0x1000"], mentions: ["--part", "not OFFSET=FILE"])
    }

    func testUnknownOrMalformedOptions() throws {
        let boot = file("b.bin", CLIInputTests.goodImage)
        try refuse(["--bogus"], mentions: ["Unknown option", "--bogus"])
        try refuse(["--part", "0x1000=\(boot)", "--timeout", "soon"], mentions: ["'soon'", "--timeout"])
        try refuse(["--part", "0x1000=\(boot)", "--max-instructions", "-5"], mentions: ["--max-instructions"])
        try refuse(["--part", "0x1000=\(boot)", "--flash-size", "3MB"], mentions: ["--flash-size", "'3MB'"])
        try refuse(["--part", "0x1000=\(boot)", "--timeout-exit-code", "x"], mentions: ["--timeout-exit-code"])
        try refuse(["--part", "0x1000=\(boot)", "--efuse", file("efuse.bin", [1, 2, 3])], mentions: ["efuse.bin", "eFuse image"])
        try refuse(["--part", "0x1000=\(boot)", "--symbols", file("notelf.bin", Array("text".utf8))], mentions: ["notelf.bin", "not an ELF"])
        let r = try CLITool.run(["run", "--part", "0x1000=\(boot)", "--rom", rom, "--serial-log-file", dir.appendingPathComponent("no/such/dir.log").path])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stderr.contains("cannot create the serial log file"), r.stderr)
        XCTAssertEqual(r.stdout, "")
    }

    func testELFForAnotherMachineOrMalformed() throws {
        var elf = ELFWriter.executable(code: [0x36, 0x41, 0x00], base: 0x4008_0400, entry: 0x4008_0400, symbols: ["start": 0x4008_0400])
        elf[18] = 40   // EM_ARM
        try refuse([file("arm.elf", elf)], mentions: ["arm.elf", "machine 40, not Xtensa"])
        try refuse(["--symbols", file("arm2.elf", elf), "--part", "0x1000=" + file("b.bin", CLIInputTests.goodImage)], mentions: ["arm2.elf", "machine 40"])
        elf[18] = 94
        try refuse([file("cut.elf", Array(elf.prefix(40)))], mentions: ["cut.elf", "not an ELF file"])
        try refuse([file("cut2.elf", Array(elf.prefix(0x120)))], mentions: ["cut2.elf", "past the end of the file"])
        // A 2nd-stage bootloader ELF cannot be booted directly: it loads where the stub runs.
        let bl = ELFWriter.executable(code: [UInt8](repeating: 0, count: 64), base: 0x4007_8000, entry: 0x4007_8000, symbols: [:])
        try refuse([file("bootloader.elf", bl)], mentions: ["bootloader.elf", "over the direct-boot stub", "--part 0x1000"])
    }

    /// The corpus ROM, for the cases that run past the checks.
    func realROM() throws -> [UInt8] {
        let p = BootChainTests.corpus + "/rom/esp32-v3-rom.bin"
        guard let d = FileManager.default.contents(atPath: p) else { throw XCTSkip("no ROM at \(p) (set ESP32EMU_FIRMWARE)") }
        return [UInt8](d)
    }

    func testROMFileOfUnexpectedSize() throws {
        let tiny = file("tiny-rom.bin", [UInt8](repeating: 0, count: 1000))
        let sha = Digest.hex(Digest.sha256([UInt8](repeating: 0, count: 1000)))
        try refuse(["--part", "0x1000=" + file("b.bin", CLIInputTests.goodImage), "--rom", tiny],
                   mentions: ["tiny-rom.bin", "too small", sha], withROM: false)
        // A size that may be a ROM: a warning with the file's SHA-256, and the run goes on.
        let odd = try realROM() + [UInt8](repeating: 0, count: 6)
        let oddPath = file("odd-rom.bin", odd)
        let r = try CLITool.run(["run", "--rom", oddPath, "--part", "0x1000=" + file("b.bin", CLIInputTests.goodImage), "--max-instructions", "1000"], cwd: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let warning = try XCTUnwrap(r.stderrLines.first { $0.contains("warning") }, r.stderr)
        XCTAssertTrue(warning.contains("odd-rom.bin") && warning.contains("unexpected ROM size 455728") && warning.contains(Digest.hex(Digest.sha256(odd))), warning)
    }

    func testFlashPersistFileUntouchedOnBadInput() throws {
        let whole = CLIInputTests.flash(boot: CLIInputTests.goodImage)
        let p = file("flash.bin", whole)
        let before = try FileManager.default.attributesOfItem(atPath: p)[.modificationDate] as? Date
        try refuse([p, "--flash-persist", "--part", "0x10000=" + file("text.bin", Array("nope".utf8))], mentions: ["text.bin", "not an ESP32 image"])
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: p))), whole)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: p)[.modificationDate] as? Date, before)
    }

    // MARK: The live status line

    /// A bare-metal busy loop, booted with --no-rom.
    func busyLoopELF() throws -> String {
        let p = try Assembler.assemble("_start:\n    entry a1, 32\n1:  addi a2, a2, 1\n    j 1b\n", base: 0x4008_0400, file: "busy.S")
        return file("busy.elf", ELFWriter.executable(code: p.bytes, base: 0x4008_0400, entry: 0x4008_0400, symbols: p.symbols))
    }

    /// On a terminal (a pseudo-terminal made by script(1)), a run of more than a second shows
    /// `\r ESC[K esp32emu: ... simulated, ... MIPS` updates and erases the line at the end.
    func testStatusLineOnATerminal() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { throw XCTSkip("script(1) not installed: no pseudo-terminal for the status-line test") }
        let elf = try busyLoopELF()
        // About 2.5 s of host time at this machine's speed (measured off the terminal).
        let probe = try CLITool.run(["run", "--no-rom", elf, "--max-instructions", "30000000", "--stats"])
        let mips = try XCTUnwrap(probe.stderr.components(separatedBy: "mips=").last.flatMap { Double($0.prefix { !$0.isWhitespace }) })
        let n = max(30_000_000, UInt64(mips * 2.5e6))
        let command = [try CLITool.binary(), "run", "--no-rom", elf, "--max-instructions", "\(n)"].map { "'\($0)'" }.joined(separator: " ")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        p.arguments = ["-q", "-e", "-c", command, "/dev/null"]
        var env = ProcessInfo.processInfo.environment
        env["ESP32EMU_NO_STATUS"] = nil
        p.environment = env
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardInput = FileHandle.nullDevice
        let started = Date()
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let wall = Date().timeIntervalSince(started)
        let text = String(decoding: data, as: UTF8.self)
        XCTAssertEqual(p.terminationStatus, 0, text)
        let updates = text.components(separatedBy: "\r\u{1B}[Kesp32emu: ").count - 1
        guard wall > 1.4 else { throw XCTSkip("the run took only \(wall) s: too fast to see the status line") }
        XCTAssertGreaterThanOrEqual(updates, 1, text)
        XCTAssertLessThanOrEqual(Double(updates), wall * 4 + 1, "at most 4 updates per second")
        XCTAssertTrue(text.contains(" simulated, ") && text.contains(" MIPS, "), text)
        XCTAssertTrue(text.hasSuffix("\r\u{1B}[K"), "the line is erased at the end: \(text.suffix(80).debugDescription)")
    }

    /// Not on a terminal: no status line, whatever the run's length.
    func testNoStatusLineWhenStderrIsNotATerminal() throws {
        let r = try CLITool.run(["run", "--no-rom", try busyLoopELF(), "--max-instructions", "60000000", "--stats"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stderr.contains("\u{1B}"), r.stderr)
        XCTAssertFalse(r.stderr.contains("simulated,"), r.stderr)
        XCTAssertTrue(r.stderr.contains("instructions=60000"), r.stderr)
    }

    /// In download mode the flash may be blank: esptool is about to write it.
    func testDownloadModeAcceptsABlankFlash() throws {
        let blank = file("blank.bin", [UInt8](repeating: 0xFF, count: 0x10000))
        let real = file("real-rom.bin", try realROM())
        let r = try CLITool.run(["run", blank, "--rom", real, "--boot-mode", "download", "--max-instructions", "100000"], cwd: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
    }
}

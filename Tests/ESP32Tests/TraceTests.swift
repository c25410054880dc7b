import ESP32
import FirmwareFormats
import Foundation
import XCTest
import XtensaCore

/// Instruction traces, call traces and trace-diff (issue 5) on the firmware corpus.
final class TraceTests: XCTestCase {
    func path(_ p: String) -> String { BootChainTests.corpus + "/" + p }
    var rom: String { path("rom/esp32-v3-rom.bin") }
    var romELF: String { path("rom-elf/esp32_rev300_rom.elf") }
    let hello = "app/idf-v4.2.3-hello_world-guopung"
    let zephyr = "app/zephyr-esp32-devkitc-wrover-Brunoarico"

    func requireCorpus() throws {
        guard FileManager.default.fileExists(atPath: rom) else {
            throw XCTSkip("firmware corpus not found at \(BootChainTests.corpus) (set ESP32EMU_FIRMWARE): trace tests skipped")
        }
    }

    func temporary(_ name: String) -> String {
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("esp32emu-\(getpid())-\(name)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: p) }
        return p
    }

    /// The hello_world v4.2.3 chain with the ROM, bootloader and app ELFs as symbols.
    func helloSession(efuse: String? = nil) throws -> Session {
        let s = try Session(romPath: rom, parts: [Session.Part(offset: 0x1000, path: path("\(hello)/bootloader.bin")),
                                                  Session.Part(offset: 0x8000, path: path("\(hello)/partitions_singleapp.bin")),
                                                  Session.Part(offset: 0x10000, path: path("\(hello)/hello-world.bin"))],
                            symbolFiles: [romELF, path("\(hello)/bootloader.elf"), path("\(hello)/hello-world.elf")], efusePath: efuse)
        s.soc.diagnostics.sink = { _ in }
        return s
    }

    func function(_ name: String, in elf: String) throws -> UInt32 {
        let e = try ELFFile(path: elf)
        return try XCTUnwrap(e.symbols.first { $0.name == name && $0.isFunction }?.value, "\(name) not in \(elf)")
    }

    struct Entry { var depth: Int; var names: [String]; var address: UInt32; var core: Int }

    /// The function entries of a call trace (`CORE\tCYCLE\t<indent>> NAME @ADDR (...)`), parsed
    /// as bytes (traces have hundreds of thousands of lines; tests are not optimised).
    func entries(_ file: String) throws -> [Entry] {
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
        var out: [Entry] = []
        var start = 0
        while start < data.count {
            let end = data[start...].firstIndex(of: 10) ?? data.count
            defer { start = end + 1 }
            guard let t1 = data[start..<end].firstIndex(of: 9), let t2 = data[(t1 + 1)..<end].firstIndex(of: 9) else {
                XCTFail("malformed call-trace line \(String(decoding: data[start..<end], as: UTF8.self))"); continue
            }
            var i = t2 + 1
            while i < end && data[i] == 32 { i += 1 }
            guard i + 1 < end, data[i] == UInt8(ascii: ">"), data[i + 1] == 32 else { continue }
            let depth = (i - t2 - 1) / 2
            let nameStart = i + 2
            guard let at = data[nameStart..<end].firstIndex(of: UInt8(ascii: "@")) else { XCTFail("no address"); continue }
            let name = String(decoding: data[nameStart..<(at - 1)], as: UTF8.self)
            let addrEnd = data[at..<end].firstIndex(of: 32) ?? end
            let addr = UInt32(String(decoding: data[(at + 1)..<addrEnd], as: UTF8.self), radix: 16) ?? 0
            let core = data[start] == UInt8(ascii: "1") ? 1 : 0
            out.append(Entry(depth: depth, names: name.split(separator: "/").map(String.init), address: addr, core: core))
        }
        return out
    }

    /// Finds `expected` (name, optional address) in order in the PRO CPU's entries; returns their indices.
    func ordered(_ entries: [Entry], _ expected: [(String, UInt32?)], file: StaticString = #filePath, line: UInt = #line) -> [Int] {
        var found: [Int] = []
        var i = 0
        for (name, address) in expected {
            while i < entries.count && !(entries[i].core == 0 && entries[i].names.contains(name) && (address == nil || entries[i].address == address)) { i += 1 }
            guard i < entries.count else {
                XCTFail("call trace: \(name) not found after \(found.last.map { entries[$0].names.joined(separator: "/") } ?? "the start")", file: file, line: line)
                return found
            }
            found.append(i)
            i += 1
        }
        return found
    }

    func testCallTraceOfHelloWorldV423ShowsTheStartupTree() throws {
        try requireCorpus()
        let bootloaderEntry = try function("call_start_cpu0", in: path("\(hello)/bootloader.elf"))
        let appEntry = try function("call_start_cpu0", in: path("\(hello)/hello-world.elf"))
        let appMain = try function("app_main", in: path("\(hello)/hello-world.elf"))
        let romMain = try function("main", in: romELF)
        let s = try helloSession()
        let debug = DebugController(session: s)
        let file = temporary("hello-calls.txt")
        debug.traceUntil = appMain
        try debug.traceCalls(to: file)
        let r = s.run(timeoutMilliseconds: 5000)
        XCTAssertEqual(r.outcome, .stopped, "the run ends with the trace, at app_main")
        let e = try entries(file)
        let at = ordered(e, [("main", romMain), ("call_start_cpu0", bootloaderEntry), ("bootloader_init", nil),
                             ("bootloader_utility_load_boot_image", nil), ("call_start_cpu0", appEntry),
                             ("start_cpu0", nil), ("main_task", nil), ("app_main", appMain)])
        guard at.count == 8 else { return }
        // A tree: each stage is entered from inside the one before.
        XCTAssertLessThan(e[at[0]].depth, e[at[1]].depth, "the bootloader runs inside the ROM's main")
        XCTAssertLessThan(e[at[1]].depth, e[at[2]].depth, "bootloader_init inside the bootloader's call_start_cpu0")
        XCTAssertLessThan(e[at[1]].depth, e[at[4]].depth, "the app's entry inside the bootloader")
        XCTAssertLessThan(e[at[4]].depth, e[at[5]].depth, "start_cpu0 inside the app's call_start_cpu0")
        XCTAssertLessThan(e[at[5]].depth, e[at[7]].depth, "app_main below start_cpu0 (through the scheduler and main_task)")
        XCTAssertTrue(e[at[5]].names.contains("start_cpu0_default"), "aliases are listed: \(e[at[5]].names)")
        XCTAssertEqual(e.last?.names, ["app_main"], "the trace ends at app_main")
        XCTAssertTrue(e.contains { $0.core == 1 && $0.names.contains("start_cpu1") }, "the APP CPU's startup is traced too")
    }

    func testCallTraceOfZephyrShowsTheStartupTree() throws {
        try requireCorpus()
        let elf = path("\(zephyr)/zephyr.elf")
        let zephyrMain = try function("main", in: elf)
        let romMain = try function("main", in: romELF)
        let s = try Session(romPath: rom, parts: [Session.Part(offset: 0x1000, path: path("\(zephyr)/bootloader.bin")),
                                                  Session.Part(offset: 0x8000, path: path("\(zephyr)/partitions_singleapp.bin")),
                                                  Session.Part(offset: 0x10000, path: path("\(zephyr)/zephyr.bin"))],
                            symbolFiles: [romELF, elf])
        s.soc.diagnostics.sink = { _ in }
        let debug = DebugController(session: s)
        let file = temporary("zephyr-calls.txt")
        debug.traceUntil = zephyrMain
        try debug.traceCalls(to: file)
        XCTAssertEqual(s.run(timeoutMilliseconds: 5000).outcome, .stopped)
        let e = try entries(file)
        let at = ordered(e, [("main", romMain), ("__start", try function("__start", in: elf)), ("__esp_platform_start", nil),
                             ("z_bss_zero", nil), ("z_cstart", nil), ("z_thread_entry", nil), ("bg_thread_main", nil), ("main", zephyrMain)])
        guard at.count == 8 else { return }
        // The bootloader has no ELF here: its functions are addresses, not names from the app
        // (whose IRAM code overlaps it).
        let bootloader = e[at[0]..<at[1]].filter { $0.address >= 0x4007_0000 && $0.address < 0x400C_0000 }
        XCTAssertFalse(bootloader.isEmpty)
        XCTAssertTrue(bootloader.allSatisfy { $0.names.first?.hasPrefix("0x") == true }, "\(bootloader.prefix(3).map(\.names))")
        XCTAssertLessThan(e[at[0]].depth, e[at[1]].depth, "Zephyr's __start runs inside the ROM's main (through the bootloader)")
        XCTAssertLessThan(e[at[1]].depth, e[at[2]].depth)
        XCTAssertLessThan(e[at[2]].depth, e[at[4]].depth, "z_cstart inside __esp_platform_start")
        XCTAssertLessThan(e[at[6]].depth, e[at[7]].depth, "main inside bg_thread_main")
    }

    /// Trace lines: CORE, CYCLE, PC, SYMBOL+OFF, BYTES, DISASSEMBLY, EFFECTS.
    func testInstructionTraceFromASymbol() throws {
        try requireCorpus()
        let appEntry = try function("call_start_cpu0", in: path("\(hello)/hello-world.elf"))
        let s = try helloSession()
        let debug = DebugController(session: s)
        let file = temporary("hello-trace.txt")
        debug.traceFrom = appEntry
        try debug.traceInstructions(to: file, maxLines: 40)
        XCTAssertEqual(s.run(timeoutMilliseconds: 5000).outcome, .stopped)
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(lines.count, 40)
        XCTAssertTrue(lines.allSatisfy { $0.count == 7 })
        // 0  2347957  400810d0  call_start_cpu0  008136  entry a1, 64  a1=3ffe3c40 windowbase=... windowstart=...
        XCTAssertEqual(lines[0][0], "0")
        XCTAssertEqual(lines[0][2], String(appEntry, radix: 16))
        XCTAssertEqual(lines[0][3], "call_start_cpu0")
        XCTAssertEqual(lines[0][4], "008136")
        XCTAssertEqual(lines[0][5], "entry a1, 64")
        XCTAssertTrue(lines[0][6].hasPrefix("a1=") && lines[0][6].contains("windowbase="), lines[0][6])
        XCTAssertEqual(lines[1][3], "call_start_cpu0+0x3")
        // Cycles count up by one per instruction on the PRO CPU.
        XCTAssertEqual(UInt64(lines[1][1]), UInt64(lines[0][1]).map { $0 + 1 })
        // A store shows the memory it wrote.
        XCTAssertTrue(lines.contains { $0[5].hasPrefix("s32i") && $0[6].contains("]=") }, "no store with its memory effect")
        // The call into memcpy in ROM is named from the ROM ELF.
        XCTAssertTrue(lines.contains { $0[3] == "memcpy" })
    }

    func testTraceDiffOfTwoRunsOfTheSameChainReportsNoDivergence() throws {
        try requireCorpus()
        let appEntry = try function("call_start_cpu0", in: path("\(hello)/hello-world.elf"))
        var files: [String] = []
        for i in 0..<2 {
            let s = try helloSession()
            let debug = DebugController(session: s)
            let f = temporary("same-\(i).txt")
            debug.traceFrom = appEntry
            try debug.traceInstructions(to: f, maxLines: 200_000)
            XCTAssertEqual(s.run(timeoutMilliseconds: 5000).outcome, .stopped)
            files.append(f)
        }
        let r = try TraceDiff.compare(files[0], files[1])
        XCTAssertEqual(r, .identical(lines: 200_000))
        XCTAssertTrue(TraceDiff.report(r, nameA: "a", nameB: "b").hasPrefix("no divergence"))
    }

    /// A 2nd-stage image the ROM loads from flash 0x1000 that reads the MAC from eFuse block 0,
    /// as esp_efuse_mac_get_default does (the corpus apps do not read it while they boot).
    func macReader() throws -> (image: [UInt8], firstRead: UInt32, done: UInt32) {
        let src = """
            .text
            j _start
            .literal_position
            .align 4
        _start:
            entry a1, 32
            movi a2, 0x3ff5a000         # EFUSE_BLK0_RDATA0
        read_mac:
            l32i a3, a2, 4              # RDATA1: MAC bytes 0-3
            l32i a4, a2, 8              # RDATA2: MAC bytes 4-5, CRC
            xor a5, a3, a4
        done:
            j done
        """
        let program = try Assembler.assemble(src, base: 0x4008_0400, file: "mac.S")
        let elf = ELFWriter.executable(code: program.bytes, base: 0x4008_0400, entry: program.entry, symbols: program.symbols)
        let elfPath = temporary("mac.elf")
        FileManager.default.createFile(atPath: elfPath, contents: Data(elf))
        var options = ImageOptions()
        options.flashMode = .dio
        options.flashSize = .mb4
        return (try ElfToImage.convert(path: elfPath, options: options), program.symbols["read_mac"]!, program.symbols["done"]!)
    }

    func testTraceDiffWithDifferentEFuseMACsReportsTheFirstDivergence() throws {
        try requireCorpus()
        let (image, firstRead, done) = try macReader()
        var traces: [String] = []
        for (i, mac) in [[0x24, 0x0A, 0xC4, 0x00, 0x00, 0x01], [0x24, 0x0A, 0xC4, 0x12, 0x34, 0x56]].enumerated() {
            let efuse = temporary("efuse-\(i).bin")
            FileManager.default.createFile(atPath: efuse, contents: Data(EFuse(fuses: EFuse.defaultFuses(mac: mac.map(UInt8.init))).image))
            let s = try Session(romPath: rom, symbolFiles: [romELF], efusePath: efuse, imageAt0x1000: image)
            s.soc.diagnostics.sink = { _ in }
            let debug = DebugController(session: s)
            let f = temporary("mac-\(i).txt")
            debug.traceUntil = done
            try debug.traceInstructions(to: f)
            XCTAssertEqual(s.run(timeoutMilliseconds: 2000).outcome, .stopped, String(decoding: s.output, as: UTF8.self))
            traces.append(f)
        }
        // The same MAC twice: identical.
        let same = try TraceDiff.compare(traces[0], traces[0])
        guard case .identical(let n) = same else { return XCTFail("\(same)") }
        XCTAssertGreaterThan(n, 10_000, "the trace covers the ROM's boot")
        // Different MACs: the whole ROM boot is identical; the first difference is the load of
        // the MAC word.
        let r = try TraceDiff.compare(traces[0], traces[1], options: TraceDiff.Options(context: 3))
        guard case .diverged(let d) = r else { return XCTFail("no divergence reported") }
        let a = d.a[0].split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        let b = d.b[0].split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(a[2], String(firstRead, radix: 16))
        XCTAssertEqual(a[5], "l32i a3, a2, 4")
        XCTAssertEqual(a[6], "a3=c4000001")
        XCTAssertEqual(b[6], "a3=c4123456")
        XCTAssertEqual(a[0..<6], b[0..<6], "the same instruction at the same cycle")
        XCTAssertEqual(d.before.count, 3)
        XCTAssertEqual(d.line, n - 4 + 1, "three lines of the program follow the divergence (the last is `j done`)")
        let report = TraceDiff.report(r, nameA: "a.txt", nameB: "b.txt")
        XCTAssertTrue(report.hasPrefix("traces diverge at line \(d.line)"), report)
        XCTAssertTrue(report.contains("- ") && report.contains("+ ") && report.contains("--- a.txt") && report.contains("+++ b.txt"), report)
    }

    func testTraceDiffOnSmallFiles() throws {
        let a = temporary("diff-a.txt"), b = temporary("diff-b.txt"), c = temporary("diff-c.txt")
        FileManager.default.createFile(atPath: a, contents: Data("0\t1\tx\n0\t2\ty\n0\t3\tz\n".utf8))
        FileManager.default.createFile(atPath: b, contents: Data("0\t1\tx\n0\t9\ty\n0\t3\tw\n".utf8))
        FileManager.default.createFile(atPath: c, contents: Data("0\t1\tx\n".utf8))
        XCTAssertEqual(try TraceDiff.compare(a, a), .identical(lines: 3))
        XCTAssertEqual(try TraceDiff.compare(a, b), .diverged(.init(line: 2, before: ["0\t1\tx"], a: ["0\t2\ty", "0\t3\tz"], b: ["0\t9\ty", "0\t3\tw"])))
        XCTAssertEqual(try TraceDiff.compare(a, b, options: .init(ignoreCycles: true)),
                       .diverged(.init(line: 3, before: ["0\t1\tx", "0\t2\ty"], a: ["0\t3\tz"], b: ["0\t3\tw"])))
        XCTAssertEqual(try TraceDiff.compare(a, c), .diverged(.init(line: 2, before: ["0\t1\tx"], a: ["0\t2\ty", "0\t3\tz"], b: [])))
        XCTAssertTrue(TraceDiff.report(try TraceDiff.compare(a, c), nameA: "a", nameB: "c").contains("(trace ends)"))
        XCTAssertThrowsError(try TraceDiff.compare(a, "/nonexistent/trace"))
    }
}

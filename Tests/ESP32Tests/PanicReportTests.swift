import ESP32
import FirmwareFormats
import Foundation
import XCTest
import XtensaCore

/// Panic reports: ESP-IDF `Backtrace:` lines decoded to `function at file:line` (a corpus app
/// made to store to address 0), and the emulator's own report of a core stopped on a fatal
/// condition (registers and a windowed-ABI backtrace through live and spilled frames).
final class PanicReportTests: XCTestCase {
    func path(_ p: String) -> String { BootChainTests.corpus + "/" + p }
    var rom: String { path("rom/esp32-v3-rom.bin") }
    static let helloDir = "app/idf-v4.2.3-hello_world-guopung"
    static let appMain: UInt32 = 0x400D_2314
    /// movi a8, 0; s32i a8, a8, 0 -- written over app_main's first call (after its ENTRY).
    static let storeToZero: [UInt8] = [0x82, 0xA0, 0x00, 0x82, 0x68, 0x00]

    func requireCorpus() throws {
        guard FileManager.default.fileExists(atPath: rom) else {
            throw XCTSkip("firmware corpus not found at \(BootChainTests.corpus) (set ESP32EMU_FIRMWARE): panic tests skipped")
        }
    }

    func temp(_ name: String, _ bytes: [UInt8]) -> String {
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("esp32emu-\(getpid())-\(name)").path
        FileManager.default.createFile(atPath: p, contents: Data(bytes))
        addTeardownBlock { try? FileManager.default.removeItem(atPath: p) }
        return p
    }

    /// Runs until the panic handler reboots; returns the decoded lines and the UART text.
    func runPanicking(_ s: Session) -> ([String], String) {
        s.soc.diagnostics.sink = { _ in }
        var decoded: [String] = []
        var afterBacktrace = false
        let monitor = s.panicMonitor { line in
            decoded.append(line)
            afterBacktrace = s.output.last == 10
        }
        let r = s.run(expect: ["Rebooting..."], timeoutMilliseconds: 5000, sink: { monitor.feed($0) })
        let text = String(decoding: s.output, as: UTF8.self)
        XCTAssertEqual(r.outcome, .expectedTextSeen, text.suffix(2000).description)
        XCTAssertTrue(afterBacktrace, "decoded lines must come after the whole Backtrace line")
        return (decoded, text)
    }

    func checkDecoded(_ decoded: [String], _ text: String) {
        XCTAssertTrue(text.contains("Guru Meditation Error: Core  0 panic'ed (StoreProhibited)"), text)
        XCTAssertFalse(text.contains("Hello world!"))
        let all = decoded.joined(separator: "\n")
        // The PC line of the register dump and the three backtrace frames.
        XCTAssertTrue(all.contains("--- 0x400d231a: app_main at /home/ping/esp/hello_world/main/hello_world_main.c:18"), all)
        XCTAssertTrue(all.contains("--- 0x400d2317: app_main at /home/ping/esp/hello_world/main/hello_world_main.c:18"), all)
        XCTAssertTrue(all.contains(": main_task at /home/ping/esp/esp-idf/components/esp32/cpu_start.c:"), all)
        XCTAssertTrue(all.contains(": vPortTaskWrapper at /home/ping/esp/esp-idf/components/freertos/xtensa/port.c:"), all)
    }

    /// The app ELF patched (app_main stores to 0), booted directly: its own symbols and DWARF lines decode the backtrace.
    func testPanicInDirectlyBootedELFIsDecoded() throws {
        try requireCorpus()
        let original = path("\(PanicReportTests.helloDir)/hello-world.elf")
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: original)))
        let elf = try ELFFile(bytes: bytes, path: original)
        let text = try XCTUnwrap(elf.sections.first { $0.name == ".flash.text" })
        let start = Int(PanicReportTests.appMain - text.address)
        let needle = Array(text.data[start..<start + 16])
        let hits = (0...(bytes.count - 16)).filter { bytes[$0] == needle[0] && Array(bytes[$0..<$0 + 16]) == needle }
        XCTAssertEqual(hits.count, 1, "app_main's bytes must occur once in the ELF")
        bytes.replaceSubrange((hits[0] + 3)..<(hits[0] + 9), with: PanicReportTests.storeToZero)
        let patched = temp("panic.elf", bytes)
        let s = try Session(romPath: rom, appELF: patched)
        let (decoded, out) = runPanicking(s)
        checkDecoded(decoded, out)
    }

    /// The app image patched the same way, its checksum and SHA-256 recomputed so the real
    /// bootloader accepts it; the backtrace is decoded from the --symbols ELF.
    func testPanicThroughTheBootloaderIsDecodedFromSymbolsELF() throws {
        try requireCorpus()
        let binPath = path("\(PanicReportTests.helloDir)/hello-world.bin")
        var bin = [UInt8](try Data(contentsOf: URL(fileURLWithPath: binPath)))
        let image = try ESPImage(bytes: bin, path: binPath)
        let seg = try XCTUnwrap(image.segments.first {
            $0.loadAddress <= PanicReportTests.appMain && PanicReportTests.appMain < $0.loadAddress + UInt32($0.length)
        })
        let at = seg.headerOffset + 8 + Int(PanicReportTests.appMain - seg.loadAddress) + 3
        bin.replaceSubrange(at..<(at + 6), with: PanicReportTests.storeToZero)
        var checksum = ESPImage.checksumSeed
        for s in try ESPImage(bytes: bin, path: binPath).segments { for b in s.data { checksum ^= b } }
        bin[image.checksumOffset] = checksum
        XCTAssertTrue(image.hashAppended)
        bin.replaceSubrange((image.checksumOffset + 1)..<(image.checksumOffset + 33), with: Digest.sha256(Array(bin[0...image.checksumOffset])))
        let check = try ESPImage(bytes: bin, path: "patched")
        XCTAssertTrue(check.checksumValid)
        XCTAssertEqual(check.digestValid, true)
        let patched = temp("panic.bin", bin)
        let s = try Session(romPath: rom, parts: [Session.Part(offset: 0x1000, path: path("\(PanicReportTests.helloDir)/bootloader.bin")),
                                                  Session.Part(offset: 0x8000, path: path("\(PanicReportTests.helloDir)/partitions_singleapp.bin")),
                                                  Session.Part(offset: 0x10000, path: patched)],
                            symbolFiles: [path("\(PanicReportTests.helloDir)/hello-world.elf")])
        let (decoded, out) = runPanicking(s)
        XCTAssertTrue(out.contains("2nd stage bootloader"))
        checkDecoded(decoded, out)
    }

    func testBacktraceLineParsing() {
        // IDF v4 (no space), v5 (space, CORRUPTED marker), colours, CR.
        XCTAssertEqual(PanicMonitor.addresses(inLine: "Backtrace:0x400d2317:0x3ffb4690 0x400d0b86:0x3ffb46c0 0x400868e9:0x3ffb46f0\r"),
                       [0x400D_2317, 0x400D_0B86, 0x4008_68E9])
        XCTAssertEqual(PanicMonitor.addresses(inLine: "\u{1B}[0;31mBacktrace: 0x4008172e:0x3ffe3d50 0x400d1cfe:0x00000001 |<-CORRUPTED\u{1B}[0m"),
                       [0x4008_172E, 0x400D_1CFE])
        XCTAssertEqual(PanicMonitor.addresses(inLine: "abort() was called at PC 0x400d6b2d on core 1"), [0x400D_6B2D])
        XCTAssertEqual(PanicMonitor.addresses(inLine: "PC      : 0x400d231a  PS      : 0x00060330  A0      : 0x800d0b89"), [0x400D_231A])
        XCTAssertEqual(PanicMonitor.addresses(inLine: "Hello 0x400d2317:0x3ffb4690"), [])
    }

    // MARK: The emulator's report of a fatal stop

    /// A bare-metal program: window overflow handlers at VECBASE, then `recurse(12)`, which at
    /// depth 0 either waits with interrupts off (both CPUs halted) or reads an unmodelled register.
    static func fatalProgram(unmodelledRead: Bool) throws -> [UInt8] {
        let bottom = unmodelledRead ? "movi a3, 0x3FF7F000\n    l32i a3, a3, 0\n    j 1b" : "movi a3, 0\n    wsr.intenable a3\n    waiti 0\n    j 1b"
        let src = """
            .text
            .org 0x00
        _WindowOverflow4:
            s32e a0, a5, -16
            s32e a1, a5, -12
            s32e a2, a5, -8
            s32e a3, a5, -4
            rfwo
            .org 0x80
        _WindowOverflow8:
            s32e a0, a9, -16
            l32e a0, a1, -12
            s32e a1, a9, -12
            s32e a2, a9, -8
            s32e a3, a9, -4
            s32e a4, a0, -32
            s32e a5, a0, -28
            s32e a6, a0, -24
            s32e a7, a0, -20
            rfwo
            .org 0x200
            .literal_position
            .align 4
        start:
            entry a1, 32
            movi a2, 0x40080000
            wsr.vecbase a2
            rsync
            movi a10, 12
            call8 recurse
            .align 4
        recurse:
            entry a1, 48
            beqz a2, 1f
            addi a10, a2, -1
            call8 recurse
        1:
            \(bottom)
        """
        let p = try Assembler.assemble(src, base: 0x4008_0000, file: "fatal.S")
        return ELFWriter.executable(code: p.bytes, base: 0x4008_0000, entry: p.symbols["start"]!, symbols: p.symbols)
    }

    /// An exception inside the double-exception vector would repeat for ever: a fatal stop.
    func testDoubleExceptionLoopStopsWithAReport() throws {
        let src = """
            j _start
            .literal_position
            .align 4
        _start:
            entry a1, 32
            movi a2, 0x40090000
            wsr.vecbase a2
            rsync
            ill
        """
        let p = try Assembler.assemble(src, base: 0x4008_0400, file: "dbl.S")
        let elf = temp("dbl.elf", ELFWriter.executable(code: p.bytes, base: 0x4008_0400, entry: p.symbols["_start"]!, symbols: p.symbols))
        let s = try Session(romPath: nil, appELF: elf)
        s.soc.diagnostics.sink = { _ in }
        let r = s.run(timeoutMilliseconds: 1000)
        guard case .fatal(let msg) = r.outcome else { return XCTFail("expected a fatal stop, got \(r.outcome)") }
        XCTAssertTrue(msg.hasPrefix("PRO CPU: double exception loop: IllegalInstruction at 0x400903c0"), msg)
        let text = s.coreReport().joined(separator: "\n")
        XCTAssertTrue(text.contains("in an exception handler (PS.EXCM)"), text)
        XCTAssertTrue(text.contains("EPC1=0x4008040c (_start+0xc)") || text.contains("(_start+0x"), text)
        XCTAssertTrue(text.contains("DEPC=0x400903c0"), text)
    }

    func testFatalStopReportsRegistersAndWindowedBacktrace() throws {
        let elf = temp("fatal.elf", try PanicReportTests.fatalProgram(unmodelledRead: false))
        let s = try Session(romPath: nil, appELF: elf)
        s.soc.diagnostics.sink = { _ in }
        let r = s.run(timeoutMilliseconds: 1000)
        guard case .fatal(let msg) = r.outcome else { return XCTFail("expected a fatal stop, got \(r.outcome)") }
        XCTAssertTrue(msg.contains("halted"), msg)
        let report = s.coreReport()
        let text = report.joined(separator: "\n")
        XCTAssertTrue(report[0].hasPrefix("core 0 (PRO CPU), waiting in WAITI: PC=0x"), text)
        XCTAssertTrue(report[0].contains("(recurse+0x"), text)
        XCTAssertTrue(text.contains("EXCCAUSE="), text)
        XCTAssertTrue(text.contains("WINDOWSTART="), text)
        XCTAssertTrue(text.contains("a15="), text)
        // 13 recurse frames (12 ... 0), then start: most are spilled to the stack by the overflow handler.
        let frames = report.filter { $0.hasPrefix("    #") }
        XCTAssertEqual(frames.count, 14, text)
        XCTAssertEqual(frames.filter { $0.contains("(recurse+0x") }.count, 13, text)
        XCTAssertTrue(frames.last!.contains("(start+0x"), text)
        let bt = try XCTUnwrap(report.first { $0.hasPrefix("  Backtrace: ") })
        XCTAssertFalse(bt.contains("CORRUPTED"), bt)
        // The walk through live registers and through memory agree with the frames' stack pointers.
        let (walk, complete) = WindowedBacktrace.walk(s.soc.cores[0])
        XCTAssertTrue(complete)
        for k in 1..<walk.count { XCTAssertGreaterThan(walk[k].sp, walk[k - 1].sp) }
        XCTAssertEqual(walk.last!.sp, DirectBoot.appStack - 32)
    }
}

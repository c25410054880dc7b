import ESP32
import FirmwareFormats
import Foundation
import XCTest
import XtensaCore

/// The bundled demo (Images/demo.S -> Images/demo.bin) is reproducible and runs with and without a ROM.
final class DemoTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testCommittedImageIsTheAssembledSource() throws {
        let src = try String(contentsOf: DemoTests.root.appendingPathComponent("Images/demo.S"), encoding: .utf8)
        let program = try Assembler.assemble(src, base: 0x4008_0400, file: "demo.S")
        let elf = ELFWriter.executable(code: program.bytes, base: 0x4008_0400, entry: program.entry, symbols: program.symbols)
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("demo-\(getpid()).elf").path
        FileManager.default.createFile(atPath: tmp, contents: Data(elf))
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        var options = ImageOptions()
        options.flashMode = .dio
        options.flashSize = .mb4
        let image = try ElfToImage.convert(path: tmp, options: options)
        let committed = [UInt8](try Data(contentsOf: DemoTests.root.appendingPathComponent("Images/demo.bin")))
        XCTAssertEqual(image, committed, "Images/demo.bin is stale: run Images/build.sh")
    }

    func run(rom: String?) throws -> String {
        let image = [UInt8](try Data(contentsOf: DemoTests.root.appendingPathComponent("Images/demo.bin")))
        let s = try Session(romPath: rom, imageAt0x1000: image, directStartPath: rom == nil ? "demo.bin" : nil)
        s.soc.diagnostics.sink = { _ in }
        let r = s.run(expect: ["demo done"], timeoutMilliseconds: 5000)
        XCTAssertEqual(r.outcome, .expectedTextSeen)
        return String(decoding: s.output, as: UTF8.self)
    }

    func testDemoWithoutROM() throws {
        let text = try run(rom: nil)
        XCTAssertTrue(text.contains("first primes: 2 3 5 7 11 13 17 19 23 29 31 37 41 43 47 53"))
        XCTAssertTrue(text.contains("fib(24) = 46368"))
        XCTAssertTrue(text.contains("1.0f / 3.0f = 0x3eaaaaab"))
    }

    func testDemoThroughTheROM() throws {
        let rom = BootChainTests.corpus + "/rom/esp32-v3-rom.bin"
        guard FileManager.default.fileExists(atPath: rom) else { throw XCTSkip("no ROM in \(BootChainTests.corpus): demo-through-ROM test skipped") }
        let text = try run(rom: rom)
        XCTAssertTrue(text.contains("rst:0x1 (POWERON_RESET)"))
        XCTAssertTrue(text.contains("fib(24) = 46368"))
    }
}

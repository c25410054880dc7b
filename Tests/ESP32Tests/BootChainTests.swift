import ESP32
import FirmwareFormats
import Foundation
import XCTest

/// Boots the real firmware corpus from power-on through the v3 mask ROM (MANIFEST.md,
/// "Complete boot chains"). Skipped with a message where the corpus is absent.
final class BootChainTests: XCTestCase {
    static let corpus: String = {
        if let env = ProcessInfo.processInfo.environment["ESP32EMU_FIRMWARE"], !env.isEmpty { return env }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.deletingLastPathComponent().appendingPathComponent("shared/firmware").path
    }()

    func path(_ p: String) -> String { BootChainTests.corpus + "/" + p }

    var rom: String { path("rom/esp32-v3-rom.bin") }

    override func setUpWithError() throws {
        guard FileManager.default.fileExists(atPath: rom) else {
            throw XCTSkip("firmware corpus not found at \(BootChainTests.corpus) (set ESP32EMU_FIRMWARE): boot-chain tests skipped")
        }
    }

    /// Boots and returns the UART0 text; fails unless every expected text appears in order
    /// within `timeout` simulated milliseconds.
    @discardableResult
    func boot(image: [UInt8] = [], parts: [(Int, String)], expect: [String], timeout: UInt64 = 15_000,
              shortcuts: Bool = true,
              file: StaticString = #filePath, line: UInt = #line) throws -> (String, Session.Result) {
        let s = try Session(romPath: rom, image: image, parts: parts.map { Session.Part(offset: $0.0, path: $0.1) })
        s.soc.diagnostics.sink = { _ in }
        s.soc.shortcuts = shortcuts
        let r = s.run(expect: expect, ordered: true, timeoutMilliseconds: timeout)
        let text = String(decoding: s.output, as: UTF8.self)
        XCTAssertEqual(r.outcome, .expectedTextSeen, "expected \(expect); output:\n\(text.suffix(3000))", file: file, line: line)
        return (text, r)
    }

    func testROMAloneWithEmptyFlashPrintsBannerAndInvalidHeader() throws {
        try boot(parts: [], expect: ["ets Jul 29 2019 12:21:46", "rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)",
                                     "invalid header: 0xffffffff", "invalid header: 0xffffffff"], timeout: 2000)
    }

    func hello(_ dir: String, app: String = "hello-world.bin", table: String? = nil) -> [(Int, String)] {
        [(0x1000, path("app/\(dir)/bootloader.bin")),
         (0x8000, table.map(path) ?? path("app/\(dir)/partitions_singleapp.bin")),
         (0x10000, path("app/\(dir)/\(app)"))]
    }

    func testHelloWorldV423RunsToRestartAndBootsAgain() throws {
        try boot(parts: hello("idf-v4.2.3-hello_world-guopung"),
                 expect: ["2nd stage bootloader", "Hello world!", "This is esp32 chip with 2 CPU cores, WiFi/BT/BLE, silicon revision 3",
                          "Restarting in 10 seconds...", "Restarting in 0 seconds...", "Restarting now.",
                          "rst:0xc (SW_CPU_RESET)", "2nd stage bootloader"])
    }

    func testHelloWorldV512() throws {
        try boot(parts: hello("idf-v5.1.2-hello_world-ErisdarDemo", app: "hello_world.bin",
                              table: "app/idf-v4.2.3-hello_world-guopung/partitions_singleapp.bin"),
                 expect: ["2nd stage bootloader", "Hello world!", "This is esp32 chip with 2 CPU core(s), WiFi/BTBLE, silicon revision v3.0",
                          "Restarting in 10 seconds...", "Restarting now.", "rst:0xc (SW_CPU_RESET)", "2nd stage bootloader"])
    }

    func testHelloWorldV20() throws {
        try boot(parts: hello("idf-v2.0-hello_world-aignacio"),
                 expect: ["Hello world!", "This is ESP32 chip with 2 CPU cores, WiFi/BT/BLE", "Restarting in 10 seconds...",
                          "Restarting now.", "ets Jul 29 2019 12:21:46"])
    }

    func testHelloWorldV31() throws {
        try boot(parts: hello("idf-v3-hello_world-gjyoung1974"),
                 expect: ["Hello world!", "This is ESP32 chip with 2 CPU cores, WiFi/BT/BLE", "Hello World. 1\r\n", "Hello World. 2\r\n"], timeout: 3000)
    }

    func testZephyr() throws {
        let dir = "app/zephyr-esp32-devkitc-wrover-Brunoarico"
        try boot(parts: [(0x1000, path("\(dir)/bootloader.bin")), (0x8000, path("\(dir)/partitions_singleapp.bin")),
                         (0x10000, path("\(dir)/zephyr.bin"))],
                 expect: ["*** Booting Zephyr OS build zephyr-v3.4.0-2453-g77698e8a2235 ***",
                          "Thread A running on cpu 0 turn led ON", "Thread B running on cpu 0"], timeout: 5000)
    }

    func rustImage() throws -> String {
        var options = ImageOptions()
        options.flashMode = .dio
        options.flashSize = .mb4
        options.useSegments = true
        let image = try ElfToImage.convert(path: path("app/rust-esp-hal-espflash-testdata/esp32.elf"), options: options)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("esp32emu-rust-\(getpid()).bin").path
        FileManager.default.createFile(atPath: out, contents: Data(image))
        return out
    }

    func testRustEspHalHello() throws {
        let app = try rustImage()
        defer { try? FileManager.default.removeItem(atPath: app) }
        let b = "bootloader/idf-v5.5.1-Laurentinoo"
        try boot(parts: [(0x1000, path("\(b)/bootloader.bin")), (0x8000, path("\(b)/partition-table.bin")), (0x10000, app)],
                 expect: ["INFO - Hello world!", "INFO - Hello world!"], timeout: 5000)
    }

    func testMergedBlinkImages() throws {
        for f in ["merged/idf-v5.3-blink-qemu-OOHehir/flash_image.bin", "merged/idf-v6.1dev-blink-dht-qemu-zruv/qemu_flash.bin"] {
            let image = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(f))))
            try boot(image: image, parts: [], expect: ["Turning the LED ON!", "Turning the LED OFF!"], timeout: 5000)
        }
    }

    func testEveryBootloaderBootsAnApp() throws {
        let singleapp = path("app/idf-v4.2.3-hello_world-guopung/partitions_singleapp.bin")
        let hello = path("app/idf-v4.2.3-hello_world-guopung/hello-world.bin")
        let cases: [(String, [(Int, String)])] = [
            ("bootloader/arduino-esp32-1.0.6-idf-v3.3/bootloader_dio_40m.bin",
             [(0x8000, path("bootloader/arduino-esp32-1.0.6-idf-v3.3/default.bin")), (0xE000, path("bootloader/arduino-esp32-1.0.6-idf-v3.3/boot_app0.bin"))]),
            ("bootloader/arduino-esp32-1.0.6-idf-v3.3/bootloader_qio_80m.bin",
             [(0x8000, path("bootloader/arduino-esp32-1.0.6-idf-v3.3/default.bin")), (0xE000, path("bootloader/arduino-esp32-1.0.6-idf-v3.3/boot_app0.bin"))]),
            ("bootloader/espflash-2020-09/bootloader.bin", [(0x8000, path("bootloader/espflash-2020-09/partitions.bin"))]),
            ("bootloader/espflash-2022-10/esp32-bootloader.bin", [(0x8000, singleapp)]),
            ("bootloader/espflash-2023-06/esp32-bootloader.bin", [(0x8000, singleapp)]),
            ("bootloader/idf-v5.4-espflash/esp32-bootloader.bin", [(0x8000, singleapp)]),
            ("bootloader/idf-v5.5-espflash/esp32-bootloader.bin", [(0x8000, singleapp)]),
        ]
        for (bl, rest) in cases {
            try boot(parts: [(0x1000, path(bl))] + rest + [(0x10000, hello)], expect: ["Hello world!"], timeout: 5000)
        }
        // The v5.5.1 bootloader was built single-core: it maps flash for the PRO CPU only, so it
        // boots the single-core Rust app (a dual-core app's APP CPU would find no flash mapping,
        // as on silicon).
        let rust = try rustImage()
        defer { try? FileManager.default.removeItem(atPath: rust) }
        try boot(parts: [(0x1000, path("bootloader/idf-v5.5.1-Laurentinoo/bootloader.bin")),
                         (0x8000, path("bootloader/idf-v5.5.1-Laurentinoo/partition-table.bin")), (0x10000, rust)],
                 expect: ["Hello world!"], timeout: 5000)
    }

    func testArduino2BootloaderWithHeaderPatchedToDIO() throws {
        // Its header says QIO/1MB (Arduino rewrites it at flash time): patch bytes 2-3 as esptool would.
        var bl = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path("bootloader/arduino-esp32-2.x-idf-v4.4.2-chegewara/bootloader_dio_40m.bin"))))
        bl[2] = 0x02; bl[3] = 0x20
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("esp32emu-bl-\(getpid()).bin").path
        FileManager.default.createFile(atPath: tmp, contents: Data(bl))
        defer { try? FileManager.default.removeItem(atPath: tmp) }
        try boot(parts: [(0x1000, tmp), (0x8000, path("app/idf-v4.2.3-hello_world-guopung/partitions_singleapp.bin")),
                         (0x10000, path("app/idf-v4.2.3-hello_world-guopung/hello-world.bin"))], expect: ["Hello world!"], timeout: 5000)
    }

    func testSameChainTwiceIsByteIdenticalWithTheSameInstructionCount() throws {
        var results: [(String, UInt64)] = []
        for _ in 0..<2 {
            let (text, r) = try boot(parts: hello("idf-v4.2.3-hello_world-guopung"), expect: ["Restarting in 8 seconds..."])
            results.append((text, r.instructions))
        }
        XCTAssertEqual(results[0].0, results[1].0)
        XCTAssertEqual(results[0].1, results[1].1)
        XCTAssertGreaterThan(results[0].1, 1_000_000)
    }

    /// The interpreter's shortcuts (carried predecode slots, busy-wait skips) change nothing the
    /// guest or the user sees: the same UART bytes, instruction count and simulated time as the
    /// plain path, through ROM, bootloader, both cores' FreeRTOS start and the app's countdown.
    func testShortcutsChangeNeitherOutputNorInstructionCount() throws {
        var results: [(String, Session.Result)] = []
        for shortcuts in [true, false] {
            results.append(try boot(parts: hello("idf-v4.2.3-hello_world-guopung"), expect: ["Restarting in 9 seconds..."],
                                    shortcuts: shortcuts))
        }
        XCTAssertEqual(results[0].0, results[1].0)
        XCTAssertEqual(results[0].1.instructions, results[1].1.instructions)
        XCTAssertEqual(results[0].1.cycles, results[1].1.cycles)
        XCTAssertGreaterThan(results[0].1.instructions, 2_000_000)
    }

    /// Zephyr to its first thread line: call-heavy windowed code, 2 million RNG reads (MMIO
    /// ends a block) and system timer ticks, in straight-line blocks and one at a time.
    func testShortcutsChangeNothingInZephyr() throws {
        let dir = "app/zephyr-esp32-devkitc-wrover-Brunoarico"
        let parts = [(0x1000, path("\(dir)/bootloader.bin")), (0x8000, path("\(dir)/partitions_singleapp.bin")),
                     (0x10000, path("\(dir)/zephyr.bin"))]
        var results: [(String, Session.Result)] = []
        for shortcuts in [true, false] {
            results.append(try boot(parts: parts, expect: ["Thread A running on cpu 0"], shortcuts: shortcuts))
        }
        XCTAssertEqual(results[0].0, results[1].0)
        XCTAssertEqual(results[0].1.instructions, results[1].1.instructions)
        XCTAssertEqual(results[0].1.cycles, results[1].1.cycles)
        XCTAssertGreaterThan(results[0].1.instructions, 100_000_000)
    }
}

import ESP32
import FirmwareFormats
import Foundation
import XCTest
import XtensaCore

/// `esp32emu run APP.elf`: app ELFs from the corpus booted without their 2nd-stage bootloader
/// (DirectBoot: the ROM boots a generated stub that loads the app like a bootloader).
final class DirectBootTests: XCTestCase {
    func path(_ p: String) -> String { BootChainTests.corpus + "/" + p }
    var rom: String { path("rom/esp32-v3-rom.bin") }

    override func setUpWithError() throws {
        guard FileManager.default.fileExists(atPath: rom) else {
            throw XCTSkip("firmware corpus not found at \(BootChainTests.corpus) (set ESP32EMU_FIRMWARE): direct-boot tests skipped")
        }
    }

    @discardableResult
    func boot(elf: String, expect: [String], timeout: UInt64 = 5000, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let s = try Session(romPath: rom, appELF: path(elf))
        s.soc.diagnostics.sink = { _ in }
        let r = s.run(expect: expect, ordered: true, timeoutMilliseconds: timeout)
        let text = String(decoding: s.output, as: UTF8.self)
        XCTAssertEqual(r.outcome, .expectedTextSeen, "\(elf): expected \(expect); output:\n\(text.suffix(3000))", file: file, line: line)
        return text
    }

    func testHelloWorldV423ELF() throws {
        try boot(elf: "app/idf-v4.2.3-hello_world-guopung/hello-world.elf",
                 expect: ["entry 0x4007", "cpu_start: Starting scheduler on APP CPU.", "Hello world!",
                          "This is esp32 chip with 2 CPU cores, WiFi/BT/BLE, silicon revision 3", "Restarting in 9 seconds..."])
    }

    func testHelloWorldV512ELF() throws {
        try boot(elf: "app/idf-v5.1.2-hello_world-ErisdarDemo/hello_world.elf",
                 expect: ["app_start: Starting scheduler on CPU1", "Hello world!",
                          "This is esp32 chip with 2 CPU core(s), WiFi/BTBLE, silicon revision v3.0", "Restarting in 9 seconds..."])
    }

    /// The direct boot survives esp_restart(): the ROM loads the stub again and the app restarts.
    func testV423ELFRestartsThroughTheStub() throws {
        try boot(elf: "app/idf-v4.2.3-hello_world-guopung/hello-world.elf",
                 expect: ["Hello world!", "Restarting now.", "rst:0xc (SW_CPU_RESET)", "Hello world!"], timeout: 15_000)
    }

    func testOtherCorpusELFs() throws {
        try boot(elf: "app/idf-v2.0-hello_world-aignacio/hello-world.elf", expect: ["Hello world!", "Restarting in 9 seconds..."])
        try boot(elf: "app/idf-v3-hello_world-gjyoung1974/hello-world.elf", expect: ["Hello world!", "Hello World. 1"])
        try boot(elf: "app/zephyr-esp32-devkitc-wrover-Brunoarico/zephyr.elf",
                 expect: ["*** Booting Zephyr OS build", "Thread B running on cpu 0"])
        try boot(elf: "app/rust-esp-hal-espflash-testdata/esp32.elf", expect: ["INFO - Hello world!", "INFO - Hello world!"])
        try boot(elf: "merged/idf-v5.3-blink-qemu-OOHehir/blink.elf", expect: ["Turning the LED ON!"])
    }

    /// The acceptance test: `esp32emu run hello-world.elf` (the built executable) prints Hello world!.
    func testCommandLineRunsTheELFs() throws {
        for elf in ["app/idf-v4.2.3-hello_world-guopung/hello-world.elf", "app/idf-v5.1.2-hello_world-ErisdarDemo/hello_world.elf"] {
            let r = try CLITool.run(["run", path(elf), "--rom", rom, "--expect-text", "Hello world!", "--timeout", "5000"])
            XCTAssertEqual(r.status, 0, "\(elf): \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("Hello world!"), r.stdout)
        }
    }

    /// Root cause of the old failure: the ROM starts both CPUs on the stack at 0x3FFE3F20, and the
    /// APP CPU runs its early init there while the PRO CPU is still on its startup stack. The
    /// stub must enter the app on a stack well below that (a real bootloader's dead frames give
    /// the same separation), with the ROM's frames discarded.
    func testStubEntersTheAppOnAStackApartFromTheAppCPUROMStack() throws {
        let elfPath = path("app/idf-v5.1.2-hello_world-ErisdarDemo/hello_world.elf")
        let entry = try ELFFile(path: elfPath).entry
        let s = try Session(romPath: rom, appELF: elfPath)
        s.soc.diagnostics.sink = { _ in }
        // Through the ROM in coarse steps until the PRO CPU runs the stub, then one cycle at a time.
        let pro = s.soc.cores[0]
        var steps = 0
        while !(DirectBoot.stubAddress..<0x4008_0000).contains(pro.pc) && steps < 2000 { _ = s.soc.run(cycles: 5_000); steps += 1 }
        steps = 0
        while pro.pc != entry && steps < 2_000_000 { _ = s.soc.run(cycles: 1); steps += 1 }
        XCTAssertEqual(pro.pc, entry, "the stub never reached the app entry")
        let c = s.soc.cores[0]
        XCTAssertEqual(c.ar(1), DirectBoot.appStack)
        XCTAssertLessThanOrEqual(DirectBoot.appStack + 0x800, 0x3FFE_3F20)
        // Only the stub's window is live: no spill can reach the ROM's stack.
        let wb = c.specialRegister(SR.windowbase) ?? 0
        XCTAssertEqual(c.specialRegister(SR.windowstart), 1 << wb)
    }
}

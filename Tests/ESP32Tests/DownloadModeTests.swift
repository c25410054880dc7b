import ESP32
import Foundation
import XCTest

// Download mode (issue 4): the real v3 ROM, strapped for DOWNLOAD_BOOT, serves the real esptool
// over `--uart0 tcp:PORT`: chip id, MAC, flash id, read/write/erase of flash with and without the
// flasher stub; the written flash persists and boots. Needs the firmware corpus, the built
// esp32emu and Python with esptool; skips with a message otherwise.

final class DownloadModeTests: XCTestCase {
    var cli = ""
    var python = ""
    var dir = URL(fileURLWithPath: "/")

    var rom: String { BootChainTests.corpus + "/rom/esp32-v3-rom.bin" }
    var appDir: String { BootChainTests.corpus + "/app/idf-v4.2.3-hello_world-guopung" }

    override func setUpWithError() throws {
        guard FileManager.default.fileExists(atPath: rom) else {
            throw XCTSkip("firmware corpus not found at \(BootChainTests.corpus) (set ESP32EMU_FIRMWARE): download-mode tests skipped")
        }
        cli = try SerialTestEnv.cli()
        python = try SerialTestEnv.python()
        dir = try SerialTestEnv.tempDir()
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: dir)
    }

    /// A flash image with the v4.2.3 bootloader at 0x1000 and its partition table at 0x8000, no app.
    func baseImage() throws -> [UInt8] {
        var image = [UInt8](repeating: 0xFF, count: 0x9000)
        let boot = try XCTUnwrap(FileManager.default.contents(atPath: appDir + "/bootloader.bin"))
        let table = try XCTUnwrap(FileManager.default.contents(atPath: appDir + "/partitions_singleapp.bin"))
        image.replaceSubrange(0x1000..<(0x1000 + boot.count), with: boot)
        image.replaceSubrange(0x8000..<(0x8000 + table.count), with: table)
        return image
    }

    /// Starts the emulator in download mode on `flash` (persisted) and returns it with its port.
    func startDownloadMode(flash: String) throws -> (SerialTestEnv.Emulator, UInt16) {
        let emu = try SerialTestEnv.Emulator(cli, ["run", flash, "--rom", rom, "--boot-mode", "download",
                                                   "--uart0", "tcp:0", "--flash-persist"])
        let port = try emu.port()
        try emu.waitForOutput("rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\nwaiting for download\r\n")
        return (emu, port)
    }

    /// Runs esptool against the port; fails the test unless it exits 0.
    @discardableResult
    func esptool(_ port: UInt16, _ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let r = try SerialTestEnv.run(python, ["-m", "esptool", "--port", "socket://127.0.0.1:\(port)", "--before", "no-reset",
                                               "--after", "no-reset", "--chip", "esp32"] + args, timeout: 180)
        XCTAssertEqual(r.status, 0, "esptool \(args.joined(separator: " ")) failed:\n\(r.out)\n\(r.err)", file: file, line: line)
        return r.out + r.err
    }

    func assertContains(_ text: String, _ parts: [String], file: StaticString = #filePath, line: UInt = #line) {
        for p in parts where !text.contains(p) { XCTFail("missing '\(p)' in:\n\(text)", file: file, line: line) }
    }

    /// After the session: the persisted flash boots the app through the ROM and its bootloader.
    func assertBootsHelloWorld(_ flash: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try SerialTestEnv.run(cli, ["run", flash, "--rom", rom, "--expect-text", "Hello world!", "--timeout", "10000"])
        XCTAssertEqual(r.status, 0, "the written app did not boot:\n\(r.out.suffix(3000))\n\(r.err)", file: file, line: line)
    }

    func testEsptoolWithTheStub() throws {
        let image = try baseImage()
        let flash = dir.appendingPathComponent("flash.bin").path
        FileManager.default.createFile(atPath: flash, contents: Data(image))
        let (emu, port) = try startDownloadMode(flash: flash)

        assertContains(try esptool(port, ["chip-id"]),
                       ["Chip type:          ESP32-D0WD-V3 (revision v3.0)", "Stub flasher running.", "MAC:                24:0a:c4:00:00:01"])
        assertContains(try esptool(port, ["read-mac"]), ["MAC:                24:0a:c4:00:00:01"])
        assertContains(try esptool(port, ["flash-id"]), ["Manufacturer: c8", "Device: 4016", "Detected flash size: 4MB"])

        let out = dir.appendingPathComponent("out.bin").path
        try esptool(port, ["read-flash", "0", "4096", out])
        XCTAssertEqual(FileManager.default.contents(atPath: out).map { [UInt8]($0) }, Array(image[0..<4096]))

        assertContains(try esptool(port, ["write-flash", "0x10000", appDir + "/hello-world.bin"]),
                       ["Wrote 154672 bytes", "Hash of data verified."])

        // A pattern written, read back at 921600 baud (the stub changes the UART divider), erased.
        let pattern = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
        let patternFile = dir.appendingPathComponent("pattern.bin").path
        FileManager.default.createFile(atPath: patternFile, contents: Data(pattern))
        try esptool(port, ["write-flash", "0x200000", patternFile])
        assertContains(try esptool(port, ["--baud", "921600", "read-flash", "0x200000", "4096", out]), ["Changed."])
        XCTAssertEqual(FileManager.default.contents(atPath: out).map { [UInt8]($0) }, pattern)
        try esptool(port, ["erase-region", "0x200000", "0x1000"])
        try esptool(port, ["read-flash", "0x200000", "4096", out])
        XCTAssertEqual(FileManager.default.contents(atPath: out).map { [UInt8]($0) }, [UInt8](repeating: 0xFF, count: 4096))

        emu.stop()
        let persisted = try XCTUnwrap(FileManager.default.contents(atPath: flash))
        XCTAssertEqual(persisted.count, 4 << 20)
        XCTAssertEqual([UInt8](persisted[0x1000..<0x9000]), Array(image[0x1000..<0x9000]))
        try assertBootsHelloWorld(flash)
    }

    func testEsptoolWithoutTheStub() throws {
        let image = try baseImage()
        let flash = dir.appendingPathComponent("flash.bin").path
        FileManager.default.createFile(atPath: flash, contents: Data(image))
        let (emu, port) = try startDownloadMode(flash: flash)

        let id = try esptool(port, ["--no-stub", "chip-id"])
        assertContains(id, ["Chip type:          ESP32-D0WD-V3 (revision v3.0)", "MAC:                24:0a:c4:00:00:01"])
        XCTAssertFalse(id.contains("Stub flasher running"))
        assertContains(try esptool(port, ["--no-stub", "flash-id"]), ["Manufacturer: c8", "Device: 4016"])
        let out = dir.appendingPathComponent("out.bin").path
        try esptool(port, ["--no-stub", "read-flash", "0x1000", "4096", out])
        XCTAssertEqual(FileManager.default.contents(atPath: out).map { [UInt8]($0) }, Array(image[0x1000..<0x2000]))
        assertContains(try esptool(port, ["--no-stub", "write-flash", "0x10000", appDir + "/hello-world.bin"]),
                       ["Wrote 154672 bytes", "Hash of data verified."])
        try esptool(port, ["--no-stub", "erase-region", "0x9000", "0x1000"])
        emu.stop()
        try assertBootsHelloWorld(flash)
    }

    /// The idle rule, in process: the ROM's download loop waits for the host with simulated time
    /// stopped, so a client that answers late gives exactly the same run as a quick one.
    func testDownloadProtocolRunDoesNotDependOnHostTiming() throws {
        func session(clientDelay: Double) throws -> (UInt64, UInt64, [UInt8], Int) {
            let s = try Session(romPath: rom)
            s.soc.diagnostics.sink = { _ in }
            s.soc.gpio.strapping = 0x03
            let hub = SerialHub(session: s)
            let port = try hub.listen(uart: 0, port: 0)
            let finished = Flag()
            let client = Thread {
                defer { finished.set() }
                guard let c = try? SerialTestEnv.Client(port: port) else { return }
                Thread.sleep(forTimeInterval: clientDelay)
                // SYNC until the ROM answers (the first one may go to its baud-rate detection),
                // then READ_REG of EFUSE_BLK0_RDATA2 (MAC), each sent only while the ROM waits.
                var frames: [[UInt8]] = []
                for _ in 0..<10 where !frames.contains(where: { $0.starts(with: [0x01, 0x08]) }) {
                    c.send(DownloadModeTests.slip(command: 0x08, data: [0x07, 0x07, 0x12, 0x20] + [UInt8](repeating: 0x55, count: 32)))
                    frames = DownloadModeTests.frames(c.receive(1 << 16, timeout: 0.5))
                }
                c.send(DownloadModeTests.slip(command: 0x0A, data: [0x08, 0xA0, 0xF5, 0x3F]))
                _ = c.receive(1 << 16, timeout: 0.5)
            }
            client.start()
            s.services.append { sess in if finished.isSet && hub.waitingForInput { sess.stopRequested = true } }
            let r = s.run(timeoutMilliseconds: 30_000)
            XCTAssertEqual(r.outcome, .stopped)
            return (s.instructionCount, s.soc.simulatedMilliseconds, s.output, hub.waits)
        }
        let quick = try session(clientDelay: 0)
        let late = try session(clientDelay: 0.7)
        XCTAssertEqual(quick.0, late.0, "instructions")
        XCTAssertEqual(quick.1, late.1, "simulated time")
        XCTAssertEqual(quick.2, late.2, "UART0 output")
        XCTAssertGreaterThan(quick.3, 1, "the emulator waited for the host")
        let text = String(decoding: quick.2, as: UTF8.self)
        XCTAssertTrue(text.contains("waiting for download"), text)
        // SYNC responses and the READ_REG response (value in bytes 4-7) came back.
        let frames = DownloadModeTests.frames(quick.2)
        XCTAssertTrue(frames.contains { $0.starts(with: [0x01, 0x08]) }, "no SYNC response")
        XCTAssertTrue(frames.contains { $0.starts(with: [0x01, 0x0A]) }, "no READ_REG response")
    }

    final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        func set() { lock.lock(); value = true; lock.unlock() }
        var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    }

    /// A request packet of the ROM's serial protocol, SLIP-framed.
    static func slip(command: UInt8, data: [UInt8]) -> [UInt8] {
        let n = UInt16(data.count)
        let packet: [UInt8] = [0x00, command, UInt8(n & 0xFF), UInt8(n >> 8), 0, 0, 0, 0] + data
        var out: [UInt8] = [0xC0]
        for b in packet {
            switch b {
            case 0xC0: out += [0xDB, 0xDC]
            case 0xDB: out += [0xDB, 0xDD]
            default: out.append(b)
            }
        }
        return out + [0xC0]
    }

    /// The SLIP frames in a byte stream (other bytes, e.g. the ROM's banner, fall between them).
    static func frames(_ bytes: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = [], cur: [UInt8]?
        var esc = false
        for b in bytes {
            if b == 0xC0 {
                if let c = cur, !c.isEmpty { out.append(c); cur = nil } else { cur = [] }
                continue
            }
            guard cur != nil else { continue }
            if esc { cur!.append(b == 0xDC ? 0xC0 : b == 0xDD ? 0xDB : b); esc = false } else if b == 0xDB { esc = true } else { cur!.append(b) }
        }
        return out
    }
}

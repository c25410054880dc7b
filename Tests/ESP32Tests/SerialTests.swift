import ESP32
import Foundation
import XCTest
#if canImport(Glibc)
import Glibc
#endif

// The host side of the UARTs: TCP serial ports, --interactive stdin, bad option values, the RX
// line model and the idle rule (simulated time stands still while the guest waits for input).
// These tests need no firmware corpus: the guest is a small echo program assembled here by
// `esp32emu asm` and booted without a ROM.

/// Where the serial and download-mode tests find the esp32emu executable, Python with esptool
/// and the firmware corpus; missing ones make the tests that need them skip with a message.
enum SerialTestEnv {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// $ESP32EMU_BIN, or the executable next to the test bundle (swift build --build-tests).
    static func cli() throws -> String {
        if let p = ProcessInfo.processInfo.environment["ESP32EMU_BIN"], !p.isEmpty { return p }
        var candidates: [URL] = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
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

    /// Python that can import esptool: $ESP32EMU_PYTHON, .venv/bin/python, /tmp/venvtest/bin/python.
    static func python() throws -> String {
        var candidates = [packageRoot.appendingPathComponent(".venv/bin/python").path, "/tmp/venvtest/bin/python"]
        if let p = ProcessInfo.processInfo.environment["ESP32EMU_PYTHON"], !p.isEmpty { candidates.insert(p, at: 0) }
        for py in candidates where FileManager.default.isExecutableFile(atPath: py) {
            if let r = try? run(py, ["-c", "import esptool"], timeout: 60), r.status == 0 { return py }
        }
        throw XCTSkip("no Python with esptool (looked at \(candidates.joined(separator: ", "))): run ./scripts/setup or set ESP32EMU_PYTHON")
    }

    static func tempDir() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("esp32emu-serial-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    struct Result {
        var status: Int32
        var out: String
        var err: String
        var outBytes: [UInt8]
    }

    /// Runs a program to its end (killed after `timeout` seconds), stdin from `input`.
    static func run(_ exe: String, _ args: [String], input: Data? = nil, inputDelay: Double = 0, timeout: Double = 120) throws -> Result {
        let dir = FileManager.default.temporaryDirectory
        let outURL = dir.appendingPathComponent("esp32emu-out-\(UUID().uuidString)")
        let errURL = dir.appendingPathComponent("esp32emu-err-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outURL); try? FileManager.default.removeItem(at: errURL) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        p.standardOutput = try FileHandle(forWritingTo: outURL)
        p.standardError = try FileHandle(forWritingTo: errURL)
        let stdin = Pipe()
        p.standardInput = input == nil ? FileHandle.nullDevice : stdin
        try p.run()
        if let input {
            if inputDelay > 0 { Thread.sleep(forTimeInterval: inputDelay) }
            stdin.fileHandleForWriting.write(input)
            try? stdin.fileHandleForWriting.close()
        }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if p.isRunning { p.terminate(); p.waitUntilExit(); XCTFail("\(exe) \(args) did not finish within \(timeout) s") }
        p.waitUntilExit()
        let out = FileManager.default.contents(atPath: outURL.path) ?? Data()
        let err = FileManager.default.contents(atPath: errURL.path) ?? Data()
        return Result(status: p.terminationStatus, out: String(decoding: out, as: UTF8.self),
                      err: String(decoding: err, as: UTF8.self), outBytes: [UInt8](out))
    }

    /// An emulator left running in the background (a TCP serial port), stopped with `stop()`.
    final class Emulator {
        let process = Process()
        let outURL: URL, errURL: URL

        init(_ exe: String, _ args: [String]) throws {
            let dir = FileManager.default.temporaryDirectory
            outURL = dir.appendingPathComponent("esp32emu-bg-out-\(UUID().uuidString)")
            errURL = dir.appendingPathComponent("esp32emu-bg-err-\(UUID().uuidString)")
            FileManager.default.createFile(atPath: outURL.path, contents: nil)
            FileManager.default.createFile(atPath: errURL.path, contents: nil)
            process.executableURL = URL(fileURLWithPath: exe)
            process.arguments = args
            process.standardOutput = try FileHandle(forWritingTo: outURL)
            process.standardError = try FileHandle(forWritingTo: errURL)
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }

        deinit {
            stop()
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }

        var stdout: String { String(decoding: FileManager.default.contents(atPath: outURL.path) ?? Data(), as: UTF8.self) }
        var stderr: String { String(decoding: FileManager.default.contents(atPath: errURL.path) ?? Data(), as: UTF8.self) }

        /// The TCP port of UART`n`, from the line the emulator prints on stderr.
        func port(uart n: Int = 0, timeout: Double = 30) throws -> UInt16 {
            let deadline = Date().addingTimeInterval(timeout)
            let marker = "UART\(n) serial port: socket://127.0.0.1:"
            while Date() < deadline {
                let err = stderr
                if let r = err.range(of: marker) {
                    let digits = err[r.upperBound...].prefix { $0.isNumber }
                    if let p = UInt16(digits) { return p }
                }
                guard process.isRunning else { break }
                Thread.sleep(forTimeInterval: 0.02)
            }
            throw TestFailure("no serial port line from the emulator; stderr:\n\(stderr)")
        }

        /// Waits until stdout contains `text`.
        func waitForOutput(_ text: String, timeout: Double = 30) throws {
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline {
                if stdout.contains(text) { return }
                Thread.sleep(forTimeInterval: 0.02)
            }
            throw TestFailure("'\(text)' did not appear on the emulator's stdout:\n\(stdout.suffix(2000))\nstderr:\n\(stderr.suffix(2000))")
        }

        func stop() {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
    }

    struct TestFailure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    /// A blocking TCP client of an emulated serial port.
    final class Client {
        let fd: Int32

        init(port: UInt16) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = port.bigEndian
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            let r = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard r == 0 else { close(fd); throw TestFailure("cannot connect to 127.0.0.1:\(port)") }
        }

        deinit { close(fd) }

        func send(_ bytes: [UInt8]) {
            _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        }

        /// Reads until `count` bytes came or `timeout` seconds passed.
        func receive(_ count: Int, timeout: Double = 30) -> [UInt8] {
            var out: [UInt8] = []
            let deadline = Date().addingTimeInterval(timeout)
            while out.count < count && Date() < deadline {
                var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                guard poll(&pfd, 1, 50) > 0 else { continue }
                var buf = [UInt8](repeating: 0, count: count - out.count)
                let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                out += buf[0..<n]
            }
            return out
        }
    }
}

final class SerialTests: XCTestCase {
    /// UART0 echo: prints '>', then sends back every byte received (polling the RX FIFO).
    static let echoSource = """
        .text
        j _start
        .literal_position
        .align 4
    _start:
        movi a3, 0x50D83AA1                 # watchdogs off (write-protect key)
        movi a4, 0
        movi a5, 0x3FF5F064                 # TIMG0_WDTWPROTECT
        s32i a3, a5, 0
        movi a6, 0x3FF5F048                 # TIMG0_WDTCONFIG0
        s32i a4, a6, 0
        s32i a4, a5, 0
        movi a5, 0x3FF480A4                 # RTC_CNTL_WDTWPROTECT
        s32i a3, a5, 0
        movi a6, 0x3FF4808C                 # RTC_CNTL_WDTCONFIG0
        s32i a4, a6, 0
        s32i a4, a5, 0
        memw
        movi a2, 0x3FF40000                 # UART0
        movi a4, '>'
        s32i a4, a2, 0
    wait:
        l32i a3, a2, 0x1C                   # STATUS: RXFIFO_CNT in bits 7:0
        extui a3, a3, 0, 8
        beqz a3, wait
        l32i a4, a2, 0                      # FIFO
        s32i a4, a2, 0
        memw
        j wait

    """

    var cli = ""
    var dir = URL(fileURLWithPath: "/")
    var echo = ""

    override func setUpWithError() throws {
        cli = try SerialTestEnv.cli()
        dir = try SerialTestEnv.tempDir()
        let src = dir.appendingPathComponent("echo.S").path
        echo = dir.appendingPathComponent("echo.elf").path
        try SerialTests.echoSource.write(toFile: src, atomically: true, encoding: .utf8)
        let r = try SerialTestEnv.run(cli, ["asm", src, "-o", echo, "--base", "0x40080400"])
        XCTAssertEqual(r.status, 0, "asm failed: \(r.err)")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: dir)
    }

    func testTCPPortEchoesAndStillPrintsUART0OnStdout() throws {
        let emu = try SerialTestEnv.Emulator(cli, ["run", echo, "--no-rom", "--uart0", "tcp:0"])
        let port = try emu.port()
        do {
            let c = try SerialTestEnv.Client(port: port)
            c.send(Array("ping".utf8))
            XCTAssertEqual(String(decoding: c.receive(4), as: UTF8.self), "ping")
        }
        // One client at a time; the next one is served after the first has gone.
        let c2 = try SerialTestEnv.Client(port: port)
        c2.send(Array("again".utf8))
        XCTAssertEqual(String(decoding: c2.receive(5), as: UTF8.self), "again")
        try emu.waitForOutput(">pingagain")
        XCTAssertTrue(emu.process.isRunning, "the emulator waits for more input instead of ending")
    }

    func testTCPPortsOnUART1AndUART2AreIndependent() throws {
        let emu = try SerialTestEnv.Emulator(cli, ["run", echo, "--no-rom", "--uart0", "tcp:0", "--uart1", "tcp:0", "--uart2", "tcp:0"])
        let p0 = try emu.port(uart: 0), p1 = try emu.port(uart: 1), p2 = try emu.port(uart: 2)
        XCTAssertEqual(Set([p0, p1, p2]).count, 3)
        let c1 = try SerialTestEnv.Client(port: p1)
        c1.send(Array("to uart1".utf8))     // the echo program only serves UART0
        let c0 = try SerialTestEnv.Client(port: p0)
        c0.send(Array("x".utf8))
        XCTAssertEqual(c0.receive(1), Array("x".utf8))
        XCTAssertEqual(c1.receive(1, timeout: 0.5), [], "nothing comes back on UART1")
    }

    func testInteractiveFeedsStdinToUART0() throws {
        let r = try SerialTestEnv.run(cli, ["run", echo, "--no-rom", "--interactive", "--expect-text", "hello", "--timeout", "1000"],
                                      input: Data("hello".utf8))
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, ">hello")
    }

    /// The idle rule: while the guest spins waiting for input, simulated time stands still, so
    /// the run is the same whether the input comes at once or a second later.
    func testWaitingForInputStopsSimulatedTimeAndKeepsTheRunDeterministic() throws {
        func run(delay: Double) throws -> String {
            let start = Date()
            let r = try SerialTestEnv.run(cli, ["run", echo, "--no-rom", "--interactive", "--expect-text", "xyz", "--stats"],
                                          input: Data("xyz".utf8), inputDelay: delay)
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertEqual(r.out, ">xyz")
            XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), delay)
            let stats = r.err.split(separator: "\n").first { $0.hasPrefix("instructions=") } ?? ""
            return stats.split(separator: " ").filter { $0.hasPrefix("instructions=") || $0.hasPrefix("simulated_ms=") }.joined(separator: " ")
        }
        let quick = try run(delay: 0)
        let late = try run(delay: 1.0)
        XCTAssertFalse(quick.isEmpty)
        XCTAssertEqual(quick, late, "the input's host timing changed the run")
    }

    func testInteractiveEndOfInputLetsTimeRunOut() throws {
        // stdin at end of file: no input can come any more, so time runs again and --timeout ends the run.
        let r = try SerialTestEnv.run(cli, ["run", echo, "--no-rom", "--interactive", "--timeout", "50"], input: Data())
        XCTAssertEqual(r.status, 42, r.err)
        XCTAssertEqual(r.out, ">")
    }

    func testBadSerialOptionValuesExitWithOneLine() throws {
        let cases: [([String], String)] = [
            (["--uart0", "tcp:abc"], "--uart0: 'tcp:abc' is not tcp:PORT"),
            (["--uart1", "udp:5555"], "--uart1: 'udp:5555' is not tcp:PORT"),
            (["--uart2", "tcp:70000"], "--uart2: 'tcp:70000' is not tcp:PORT"),
            (["--uart0", "tcp:"], "--uart0: 'tcp:' is not tcp:PORT"),
            (["--uart0", "tcp:5555", "--uart1", "tcp:5555"], "--uart1: port 5555 is already used by --uart0"),
            (["--boot-mode", "flash"], "--boot-mode: 'flash' is not one of spi, download"),
        ]
        for (args, message) in cases {
            let r = try SerialTestEnv.run(cli, ["run", echo, "--no-rom"] + args, timeout: 30)
            XCTAssertEqual(r.status, 2, "\(args): \(r.err)")
            let lines = r.err.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "\(args): \(r.err)")
            XCTAssertTrue(r.err.hasPrefix("esp32emu: "), r.err)
            XCTAssertTrue(r.err.contains(message), "\(args): \(r.err)")
            XCTAssertEqual(r.out, "", "\(args): nothing runs")
        }
    }

    func testPortInUseIsReportedInOneLine() throws {
        // Hold a port, then ask for it.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(fd, 1)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        let port = UInt16(bigEndian: addr.sin_port)
        let r = try SerialTestEnv.run(cli, ["run", echo, "--no-rom", "--uart0", "tcp:\(port)"], timeout: 30)
        XCTAssertEqual(r.status, 2, r.err)
        XCTAssertEqual(r.err.split(separator: "\n").count, 1, r.err)
        XCTAssertTrue(r.err.contains("--uart0 tcp:\(port): cannot listen on 127.0.0.1:\(port)"), r.err)
    }
}

/// The UART's RX line, autobaud registers and interrupt latency, on a UART alone.
final class SerialLineTests: XCTestCase {
    var time: UInt64 = 0

    func makeUART() -> UART {
        let u = UART(index: 0, offset: 0x4_0000)
        u.now = { [unowned self] in self.time }
        u.apbHz = { 80_000_000 }
        return u
    }

    /// Advances time to each due event, as the SoC's scheduler does.
    func runUntilIdle(_ u: UART, limit: UInt64 = 1 << 40) {
        while let next = u.update(), next <= limit { time = max(time, next) }
    }

    func testHostBytesArriveOneFrameApartAtTheConfiguredBaud() {
        let u = makeUART()
        _ = u.write(offset: 0x14, size: 4, value: 694)   // 80 MHz / 694 = 115274 baud
        u.receive([1, 2, 3])
        XCTAssertEqual(u.rxCount, 0, "nothing before the first frame has ended")
        let frame = UInt64(10 * 694) * 1_920_000_000 / 80_000_000
        guard let first = u.update() else { return XCTFail("no event scheduled") }
        XCTAssertEqual(first, frame)
        time = first
        _ = u.update()
        XCTAssertEqual(u.rxCount, 1)
        time = first + frame - 1
        _ = u.update()
        XCTAssertEqual(u.rxCount, 1)
        runUntilIdle(u)
        XCTAssertEqual(u.rxCount, 3)
        XCTAssertEqual((0..<3).map { _ in u.read(offset: 0, size: 4)! }, [1, 2, 3])
    }

    func testHostFrameCyclesSpeedUpASlowLine() {
        let u = makeUART()
        u.cpuHz = { 160_000_000 }
        _ = u.write(offset: 0x14, size: 4, value: 80_000_000 / 9600)
        u.hostFrameCycles = 400
        u.receive([7])
        XCTAssertEqual(u.update(), 400 * 12, "400 CPU cycles at 160 MHz, in 1/1920 MHz units")
    }

    func testFIFOHoldsAtMost128AndTheLineWaits() {
        let u = makeUART()
        u.receive([UInt8](repeating: 0x41, count: 200))
        runUntilIdle(u, limit: 1 << 34)
        XCTAssertEqual(u.rxCount, 128)
        XCTAssertEqual(u.lineCount, 72, "no byte is lost: the rest waits on the line")
        for _ in 0..<100 { _ = u.read(offset: 0, size: 4) }
        time += 1 << 30
        runUntilIdle(u, limit: 1 << 40)
        XCTAssertEqual(u.rxCount, 100)
        XCTAssertEqual(u.lineCount, 0)
    }

    func testAutobaudCountsEdgesAndReportsA115200Sender() {
        let u = makeUART()
        _ = u.write(offset: 0x18, size: 4, value: 0x401)     // AUTOBAUD: enable, glitch filter
        u.receive([UInt8](repeating: 0x55, count: 13))       // esptool's sync pattern
        runUntilIdle(u)
        XCTAssertEqual(u.read(offset: 0x30, size: 4), 130, "RXD_CNT: ten edges per 0x55 frame")
        // The ROM's divisor: (LOWPULSE + HIGHPULSE) * 8 + 144, in 1/16 APB cycles per bit.
        let div16 = (u.read(offset: 0x28, size: 4)! + u.read(offset: 0x2C, size: 4)!) * 8 + 144
        XCTAssertEqual(Double(80_000_000 * 16) / Double(div16), 115_200, accuracy: 400)
        _ = u.write(offset: 0x18, size: 4, value: 0x400)     // disable: the count is cleared
        XCTAssertEqual(u.read(offset: 0x30, size: 4), 0)
    }

    func testInterruptRisesAFewCyclesAfterItsCauseAndFallsAtOnce() {
        let u = makeUART()
        var changes = 0
        u.interruptChanged = { changes += 1 }
        _ = u.write(offset: 0x24, size: 4, value: 1)          // RXFIFO_FULL threshold 1
        u.receive([9])
        time = u.update()!
        _ = u.update()                                        // the frame lands in the FIFO
        XCTAssertEqual(u.rxCount, 1)
        _ = u.write(offset: 0x0C, size: 4, value: 1)          // INT_ENA: RXFIFO_FULL
        XCTAssertFalse(u.interruptLine, "not within the instruction that enabled it")
        guard let rise = u.update() else { return XCTFail("no rise scheduled") }
        XCTAssertFalse(u.interruptLine)
        time = rise
        _ = u.update()
        XCTAssertTrue(u.interruptLine)
        _ = u.read(offset: 0, size: 4)                        // the FIFO empties: the line drops now
        XCTAssertFalse(u.interruptLine)
        XCTAssertEqual(changes, 2)
    }
}

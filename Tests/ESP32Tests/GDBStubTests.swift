#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ESP32
import FirmwareFormats
import Foundation
import XCTest
import XtensaCore

/// A scripted GDB Remote Serial Protocol client over TCP (Debian's gdb-multiarch has no Xtensa).
final class RSPClient {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(port: UInt16) throws {
        #if canImport(Glibc)
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var connected = false
        for _ in 0..<100 {
            let r = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if r == 0 { connected = true; break }
            usleep(50_000)
        }
        guard connected else { throw XCTSkip("cannot connect to the GDB stub on port \(port)") }
        var tv = timeval(tv_sec: 120, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func sendRaw(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let r = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if r <= 0 { return }
            off += r
        }
    }

    static func frame(_ payload: [UInt8]) -> [UInt8] {
        let sum = payload.reduce(UInt8(0)) { $0 &+ $1 }
        return [UInt8(ascii: "$")] + payload + Array(String(format: "#%02x", sum).utf8)
    }

    private func byte() throws -> UInt8 {
        if buffer.isEmpty {
            var tmp = [UInt8](repeating: 0, count: 65536)
            let n = tmp.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { throw NSError(domain: "RSP", code: 1, userInfo: [NSLocalizedDescriptionKey: "connection closed or timed out"]) }
            buffer = Array(tmp[0..<n])
        }
        return buffer.removeFirst()
    }

    /// The next acknowledgement byte ('+' or '-').
    func ack() throws -> Character {
        while true {
            let b = try byte()
            if b == UInt8(ascii: "+") || b == UInt8(ascii: "-") { return Character(UnicodeScalar(b)) }
        }
    }

    /// The next packet (acknowledged, checksum verified, escapes undone).
    func packet() throws -> String {
        while try byte() != UInt8(ascii: "$") {}
        var data: [UInt8] = []
        var sum: UInt8 = 0
        var escaped = false
        while true {
            let b = try byte()
            if b == UInt8(ascii: "#") { break }
            sum &+= b
            if escaped { data.append(b ^ 0x20); escaped = false } else if b == 0x7D { escaped = true } else { data.append(b) }
        }
        let c = String(decoding: [try byte(), try byte()], as: UTF8.self)
        XCTAssertEqual(UInt8(c, radix: 16), sum, "reply checksum")
        sendRaw([UInt8(ascii: "+")])
        return String(decoding: data, as: UTF8.self)
    }

    /// Sends a packet and returns the reply (after the '+').
    func request(_ s: String) throws -> String {
        try request(bytes: Array(s.utf8))
    }

    func request(bytes: [UInt8]) throws -> String {
        sendRaw(RSPClient.frame(bytes))
        let a = try ack()
        XCTAssertEqual(a, "+", "packet not acknowledged: \(String(decoding: bytes.prefix(40), as: UTF8.self))")
        return try packet()
    }

    /// A monitor command: console output ('O' packets), then the final reply.
    func monitor(_ command: String) throws -> (output: String, reply: String) {
        var reply = try request("qRcmd," + command.utf8.map { String(format: "%02x", $0) }.joined())
        var output = ""
        while reply.hasPrefix("O") && reply != "OK" {
            let hex = Array(reply.utf8.dropFirst())
            var i = 0
            while i + 1 < hex.count {
                output.append(Character(UnicodeScalar(UInt8(String(decoding: hex[i...i + 1], as: UTF8.self), radix: 16)!)))
                i += 2
            }
            reply = try packet()
        }
        return (output, reply)
    }

    func register(_ n: Int) throws -> UInt32 {
        let r = try request("p" + String(n, radix: 16))
        return try XCTUnwrap(RSPClient.littleEndian(r), "p\(n): \(r)")
    }

    static func littleEndian(_ hex: String) -> UInt32? {
        guard hex.count == 8, let v = UInt32(hex, radix: 16) else { return nil }
        return v.byteSwapped
    }
}

/// The GDB stub (issue 5), driven over TCP by the scripted client.
final class GDBStubTests: XCTestCase {
    func path(_ p: String) -> String { BootChainTests.corpus + "/" + p }
    var rom: String { path("rom/esp32-v3-rom.bin") }
    let hello = "app/idf-v4.2.3-hello_world-guopung"

    /// Runs `session` on its own thread (as `esp32emu run` does on the main one) with a stub that
    /// waits for the debugger; returns the client and a wait for the end of the run.
    func serve(_ session: Session, timeoutMilliseconds: UInt64 = 120_000) throws -> (RSPClient, DebugController, () -> Session.Result?) {
        let debug = DebugController(session: session)
        try debug.listen(port: 0, wait: true)
        let port = try XCTUnwrap(debug.gdb?.port)
        XCTAssertNotEqual(port, 0)
        let done = DispatchSemaphore(value: 0)
        final class Box: @unchecked Sendable { var result: Session.Result? }
        let box = Box()
        let thread = Thread {
            box.result = session.run(timeoutMilliseconds: timeoutMilliseconds)
            done.signal()
        }
        thread.stackSize = 16 << 20
        thread.start()
        let client = try RSPClient(port: port)
        return (client, debug, {
            if done.wait(timeout: .now() + 120) == .timedOut { XCTFail("the session did not end"); return nil }
            return box.result
        })
    }

    func helloSession() throws -> Session {
        guard FileManager.default.fileExists(atPath: rom) else {
            throw XCTSkip("firmware corpus not found at \(BootChainTests.corpus) (set ESP32EMU_FIRMWARE): GDB stub test skipped")
        }
        let s = try Session(romPath: rom, parts: [Session.Part(offset: 0x1000, path: path("\(hello)/bootloader.bin")),
                                                  Session.Part(offset: 0x8000, path: path("\(hello)/partitions_singleapp.bin")),
                                                  Session.Part(offset: 0x10000, path: path("\(hello)/hello-world.bin"))],
                            symbolFiles: [path("rom-elf/esp32_rev300_rom.elf"), path("\(hello)/bootloader.elf"), path("\(hello)/hello-world.elf")])
        s.soc.diagnostics.sink = { _ in }
        return s
    }

    func hex(_ v: UInt32) -> String { String(v, radix: 16) }

    // MARK: The scripted session

    func testScriptedSessionFromResetToAppMain() throws {
        let app = try ELFFile(path: path("\(hello)/hello-world.elf"))
        func symbol(_ name: String, function: Bool = true) throws -> UInt32 {
            try XCTUnwrap(app.symbols.first { $0.name == name && $0.isFunction == function }?.value, name)
        }
        let appEntry = try symbol("call_start_cpu0"), appMain = try symbol("app_main")
        let appCPUStarted = try symbol("app_cpu_started", function: false)   // static bool in DRAM (.bss)

        let session = try helloSession()
        let (gdb, _, finished) = try serve(session)

        let features = try gdb.request("qSupported:multiprocess+;swbreak+;hwbreak+;xmlRegisters=i386")
        XCTAssertTrue(features.contains("PacketSize=4000"), features)
        XCTAssertTrue(features.contains("qXfer:features:read+"), features)
        XCTAssertEqual(try gdb.request("?"), "T05thread:1;", "stopped before the first instruction (-S)")
        XCTAssertEqual(try gdb.request("qfThreadInfo"), "m1,2")
        XCTAssertEqual(try gdb.request("qsThreadInfo"), "l")
        XCTAssertEqual(try gdb.request("qC"), "QC1")
        XCTAssertEqual(try gdb.register(0), 0x4000_0400, "PC at the reset vector")

        // Breakpoint on the app's entry; continue from reset through the ROM and the bootloader.
        XCTAssertEqual(try gdb.request("Z0,\(hex(appEntry)),3"), "OK")
        XCTAssertEqual(try gdb.request("vCont;c"), "T05thread:1;swbreak:;")
        XCTAssertEqual(try gdb.register(0), appEntry, "stopped on call_start_cpu0 of the app")
        XCTAssertEqual(try gdb.request("z0,\(hex(appEntry)),3"), "OK")

        // Ten single steps, with a0..a15 after each.
        var pcs: [UInt32] = []
        var windows: [[UInt32]] = []
        for _ in 0..<10 {
            XCTAssertEqual(try gdb.request("vCont;s:1;c"), "T05thread:1;")
            pcs.append(try gdb.register(0))
            windows.append(try (157...172).map { try gdb.register($0) })
        }

        // The same steps in an instruction trace of a run without the debugger.
        let reference = try helloSession()
        let tracer = DebugController(session: reference)
        let traceFile = FileManager.default.temporaryDirectory.appendingPathComponent("esp32emu-gdb-\(getpid()).txt").path
        defer { try? FileManager.default.removeItem(atPath: traceFile) }
        tracer.traceFrom = appEntry
        try tracer.traceInstructions(to: traceFile, maxLines: 10)
        XCTAssertEqual(reference.run(timeoutMilliseconds: 5000).outcome, .stopped, "the run ends with the trace")
        let trace = try String(contentsOfFile: traceFile, encoding: .utf8).split(separator: "\n")
            .map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(trace.count, 10)
        XCTAssertEqual(trace.first?[2], hex(appEntry))
        let referencePRO = reference.soc.cores[0]
        for k in 0..<10 where trace.count == 10 {
            XCTAssertEqual(k < 9 ? trace[k + 1][2] : hex(referencePRO.pc), hex(pcs[k]), "step \(k + 1): PC")
            // Every register the traced instruction wrote has that value after the step.
            for effect in trace[k][6].split(separator: " ") where effect.hasPrefix("a") && !effect.hasPrefix("ar") && !effect.hasPrefix("acc") && !effect.hasPrefix("atom") {
                let parts = effect.split(separator: "=")
                let n = Int(parts[0].dropFirst())!
                XCTAssertEqual(hex(windows[k][n]), String(UInt32(parts[1], radix: 16)!, radix: 16), "step \(k + 1): \(trace[k][5]) wrote \(effect)")
            }
        }

        // a0..a15 agree with the physical registers of the g packet in the current window.
        let g = try gdb.request("g")
        XCTAssertEqual(g.count, 105 * 8)
        let regs = stride(from: 0, to: g.count, by: 8).map { i -> UInt32 in
            RSPClient.littleEndian(String(g[g.index(g.startIndex, offsetBy: i)..<g.index(g.startIndex, offsetBy: i + 8)]))!
        }
        XCTAssertEqual(regs[0], pcs.last)
        // The whole register file equals the traced run's after the same ten instructions, and
        // so does CCOUNT: stopping and stepping do not change the run.
        XCTAssertEqual(regs, (0..<105).map { GDBRegisters.read($0, cpu: referencePRO)! })
        XCTAssertEqual(try gdb.register(145), referencePRO.ccount)
        let windowBase = Int(regs[69])
        let a = try (157...172).map { try gdb.register($0) }
        XCTAssertEqual(a, (0..<16).map { regs[1 + ((windowBase * 4 + $0) & 63)] })
        XCTAssertEqual(a, windows.last)
        XCTAssertTrue((0x3FFA_E000..<0x4000_0000).contains(a[1]), "a1 is a stack pointer in DRAM: \(hex(a[1]))")

        // 64 bytes of DRAM: the app's initialised data, as the bootloader loaded it.
        let data = try XCTUnwrap(app.segments.first { $0.virtualAddress == 0x3FFB_0000 && $0.fileSize >= 64 })
        let m = try gdb.request("m3ffb0000,40")
        XCTAssertEqual(m, data.data.prefix(64).map { String(format: "%02x", $0) }.joined())
        // ROM and flash-mapped code are readable too.
        XCTAssertEqual(try gdb.request("m40000400,3").count, 6)
        XCTAssertEqual(try gdb.request("m\(hex(appMain)),4").count, 8, "app_main in flash through the cache")

        // A write watchpoint on a DRAM variable: the APP CPU sets app_cpu_started when it starts.
        XCTAssertEqual(try gdb.request("Z2,\(hex(appCPUStarted)),1"), "OK")
        var stop = ""
        for _ in 0..<8 {
            stop = try gdb.request("vCont;c")
            XCTAssertTrue(stop.hasPrefix("T05watch:\(hex(appCPUStarted));"), stop)
            if stop.contains("thread:2;") { break }
        }
        XCTAssertEqual(stop, "T05watch:\(hex(appCPUStarted));thread:2;", "the APP CPU wrote the variable")
        XCTAssertEqual(try gdb.request("Hg2"), "OK")
        XCTAssertEqual(try gdb.request("m\(hex(appCPUStarted)),1"), "01")
        XCTAssertEqual(try gdb.request("z2,\(hex(appCPUStarted)),1"), "OK")

        // The APP CPU thread.
        XCTAssertEqual(try gdb.request("T2"), "OK")
        XCTAssertEqual(try gdb.request("qThreadExtraInfo,2"), Array("APP CPU".utf8).map { String(format: "%02x", $0) }.joined())
        let appPC = try gdb.register(0)
        XCTAssertTrue((0x4000_0000..<0x4040_0000).contains(appPC), "APP CPU PC \(hex(appPC))")
        XCTAssertEqual(try gdb.request("g").count, 105 * 8)
        let appPRID = try gdb.register(146)
        XCTAssertEqual(try gdb.request("Hg1"), "OK")
        XCTAssertNotEqual(try gdb.register(146), appPRID, "PRID differs between the cores")

        // Continue to app_main.
        XCTAssertEqual(try gdb.request("Z0,\(hex(appMain)),3"), "OK")
        XCTAssertEqual(try gdb.request("vCont;c"), "T05thread:1;swbreak:;")
        XCTAssertEqual(try gdb.request("Hg1"), "OK")
        XCTAssertEqual(try gdb.register(0), appMain)

        // Breakpoints survive a reset: the whole chain runs again up to app_main.
        let reset = try gdb.monitor("reset")
        XCTAssertEqual(reset.reply, "OK")
        XCTAssertTrue(reset.output.contains("Reset"), reset.output)
        XCTAssertEqual(try gdb.register(0), 0x4000_0400)
        XCTAssertEqual(try gdb.request("vCont;c"), "T05thread:1;swbreak:;")
        XCTAssertEqual(try gdb.register(0), appMain)

        gdb.sendRaw(RSPClient.frame(Array("k".utf8)))
        let result = finished()
        XCTAssertEqual(result?.outcome, .stopped, "k ends the run")
        XCTAssertTrue(String(decoding: session.output, as: UTF8.self).contains("2nd stage bootloader"), "the ROM and the bootloader ran")
    }

    // MARK: Bad input

    /// A session without firmware (stopped before its first instruction, which is not one).
    func emptySession() throws -> Session {
        let s = try Session(romPath: nil)
        s.soc.diagnostics.sink = { _ in }
        return s
    }

    func testMalformedAndOversizedPacketsGetErrorReplies() throws {
        let (gdb, debug, finished) = try serve(try emptySession())
        // Bad checksum: NAK, and the stub keeps listening.
        gdb.sendRaw(Array("$g#00".utf8))
        XCTAssertEqual(try gdb.ack(), "-")
        let cases: [(String, String)] = [
            ("", ""), ("Jfoo", ""),
            ("m", "E01"), ("mzz,10", "E01"), ("m40000400", "E01"), ("m40000400,zz", "E01"), ("m1,2,3", "E01"),
            ("m100000000,4", "E01"), ("m0,4", "E14"), ("m40000400,0", ""),
            ("p", "E01"), ("pzz", "E01"), ("p123456789", "E01"), ("pfff", "E03"),
            ("P", "E01"), ("P0", "E01"), ("P0=1234", "E01"), ("P0=zzzzzzzz", "E01"), ("Pfff=00000000", "E03"), ("P92=00000000", "E04"),
            ("G00", "E01"), ("G" + String(repeating: "z", count: 105 * 8), "E01"),
            ("M3ffb0000,4:zz", "E01"), ("M3ffb0000,4:0011", "E01"), ("M3ffb0000:00", "E01"), ("M40000400,4:00112233", "E14"),
            ("X3ffb0000,2:}", "E01"), ("X3ffb0000,0:", "OK"), ("X3ffb0000,1:ab", "E01"),
            ("Z9,0,0", ""), ("Z0,xyz,4", "E01"), ("Z0,40000400", "E01"), ("Z2,3ffb0000,0", "E22"), ("Z22,0,4", "E01"),
            ("Hg9", "E01"), ("Hx1", "E01"), ("Hg", "E01"), ("Hgp1.zz", "E01"),
            ("T9", "E01"), ("Tzz", "E01"), ("qThreadExtraInfo,9", "E01"),
            ("vCont;x", "E01"), ("vCont;s:9", "E01"), ("vCont;", "E01"),
            ("qRcmd,zz", "E01"), ("qRcmd,1", "E01"),
            ("qXfer:features:read:foo.xml:0,10", "E00"), ("qXfer:features:read:target.xml:zz", "E01"), ("qXfer:features:read", ""),
            ("C", "E01"), ("Czz", "E01"), ("S1", "E01"),
        ]
        for (packet, expected) in cases {
            XCTAssertEqual(try gdb.request(packet), expected, "packet '\(packet)'")
        }
        // An unknown monitor command: a message, then an error.
        let unknown = try gdb.monitor("frobnicate")
        XCTAssertEqual(unknown.reply, "E01")
        XCTAssertTrue(unknown.output.contains("unknown monitor command"))
        // Oversized packet: acknowledged, then refused.
        XCTAssertEqual(try gdb.request(bytes: Array(repeating: UInt8(ascii: "A"), count: 3 * GDBServer.maxPacket)), "E02")
        XCTAssertEqual(try gdb.request("M3ffb0000,3000:" + String(repeating: "00", count: 0x3000)), "E02")
        // Noise between packets, a packet cut short by a new one, binary data with escapes.
        gdb.sendRaw(Array(String(repeating: "xyz#+", count: 5000).utf8) + [0xFF, 0x00, 0x80])
        gdb.sendRaw(Array("$m4000".utf8))
        XCTAssertEqual(try gdb.request("?"), "T05thread:1;")
        XCTAssertEqual(try gdb.request(bytes: Array("X3ffb0000,4:".utf8) + [0x7D, 0x23 ^ 0x20, 0x7D, 0x24 ^ 0x20, 0x7D, 0x7D ^ 0x20, 0x2A]), "OK")
        XCTAssertEqual(try gdb.request("m3ffb0000,4"), "23247d2a")
        XCTAssertEqual(try gdb.request("M3ffb0004,4:01020304"), "OK")
        XCTAssertEqual(try gdb.request("m3ffb0004,4"), "01020304")
        // Ctrl-C while the core runs: an endless loop (J .) written to IRAM.
        XCTAssertEqual(try gdb.request("M40080400,3:06ffff"), "OK")
        XCTAssertEqual(try gdb.request("P0=00040840"), "OK")
        XCTAssertEqual(try gdb.request("m40080400,3"), "06ffff")
        gdb.sendRaw(RSPClient.frame(Array("c".utf8)))
        XCTAssertEqual(try gdb.ack(), "+")
        usleep(200_000)
        gdb.sendRaw([0x03])
        XCTAssertEqual(try gdb.packet(), "T02thread:1;")
        XCTAssertTrue(debug.halted)
        XCTAssertEqual(try gdb.register(0), 0x4008_0400)
        // Still serving after all of that.
        XCTAssertEqual(try gdb.request("qC"), "QC1")
        XCTAssertEqual(try gdb.request("p0").count, 8)
        // No-ack mode.
        XCTAssertEqual(try gdb.request("QStartNoAckMode"), "OK")
        gdb.sendRaw(RSPClient.frame(Array("qC".utf8)))
        XCTAssertEqual(try gdb.packet(), "QC1")
        gdb.sendRaw(RSPClient.frame(Array("k".utf8)))
        XCTAssertEqual(finished()?.outcome, .stopped)
    }

    // MARK: Target description

    /// Espressif's ESP32 GDB register numbering: the XTREG entries 0-172 of
    /// espressif/xtensa-overlays @ dd1cf19f6eb327a9db51043439974a6de13f5c7f, xtensa_esp32/gdb/gdb/xtensa-config.c
    /// (the configuration xtensa-esp32-elf-gdb is built with). The first 105 (pc ... fsr) are the
    /// `g` packet: xtensa_esp32/gdb/gdb/regformats/reg-xtensa.dat there, and OpenOCD's
    /// ESP32_NUM_REGS_G_COMMAND (src/target/espressif/esp32.h). Entries 173-211 (b0..b15, psintlevel,
    /// ...) are masks of these registers that gdb computes itself.
    static let espressifESP32Registers = [
        "pc", "ar0", "ar1", "ar2", "ar3", "ar4", "ar5", "ar6", "ar7", "ar8", "ar9", "ar10", "ar11", "ar12", "ar13",
        "ar14", "ar15", "ar16", "ar17", "ar18", "ar19", "ar20", "ar21", "ar22", "ar23", "ar24", "ar25", "ar26",
        "ar27", "ar28", "ar29", "ar30", "ar31", "ar32", "ar33", "ar34", "ar35", "ar36", "ar37", "ar38", "ar39",
        "ar40", "ar41", "ar42", "ar43", "ar44", "ar45", "ar46", "ar47", "ar48", "ar49", "ar50", "ar51", "ar52",
        "ar53", "ar54", "ar55", "ar56", "ar57", "ar58", "ar59", "ar60", "ar61", "ar62", "ar63", "lbeg", "lend",
        "lcount", "sar", "windowbase", "windowstart", "configid0", "configid1", "ps", "threadptr", "br", "scompare1",
        "acclo", "acchi", "m0", "m1", "m2", "m3", "expstate", "f64r_lo", "f64r_hi", "f64s", "f0", "f1", "f2", "f3",
        "f4", "f5", "f6", "f7", "f8", "f9", "f10", "f11", "f12", "f13", "f14", "f15", "fcr", "fsr", "mmid",
        "ibreakenable", "memctl", "atomctl", "ddr", "ibreaka0", "ibreaka1", "dbreaka0", "dbreaka1", "dbreakc0",
        "dbreakc1", "epc1", "epc2", "epc3", "epc4", "epc5", "epc6", "epc7", "depc", "eps2", "eps3", "eps4", "eps5",
        "eps6", "eps7", "excsave1", "excsave2", "excsave3", "excsave4", "excsave5", "excsave6", "excsave7",
        "cpenable", "interrupt", "intset", "intclear", "intenable", "vecbase", "exccause", "debugcause", "ccount",
        "prid", "icount", "icountlevel", "excvaddr", "ccompare0", "ccompare1", "ccompare2", "misc0", "misc1",
        "misc2", "misc3", "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "a10", "a11", "a12", "a13",
        "a14", "a15",
    ]

    func testTargetDescriptionMatchesEspressifsRegisterList() throws {
        let (gdb, _, finished) = try serve(try emptySession())
        // Read target.xml in small pieces ('m' = more follows, 'l' = last).
        var xml = ""
        var offset = 0
        while true {
            let r = try gdb.request("qXfer:features:read:target.xml:\(String(offset, radix: 16)),100")
            guard let kind = r.first, kind == "m" || kind == "l" else { XCTFail("reply \(r)"); break }
            xml += r.dropFirst()
            offset += r.utf8.count - 1
            if kind == "l" { break }
        }
        XCTAssertEqual(xml, GDBRegisters.targetXML)
        XCTAssertTrue(xml.contains("<architecture>xtensa</architecture>"))
        // <reg name="..." bitsize="32" regnum="N" .../>
        func attribute(_ element: Substring, _ name: String) -> String? {
            guard let r = element.range(of: " \(name)=\"") else { return nil }
            return String(element[r.upperBound...].prefix { $0 != "\"" })
        }
        let regs = xml.components(separatedBy: "<reg").dropFirst().map { Substring($0.prefix { $0 != ">" }) }
        let names = regs.map { attribute($0, "name") ?? "" }
        let numbers = regs.map { Int(attribute($0, "regnum") ?? "") ?? -1 }
        XCTAssertEqual(names, GDBStubTests.espressifESP32Registers)
        XCTAssertEqual(numbers, Array(0..<GDBStubTests.espressifESP32Registers.count))
        XCTAssertTrue(regs.allSatisfy { attribute($0, "bitsize") == "32" })
        // Target numbers as in the XTREG table (special registers 0x02nn, user registers 0x03nn).
        let target = Dictionary(uniqueKeysWithValues: GDBRegisters.all.enumerated().map { ($0.offset, $0.element.target) })
        XCTAssertEqual(target[0], 0x0020); XCTAssertEqual(target[69], 0x0248); XCTAssertEqual(target[73], 0x02e6)
        XCTAssertEqual(target[74], 0x03e7); XCTAssertEqual(target[87], 0x0030); XCTAssertEqual(target[139], 0x02e2)
        XCTAssertEqual(target[145], 0x02ea); XCTAssertEqual(target[157], 0x0000)
        // The g packet holds the first 105; every register of the list reads with p.
        XCTAssertEqual(GDBRegisters.gPacketCount, 105)
        XCTAssertEqual(try gdb.request("g").count, 105 * 8)
        for n in 0..<GDBStubTests.espressifESP32Registers.count {
            XCTAssertEqual(try gdb.request("p" + String(n, radix: 16)).count, 8, "register \(n) \(GDBStubTests.espressifESP32Registers[n])")
        }
        XCTAssertEqual(try gdb.request("p" + String(GDBStubTests.espressifESP32Registers.count, radix: 16)), "E03")
        // Register writes land where the numbering says: ar5 is a5 in window 0; ps; windowbase.
        XCTAssertEqual(try gdb.request("P6=78563412"), "OK")
        XCTAssertEqual(try gdb.register(162), 0x1234_5678, "a5 = ar5 with WINDOWBASE 0")
        XCTAssertEqual(try gdb.request("P45=01000000"), "OK")   // windowbase = 1
        XCTAssertEqual(try gdb.register(158), 0x1234_5678, "a1 = ar5 with WINDOWBASE 1")
        gdb.sendRaw(RSPClient.frame(Array("k".utf8)))
        XCTAssertEqual(finished()?.outcome, .stopped)
    }
}

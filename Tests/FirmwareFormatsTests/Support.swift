import FirmwareFormats
import Foundation
import XCTest

// Where the tests find their inputs and oracles:
// * the firmware corpus: $ESP32EMU_FIRMWARE, default ../shared/firmware next to the package;
// * Python with esptool: $ESP32EMU_PYTHON, default .venv/bin/python (made by ./scripts/setup);
// * the esp32emu executable: $ESP32EMU_BIN, default next to the test bundle (swift build --build-tests).
// Without one of them, the tests that need it skip with a message saying which.

enum Env {
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let corpusFolder: URL = {
        if let p = ProcessInfo.processInfo.environment["ESP32EMU_FIRMWARE"], !p.isEmpty {
            return URL(fileURLWithPath: p, relativeTo: packageRoot).standardizedFileURL
        }
        return packageRoot.appendingPathComponent("../shared/firmware").standardizedFileURL
    }()

    static var python: String {
        if let p = ProcessInfo.processInfo.environment["ESP32EMU_PYTHON"], !p.isEmpty { return p }
        return packageRoot.appendingPathComponent(".venv/bin/python").path
    }

    /// The corpus folder, or a skip saying where it was looked for.
    static func corpus() throws -> URL {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: corpusFolder.appendingPathComponent("MANIFEST.md").path),
              FileManager.default.fileExists(atPath: corpusFolder.path, isDirectory: &isDir), isDir.boolValue else {
            throw XCTSkip("firmware corpus not found at \(corpusFolder.path) (set ESP32EMU_FIRMWARE)")
        }
        return corpusFolder
    }

    static func corpusPath(_ rel: String) throws -> String {
        try corpus().appendingPathComponent(rel).path
    }

    /// Every corpus file with this suffix, as paths relative to the corpus folder, sorted.
    static func corpusFiles(suffix: String) throws -> [String] {
        let folder = try corpus()
        var out: [String] = []
        if let e = FileManager.default.enumerator(atPath: folder.path) {
            for case let rel as String in e where rel.hasSuffix(suffix) { out.append(rel) }
        }
        return out.sorted()
    }

    static var esptoolChecked: Result<Void, SkipReason>?
    struct SkipReason: Error { let message: String }

    /// Skips unless the Python interpreter can import esptool.
    static func requireEsptool() throws {
        if esptoolChecked == nil {
            let py = python
            if !FileManager.default.isExecutableFile(atPath: py) {
                esptoolChecked = .failure(SkipReason(message: "no Python at \(py): run ./scripts/setup or set ESP32EMU_PYTHON"))
            } else if let r = try? run(py, ["-c", "import esptool"]), r.status == 0 {
                esptoolChecked = .success(())
            } else {
                esptoolChecked = .failure(SkipReason(message: "esptool is not importable from \(py) (run ./scripts/setup)"))
            }
        }
        if case .failure(let r) = esptoolChecked! { throw XCTSkip(r.message) }
    }

    /// Runs `python -m esptool ARGS`.
    static func esptool(_ args: [String]) throws -> ProcessResult {
        try run(python, ["-m", "esptool"] + args, environment: ["ESPTOOL_FM": nil, "ESPTOOL_FF": nil, "ESPTOOL_FS": nil])
    }

    /// The esp32emu executable, or a skip.
    static func cli() throws -> String {
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
        throw XCTSkip("esp32emu executable not found next to the test bundle (build it, or set ESP32EMU_BIN)")
    }

    struct ProcessResult {
        var status: Int32
        var stdout: Data
        var stderr: Data
        var out: String { String(decoding: stdout, as: UTF8.self) }
        var err: String { String(decoding: stderr, as: UTF8.self) }
    }

    static func run(_ exe: String, _ args: [String], environment: [String: String?] = [:], cwd: URL? = nil) throws -> ProcessResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        if let cwd { p.currentDirectoryURL = cwd }
        // stdout through a pipe, stderr through a file (so neither can fill up and block the child).
        let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("esp32emu-stderr-\(UUID().uuidString)")
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errURL) }
        let errHandle = try FileHandle(forWritingTo: errURL)
        defer { try? errHandle.close() }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = errHandle
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let errData = FileManager.default.contents(atPath: errURL.path) ?? Data()
        return ProcessResult(status: p.terminationStatus, stdout: outData, stderr: errData)
    }

    /// A fresh temporary folder.
    static func tempDir() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("esp32emu-formats-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }
}

/// Deterministic random numbers for the fuzz tests.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func readBytes(_ path: String) throws -> [UInt8] {
    guard let d = FileManager.default.contents(atPath: path) else { throw Env.SkipReason(message: "cannot read \(path)") }
    return [UInt8](d)
}

/// Asserts that `body` throws an InputError whose message contains every one of `parts`; returns the message.
@discardableResult
func assertInputError<T>(_ parts: [String], file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> T) -> String? {
    do {
        _ = try body()
        XCTFail("expected an InputError containing \(parts)", file: file, line: line)
    } catch let e as InputError {
        for p in parts where !e.message.contains(p) {
            XCTFail("message \"\(e.message)\" lacks \"\(p)\"", file: file, line: line)
        }
        XCTAssertFalse(e.message.contains("\n"), "message is more than one line: \(e.message)", file: file, line: line)
        return e.message
    } catch {
        XCTFail("expected an InputError, got \(error)", file: file, line: line)
    }
    return nil
}

/// Small inputs made here, for the tests that must not depend on the corpus.
enum Synthetic {
    /// An Xtensa ELF with one .text section of `size` bytes at `base` (made by our ELF writer).
    static func elf(base: UInt32 = 0x4008_0000, size: Int = 100) -> [UInt8] {
        let code = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        return ELFWriter.executable(code: code, base: base, entry: base, symbols: ["start": base])
    }

    /// An image converted from `elf(base:size:)`.
    static func image(base: UInt32 = 0x4008_0000, size: Int = 100, options: ImageOptions = ImageOptions()) throws -> [UInt8] {
        try ElfToImage.convert(elf: elf(base: base, size: size), path: "synthetic.elf", options: options)
    }

    /// A binary partition table: entries (name, type, subtype, offset, size, flags), the MD5 entry, 0xFF to 0xC00.
    static func partitionTable(_ rows: [(String, UInt8, UInt8, UInt32, UInt32, UInt32)], md5: Bool = true) -> [UInt8] {
        var out: [UInt8] = []
        func u32(_ v: UInt32) { for i in 0..<4 { out.append(UInt8((v >> (8 * UInt32(i))) & 0xFF)) } }
        for (name, type, subtype, offset, size, flags) in rows {
            out += [0xAA, 0x50, type, subtype]
            u32(offset); u32(size)
            var n = Array(name.utf8.prefix(16))
            n += [UInt8](repeating: 0, count: 16 - n.count)
            out += n
            u32(flags)
        }
        if md5 { out += [0xEB, 0xEB] + [UInt8](repeating: 0xFF, count: 14) + Digest.md5(out) }
        out += [UInt8](repeating: 0xFF, count: 0xC00 - out.count)
        return out
    }

    /// The ESP-IDF single-app layout.
    static let singleApp: [(String, UInt8, UInt8, UInt32, UInt32, UInt32)] = [
        ("nvs", 1, 2, 0x9000, 0x6000, 0), ("phy_init", 1, 1, 0xF000, 0x1000, 0), ("factory", 0, 0, 0x10000, 0x100000, 0),
    ]
}

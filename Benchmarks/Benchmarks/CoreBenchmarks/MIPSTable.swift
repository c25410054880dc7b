// Prints guest MIPS per workload: each workload runs `runs` times on a fresh machine,
// the median wall time counts. Instruction counts are the emulator's own (deterministic).
import ESP32
import Foundation
import XtensaCore

struct Row { let name: String; let instructions: UInt64; let seconds: Double }

func measure(_ w: GuestWorkloads.Workload, runs: Int) throws -> Row {
    var times: [Double] = []
    var instructions: UInt64 = 0
    for _ in 0..<runs {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = try GuestWorkloads.run(w)
        let t1 = DispatchTime.now().uptimeNanoseconds
        guard r.reason == .exit(0), r.a2 == w.expectedA2 else {
            throw NSError(domain: "bench", code: 1, userInfo: [NSLocalizedDescriptionKey: "\(w.name): wrong result \(r)"])
        }
        instructions = r.instructions
        times.append(Double(t1 - t0) / 1e9)
    }
    times.sort()
    return Row(name: w.name, instructions: instructions, seconds: times[times.count / 2])
}

/// The workloads at a scale; `dataAddress` places their data (QEMU's sim machine has RAM at 0).
func workloads(scale: Double, dataAddress: UInt32 = 0x3FFE_0000) -> [GuestWorkloads.Workload] {
    [
        GuestWorkloads.aluLoop(iterations: UInt32(50_000_000 * scale)),
        GuestWorkloads.loadMulStore(passes: UInt32(40_000 * scale), dataAddress: dataAddress),
        GuestWorkloads.windowedFib(UInt32(27 + (scale >= 1 ? 2 : 0))),
        GuestWorkloads.fpLoop(iterations: UInt32(20_000_000 * scale), dataAddress: dataAddress),
    ]
}

/// For Benchmarks/compare-qemu.sh: writes each workload's source for QEMU (data in low RAM) and
/// its instruction count on our emulator; BENCH_WORKLOAD=name measures one workload here.
func exportForQEMU(directory: String, scale: Double) {
    for (w, native) in zip(workloads(scale: scale, dataAddress: 0x0020_0000), workloads(scale: scale)) {
        // Same instructions either way; only the data address differs.
        let r = try! GuestWorkloads.run(native)
        FileManager.default.createFile(atPath: "\(directory)/\(w.name).S", contents: Data(w.source.utf8))
        FileManager.default.createFile(atPath: "\(directory)/\(w.name).count", contents: Data("\(r.instructions)\n".utf8))
    }
    FileManager.default.createFile(atPath: "\(directory)/reset.S",
                                   contents: Data(GuestWorkloads.qemuResetStub(workloadBase: 0xFE00_1000).utf8))
}

/// Prints the MIPS table; used when the executable runs on its own (`swift run -c release`).
func printMIPSTable(arguments args: [String]) {
let env = ProcessInfo.processInfo.environment
let runs = env["BENCH_RUNS"].flatMap { Int($0) } ?? 5
let scale = env["BENCH_SCALE"].flatMap { Double($0) } ?? 1.0
if let dir = env["BENCH_EXPORT_DIR"] { exportForQEMU(directory: dir, scale: scale); return }
var selected = workloads(scale: scale)
if let only = env["BENCH_WORKLOAD"] { selected = selected.filter { $0.name == only } }
if env["BENCH_WORKLOAD"] == nil { printBootTable(runs: runs) }
print("workload          instructions      median s   guest MIPS   (\(runs) runs)")
for w in selected {
    do {
        let r = try measure(w, runs: runs)
        let mips = Double(r.instructions) / r.seconds / 1e6
        let name = r.name.padding(toLength: 16, withPad: " ", startingAt: 0)
        print(name + String(format: " %13llu %12.3f %12.1f", r.instructions, r.seconds, mips))
    } catch {
        print("\(w.name): \(error)")
        exit(1)
    }
}
}


/// Real boots from the firmware corpus (../../shared/firmware from this package, or
/// $ESP32EMU_FIRMWARE): ROM -> bootloader -> app to a given UART text.
func printBootTable(runs: Int) {
    let env = ProcessInfo.processInfo.environment
    let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    let corpus = env["ESP32EMU_FIRMWARE"] ?? here.deletingLastPathComponent().appendingPathComponent("shared/firmware").path
    let rom = corpus + "/rom/esp32-v3-rom.bin"
    guard FileManager.default.fileExists(atPath: rom) else {
        print("boot benchmarks skipped: no firmware corpus at \(corpus) (set ESP32EMU_FIRMWARE)")
        return
    }
    let hello = corpus + "/app/idf-v4.2.3-hello_world-guopung"
    let zephyr = corpus + "/app/zephyr-esp32-devkitc-wrover-Brunoarico"
    let boots: [(String, [(Int, String)], String)] = [
        ("boot hello v4.2.3", [(0x1000, hello + "/bootloader.bin"), (0x8000, hello + "/partitions_singleapp.bin"),
                               (0x10000, hello + "/hello-world.bin")], "Hello world!"),
        ("boot zephyr", [(0x1000, zephyr + "/bootloader.bin"), (0x8000, zephyr + "/partitions_singleapp.bin"),
                         (0x10000, zephyr + "/zephyr.bin")], "Thread A running"),
    ]
    // Peak RSS of one board: the same boot by the esp32emu command (`--stats` reports its own
    // peak RSS), not this process, whose allocator the benchmark's malloc interposer wraps (it
    // touches every page calloc hands out). Needs `swift build -c release` of the main package
    // (compare-qemu.sh does it); otherwise the column says n/a.
    let emu = here.appendingPathComponent(".build/release/esp32emu").path
    func childPeakRSS(_ parts: [(Int, String)], _ text: String) -> String {
        guard FileManager.default.isExecutableFile(atPath: emu) else { return "n/a" }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: emu)
        p.arguments = ["run", "--rom", rom, "--expect-text", text, "--stats"] + parts.flatMap { ["--part", "\($0.0)=\($0.1)"] }
        p.standardOutput = FileHandle.nullDevice
        let pipe = Pipe()
        p.standardError = pipe
        guard (try? p.run()) != nil else { return "n/a" }
        let err = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard let r = err.range(of: "peak_rss_mb=") else { return "n/a" }
        return String(err[r.upperBound...].prefix { !$0.isWhitespace })
    }
    print("boot                instructions      median s   guest MIPS   peak RSS MB   plain-path instructions")
    for (name, parts, text) in boots {
        var times: [Double] = []
        var instructions: [UInt64] = []
        // The runs with the shortcuts, then one on the interpreter's plain path (no carried
        // predecode slots, no busy-wait skips): every count must be the same.
        for shortcuts in Array(repeating: true, count: runs) + [false] {
            guard let s = try? Session(romPath: rom, parts: parts.map { Session.Part(offset: $0.0, path: $0.1) }) else {
                print("\(name): cannot build the flash"); return
            }
            s.soc.diagnostics.sink = { _ in }
            s.soc.shortcuts = shortcuts
            let r = s.run(expect: [text], timeoutMilliseconds: 20_000)
            guard r.outcome == .expectedTextSeen else { print("\(name): \(r.outcome)"); return }
            if shortcuts { times.append(r.wallSeconds) }
            instructions.append(r.instructions)
        }
        times.sort()
        let t = times[times.count / 2]
        let r = childPeakRSS(parts, text)
        let rss = String(repeating: " ", count: max(0, 12 - r.count)) + r
        let label = name.padding(toLength: 18, withPad: " ", startingAt: 0)
        let n = instructions[0]
        let same = Set(instructions).count == 1
        print(label + String(format: " %13llu %12.3f %12.1f ", n, t, Double(n) / t / 1e6) + rss
              + String(format: "   %llu ", instructions.last!) + (same ? "(identical)" : "(DIFFERENT: \(instructions))"))
        if !same { exit(1) }
    }
}

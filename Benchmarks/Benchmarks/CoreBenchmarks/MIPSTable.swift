// Prints guest MIPS per workload: each workload runs `runs` times on a fresh machine,
// the median wall time counts. Instruction counts are the emulator's own (deterministic).
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

/// Prints the MIPS table; used when the executable runs on its own (`swift run -c release`).
func printMIPSTable(arguments args: [String]) {
let env = ProcessInfo.processInfo.environment
let runs = env["BENCH_RUNS"].flatMap { Int($0) } ?? 5
let scale = env["BENCH_SCALE"].flatMap { Double($0) } ?? 1.0
let workloads = [
    GuestWorkloads.aluLoop(iterations: UInt32(50_000_000 * scale)),
    GuestWorkloads.loadMulStore(passes: UInt32(40_000 * scale)),
    GuestWorkloads.windowedFib(UInt32(27 + (scale >= 1 ? 2 : 0))),
    GuestWorkloads.fpLoop(iterations: UInt32(20_000_000 * scale)),
]
print("workload          instructions      median s   guest MIPS   (\(runs) runs)")
for w in workloads {
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

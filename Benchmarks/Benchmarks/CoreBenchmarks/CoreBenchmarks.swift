import Benchmark
import Foundation
import XtensaCore

/// Guest workloads on the bare-metal core. Throughput is in guest instructions
/// (scalingFactor = instructions per iteration), so `throughput` reads as guest instructions/s.
let benchmarks: @Sendable () -> Void = {
    // Started by `swift run` rather than by the benchmark plugin: print guest MIPS and stop.
    if !CommandLine.arguments.contains(where: { $0.hasPrefix("--input-fd") || $0 == "-i" }) {
        printMIPSTable(arguments: CommandLine.arguments)
        exit(0)
    }
    Benchmark.defaultConfiguration = .init(metrics: [.wallClock, .throughput, .peakMemoryResident],
                                           maxDuration: .seconds(10), maxIterations: 10)
    let workloads = [
        GuestWorkloads.aluLoop(iterations: 10_000_000),
        GuestWorkloads.loadMulStore(passes: 8_000),
        GuestWorkloads.windowedFib(25),
        GuestWorkloads.fpLoop(iterations: 4_000_000),
    ]
    for w in workloads {
        let count = (try? GuestWorkloads.run(w).instructions) ?? 1
        Benchmark(w.name, configuration: .init(scalingFactor: .one)) { benchmark in
            for _ in benchmark.scaledIterations {
                let r = try GuestWorkloads.run(w)
                blackHole(r.a2)
            }
            benchmark.measurement(.custom("guest instructions", polarity: .prefersLarger), Int(count))
        }
    }
}

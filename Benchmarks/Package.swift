// swift-tools-version:6.1
// Benchmarks live in their own package so that normal builds and tests of esp32emu do not
// pull in ordo-one/benchmark.
//
//   swift run -c release      # guest MIPS per workload (median of BENCH_RUNS=5 runs, BENCH_SCALE=1)
//   swift package benchmark                       # the same workloads under ordo-one/benchmark
// Run directly (not through the plugin), the benchmark executable prints the MIPS table.
import PackageDescription

let package = Package(
    name: "esp32emu-benchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "esp32emu", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "CoreBenchmarks",
            dependencies: [
                .product(name: "XtensaCore", package: "esp32emu"),
                .product(name: "ESP32", package: "esp32emu"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/CoreBenchmarks",
            // The interpreter's code-generation flags (see ../Package.swift): cross-module
            // optimisation may compile a copy of the run loop into this module.
            swiftSettings: [.unsafeFlags(["-Xllvm", "-enable-tail-merge=false", "-Xllvm", "-tail-dup-indirect-size=40",
                                          "-Xllvm", "-align-all-functions=6"])],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)

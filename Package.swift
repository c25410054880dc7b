// swift-tools-version:6.0
import PackageDescription

// Code generation for the interpreter's run loop (XtensaCore). LLVM otherwise merges the
// identical tails of the loop's switch cases (the register write, the return to the loop)
// into shared blocks, so that each guest instruction takes several extra host jumps, and copies
// the dispatch's indirect jump into few of its predecessors. Keeping the tails apart and letting
// the indirect jump be copied into each case gives the cases their own dispatch, as in a
// threaded interpreter. The loop's speed also depends on where its blocks fall relative to
// 64-byte lines: aligning functions to 64 bytes keeps it from changing with unrelated code
// elsewhere in the binary. Clients get the same flags because cross-module optimisation may
// compile a copy of the run loop into them (the linker keeps one copy).
let interpreterCodegen = ["-Xllvm", "-enable-tail-merge=false", "-Xllvm", "-tail-dup-indirect-size=40",
                          "-Xllvm", "-align-all-functions=6"]

// The emulator's modules are optimised in every configuration: the test suite boots real
// firmware (hundreds of millions of guest instructions), which an unoptimised interpreter
// could not do in CI's time. Exclusivity is checked statically; the interpreter's state lives
// behind raw pointers.
let emulatorSettings: [SwiftSetting] = [
    .unsafeFlags(["-O", "-enforce-exclusivity=unchecked"] + interpreterCodegen, .when(configuration: .debug)),
    .unsafeFlags(["-Ounchecked", "-enforce-exclusivity=unchecked"] + interpreterCodegen, .when(configuration: .release)),
]

let package = Package(
    name: "esp32emu",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "esp32emu", targets: ["esp32emu"]),
        .library(name: "XtensaCore", targets: ["XtensaCore"]),
        .library(name: "FirmwareFormats", targets: ["FirmwareFormats"]),
        .library(name: "ESP32", targets: ["ESP32"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CLibElf", path: "Sources/CLibElf", pkgConfig: "libelf",
                       providers: [.apt(["libelf-dev"])]),
        .target(name: "XtensaCore", swiftSettings: emulatorSettings),
        .target(name: "FirmwareFormats", dependencies: ["CLibElf"]),
        .target(name: "ESP32", dependencies: ["XtensaCore", "FirmwareFormats"], swiftSettings: emulatorSettings),
        .executableTarget(name: "esp32emu", dependencies: [
            "XtensaCore", "FirmwareFormats", "ESP32",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: [.unsafeFlags(interpreterCodegen)]),
        .testTarget(name: "XtensaCoreTests", dependencies: ["XtensaCore", "FirmwareFormats"]),
        .testTarget(name: "FirmwareFormatsTests", dependencies: ["FirmwareFormats", "XtensaCore"]),
        .testTarget(name: "ESP32Tests", dependencies: ["ESP32", "XtensaCore", "FirmwareFormats"]),
    ],
    swiftLanguageModes: [.v5]
)

// swift-tools-version:6.0
import PackageDescription

// The emulator's modules are optimised in every configuration: the test suite boots real
// firmware (hundreds of millions of guest instructions), which an unoptimised interpreter
// could not do in CI's time. Exclusivity is checked statically; the interpreter's state lives
// behind raw pointers.
let emulatorSettings: [SwiftSetting] = [
    .unsafeFlags(["-O", "-enforce-exclusivity=unchecked"], .when(configuration: .debug)),
    .unsafeFlags(["-Ounchecked", "-enforce-exclusivity=unchecked"], .when(configuration: .release)),
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
        ]),
        .testTarget(name: "XtensaCoreTests", dependencies: ["XtensaCore", "FirmwareFormats"]),
        .testTarget(name: "FirmwareFormatsTests", dependencies: ["FirmwareFormats", "XtensaCore"]),
        .testTarget(name: "ESP32Tests", dependencies: ["ESP32", "XtensaCore", "FirmwareFormats"]),
    ],
    swiftLanguageModes: [.v5]
)

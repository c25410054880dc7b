// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "esp32emu",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "esp32emu", targets: ["esp32emu"]),
        .library(name: "XtensaCore", targets: ["XtensaCore"]),
        .library(name: "FirmwareFormats", targets: ["FirmwareFormats"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CLibElf", path: "Sources/CLibElf", pkgConfig: "libelf",
                       providers: [.apt(["libelf-dev"])]),
        .target(name: "XtensaCore",
                swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),
        .target(name: "FirmwareFormats", dependencies: ["CLibElf"]),
        .target(name: "ESP32", dependencies: ["XtensaCore", "FirmwareFormats"]),
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

import ArgumentParser
import FirmwareFormats
import Foundation

// Image tools: image-info, elf2image, merge-bin, partition-table. Every problem with an input is
// one line `esp32emu: FILE: what (offset 0x...)` and exit code 2; nothing is written then.

struct ImageInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image-info",
        abstract: "Print an ESP32 image's header, segments, checksum, SHA-256 and app descriptor (as esptool image-info).")

    @Argument(help: "ESP32 app or bootloader image (.bin).") var file: String
    @Option(help: "Offset of the image in FILE, e.g. 0x1000 or 0x10000 in a whole-flash dump (default 0).") var offset: Address?

    func run() throws {
        let image = try inputChecked { try ESPImage(bytes: readFile(file), path: file, offset: Int(offset?.value ?? 0)) }
        FileHandle.standardOutput.write(Data(image.info().utf8))
    }
}

struct Elf2ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "elf2image",
        abstract: "Convert an ESP32 ELF into a flashable app/bootloader image, byte-identical to esptool --chip esp32 elf2image.")

    @Argument(help: "ESP32 ELF file.") var elf: String
    @Option(name: .shortAndLong, help: "Output image file.") var output: String
    @Option(help: "SPI flash mode: qio, qout, dio, dout (default qio, as esptool).") var flashMode: FlashModeArgument?
    @Option(help: "SPI flash frequency: 80m, 40m, 26m, 20m (default 40m).") var flashFreq: FlashFrequencyArgument?
    @Option(help: "Flash size in the header: 1MB, 2MB, 4MB, 8MB, 16MB, 32MB, 64MB, 128MB (default 1MB, as esptool).") var flashSize: FlashSizeArgument?
    @Option(help: "Minimal chip revision, major*100+minor (default 0).") var minRevFull: UInt16?
    @Option(help: "Maximal chip revision, major*100+minor (default 65535; ESP-IDF passes 399).") var maxRevFull: UInt16?
    @Option(help: "Legacy minimal chip revision byte (default 0).") var minRev: UInt8?
    @Flag(help: "Do not append the SHA-256 digest of the image.") var dontAppendDigest = false
    @Flag(help: "Build from the ELF's program headers instead of its sections.") var useSegments = false

    func run() throws {
        var options = ImageOptions()
        if let m = flashMode { options.flashMode = m.value }
        if let f = flashFreq { options.flashFrequency = f.value }
        if let s = flashSize { options.flashSize = s.value }
        if let r = minRevFull { options.minRevisionFull = r }
        if let r = maxRevFull { options.maxRevisionFull = r }
        if let r = minRev { options.minRevision = r }
        options.appendDigest = !dontAppendDigest
        options.useSegments = useSegments
        let image = try inputChecked { try ElfToImage.convert(path: elf, options: options) }
        guard image.count <= options.flashSize.bytes else {
            throw ValidationError("\(elf): the image is \(image.count) bytes, larger than the \(options.flashSize.name) flash (\(options.flashSize.bytes) bytes)")
        }
        try writeOutput(output, image)
    }
}

struct MergeBinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge-bin",
        abstract: "Merge files placed at flash offsets into one flash image (0xFF between them).",
        discussion: "Example: esp32emu merge-bin -o flash.bin --flash-size 4MB --pad 0x1000 bootloader.bin 0x8000 partition-table.bin 0x10000 app.bin")

    @Option(name: .shortAndLong, help: "Output file.") var output: String
    @Option(help: "Flash size: the parts must fit in it (default 16MB, the most the ESP32 maps).") var flashSize: FlashSizeArgument?
    @Flag(help: "Pad the output with 0xFF up to the flash size (a whole-flash image, as QEMU wants).") var pad = false
    @Argument(help: "OFFSET FILE pairs (offsets in hex with 0x, or decimal).") var parts: [String] = []

    func run() throws {
        guard !parts.isEmpty else { throw ValidationError("merge-bin: give OFFSET FILE pairs") }
        guard parts.count % 2 == 0 else { throw ValidationError("merge-bin: \(parts.last!): an OFFSET without a FILE (arguments come in OFFSET FILE pairs)") }
        var pairs: [(Int, String)] = []
        for i in stride(from: 0, to: parts.count, by: 2) {
            guard let off = parseNumber(parts[i]), off < UInt64(Int32.max) else {
                throw ValidationError("merge-bin: '\(parts[i])' is not an offset (for \(parts[i + 1]))")
            }
            pairs.append((Int(off), parts[i + 1]))
        }
        if pad && flashSize == nil { throw ValidationError("merge-bin: --pad needs --flash-size") }
        let image = try inputChecked {
            try FlashImage.merge(offsetsAndPaths: pairs, flashSize: flashSize?.value.bytes, pad: pad)
        }
        try writeOutput(output, image)
    }
}

struct PartitionTableCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "partition-table",
        abstract: "Print a binary partition table as ESP-IDF's gen_esp32part.py does, checking its MD5 entry.",
        discussion: "FILE is a partition table, or a whole-flash image with the table at 0x8000.")

    @Argument(help: "Partition table (.bin) or flash image.") var file: String
    @Flag(help: "Skip gen_esp32part's checks of offsets, sizes and names.") var noVerify = false

    func run() throws {
        var table = try inputChecked { try PartitionTable(bytes: readFile(file), path: file) }
        if !noVerify { try inputChecked { try table.verify() } }
        for w in table.warnings { FileHandle.standardError.write(Data("esp32emu: warning: \(file): \(w)\n".utf8)) }
        var text = table.csv
        if let md5 = table.md5 {
            text += "# MD5 \(Digest.hex(md5.digest)) (valid)\n"
        } else {
            text += "# no MD5 entry\n"
        }
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

// MARK: Option values

struct FlashModeArgument: ExpressibleByArgument {
    let value: FlashMode
    init?(argument: String) {
        guard let m = FlashMode(name: argument) else { return nil }
        value = m
    }
    static var allValueStrings: [String] { FlashMode.allCases.map(\.name) }
}

struct FlashFrequencyArgument: ExpressibleByArgument {
    let value: FlashFrequency
    init?(argument: String) {
        guard let f = FlashFrequency(name: argument) else { return nil }
        value = f
    }
    static var allValueStrings: [String] { FlashFrequency.names }
}

struct FlashSizeArgument: ExpressibleByArgument {
    let value: FlashSize
    init?(argument: String) {
        guard let s = FlashSize(name: argument) else { return nil }
        value = s
    }
    static var allValueStrings: [String] { FlashSize.names }
}

// MARK: Helpers

/// Runs `body`, turning an InputError into the one-line ValidationError the root command prints.
@discardableResult
fileprivate func inputChecked<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as InputError { throw ValidationError(e.message) }
}

/// Writes the whole output at once (atomically: no partial file on failure).
fileprivate func writeOutput(_ path: String, _ bytes: [UInt8]) throws {
    do {
        try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        throw ValidationError("\(path): cannot write file")
    }
}

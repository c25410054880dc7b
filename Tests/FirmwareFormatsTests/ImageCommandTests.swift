import FirmwareFormats
import XCTest

/// The image subcommands of the esp32emu executable: what they print, and bad input (exit code 2,
/// one line on stderr naming the file, nothing on stdout, no output file written).
final class ImageCommandTests: XCTestCase {
    var tmp: URL!

    override func setUpWithError() throws {
        tmp = try Env.tempDir()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: tmp)
    }

    func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let p = tmp.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }

    func esp32emu(_ args: [String]) throws -> Env.ProcessResult {
        try Env.run(Env.cli(), args, cwd: tmp)
    }

    /// Runs a command that must fail on its input; checks the one-line message and that `output` was not written.
    func assertBadInput(_ args: [String], mentions: [String], output: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try esp32emu(args)
        XCTAssertEqual(r.status, 2, "\(args): exit status; stderr: \(r.err)", file: file, line: line)
        let lines = r.err.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 2, "\(args): one line on stderr, got: \(r.err)", file: file, line: line)
        XCTAssertTrue(r.err.hasPrefix("esp32emu: "), r.err, file: file, line: line)
        for m in mentions { XCTAssertTrue(r.err.contains(m), "\(args): \"\(r.err)\" lacks \"\(m)\"", file: file, line: line) }
        XCTAssertEqual(r.out, "", file: file, line: line)
        if let o = output {
            XCTAssertFalse(FileManager.default.fileExists(atPath: o), "\(args): \(o) was written", file: file, line: line)
        }
    }

    func testBadInput() throws {
        _ = try Env.cli()
        let image = try Synthetic.image(size: 100)
        let out = tmp.appendingPathComponent("out.bin").path
        let missing = tmp.appendingPathComponent("missing.bin").path
        let empty = try file("empty.bin", [])
        var promises = image
        promises[1] = 3
        let truncated = try file("truncated.bin", Array(promises.prefix(24 + 8 + 100)))
        let magic = try file("magic.bin", [0x12] + image.dropFirst())
        var big = image
        big[29] = 0x10
        let bigSegment = try file("bigseg.bin", big)
        var arm = Synthetic.elf()
        arm[18] = 40
        let armELF = try file("arm.elf", arm)
        let elf = try file("good.elf", Synthetic.elf())
        let part = try file("part.bin", [UInt8](repeating: 0x5A, count: 0x20000))
        var table = Synthetic.partitionTable(Synthetic.singleApp)
        table[0x30] ^= 0xFF
        let badTable = try file("md5.bin", table)

        try assertBadInput(["image-info", missing], mentions: [missing, "no such file"])
        try assertBadInput(["image-info", empty], mentions: [empty, "empty file", "offset 0x0"])
        try assertBadInput(["image-info", truncated], mentions: [truncated, "truncated image", "promises 3 segments", "offset 0x84"])
        try assertBadInput(["image-info", magic], mentions: [magic, "not an ESP32 image", "offset 0x0"])
        try assertBadInput(["image-info", bigSegment], mentions: [bigSegment, "segment 0", "larger than", "offset 0x1c"])
        try assertBadInput(["image-info", "--offset", "0x100000", bigSegment], mentions: [bigSegment, "past the end"])
        try assertBadInput(["image-info", "--offset", "zz", bigSegment], mentions: ["zz"])

        try assertBadInput(["elf2image", missing, "-o", out], mentions: [missing, "no such file"], output: out)
        try assertBadInput(["elf2image", empty, "-o", out], mentions: [empty, "empty file"], output: out)
        try assertBadInput(["elf2image", armELF, "-o", out], mentions: [armELF, "not Xtensa", "offset 18"], output: out)
        try assertBadInput(["elf2image", magic, "-o", out], mentions: [magic, "not an ELF"], output: out)
        try assertBadInput(["elf2image", elf, "-o", out, "--flash-mode", "fast"], mentions: ["fast", "--flash-mode"], output: out)
        try assertBadInput(["elf2image", elf, "-o", out, "--flash-freq", "48m"], mentions: ["48m", "--flash-freq"], output: out)
        try assertBadInput(["elf2image", elf, "-o", out, "--flash-size", "3MB"], mentions: ["3MB", "--flash-size"], output: out)

        try assertBadInput(["merge-bin", "-o", out, "0x1000", missing], mentions: [missing, "no such file"], output: out)
        try assertBadInput(["merge-bin", "-o", out, "0x1000", empty], mentions: [empty, "empty file"], output: out)
        try assertBadInput(["merge-bin", "-o", out, "0x1000", elf, "0x1100", elf], mentions: [elf, "0x1100", "overlaps"], output: out)
        try assertBadInput(["merge-bin", "-o", out, "--flash-size", "1MB", "0xF0000", part], mentions: [part, "0xf0000", "larger than the flash"], output: out)
        try assertBadInput(["merge-bin", "-o", out, "0x1000000", elf], mentions: [elf, "out of range"], output: out)
        try assertBadInput(["merge-bin", "-o", out, "0x1000", elf, "0x2000"], mentions: ["0x2000", "pairs"], output: out)
        try assertBadInput(["merge-bin", "-o", out, "10q", elf], mentions: ["10q", "offset"], output: out)
        try assertBadInput(["merge-bin", "-o", out, "--flash-size", "2GB", "0x1000", elf], mentions: ["2GB"], output: out)

        try assertBadInput(["partition-table", missing], mentions: [missing, "no such file"])
        try assertBadInput(["partition-table", empty], mentions: [empty, "empty file"])
        try assertBadInput(["partition-table", magic], mentions: [magic, "not a partition table", "offset 0x0"])
        try assertBadInput(["partition-table", badTable], mentions: [badTable, "MD5", "offset 0x60"])
    }

    func testCommands() throws {
        _ = try Env.cli()
        let elfPath = try file("app.elf", Synthetic.elf(base: 0x400D_0020, size: 200))
        let out = tmp.appendingPathComponent("app.bin").path
        var r = try esp32emu(["elf2image", elfPath, "-o", out, "--flash-mode", "dio", "--flash-freq", "80m", "--flash-size", "4MB"])
        XCTAssertEqual(r.status, 0, r.err)
        var o = ImageOptions()
        o.flashMode = .dio; o.flashFrequency = .f80m; o.flashSize = .mb4
        let expected = try ElfToImage.convert(elf: Synthetic.elf(base: 0x400D_0020, size: 200), path: "x", options: o)
        XCTAssertTrue(try readBytes(out) == expected)

        r = try esp32emu(["image-info", out])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, try ESPImage(bytes: expected, path: out).info())
        XCTAssertTrue(r.out.contains("Flash size: 4MB\nFlash freq: 80m\nFlash mode: DIO\n"), r.out)
        XCTAssertTrue(r.out.contains("IROM"), r.out)

        let table = try file("table.bin", Synthetic.partitionTable(Synthetic.singleApp))
        let flash = tmp.appendingPathComponent("flash.bin").path
        r = try esp32emu(["merge-bin", "-o", flash, "--flash-size", "2MB", "--pad", "0x10000", out, "0x8000", table])
        XCTAssertEqual(r.status, 0, r.err)
        let merged = try readBytes(flash)
        XCTAssertEqual(merged.count, 2 << 20)
        XCTAssertTrue(merged[0x10000..<0x10000 + expected.count].elementsEqual(expected))

        r = try esp32emu(["image-info", "--offset", "0x10000", flash])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("Entry point: 0x400d0020"), r.out)

        for f in [table, flash] {
            r = try esp32emu(["partition-table", f])
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertEqual(r.out, """
                # ESP-IDF Partition Table
                # Name, Type, SubType, Offset, Size, Flags
                nvs,data,nvs,0x9000,24K,
                phy_init,data,phy,0xf000,4K,
                factory,app,factory,0x10000,1M,
                # MD5 \(Digest.hex(Digest.md5(Synthetic.partitionTable(Synthetic.singleApp).prefix(96)))) (valid)

                """)
        }
    }
}

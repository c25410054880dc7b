import FirmwareFormats
import XCTest

final class ElfToImageTests: XCTestCase {

    /// The ELFs of the corpus (ROM ELFs aside) with the image beside each, when there is one.
    static func corpusELFs() throws -> [(elf: String, image: String?)] {
        try Env.corpusFiles(suffix: ".elf").filter { !$0.hasPrefix("rom-elf/") }.map { rel in
            let bin = String(rel.dropLast(4)) + ".bin"
            let exists = FileManager.default.fileExists(atPath: try Env.corpusPath(bin))
            return (rel, exists ? bin : nil)
        }
    }

    /// The options an image's header shows (flash mode/frequency/size, chip revisions).
    static func options(from image: ESPImage?) -> ImageOptions {
        var o = ImageOptions()
        guard let img = image else {
            o.flashMode = .dio; o.flashFrequency = .f40m; o.flashSize = .mb4
            return o
        }
        o.flashMode = img.flashMode ?? .qio
        o.flashFrequency = img.flashFrequency ?? .f40m
        o.flashSize = img.flashSize ?? .mb1
        o.minRevision = img.minRevision
        o.minRevisionFull = img.minRevisionFull
        o.maxRevisionFull = img.maxRevisionFull
        o.appendDigest = img.hashAppended
        return o
    }

    static func esptoolArguments(_ o: ImageOptions) -> [String] {
        var a = ["--flash-mode", o.flashMode.name, "--flash-freq", o.flashFrequency.name, "--flash-size", o.flashSize.name,
                 "--min-rev", String(o.minRevision), "--min-rev-full", String(o.minRevisionFull), "--max-rev-full", String(o.maxRevisionFull)]
        if !o.appendDigest { a.append("--dont-append-digest") }
        if o.useSegments { a.append("--use-segments") }
        return a
    }

    /// elf2image output is byte-identical to esptool's for every ELF of the corpus, with the flash
    /// options of the image beside it, from sections and from segments; where esptool fails, we fail.
    func testByteIdenticalToEsptool() throws {
        let elfs = try Self.corpusELFs()
        try Env.requireEsptool()
        let tmp = try Env.tempDir()
        defer { try? FileManager.default.removeItem(at: tmp) }
        var identical = 0, bothRefused = 0
        for (rel, bin) in elfs {
            let path = try Env.corpusPath(rel)
            let header = try bin.map { try ESPImage(path: Env.corpusPath($0)) }
            for useSegments in [false, true] {
                var o = Self.options(from: header)
                o.useSegments = useSegments
                let out = tmp.appendingPathComponent("esptool.bin")
                try? FileManager.default.removeItem(at: out)
                let r = try Env.esptool(["--chip", "esp32", "elf2image"] + Self.esptoolArguments(o) + ["-o", out.path, path])
                let ours = Result { try ElfToImage.convert(path: path, options: o) }
                let what = "\(rel)\(useSegments ? " --use-segments" : "")"
                if r.status == 0 {
                    let expected = try readBytes(out.path)
                    switch ours {
                    case .success(let b):
                        XCTAssertEqual(b.count, expected.count, what)
                        XCTAssertTrue(b == expected, "\(what): differs from esptool at byte \(zip(b, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(b.count, expected.count))")
                        identical += 1
                    case .failure(let e): XCTFail("\(what): esptool converts it, we fail: \(e)")
                    }
                } else {
                    switch ours {
                    case .success: XCTFail("\(what): esptool fails (\(r.out + r.err)), we convert it")
                    case .failure(let e): XCTAssertTrue(e is InputError, "\(what): \(e)"); bothRefused += 1
                    }
                }
            }
        }
        XCTAssertGreaterThanOrEqual(identical, 25)
        // The Rust esp-hal ELF has .rodata_desc and .rodata in one flash page, not adjacent in section order.
        XCTAssertEqual(bothRefused, 1)
    }

    /// Without esptool: the ELFs whose image in the corpus came from esptool 4.x/5.x give that image
    /// back byte for byte, with the options its header shows.
    func testReproducesCorpusImages() throws {
        let pairs = [
            "app/idf-v5.1.2-hello_world-ErisdarDemo/hello_world",
            "app/zephyr-esp32-devkitc-wrover-Brunoarico/zephyr",
            "merged/idf-v5.3-blink-qemu-OOHehir/blink",
            "merged/idf-v6.1dev-blink-dht-qemu-zruv/blink",
            "merged/idf-v6.1dev-blink-dht-qemu-zruv/bootloader",
        ]
        for p in pairs {
            let expected = try readBytes(Env.corpusPath(p + ".bin"))
            let o = Self.options(from: try ESPImage(bytes: expected, path: p + ".bin"))
            let ours = try ElfToImage.convert(path: Env.corpusPath(p + ".elf"), options: o)
            XCTAssertTrue(ours == expected, "\(p): \(ours.count) bytes vs \(expected.count)")
        }
    }

    /// The segment layout rules, on the v5.1.2 hello_world ELF.
    func testLayout() throws {
        var o = ImageOptions()
        o.flashMode = .dio; o.flashSize = .mb2
        let bytes = try ElfToImage.convert(path: Env.corpusPath("app/idf-v5.1.2-hello_world-ErisdarDemo/hello_world.elf"), options: o)
        let img = try ESPImage(bytes: bytes, path: "hello_world.bin")
        XCTAssertTrue(img.checksumValid)
        XCTAssertEqual(img.digestValid, true)
        for s in img.segments where s.isFlashMapped {
            XCTAssertEqual((s.headerOffset + 8) % 0x10000, Int(s.loadAddress) % 0x10000, "flash segment data sits at its MMU page offset")
        }
        XCTAssertTrue(img.segments[0].memoryTypes.contains("DROM"), "the app descriptor comes first")
        let elf = try readBytes(Env.corpusPath("app/idf-v5.1.2-hello_world-ErisdarDemo/hello_world.elf"))
        XCTAssertEqual(img.appDescriptor?.elfSHA256, Digest.sha256(elf), "ELF SHA-256 written at offset 0xB0")
        XCTAssertEqual(Array(bytes[0xB0..<0xD0]), Digest.sha256(elf))
    }

    func testSyntheticFlashMappedELF() throws {
        // A code section mapped from flash: a zero padding segment puts it at its page offset.
        let bytes = try Synthetic.image(base: 0x400D_0020, size: 64)
        let img = try ESPImage(bytes: bytes, path: "flash.bin")
        XCTAssertEqual(img.segments.count, 1)
        XCTAssertEqual(img.segments[0].headerOffset, 0x18)
        XCTAssertEqual(img.segments[0].length, 64)
        let far = try Synthetic.image(base: 0x400D_1000, size: 64)
        let img2 = try ESPImage(bytes: far, path: "far.bin")
        XCTAssertEqual(img2.segments.map(\.loadAddress), [0, 0x400D_1000])
        XCTAssertEqual((img2.segments[1].headerOffset + 8) % 0x10000, 0x1000)
        XCTAssertTrue(img2.checksumValid)
    }

    func testBadELFs() throws {
        assertInputError(["e.elf", "empty file"]) { try ElfToImage.convert(elf: [], path: "e.elf") }
        assertInputError(["x.elf", "not an ELF"]) { try ElfToImage.convert(elf: [UInt8](repeating: 0x41, count: 100), path: "x.elf") }
        var arm = Synthetic.elf()
        arm[18] = 40; arm[19] = 0
        assertInputError(["arm.elf", "not Xtensa", "offset 18"]) { try ElfToImage.convert(elf: arm, path: "arm.elf") }
        let elf = Synthetic.elf()
        assertInputError(["t.elf", "section headers", "past the end"]) { try ElfToImage.convert(elf: Array(elf.prefix(60)), path: "t.elf") }
        var o = ImageOptions()
        o.useSegments = true
        var ph = elf
        ph[28] = 0xF0; ph[29] = 0xFF   // e_phoff far out
        assertInputError(["ph.elf", "program headers", "past the end"]) { try ElfToImage.convert(elf: ph, path: "ph.elf", options: o) }
    }
}

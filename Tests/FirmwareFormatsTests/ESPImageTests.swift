import FirmwareFormats
import XCTest

final class ESPImageTests: XCTestCase {

    // MARK: The corpus against its MANIFEST

    /// One MANIFEST row's image-info facts.
    struct ManifestImage {
        var path: String
        var entry: UInt32
        var flash: String               // e.g. "2MB 40m DIO"
        var segments: [(length: Int, address: UInt32)]
    }

    /// The MANIFEST rows with an image-info column: `entry `0x...`; 2MB 40m DIO; `len@addr ...``.
    static func manifestImages() throws -> [ManifestImage] {
        let text = try String(contentsOf: Env.corpus().appendingPathComponent("MANIFEST.md"), encoding: .utf8)
        var out: [ManifestImage] = []
        for line in text.split(separator: "\n") where line.hasPrefix("| ") {
            let cols = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cols.count > 9, Int(cols[1]) != nil else { continue }
            let info = cols[9]
            guard info.hasPrefix("entry `") else { continue }
            let parts = info.components(separatedBy: "; ")
            guard parts.count == 3 else { XCTFail("unexpected image-info column: \(info)"); continue }
            let entryText = parts[0].dropFirst("entry `".count).prefix { $0 != "`" }
            let segs = parts[2].trimmingCharacters(in: CharacterSet(charactersIn: "`")).split(separator: " ").map { s -> (Int, UInt32) in
                let lr = s.split(separator: "@")
                return (Int(lr[0].dropFirst(2), radix: 16)!, UInt32(lr[1].dropFirst(2), radix: 16)!)
            }
            out.append(ManifestImage(path: cols[2].trimmingCharacters(in: CharacterSet(charactersIn: "`")),
                                     entry: UInt32(entryText.dropFirst(2), radix: 16)!, flash: parts[1],
                                     segments: segs.map { (length: $0.0, address: $0.1) }))
        }
        return out
    }

    func testEveryCorpusImageMatchesTheManifest() throws {
        let images = try Self.manifestImages()
        XCTAssertGreaterThanOrEqual(images.count, 20, "MANIFEST rows with image-info facts")
        for m in images {
            let img = try ESPImage(path: Env.corpusPath(m.path))
            XCTAssertEqual(img.entry, m.entry, m.path)
            let flash = "\(img.flashSize?.name ?? "?") \(img.flashFrequency?.name ?? "?") \(img.flashMode?.name.uppercased() ?? "?")"
            XCTAssertEqual(flash, m.flash, m.path)
            XCTAssertEqual(img.segments.count, m.segments.count, m.path)
            for (s, e) in zip(img.segments, m.segments) {
                XCTAssertEqual(s.length, e.length, "\(m.path) segment at \(String(s.loadAddress, radix: 16))")
                XCTAssertEqual(s.loadAddress, e.address, m.path)
            }
            XCTAssertTrue(img.checksumValid, m.path)
            if img.hashAppended { XCTAssertEqual(img.digestValid, true, m.path) }
            XCTAssertEqual(img.length, img.availableBytes, "\(m.path): the image fills its file")
        }
    }

    /// Every .bin of the corpus: our report equals `esptool --chip esp32 image-info`, and what esptool
    /// rejects we reject.
    func testImageInfoMatchesEsptool() throws {
        let bins = try Env.corpusFiles(suffix: ".bin")
        try Env.requireEsptool()
        var compared = 0
        for rel in bins {
            let path = try Env.corpusPath(rel)
            let r = try Env.esptool(["--chip", "esp32", "image-info", path])
            let ours = Result { try ESPImage(path: path) }
            if r.status == 0 {
                let lines = r.out.components(separatedBy: "\n")
                guard let start = lines.firstIndex(where: { $0.hasPrefix("Image size:") }) else {
                    XCTFail("\(rel): unexpected esptool output \(r.out)"); continue
                }
                let expected = lines[start...].joined(separator: "\n")
                switch ours {
                case .success(let img): XCTAssertEqual(img.info(), expected, rel); compared += 1
                case .failure(let e): XCTFail("\(rel): esptool reads it, we do not: \(e)")
                }
            } else {
                if case .success = ours { XCTFail("\(rel): esptool rejects it (\(r.out + r.err)), we accept it") }
                if case .failure(let e) = ours { XCTAssertTrue(e is InputError, "\(rel): \(e)") }
            }
        }
        XCTAssertGreaterThanOrEqual(compared, 20)
    }

    /// App descriptors: the facts in the MANIFEST, and the recorded ELF SHA-256 equals the ELF beside the image.
    func testAppDescriptors() throws {
        let hello = try ESPImage(path: Env.corpusPath("app/idf-v5.1.2-hello_world-ErisdarDemo/hello_world.bin"))
        let d = try XCTUnwrap(hello.appDescriptor)
        XCTAssertEqual(d.projectName, "hello_world")
        XCTAssertEqual(d.version, "6970792-dirty")
        XCTAssertEqual(d.idfVersion, "v5.1.2-dirty")
        XCTAssertEqual(d.date, "Apr  1 2024")
        XCTAssertEqual(d.time, "12:19:34")
        XCTAssertNil(hello.bootloaderDescriptor)
        let pairs = [
            "app/idf-v4.2.3-hello_world-guopung/hello-world",
            "app/idf-v5.1.2-hello_world-ErisdarDemo/hello_world",
            "merged/idf-v5.3-blink-qemu-OOHehir/blink",
            "merged/idf-v6.1dev-blink-dht-qemu-zruv/blink",
        ]
        for p in pairs {
            let img = try ESPImage(path: Env.corpusPath(p + ".bin"))
            let desc = try XCTUnwrap(img.appDescriptor, p)
            XCTAssertEqual(desc.elfSHA256, Digest.sha256(try readBytes(Env.corpusPath(p + ".elf"))), p)
        }
        // Images from before the descriptor existed have none.
        XCTAssertNil(try ESPImage(path: Env.corpusPath("app/idf-v2.0-hello_world-aignacio/hello-world.bin")).appDescriptor)
        // Recent bootloaders carry a bootloader descriptor.
        let boot = try ESPImage(path: Env.corpusPath("merged/idf-v6.1dev-blink-dht-qemu-zruv/bootloader.bin"))
        let b = try XCTUnwrap(boot.bootloaderDescriptor)
        XCTAssertEqual(b.idfVersion, "v6.1-dev-724-ga6e7046c30")
        XCTAssertEqual(b.version, 1)
    }

    /// Which memory each segment lands in.
    func testMemoryTypes() throws {
        let img = try ESPImage(path: Env.corpusPath("merged/idf-v6.1dev-blink-dht-qemu-zruv/blink.bin"))
        XCTAssertEqual(img.segments.map { $0.memoryTypes.joined(separator: ",") },
                       ["DROM", "BYTE_ACCESSIBLE,DRAM", "IRAM", "IROM", "IRAM", "RTC_DATA"])
        XCTAssertEqual(img.segments.map(\.isFlashMapped), [true, false, false, true, false, false])
        let zephyr = try ESPImage(path: Env.corpusPath("app/zephyr-esp32-devkitc-wrover-Brunoarico/zephyr.bin"))
        XCTAssertEqual(zephyr.segments.filter(\.isPadding).count, 3)
        XCTAssertEqual(ESP32Memory.types(at: 0x3FFF_0030), ["BYTE_ACCESSIBLE", "DRAM", "DIRAM_DRAM"])
        XCTAssertEqual(ESP32Memory.types(at: 0x4007_8000), ["CACHE_APP"])
        XCTAssertEqual(ESP32Memory.types(at: 0x6000_0000), [])
    }

    /// The images inside the whole-flash images are the separate files.
    func testImagesInsideFlashImages() throws {
        for (flash, dir) in [("merged/idf-v5.3-blink-qemu-OOHehir/flash_image.bin", "merged/idf-v5.3-blink-qemu-OOHehir"),
                             ("merged/idf-v6.1dev-blink-dht-qemu-zruv/qemu_flash.bin", "merged/idf-v6.1dev-blink-dht-qemu-zruv")] {
            let bytes = try readBytes(Env.corpusPath(flash))
            for (offset, name) in [(0x1000, "bootloader.bin"), (0x10000, "blink.bin")] {
                let inner = try ESPImage(bytes: bytes, path: flash, offset: offset)
                let alone = try ESPImage(path: Env.corpusPath(dir + "/" + name))
                XCTAssertEqual(inner.entry, alone.entry)
                XCTAssertEqual(inner.segments.map(\.data), alone.segments.map(\.data))
                XCTAssertEqual(inner.length, alone.length)
                XCTAssertTrue(inner.checksumValid && inner.digestValid == true)
            }
            assertInputError([flash, "magic byte is 0xff", "offset 0x0"]) { try ESPImage(bytes: bytes, path: flash) }
        }
    }

    // MARK: Without the corpus

    func testSyntheticImageRoundTrip() throws {
        var opt = ImageOptions()
        opt.flashMode = .dout; opt.flashSize = .mb8; opt.flashFrequency = .f80m
        opt.minRevisionFull = 301; opt.maxRevisionFull = 399; opt.minRevision = 3
        let bytes = try Synthetic.image(size: 102, options: opt)
        let img = try ESPImage(bytes: bytes, path: "s.bin")
        XCTAssertEqual(img.entry, 0x4008_0000)
        XCTAssertEqual(img.flashMode, .dout)
        XCTAssertEqual(img.flashSize, .mb8)
        XCTAssertEqual(img.flashFrequency, .f80m)
        XCTAssertEqual(img.minRevisionFull, 301)
        XCTAssertEqual(img.maxRevisionFull, 399)
        XCTAssertEqual(img.minRevision, 3)
        XCTAssertEqual(img.wpPin, 0xEE)
        XCTAssertEqual(img.segments.count, 1)
        XCTAssertEqual(img.segments[0].length, 104, "padded to a multiple of 4")
        XCTAssertEqual(img.segments[0].memoryTypes, ["IRAM"])
        XCTAssertTrue(img.checksumValid)
        XCTAssertEqual(img.digestValid, true)
        XCTAssertEqual(img.length, bytes.count)
        XCTAssertEqual(bytes.count % 16, 0)
        XCTAssertTrue(img.info().contains("Checksum: 0x"))

        var corrupt = bytes
        corrupt[40] ^= 1
        let bad = try ESPImage(bytes: corrupt, path: "c.bin")
        XCTAssertFalse(bad.checksumValid)
        XCTAssertEqual(bad.digestValid, false)
        XCTAssertTrue(bad.info().contains("(invalid - calculated 0x"))
    }

    func testMalformedImages() throws {
        let good = try Synthetic.image(size: 100)
        assertInputError(["e.bin", "empty file", "offset 0x0"]) { try ESPImage(bytes: [], path: "e.bin") }
        assertInputError(["m.bin", "not an ESP32 image", "offset 0x0"]) { try ESPImage(bytes: [0x7F] + good.dropFirst(), path: "m.bin") }
        assertInputError(["h.bin", "truncated image header", "offset 0xa"]) { try ESPImage(bytes: Array(good.prefix(10)), path: "h.bin") }
        // The header promises a segment whose header is not in the file.
        assertInputError(["t.bin", "truncated image", "promises 1 segments", "offset 0x18"]) { try ESPImage(bytes: Array(good.prefix(24)), path: "t.bin") }
        var two = good
        two[1] = 2
        assertInputError(["t2.bin", "promises 2 segments", "segment 1", "offset 0x84"]) { try ESPImage(bytes: Array(two.prefix(24 + 8 + 100)), path: "t2.bin") }
        var big = good
        big[28] = 0xFF; big[29] = 0xFF; big[30] = 0xFF; big[31] = 0x7F
        assertInputError(["b.bin", "segment 0", "larger than", "offset 0x1c"]) { try ESPImage(bytes: big, path: "b.bin") }
        assertInputError(["c.bin", "checksum", "offset 0x8f"]) { try ESPImage(bytes: Array(good.prefix(24 + 8 + 100 + 4)), path: "c.bin") }
        assertInputError(["d.bin", "SHA-256", "offset 0x90"]) { try ESPImage(bytes: Array(good.prefix(good.count - 1)), path: "d.bin") }
        var many = good
        many[1] = 17
        assertInputError(["n.bin", "segment count 17", "offset 0x1"]) { try ESPImage(bytes: many, path: "n.bin") }
        var hash = good
        hash[23] = 2
        assertInputError(["a.bin", "hash_appended", "offset 0x17"]) { try ESPImage(bytes: hash, path: "a.bin") }
        assertInputError(["o.bin", "past the end"]) { try ESPImage(bytes: good, path: "o.bin", offset: good.count) }
    }
}

import FirmwareFormats
import XCTest

/// Mutated and random inputs: the readers either parse them or throw an InputError; they never crash
/// (a trap here kills the test process) and never throw anything else.
final class FuzzTests: XCTestCase {
    static let iterations = 2000

    /// Seeds: small corpus images when the corpus is there, synthetic ones always.
    func imageSeeds() throws -> [[UInt8]] {
        var seeds = [try Synthetic.image(size: 100), try Synthetic.image(base: 0x400D_1000, size: 64),
                     try Synthetic.image(size: 40, options: { var o = ImageOptions(); o.appendDigest = false; return o }())]
        if (try? Env.corpus()) != nil {
            for rel in ["app/idf-v2.0-hello_world-aignacio/bootloader.bin", "merged/idf-v6.1dev-blink-dht-qemu-zruv/bootloader.bin",
                        "app/zephyr-esp32-devkitc-wrover-Brunoarico/zephyr.bin"] {
                seeds.append(try readBytes(Env.corpusPath(rel)))
            }
        }
        return seeds
    }

    static func mutate(_ seed: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = seed
        switch Int.random(in: 0..<7, using: &rng) {
        case 0:     // truncate anywhere
            b = Array(b.prefix(Int.random(in: 0...b.count, using: &rng)))
        case 1:     // flip a few bytes anywhere
            for _ in 0..<Int.random(in: 1...8, using: &rng) where !b.isEmpty {
                b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
        case 2:     // flip bytes in the headers
            for _ in 0..<Int.random(in: 1...4, using: &rng) where b.count > 40 {
                b[Int.random(in: 0..<40, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
        case 3:     // random segment count and lengths
            if b.count > 32 {
                b[1] = UInt8.random(in: 0...20, using: &rng)
                let v = UInt32.random(in: 0...UInt32.max, using: &rng) >> UInt32.random(in: 0...31, using: &rng)
                for i in 0..<4 { b[28 + i] = UInt8((v >> (8 * UInt32(i))) & 0xFF) }
            }
        case 4:     // random bytes after a valid magic
            b = [0xE9] + (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        case 5:     // extra bytes at the end
            b += (0..<Int.random(in: 1...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        default:    // a large first DROM segment header with a random descriptor
            if b.count > 300 {
                b[0x18] = 0x20; b[0x19] = 0; b[0x1A] = 0x40; b[0x1B] = 0x3F
                b[0x20] = 0x32; b[0x21] = 0x54; b[0x22] = 0xCD; b[0x23] = 0xAB
                for i in 0x24..<0x120 { b[i] = UInt8.random(in: 0...255, using: &rng) }
            }
        }
        return b
    }

    func testImageParserNeverCrashes() throws {
        var rng = SplitMix64(seed: 0xE5B3_2E40)
        let seeds = try imageSeeds()
        var parsed = 0, rejected = 0
        for i in 0..<Self.iterations {
            let b = Self.mutate(seeds[i % seeds.count], &rng)
            do {
                let img = try ESPImage(bytes: b, path: "fuzz.bin", offset: i % 50 == 0 ? Int.random(in: 0...b.count + 2, using: &rng) : 0)
                _ = img.info()
                _ = img.appDescriptor
                _ = img.bootloaderDescriptor
                _ = img.checksumValid
                parsed += 1
            } catch let e as InputError {
                XCTAssertTrue(e.message.hasPrefix("fuzz.bin: "), e.message)
                XCTAssertFalse(e.message.contains("\n"))
                rejected += 1
            }
        }
        XCTAssertGreaterThan(parsed, 100)
        XCTAssertGreaterThan(rejected, 100)
    }

    func testPartitionTableParserNeverCrashes() throws {
        var rng = SplitMix64(seed: 0x50AA)
        let seed = Synthetic.partitionTable(Synthetic.singleApp)
        var parsed = 0
        for _ in 0..<Self.iterations {
            var b = seed
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: b = Array(b.prefix(Int.random(in: 0...200, using: &rng)))
            case 1: for _ in 0..<Int.random(in: 1...6, using: &rng) { b[Int.random(in: 0..<0x80, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            default: b = [0xAA, 0x50] + (0..<Int.random(in: 0...400, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            do {
                var t = try PartitionTable(bytes: b, path: "fuzz.bin")
                _ = t.csv
                try? t.verify()
                parsed += 1
            } catch let e as InputError {
                XCTAssertTrue(e.message.hasPrefix("fuzz.bin: "), e.message)
            }
        }
        XCTAssertGreaterThan(parsed, 100)
    }

    func testElfToImageNeverCrashes() throws {
        var rng = SplitMix64(seed: 0xE1F)
        let seeds = [Synthetic.elf(), Synthetic.elf(base: 0x400D_0020, size: 300), Synthetic.elf(base: 0x3F40_0020, size: 30)]
        for i in 0..<500 {
            var b = seeds[i % seeds.count]
            // Only the ELF header, program header and section headers: the code bytes do not matter.
            let headerSpots = Array(0..<0x54) + Array(max(0, b.count - 200)..<b.count)
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                b[headerSpots.randomElement(using: &rng)!] = UInt8.random(in: 0...255, using: &rng)
            }
            if Bool.random(using: &rng) { b = Array(b.prefix(Int.random(in: 0...b.count, using: &rng))) }
            do {
                let img = try ElfToImage.convert(elf: b, path: "fuzz.elf")
                _ = try ESPImage(bytes: img, path: "out.bin")
            } catch let e as InputError {
                XCTAssertTrue(e.message.hasPrefix("fuzz.elf: ") || e.message.hasPrefix("out.bin: ") || e.message.hasPrefix("libelf"), e.message)
            }
        }
    }
}

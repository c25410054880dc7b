import FirmwareFormats
import XCTest

final class FlashImageTests: XCTestCase {
    /// merge-bin rebuilds the corpus's whole-flash images (made by idf.py qemu / esptool) from their parts.
    func testRebuildsCorpusFlashImages() throws {
        for (dir, flash) in [("merged/idf-v5.3-blink-qemu-OOHehir", "flash_image.bin"),
                             ("merged/idf-v6.1dev-blink-dht-qemu-zruv", "qemu_flash.bin")] {
            let expected = try readBytes(Env.corpusPath(dir + "/" + flash))
            // Given in any order.
            let parts = try [(0x10000, "blink.bin"), (0x1000, "bootloader.bin"), (0x8000, "partition-table.bin")].map {
                ($0.0, try Env.corpusPath(dir + "/" + $0.1))
            }
            let merged = try FlashImage.merge(offsetsAndPaths: parts, flashSize: FlashSize.mb2.bytes, pad: true)
            XCTAssertTrue(merged == expected, dir)
            let unpadded = try FlashImage.merge(offsetsAndPaths: parts)
            XCTAssertEqual(unpadded.count, 0x10000 + (try readBytes(parts[0].1)).count)
            XCTAssertTrue(unpadded[...] == expected.prefix(unpadded.count))
        }
    }

    /// Same as esptool merge-bin (raw output, no header changes).
    func testMatchesEsptoolMergeBin() throws {
        let dir = "merged/idf-v6.1dev-blink-dht-qemu-zruv"
        let parts = try [(0x1000, "bootloader.bin"), (0x8000, "partition-table.bin"), (0x10000, "blink.bin")].map {
            ($0.0, try Env.corpusPath(dir + "/" + $0.1))
        }
        try Env.requireEsptool()
        let tmp = try Env.tempDir()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let out = tmp.appendingPathComponent("merged.bin").path
        var args = ["--chip", "esp32", "merge-bin", "-o", out, "--pad-to-size", "4MB"]
        for (o, p) in parts { args += ["0x" + String(o, radix: 16), p] }
        let r = try Env.esptool(args)
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertTrue(try FlashImage.merge(offsetsAndPaths: parts, flashSize: FlashSize.mb4.bytes, pad: true) == readBytes(out))
    }

    func testPlacementErrors() throws {
        let a = FlashImage.Part(offset: 0x1000, path: "a.bin", bytes: [UInt8](repeating: 1, count: 0x800))
        let b = FlashImage.Part(offset: 0x1400, path: "b.bin", bytes: [1, 2, 3, 4])
        let c = FlashImage.Part(offset: 0x1900, path: "c.bin", bytes: [1, 2, 3, 4])
        assertInputError(["b.bin", "overlaps a.bin", "offset 0x1400"]) { try FlashImage.merge([a, b]) }
        assertInputError(["c.bin", "shares a 4 KB flash sector with a.bin", "offset 0x1900"]) { try FlashImage.merge([c, a]) }
        let big = FlashImage.Part(offset: 0xF0000, path: "big.bin", bytes: [UInt8](repeating: 0, count: 0x20000))
        assertInputError(["big.bin", "0xf0000", "larger than the flash"]) { try FlashImage.merge([big], flashSize: FlashSize.mb1.bytes) }
        let far = FlashImage.Part(offset: 0x100_0000, path: "far.bin", bytes: [0])
        assertInputError(["far.bin", "out of range", "0x1000000"]) { try FlashImage.merge([far]) }
        let empty = FlashImage.Part(offset: 0x1000, path: "empty.bin", bytes: [])
        assertInputError(["empty.bin", "empty file"]) { try FlashImage.merge([empty]) }
        assertInputError(["missing.bin", "no such file"]) { try FlashImage.merge(offsetsAndPaths: [(0, "missing.bin")]) }

        let ok = try FlashImage.merge([FlashImage.Part(offset: 0x2000, path: "d.bin", bytes: [1, 2]), a], flashSize: 0x4000, pad: true)
        XCTAssertEqual(ok.count, 0x4000)
        XCTAssertEqual(ok[0..<0x1000].allSatisfy { $0 == 0xFF }, true)
        XCTAssertEqual(Array(ok[0x2000..<0x2003]), [1, 2, 0xFF])
    }
}

import ESP32
import Foundation
import XCTest

/// Loading the ROM from its ELF gives the same ROM bytes as the raw image.
final class ROMLoadTests: XCTestCase {
    func testROMFromELFMatchesRawImage() throws {
        let dir = BootChainTests.corpus
        let raw = dir + "/rom/esp32-v3-rom.bin", elf = dir + "/rom-elf/esp32_rev300_rom.elf"
        guard FileManager.default.fileExists(atPath: raw), FileManager.default.fileExists(atPath: elf) else {
            throw XCTSkip("ROM files not found in \(dir): ROM loading test skipped")
        }
        let a = ESP32(), b = ESP32()
        _ = try a.loadROM(path: raw)
        _ = try b.loadROM(path: elf)
        let n = 455_722
        var diffs: [Int] = []
        for i in 0..<n where a.memory.rom.bytes.load(fromByteOffset: i, as: UInt8.self) != b.memory.rom.bytes.load(fromByteOffset: i, as: UInt8.self) {
            diffs.append(i)
        }
        XCTAssertEqual(diffs.count, 0, "first differences at ROM offsets \(diffs.prefix(8).map { String($0, radix: 16) })")
    }
}

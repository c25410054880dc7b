import ESP32
import Foundation
import XCTest

/// `run APP.elf --bootloader BIN [--partition-table BIN]`: the whole chain is built around the
/// ELF (converted with our elf2image at 0x10000) and booted from reset.
final class ChainAroundELFTests: XCTestCase {
    func testHelloWorldELFThroughItsBootloader() throws {
        let dir = BootChainTests.corpus + "/app/idf-v4.2.3-hello_world-guopung"
        let rom = BootChainTests.corpus + "/rom/esp32-v3-rom.bin"
        guard FileManager.default.fileExists(atPath: rom) else { throw XCTSkip("firmware corpus not found at \(BootChainTests.corpus): skipped") }
        let bootloader = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/bootloader.bin")))
        for table in [[UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/partitions_singleapp.bin"))), nil] {
            let s = try Session(romPath: rom, appELF: dir + "/hello-world.elf", chainBootloader: bootloader, chainPartitionTable: table)
            s.soc.diagnostics.sink = { _ in }
            let r = s.run(expect: ["2nd stage bootloader", "Loaded app from partition at offset 0x10000", "Hello world!"],
                          ordered: true, timeoutMilliseconds: 5000)
            XCTAssertEqual(r.outcome, .expectedTextSeen, String(decoding: s.output, as: UTF8.self).suffix(2000).description)
        }
    }
}

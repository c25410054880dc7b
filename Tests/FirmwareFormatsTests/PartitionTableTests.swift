import FirmwareFormats
import XCTest

final class PartitionTableTests: XCTestCase {
    static let header = ["# ESP-IDF Partition Table", "# Name, Type, SubType, Offset, Size, Flags"]
    static let singleApp = ["nvs,data,nvs,0x9000,24K,", "phy_init,data,phy,0xf000,4K,", "factory,app,factory,0x10000,1M,"]

    /// What ESP-IDF's gen_esp32part.py (v1.5) prints for each corpus table, and whether it has an MD5 entry.
    static let expected: [(path: String, rows: [String], md5: Bool)] = [
        ("app/idf-v2.0-hello_world-aignacio/partitions_singleapp.bin", singleApp, false),
        ("app/idf-v3-hello_world-gjyoung1974/partitions_singleapp.bin", singleApp, true),
        ("app/idf-v4.2.3-hello_world-guopung/partitions_singleapp.bin", singleApp, true),
        ("app/zephyr-esp32-devkitc-wrover-Brunoarico/partitions_singleapp.bin", singleApp, true),
        ("bootloader/arduino-esp32-1.0.6-idf-v3.3/default.bin", [
            "nvs,data,nvs,0x9000,20K,",
            "otadata,data,ota,0xe000,8K,",
            "app0,app,ota_0,0x10000,1280K,",
            "app1,app,ota_1,0x150000,1280K,",
            "eeprom,data,153,0x290000,4K,",
            "spiffs,data,spiffs,0x291000,1468K,",
        ], false),
        ("bootloader/espflash-2020-09/partitions.bin", ["factory,app,factory,0x10000,4032K,"], true),
        ("bootloader/idf-v5.5.1-Laurentinoo/partition-table.bin", singleApp, true),
        ("merged/idf-v5.3-blink-qemu-OOHehir/partition-table.bin", singleApp, true),
        ("merged/idf-v6.1dev-blink-dht-qemu-zruv/partition-table.bin", singleApp, true),
        // Whole-flash images: the table at 0x8000.
        ("merged/idf-v5.3-blink-qemu-OOHehir/flash_image.bin", singleApp, true),
        ("merged/idf-v6.1dev-blink-dht-qemu-zruv/qemu_flash.bin", singleApp, true),
    ]

    func testCorpusTables() throws {
        for e in Self.expected {
            var t = try PartitionTable(path: Env.corpusPath(e.path))
            try t.verify()
            XCTAssertEqual(t.csv, (Self.header + e.rows).joined(separator: "\n") + "\n", e.path)
            XCTAssertEqual(t.md5 != nil, e.md5, e.path)
            XCTAssertEqual(t.fileOffset, e.path.hasPrefix("merged/") && !e.path.hasSuffix("partition-table.bin") ? 0x8000 : 0, e.path)
            XCTAssertTrue(t.warnings.isEmpty, "\(e.path): \(t.warnings)")
        }
        // Every table file of the corpus is in the list above.
        let tables = try Env.corpusFiles(suffix: ".bin").filter { rel in
            guard let b = try? readBytes(Env.corpusPath(rel)) else { return false }
            return b.count >= 2 && b[0] == 0xAA && b[1] == 0x50
        }
        for t in tables { XCTAssertTrue(Self.expected.contains { $0.path == t }, "\(t) has no expected rows") }
        XCTAssertEqual(tables.count, 9)
    }

    func testSyntheticTableAndNames() throws {
        let rows: [(String, UInt8, UInt8, UInt32, UInt32, UInt32)] = [
            ("nvs", 1, 2, 0x9000, 0x5000, 0), ("otadata", 1, 0, 0xE000, 0x2000, 0), ("keys", 1, 4, 0x10000, 0x1000, 1),
            ("ro", 1, 2, 0x11000, 0x1000, 2), ("ota_0", 0, 0x10, 0x20000, 0x180000, 0), ("ota_1", 0, 0x11, 0x1A0000, 0x180000, 0),
            ("tst", 0, 0x20, 0x320000, 0x10000, 0), ("fs", 1, 0x83, 0x330000, 0x1234, 3), ("custom", 0x40, 7, 0x340000, 0x100000, 0),
        ]
        var t = try PartitionTable(bytes: Synthetic.partitionTable(rows), path: "t.bin")
        try t.verify()
        XCTAssertEqual(t.entries.map(\.csvRow), [
            "nvs,data,nvs,0x9000,20K,", "otadata,data,ota,0xe000,8K,", "keys,data,nvs_keys,0x10000,4K,encrypted",
            "ro,data,nvs,0x11000,4K,readonly", "ota_0,app,ota_0,0x20000,1536K,", "ota_1,app,ota_1,0x1a0000,1536K,",
            "tst,app,test,0x320000,64K,", "fs,data,littlefs,0x330000,0x1234,encrypted:readonly", "custom,64,7,0x340000,1M,",
        ])
        XCTAssertEqual(t.md5?.fileOffset, 9 * 32)
        let noMD5 = try PartitionTable(bytes: Synthetic.partitionTable(Synthetic.singleApp, md5: false), path: "n.bin")
        XCTAssertNil(noMD5.md5)
        XCTAssertEqual(noMD5.entries.count, 3)
    }

    func testMalformedTables() throws {
        let good = Synthetic.partitionTable(Synthetic.singleApp)
        assertInputError(["e.bin", "empty file"]) { try PartitionTable(bytes: [], path: "e.bin") }
        assertInputError(["m.bin", "not a partition table", "offset 0x0"]) { try PartitionTable(bytes: [0xE9] + good.dropFirst(), path: "m.bin") }
        var md5 = good
        md5[0x25] ^= 0x01        // the second entry's offset
        assertInputError(["md5.bin", "MD5", "offset 0x60"]) { try PartitionTable(bytes: md5, path: "md5.bin") }
        var magic = good
        magic[0x40] = 0x12
        assertInputError(["g.bin", "entry 2", "offset 0x40"]) { try PartitionTable(bytes: magic, path: "g.bin") }
        assertInputError(["tr.bin", "truncated entry", "offset 0x40"]) { try PartitionTable(bytes: Array(good.prefix(0x50)), path: "tr.bin") }
        assertInputError(["end.bin", "end-of-table", "offset 0x80"]) { try PartitionTable(bytes: Array(good.prefix(0x80)), path: "end.bin") }
        var noEnd = Synthetic.partitionTable(Synthetic.singleApp, md5: false)
        for i in stride(from: 0x60, to: noEnd.count, by: 32) { noEnd.replaceSubrange(i..<i + 32, with: noEnd[0..<32]) }
        assertInputError(["ne.bin", "end-of-table"]) { try PartitionTable(bytes: noEnd, path: "ne.bin") }

        func verifyFails(_ rows: [(String, UInt8, UInt8, UInt32, UInt32, UInt32)], _ parts: [String]) {
            assertInputError(["v.bin"] + parts) {
                var t = try PartitionTable(bytes: Synthetic.partitionTable(rows), path: "v.bin")
                try t.verify()
            }
        }
        verifyFails([("nvs", 1, 2, 0x9000, 0x6000, 0), ("factory", 0, 0, 0xE000, 0x100000, 0)], ["factory", "not aligned to 0x10000", "offset 0x20"])
        verifyFails([("nvs", 1, 2, 0x9000, 0x8000, 0), ("phy", 1, 1, 0xF000, 0x1000, 0)], ["phy", "overlaps nvs"])
        verifyFails([("nvs", 1, 2, 0x7000, 0x6000, 0)], ["below 0x9000"])
        verifyFails([("a", 1, 2, 0x9000, 0x3000, 0), ("a", 1, 1, 0xF000, 0x1000, 0)], ["unique"])
        verifyFails([("otadata", 1, 0, 0x9000, 0x1000, 0)], ["0x2000"])
        verifyFails([("factory", 0, 0, 0x10000, 0x1800, 0)], ["size 0x1800"])
        verifyFails([("nvs", 1, 2, 0x9000, 0x2000, 0)], ["readonly"])
    }
}

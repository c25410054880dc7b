import FirmwareFormats
import Foundation
import XCTest

/// The .debug_line decoder (DWARF 2 to 5) against binutils' addr2line on the corpus ELFs, and on
/// hand-made line programs.
final class DWARFLinesTests: XCTestCase {
    /// ELFs whose line programs use DWARF 2 (IDF v4.2.3), 3 (IDF v4.4.2 bootloader), 4 (Rust,
    /// Zephyr) and a mix of 2, 4 and 5 (IDF v5.1.2).
    static let elfs = [
        "app/idf-v4.2.3-hello_world-guopung/hello-world.elf",
        "bootloader/arduino-esp32-2.x-idf-v4.4.2-chegewara/bootloader_dio_40m.elf",
        "app/rust-esp-hal-espflash-testdata/esp32.elf",
        "app/zephyr-esp32-devkitc-wrover-Brunoarico/zephyr.elf",
        "app/idf-v5.1.2-hello_world-ErisdarDemo/hello_world.elf",
    ]

    func addr2line() throws -> String {
        for p in ["/usr/bin/addr2line", "/usr/local/bin/addr2line"] where FileManager.default.isExecutableFile(atPath: p) { return p }
        throw XCTSkip("binutils addr2line not installed: the DWARF oracle test is skipped")
    }

    func testKnownLines() throws {
        let elf = try ELFFile(path: try Env.corpusPath(DWARFLinesTests.elfs[0]))
        let table = try LineTable(elf: elf)
        XCTAssertFalse(table.isEmpty)
        let loc = table.lookup(0x400D_2314)   // app_main
        XCTAssertEqual(loc?.file, "/home/ping/esp/hello_world/main/hello_world_main.c")
        XCTAssertEqual(loc?.line, 17)
        XCTAssertNil(table.lookup(0x1234))
    }

    /// Every function's first address and a few addresses inside it agree with addr2line
    /// (same line, same file name).
    func testAgreesWithAddr2line() throws {
        let tool = try addr2line()
        for rel in DWARFLinesTests.elfs {
            let path = try Env.corpusPath(rel)
            let elf = try ELFFile(path: path)
            let table = try LineTable(elf: elf)
            var addresses: [UInt32] = []
            for s in elf.symbols where s.isFunction && s.value >= 0x4000_0000 && s.size > 0 {
                addresses.append(s.value)
                addresses.append(s.value + s.size / 2)
                addresses.append(s.value + s.size - 1)
            }
            addresses = Array(Set(addresses)).sorted()
            if addresses.count > 1500 { addresses = stride(from: 0, to: addresses.count, by: addresses.count / 1500 + 1).map { addresses[$0] } }
            let r = try Env.run(tool, ["-e", path] + addresses.map { "0x" + String($0, radix: 16) })
            let expected = r.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            XCTAssertGreaterThanOrEqual(expected.count, addresses.count, rel)
            var compared = 0, mismatches: [String] = []
            for (i, a) in addresses.enumerated() where i < expected.count {
                let want = expected[i]
                // addr2line: "FILE:LINE" or "FILE:LINE (discriminator N)"; "??:0" / "??:?" when unknown.
                let text = want.components(separatedBy: " (discriminator").first!
                guard let colon = text.lastIndex(of: ":"), let wantLine = Int(text[text.index(after: colon)...]), wantLine > 0 else {
                    continue
                }
                let wantFile = String(text[..<colon])
                compared += 1
                guard let got = table.lookup(a) else { mismatches.append("0x\(String(a, radix: 16)): none, addr2line \(want)"); continue }
                let base = { (p: String) in p.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? p }
                if got.line != wantLine || base(got.file) != base(wantFile) {
                    mismatches.append("0x\(String(a, radix: 16)): \(got) vs addr2line \(want)")
                }
            }
            XCTAssertGreaterThan(compared, 100, "\(rel): too few addresses with line info")
            XCTAssertEqual(mismatches.count, 0, "\(rel): \(mismatches.count) of \(compared) differ, e.g. \(mismatches.prefix(5))")
        }
    }

    /// A DWARF 5 program made by hand: directory and file tables through DW_FORM_string and
    /// DW_FORM_line_strp, special opcodes, advance_pc, const_add_pc, end_sequence.
    func testHandMadeDWARF5Program() throws {
        let lineStr = Array("/src\0main.c\0".utf8)
        var hdr: [UInt8] = []
        hdr += [1]            // minimum_instruction_length
        hdr += [1]            // maximum_operations_per_instruction
        hdr += [1]            // default_is_stmt
        hdr += [0xFB]         // line_base -5
        hdr += [14]           // line_range
        hdr += [13]           // opcode_base
        hdr += [0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1]
        hdr += [1, 1, 0x1F]   // directory format: DW_LNCT_path, line_strp
        hdr += [1, 0, 0, 0, 0]   // 1 directory: "/src"
        hdr += [2, 1, 0x08, 2, 0x0B]   // file format: path string, directory_index data1
        hdr += [1] + Array("main.c\0".utf8) + [0]   // 1 file: main.c in directory 0
        var prog: [UInt8] = []
        prog += [0, 5, 2, 0x00, 0x10, 0x0D, 0x40]   // set_address 0x400D1000
        prog += [4, 0]                               // set_file 0
        prog += [3, 9]                               // advance_line +9 -> 10
        prog += [1]                                  // copy: 0x400D1000 line 10
        prog += [77]          // special: addr +4, line +3 -> 0x400D1004 line 13
        prog += [8]                                  // const_add_pc: +17
        prog += [19]          // special: line +1 -> 0x400D1015 line 14
        prog += [2, 3, 0, 1, 1]                      // advance_pc 3; end_sequence at 0x400D1018
        var unit: [UInt8] = [5, 0, 4, 0]             // version 5, address_size 4, seg 0
        let headerLength = UInt32(hdr.count)
        unit += withUnsafeBytes(of: headerLength.littleEndian, Array.init)
        unit += hdr + prog
        let section = withUnsafeBytes(of: UInt32(unit.count).littleEndian, Array.init) + unit
        let t = try LineTable(debugLine: section, lineStrings: lineStr)
        XCTAssertEqual(t.lookup(0x400D_1000), LineTable.Location(file: "/src/main.c", line: 10))
        XCTAssertEqual(t.lookup(0x400D_1003)?.line, 10)
        XCTAssertEqual(t.lookup(0x400D_1004)?.line, 13)
        XCTAssertEqual(t.lookup(0x400D_1014)?.line, 13)
        XCTAssertEqual(t.lookup(0x400D_1015)?.line, 14)
        XCTAssertEqual(t.lookup(0x400D_1017)?.line, 14)
        XCTAssertNil(t.lookup(0x400D_1018))
    }

    func testTruncatedSectionIsAnInputError() throws {
        let elf = try ELFFile(path: try Env.corpusPath(DWARFLinesTests.elfs[0]))
        let lines = elf.sections.first { $0.name == ".debug_line" }!.data
        assertInputError([".debug_line"]) { try LineTable(debugLine: Array(lines.prefix(100))) }
        assertInputError(["DWARF version 9"]) { try LineTable(debugLine: [8, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0]) }
    }
}

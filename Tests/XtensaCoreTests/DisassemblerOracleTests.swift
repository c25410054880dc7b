import Foundation
import XCTest
import FirmwareFormats
@testable import XtensaCore

// Acceptance tests of the disassembler and the assembler on real firmware.
//
// 1. testDisassemblyAgreesWithCapstone: every executable section of every ELF in the firmware
//    corpus is disassembled linearly by `Disassembler.disassembleAll`; Capstone 6 (PyPI
//    `capstone6pwndbg`, CS_ARCH_XTENSA, CS_MODE_XTENSA_ESP32) decodes the bytes at the same
//    address, and mnemonic and operand values must agree. Where Capstone is known to be wrong
//    (`capstoneBugs` below), the instruction is checked against an independent decode written
//    from the ISA manual instead. Any other disagreement fails the test.
// 2. testAssemblingTheDisassemblyGivesBackTheBytes: `Assembler.encode` of every instruction we
//    decode reproduces its bytes exactly.
// 3. testDecodingsFoundWithTheOracles: the table fixes these oracles led to, without the corpus.
//
// Our table treats bits the ISA leaves unused as must-be-zero (RET.N with s != 0, ANY4 with bs not a
// multiple of 4 are data), so every word we decode has one text and assembles back to itself. The
// ESP32's own libisa table (MOD) ignores those bits instead; apart from that, and from the ESP32-only
// opcodes we do not decode yet (F64*, S32NB, the *_EXPSTATE and OCD ones), our decode of all 2^24
// words was checked to print exactly what MOD gives.
//
// Corpus: $ESP32EMU_FIRMWARE, default ../shared/firmware next to the package. Python:
// $ESP32EMU_PYTHON, default .venv/bin/python (made by ./scripts/setup). Without them the tests skip.

final class DisassemblerOracleTests: XCTestCase {

    // MARK: Corpus

    struct CodeSection {
        var file: String          // path relative to the corpus folder
        var name: String
        var base: UInt32
        var bytes: [UInt8]
        var instructions: [DisassembledInstruction]
        /// Offset of each instruction in `bytes`.
        var offsets: [Int]
    }

    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let corpusFolder: URL = {
        if let p = ProcessInfo.processInfo.environment["ESP32EMU_FIRMWARE"], !p.isEmpty {
            return URL(fileURLWithPath: p, relativeTo: packageRoot).standardizedFileURL
        }
        return packageRoot.appendingPathComponent("../shared/firmware").standardizedFileURL
    }()

    /// The corpus, read and disassembled once for the tests that need it, or why it is missing.
    static let corpus: Result<[CodeSection], CorpusMissing> = loadCorpus()

    struct CorpusMissing: Error { let message: String }

    static func loadCorpus() -> Result<[CodeSection], CorpusMissing> {
        let folder = corpusFolder
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDir), isDir.boolValue else {
            return .failure(CorpusMissing(message: "firmware corpus not found at \(folder.path) (set ESP32EMU_FIRMWARE)"))
        }
        var elfs: [String] = []
        if let e = FileManager.default.enumerator(atPath: folder.path) {
            for case let rel as String in e where rel.hasSuffix(".elf") { elfs.append(rel) }
        }
        elfs.sort()
        var sections: [CodeSection] = []
        for rel in elfs {
            guard let elf = try? ELFFile(path: folder.appendingPathComponent(rel).path),
                  elf.machine == ELFFile.machineXtensa else { continue }
            for s in elf.executableSections {
                let ins = Disassembler.disassembleAll(s.data, base: s.address)
                var offsets: [Int] = []
                offsets.reserveCapacity(ins.count)
                for i in ins { offsets.append(Int(i.address &- s.address)) }
                sections.append(CodeSection(file: rel, name: s.name, base: s.address, bytes: s.data, instructions: ins, offsets: offsets))
            }
        }
        if sections.isEmpty {
            return .failure(CorpusMissing(message: "no Xtensa ELF with code under \(folder.path)"))
        }
        return .success(sections)
    }

    func corpusOrSkip() throws -> [CodeSection] {
        switch Self.corpus {
        case .success(let s): return s
        case .failure(let m): throw XCTSkip(m.message)
        }
    }

    // MARK: Capstone

    static let scriptPath = packageRoot.appendingPathComponent("Tests/Oracles/capstone_disasm.py").path

    static var python: String {
        if let p = ProcessInfo.processInfo.environment["ESP32EMU_PYTHON"], !p.isEmpty { return p }
        return packageRoot.appendingPathComponent(".venv/bin/python").path
    }

    /// Runs the helper script; returns its exit status and standard output.
    static func runScript(_ args: [String]) throws -> (Int32, Data) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [scriptPath] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.standardError
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, data)
    }

    struct OracleFailure: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    /// What Capstone made of the bytes at one of our instruction addresses: nil when it failed.
    struct CapstoneInsn { var size: Int; var mnemonic: String; var operands: String }

    /// Skips unless the Python interpreter can import Capstone 6 with Xtensa support.
    func requireCapstone() throws {
        let py = Self.python
        guard FileManager.default.isExecutableFile(atPath: py) else {
            throw XCTSkip("no Python at \(py): run ./scripts/setup or set ESP32EMU_PYTHON")
        }
        let (status, data) = try Self.runScript(["--check"])
        guard status == 0 else {
            throw XCTSkip("Capstone 6 is not usable from \(py): \(String(decoding: data, as: UTF8.self)) (run ./scripts/setup)")
        }
    }

    /// Asks Capstone about every instruction offset of every section, in one Python process.
    func capstoneDecode(_ sections: [CodeSection]) throws -> [[CapstoneInsn?]] {
        let py = Self.python
        var req = "{\"sections\":["
        for (i, s) in sections.enumerated() {
            if i > 0 { req += "," }
            req += "{\"base\":\(s.base),\"hex\":\""
            req += hexString(s.bytes)
            req += "\",\"offsets\":["
            req += s.offsets.map(String.init).joined(separator: ",")
            req += "]}"
        }
        req += "]}"
        let tmp = FileManager.default.temporaryDirectory.appendingPathComponent("esp32emu-capstone-\(ProcessInfo.processInfo.processIdentifier).json")
        try req.write(to: tmp, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: tmp) }
        let (st, answer) = try Self.runScript([tmp.path])
        guard st == 0 else {
            throw OracleFailure(message: "capstone_disasm.py failed with status \(st): \(String(decoding: answer.prefix(2000), as: UTF8.self))")
        }
        guard let obj = try JSONSerialization.jsonObject(with: answer) as? [String: Any],
              let results = obj["results"] as? [[Any]], results.count == sections.count,
              zip(results, sections).allSatisfy({ $0.count == $1.offsets.count }) else {
            throw OracleFailure(message: "capstone_disasm.py answered something unexpected")
        }
        print("DisassemblerOracleTests: Capstone \(obj["capstone"] ?? "?") via \(py)")
        return results.map { sec in
            sec.map { e -> CapstoneInsn? in
                guard let a = e as? [Any], a.count == 3, let n = a[0] as? Int, let m = a[1] as? String, let o = a[2] as? String else { return nil }
                return CapstoneInsn(size: n, mnemonic: m, operands: o)
            }
        }
    }

    // MARK: Normalisation

    /// An operand as a value: a register name or a number (immediates and absolute targets).
    enum Operand: Equatable, CustomStringConvertible {
        case reg(String)
        case num(Int64)
        case bad(String)
        var description: String {
            switch self {
            case .reg(let r): return r
            case .num(let n): return n > 0xFFFF ? "0x" + String(n, radix: 16) : String(n)
            case .bad(let s): return "?\(s)"
            }
        }
    }

    struct Normal: Equatable, CustomStringConvertible {
        var mnemonic: String
        var operands: [Operand]
        var description: String { operands.isEmpty ? mnemonic : mnemonic + " " + operands.map(\.description).joined(separator: ", ") }
    }

    static func splitOperands(_ s: String) -> [String] {
        s.isEmpty ? [] : s.components(separatedBy: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    static func parseInt(_ t: String) -> Int64? {
        var s = Substring(t)
        var neg = false
        if s.hasPrefix("-") { neg = true; s = s.dropFirst() } else if s.hasPrefix("+") { s = s.dropFirst() }
        let v: Int64?
        if s.hasPrefix("0x") || s.hasPrefix("0X") { v = Int64(s.dropFirst(2), radix: 16) } else { v = Int64(s) }
        guard let x = v else { return nil }
        return neg ? -x : x
    }

    static func isRegister(_ t: String) -> Bool {
        guard let f = t.first, "afbm".contains(f), t.count >= 2, t.count <= 3 else { return false }
        return t.dropFirst().allSatisfy(\.isNumber)
    }

    /// Our text: registers, decimal immediates, targets as bare 8-digit hex.
    static func normalizeOurs(_ ins: DisassembledInstruction) -> Normal {
        let ops = splitOperands(ins.operands).map { t -> Operand in
            if isRegister(t) { return .reg(t) }
            if t.count == 8, t.allSatisfy(\.isHexDigit), let v = UInt32(t, radix: 16) { return .num(Int64(v)) }
            if let v = parseInt(t) { return .num(v) }
            return .bad(t)
        }
        return Normal(mnemonic: ins.mnemonic, operands: ops)
    }

    static let srInstructions: Set<String> = ["rsr", "wsr", "xsr", "rur", "wur"]
    static let calls: Set<String> = ["call0", "call4", "call8", "call12"]

    /// Capstone's text: `wsr a0, intenable` for `wsr.intenable a0`; hex or decimal immediates;
    /// targets as `. 0x40000404` (absolute: l32r) or `. +0x15` / `. 0` / `. -1` (relative to the instruction;
    /// for CALLn relative to the instruction address rounded down to 4, as CALLn computes its target).
    static func normalizeCapstone(_ c: CapstoneInsn, address: UInt32) -> Normal {
        var mnemonic = c.mnemonic.lowercased()
        var toks = splitOperands(c.operands)
        if srInstructions.contains(mnemonic), toks.count == 2 {
            mnemonic += "." + toks[1].lowercased()
            toks.removeLast()
        }
        let ops = toks.map { t -> Operand in
            let l = t.lowercased()
            if isRegister(l) { return .reg(l) }
            if l.hasPrefix(".") {
                let rest = l.dropFirst().trimmingCharacters(in: .whitespaces)
                guard let v = parseInt(rest) else { return .bad(t) }
                if mnemonic == "l32r" { return .num(v) }
                let origin = calls.contains(mnemonic) ? Int64(address & ~3) : Int64(address)
                return .num(Int64(UInt32(truncatingIfNeeded: origin + v)))
            }
            if let v = parseInt(l) { return .num(v) }
            return .bad(t)
        }
        return Normal(mnemonic: mnemonic, operands: ops)
    }

    // MARK: Known Capstone bugs

    /// One instruction position as both sides see it.
    struct Case {
        var ins: DisassembledInstruction
        var capstone: CapstoneInsn?
        var bytes: ArraySlice<UInt8>   // up to 3 bytes at the instruction
        var isData: Bool { ins.mnemonic == ".byte" }
        /// The bytes as a little-endian 24-bit word (missing bytes read as 0).
        var word: UInt32 {
            var w: UInt32 = 0
            for (i, b) in bytes.enumerated() { w |= UInt32(b) << (8 * UInt32(i)) }
            return w
        }
        var op0: UInt32 { word & 0xF }
        var t: UInt32 { (word >> 4) & 0xF }
        var s: UInt32 { (word >> 8) & 0xF }
        var r: UInt32 { (word >> 12) & 0xF }
        var op1: UInt32 { (word >> 16) & 0xF }
        var op2: UInt32 { (word >> 20) & 0xF }
        var imm8: UInt32 { (word >> 16) & 0xFF }
        /// `want` is what the ISA manual gives for these bytes; nil if our text is that.
        func expect(_ want: String) -> String? {
            ins.text == want ? nil : "we print '\(ins.text)', the ISA manual gives '\(want)'"
        }
    }

    /// A disagreement that is Capstone's fault. `matches` says which disagreements it explains
    /// (ours and Capstone's answer both); `check` decodes the bytes again, independently, from the
    /// Xtensa ISA manual (and the ESP32's opcode list, MOD: espressif/qemu
    /// target/xtensa/core-esp32/xtensa-modules.inc.c) and says what is wrong with our side, if anything.
    struct CapstoneBug {
        var name: String
        var reason: String
        var matches: (Case) -> Bool
        var check: (Case) -> String?
    }

    static func h8(_ v: UInt32) -> String { hex(v, digits: 8) }

    /// The MAC16 encodings the ISA manual defines (op0 = 4), independent of our table. op2 selects
    /// the form; op1 = operation << 2 | halves (operation 0 umul, 1 mul, 2 mula, 3 muls).
    static func isMAC16Instruction(_ c: Case) -> Bool {
        guard c.op0 == 4 else { return false }
        let (op1, op2, r, s, t) = (c.op1, c.op2, c.r, c.s, c.t)
        switch op2 {
        case 7: return r == 0                                          // *.AA as, at (umul too)
        case 3: return op1 >= 4 && r == 0 && t & 0xB == 0              // *.AD as, my (my = m2 + t[2])
        case 6: return op1 >= 4 && s == 0 && r & 0xB == 0              // *.DA mx, at (mx = r[2])
        case 2: return op1 >= 4 && s == 0 && r & 0xB == 0 && t & 0xB == 0   // *.DD mx, my
        case 4, 5: return op1 >= 8 && op1 <= 11 && r & 8 == 0          // MULA.DA.*.LDINC/LDDEC mw, as, mx, at
        case 0, 1: return op1 >= 8 && op1 <= 11 && r & 8 == 0 && t & 0xB == 0  // MULA.DD.*.LDINC/LDDEC mw, as, mx, my
        case 8, 9: return op1 == 0 && t == 0 && r & 0xC == 0           // LDINC/LDDEC mw, as
        default: return false                                           // op2 = 10..15: reserved
        }
    }

    /// User registers of the ESP32 (MOD's sysreg list, user half).
    static let esp32UserRegisters: Set<UInt32> = [230, 231, 232, 233, 234, 235, 236]

    static let capstoneBugs: [CapstoneBug] = [
        CapstoneBug(
            name: "beqz.n/bnez.n not decoded",
            reason: "Capstone 6 fails on BEQZ.N/BNEZ.N (RI6: op0 = 12, t[3:2] = 2/3, target pc + 4 + imm6)",
            matches: { $0.capstone == nil && ($0.ins.mnemonic == "beqz.n" || $0.ins.mnemonic == "bnez.n") },
            check: { c in
                guard c.op0 == 12, c.t >> 2 >= 2 else { return "not an RI6 word" }
                let target = c.ins.address &+ 4 &+ ((c.t & 3) << 4 | c.r)
                return c.expect("\(c.t >> 2 == 2 ? "beqz.n" : "bnez.n") a\(c.s), \(h8(target))")
            }),
        CapstoneBug(
            name: "nop.n not decoded",
            reason: "Capstone 6 fails on NOP.N (0xF03D)",
            matches: { $0.capstone == nil && $0.ins.mnemonic == "nop.n" },
            check: { c in c.word & 0xFFFF == 0xF03D ? c.expect("nop.n") : "not 0xF03D" }),
        CapstoneBug(
            name: "break.n not decoded",
            reason: "Capstone 6 fails on BREAK.N (op0 = 13, r = 15, t = 2, imm in s)",
            matches: { $0.capstone == nil && $0.ins.mnemonic == "break.n" },
            check: { c in c.op0 == 13 && c.r == 15 && c.t == 2 ? c.expect("break.n \(c.s)") : "not a BREAK.N word" }),
        CapstoneBug(
            name: "movi.n read as break.n",
            reason: "Capstone 6 decodes MOVI.N at, 47 (op0 = 12, r = 15, t = 2) as BREAK.N s (BREAK.N is op0 = 13 with the same r and t)",
            matches: { c in c.capstone?.mnemonic == "break.n" && c.ins.mnemonic == "movi.n" && c.r == 15 && c.t == 2 },
            check: { c in
                guard c.op0 == 12, c.t & 8 == 0 else { return "not a MOVI.N word" }
                let v = Int(c.r | (c.t & 7) << 4)
                return c.expect("movi.n a\(c.s), \(v >= 96 ? v - 128 : v)")
            }),
        CapstoneBug(
            name: "l32ai/s32ri not decoded",
            reason: "Capstone 6 lacks L32AI and S32RI (ESP32: XCHAL_HAVE_RELEASE_SYNC = 1; LSAI r = 11 / 15, offset imm8 * 4)",
            matches: { $0.capstone == nil && ($0.ins.mnemonic == "l32ai" || $0.ins.mnemonic == "s32ri") },
            check: { c in
                guard c.op0 == 2, c.r == 11 || c.r == 15 else { return "not an L32AI/S32RI word" }
                return c.expect("\(c.r == 11 ? "l32ai" : "s32ri") a\(c.t), a\(c.s), \(c.imm8 * 4)")
            }),
        CapstoneBug(
            name: "TLB instructions not decoded",
            reason: "Capstone 6 decodes only WITLB/WDTLB of the ESP32's region-protection TLB instructions; "
                + "RITLB0/1, RDTLB0/1, IITLB, IDTLB, PITLB, PDTLB (op0 = 0, op1 = 0, op2 = 5) are in MOD and the ISA manual",
            matches: { c in c.capstone == nil && ["ritlb0", "ritlb1", "rdtlb0", "rdtlb1", "iitlb", "idtlb", "pitlb", "pdtlb"].contains(c.ins.mnemonic) },
            check: { c in
                let names: [UInt32: String] = [3: "ritlb0", 4: "iitlb", 5: "pitlb", 7: "ritlb1", 11: "rdtlb0", 12: "idtlb", 13: "pdtlb", 15: "rdtlb1"]
                guard c.op0 == 0, c.op1 == 0, c.op2 == 5, let n = names[c.r] else { return "not a TLB word" }
                if c.r == 4 || c.r == 12 { return c.t == 0 ? c.expect("\(n) a\(c.s)") : "t must be 0" }
                return c.expect("\(n) a\(c.t), a\(c.s)")
            }),
        CapstoneBug(
            name: "ssa8b not decoded",
            reason: "Capstone 6 fails on SSA8B (op0 = 0, op1 = 0, op2 = 4, r = 3, t = 0), a core instruction in MOD",
            matches: { $0.capstone == nil && $0.ins.mnemonic == "ssa8b" },
            check: { c in c.op0 == 0 && c.op1 == 0 && c.op2 == 4 && c.r == 3 && c.t == 0 ? c.expect("ssa8b a\(c.s)") : "not an SSA8B word" }),
        CapstoneBug(
            name: "slli by 32 printed without its shift",
            reason: "Capstone 6 prints 'slli ar, as, ' (no shift) when the 5-bit field 32 - sa is 0, i.e. a shift by 32 "
                + "(MOD's msalp32 decodes 0 as 32; GNU as accepts 'slli ar, as, 32')",
            matches: { c in c.ins.mnemonic == "slli" && c.capstone?.mnemonic == "slli" && splitOperands(c.capstone!.operands).last == "" },
            check: { c in
                c.op0 == 0 && c.op1 == 1 && c.op2 & 0xE == 0 ? c.expect("slli a\(c.r), a\(c.s), \(32 - (c.t | (c.op2 & 1) << 4))") : "not an SLLI word"
            }),
        CapstoneBug(
            name: "any4/all4/any8/all8 with unaligned bs",
            reason: "Capstone 6 decodes ANY4/ALL4 (ANY8/ALL8) whose bs is not a multiple of 4 (8); the ISA manual "
                + "requires the multiple (MOD's operand bs4 is s[3:2], bs8 is s[3]), so we treat those words as data",
            matches: { c in c.isData && ["any4", "all4", "any8", "all8"].contains(c.capstone?.mnemonic ?? "") },
            check: { c in
                guard c.op0 == 0, c.op1 == 0, c.op2 == 0, (8...11).contains(c.r) else { return "not an ANY/ALL word" }
                return c.s % (c.r < 10 ? 4 : 8) != 0 ? nil : "bs is aligned, so this is an instruction"
            }),
        CapstoneBug(
            name: "MAC16 load-form space read as ESP32-S3 ee.*",
            reason: "in MAC16's load forms (op0 = 4, op2 = 0/1: MULA.DD.*.LDINC/LDDEC, op2 = 8/9: LDINC/LDDEC) Capstone's "
                + "ESP32 mode decodes the words that are not MAC16 instructions as ESP32-S3 PIE instructions (ee.*)",
            matches: { c in c.isData && c.op0 == 4 && [0, 1, 8, 9].contains(c.op2) && c.capstone?.mnemonic.hasPrefix("ee.") == true },
            check: { c in isMAC16Instruction(c) ? "the ISA manual defines this MAC16 word" : nil }),
        CapstoneBug(
            name: "ESP32-S3 ee.* / ESP32-S2 dedicated-GPIO instructions",
            reason: "Capstone's ESP32 mode also decodes ESP32-S3 PIE (ee.*) and ESP32-S2 dedicated-GPIO instructions "
                + "(set_bit_gpio_out, clr_bit_gpio_out, wr_mask_gpio_out), which the ESP32 does not have (MOD has none); "
                + "they sit in CUST0/CUST1 (op0 = 0, op1 = 6/7) and in MAC16's undefined encodings",
            matches: { c in
                guard c.isData, let m = c.capstone?.mnemonic else { return false }
                return m.hasPrefix("ee.") || ["set_bit_gpio_out", "clr_bit_gpio_out", "wr_mask_gpio_out"].contains(m)
            },
            check: { c in
                if c.op0 == 0 && (c.op1 == 6 || c.op1 == 7) { return nil }
                if c.op0 == 4 { return isMAC16Instruction(c) ? "the ISA manual defines this MAC16 word" : nil }
                return "not in CUST0/CUST1 or MAC16"
            }),
        CapstoneBug(
            name: "rur/wur of ESP32-S2/S3 user registers",
            reason: "Capstone's ESP32 mode names user registers of the ESP32-S2/S3 (accx_0, ua_state_*, gpio_out, ...); "
                + "the ESP32 has only THREADPTR, FCR, FSR, F64R_LO/HI, F64S and EXPSTATE (230..236), so RUR/WUR of others are data",
            matches: { c in
                guard c.isData, let m = c.capstone?.mnemonic else { return false }
                return m.hasPrefix("rur.") || m.hasPrefix("wur.") || ((m == "rur" || m == "wur") && splitOperands(c.capstone!.operands).count == 2)
            },
            check: { c in
                guard c.op0 == 0, c.op1 == 3, c.op2 == 14 || c.op2 == 15 else { return "not an RUR/WUR word" }
                let ur = c.op2 == 14 ? (c.s << 4 | c.t) : (c.r << 4 | c.s)
                return esp32UserRegisters.contains(ur) ? "user register \(ur) exists on the ESP32" : nil
            }),
    ]

    // MARK: Test 1

    func testDisassemblyAgreesWithCapstone() throws {
        try requireCapstone()
        let sections = try corpusOrSkip()
        let start = Date()
        let cs = try capstoneDecode(sections)
        var positions = 0, agreed = 0, dataBoth = 0, unexplainedCount = 0
        var explained = [Int](repeating: 0, count: Self.capstoneBugs.count)
        var unexplained: [String: [String]] = [:]
        var perFile: [(file: String, instructions: Int, data: Int)] = []
        // Same text on both sides and no relative target: the verdict does not depend on the address.
        var verdicts: [String: Bool] = [:]
        for (si, s) in sections.enumerated() {
            if perFile.last?.file != s.file { perFile.append((s.file, 0, 0)) }
            for (i, ins) in s.instructions.enumerated() {
                positions += 1
                let capstone = cs[si][i]
                let isData = ins.mnemonic == ".byte"
                if isData { perFile[perFile.count - 1].data += 1 } else { perFile[perFile.count - 1].instructions += 1 }
                if isData && capstone == nil { dataBoth += 1; continue }
                if !isData, let ci = capstone, ci.size == ins.length {
                    let same: Bool
                    if ci.operands.contains(".") {
                        same = Self.normalizeOurs(ins) == Self.normalizeCapstone(ci, address: ins.address)
                    } else {
                        let key = ins.text + "\u{1}" + ci.mnemonic + "\u{1}" + ci.operands
                        if let v = verdicts[key] { same = v } else {
                            same = Self.normalizeOurs(ins) == Self.normalizeCapstone(ci, address: ins.address)
                            verdicts[key] = same
                        }
                    }
                    if same { agreed += 1; continue }
                }
                let off = s.offsets[i]
                let c = Case(ins: ins, capstone: capstone, bytes: s.bytes[off..<min(off + 3, s.bytes.count)])
                if let k = Self.capstoneBugs.firstIndex(where: { $0.matches(c) }) {
                    if let problem = Self.capstoneBugs[k].check(c) {
                        XCTFail("\(s.file) \(Self.h8(ins.address)) \(hexString(c.bytes)) [\(Self.capstoneBugs[k].name)]: \(problem)")
                    }
                    explained[k] += 1
                    continue
                }
                unexplainedCount += 1
                let ours = isData ? "(data)" : Self.normalizeOurs(ins).description
                let theirs = capstone.map { "\($0.mnemonic) \($0.operands) [\($0.size) bytes]" } ?? "(fails)"
                let key = "\(isData ? ".byte" : ins.mnemonic) <> \(capstone?.mnemonic ?? "(fails)")"
                unexplained[key, default: []].append("\(s.file) \(Self.h8(ins.address)): \(hexString(c.bytes)) ours: \(ours) | Capstone: \(theirs)")
            }
        }
        print("DisassemblerOracleTests: Capstone vs our disassembler, per ELF (instructions we decode, data bytes):")
        for f in perFile { print(String(format: "  %8d %7d  %@", f.instructions, f.data, f.file)) }
        print("DisassemblerOracleTests: \(positions) positions in \(sections.count) sections of \(perFile.count) ELFs: "
              + "\(agreed) instructions agree with Capstone, \(dataBoth) data bytes Capstone rejects too, "
              + "\(explained.reduce(0, +)) known Capstone bugs, \(unexplainedCount) unexplained "
              + String(format: "(%.1f s)", Date().timeIntervalSince(start)))
        for (k, bug) in Self.capstoneBugs.enumerated() {
            print(String(format: "  %7d  %@: %@", explained[k], bug.name, bug.reason))
        }
        for (k, v) in unexplained.sorted(by: { $0.value.count > $1.value.count }) {
            print("UNEXPLAINED \(k): \(v.count)")
            for l in v.prefix(5) { print("    \(l)") }
        }
        XCTAssertEqual(unexplainedCount, 0, "disagreements with Capstone that no known Capstone bug explains (listed above)")
        XCTAssertGreaterThan(agreed, 0)
    }

    // MARK: Table fixes found with the oracles (no corpus needed)

    func testDecodingsFoundWithTheOracles() throws {
        func text(_ w: UInt32, _ len: Int = 3) -> String? { Disassembler.format(word: w, length: len, address: 0x4000_0000)?.text }
        // RSR/WSR/XSR/RUR/WUR exist only for the ESP32's registers and accesses (MOD's opcode list).
        XCTAssertNil(text(0x61_3600), "xsr of SR 54, which the ESP32 lacks")
        XCTAssertEqual(text(0x03_EB00), "rsr.prid a0")
        XCTAssertNil(text(0x61_EB00), "xsr.prid")
        XCTAssertNil(text(0x13_EB00), "wsr.prid")
        XCTAssertEqual(text(0x13_5900), "wsr.mmid a0")
        XCTAssertNil(text(0x03_5900), "rsr.mmid")
        XCTAssertEqual(text(0x03_E200), "rsr.interrupt a0")
        XCTAssertEqual(text(0x13_E200), "wsr.intset a0")
        XCTAssertNil(text(0x61_E200), "xsr.interrupt")
        XCTAssertNil(text(0x03_E300), "rsr.intclear")
        XCTAssertNil(text(0x13_D000), "wsr.configid1")
        XCTAssertEqual(text(0x13_B000), "wsr.configid0 a0")
        XCTAssertNil(text(0xF3_0000), "wur of user register 0 (ESP32-S3 ACCX_0)")
        XCTAssertEqual(text(0xE3_3E70), "rur.threadptr a3")
        // ANY4/ALL4/ANY8/ALL8: bs must be a multiple of 4 (8).
        XCTAssertNil(text(0x00_8100), "any4 b0, b1")
        XCTAssertEqual(text(0x00_8400), "any4 b0, b4")
        XCTAssertNil(text(0x00_A400), "any8 b0, b4")
        XCTAssertEqual(text(0x00_A800), "any8 b0, b8")
        // SLLI by 32: the field 32 - sa is 0.
        XCTAssertEqual(text(0x01_3600), "slli a3, a6, 32")
        XCTAssertEqual(try Assembler.encode("slli a3, a6, 32", at: 0), [0x00, 0x36, 0x01])
        XCTAssertThrowsError(try Assembler.encode("slli a3, a6, 0", at: 0))
        XCTAssertThrowsError(try Assembler.encode("any4 b0, b1", at: 0))
        // No RFME on the ESP32 (no memory ECC/parity option).
        XCTAssertNil(text(0x00_3020), "rfme")
    }

    // MARK: Test 2

    func testAssemblingTheDisassemblyGivesBackTheBytes() throws {
        let sections = try corpusOrSkip()
        let start = Date()
        // Each distinct job is assembled once: a text with a PC-relative target at its own address,
        // any other text (which encodes the same everywhere) at the first address it occurs at.
        // Every instruction is then compared with its own bytes.
        struct Job: Hashable { var text: String; var address: UInt32 }
        var jobIndex: [Job: Int] = [:]
        var jobs: [Job] = []
        var jobOf: [[Int]] = []
        var checked = 0
        for s in sections {
            var ids = [Int](repeating: -1, count: s.instructions.count)
            for (i, ins) in s.instructions.enumerated() where ins.mnemonic != ".byte" {
                checked += 1
                let relative = Decoder.lookup(ins.word)?.operands.contains(where: \.isTarget) ?? true
                let key = Job(text: ins.text, address: relative ? ins.address : 0)
                if let j = jobIndex[key] { ids[i] = j; continue }
                jobIndex[key] = jobs.count
                ids[i] = jobs.count
                jobs.append(Job(text: ins.text, address: ins.address))
            }
            jobOf.append(ids)
        }
        // Assemble on every core; the assembler keeps no shared state.
        var results = [Result<[UInt8], Error>](repeating: .success([]), count: jobs.count)
        results.withUnsafeMutableBufferPointer { out in
            let chunks = max(1, ProcessInfo.processInfo.activeProcessorCount * 4)
            DispatchQueue.concurrentPerform(iterations: chunks) { k in
                var j = k
                while j < jobs.count {
                    out[j] = Result { try Assembler.encode(jobs[j].text, at: jobs[j].address) }
                    j += chunks
                }
            }
        }
        var failures = 0
        for (si, s) in sections.enumerated() {
            for (i, ins) in s.instructions.enumerated() where jobOf[si][i] >= 0 {
                let off = s.offsets[i]
                let want = Array(s.bytes[off..<off + ins.length])
                switch results[jobOf[si][i]] {
                case .success(let got) where got == want: continue
                case .success(let got):
                    failures += 1
                    if failures <= 50 { XCTFail("\(s.file) \(Self.h8(ins.address)): '\(ins.text)' assembles to \(hexString(got)), not \(hexString(want))") }
                case .failure(let e):
                    failures += 1
                    if failures <= 50 { XCTFail("\(s.file) \(Self.h8(ins.address)): '\(ins.text)' (\(hexString(want))) does not assemble: \(e)") }
                }
            }
        }
        print("DisassemblerOracleTests: \(checked) instructions of \(sections.count) sections assembled back "
              + "(\(jobs.count) distinct assembler calls), \(failures) differ "
              + String(format: "(%.1f s)", Date().timeIntervalSince(start)))
        XCTAssertEqual(failures, 0)
        XCTAssertGreaterThan(checked, 0)
    }
}

private func hexString<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
    let digits: [Character] = Array("0123456789abcdef")
    var s = ""
    s.reserveCapacity(bytes.count * 2)
    for b in bytes {
        s.append(digits[Int(b >> 4)])
        s.append(digits[Int(b & 0xF)])
    }
    return s
}

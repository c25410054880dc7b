// The QEMU side of the execution differential test: a batch runner program for
// `qemu-system-xtensa -M sim -cpu de233_fpu`, assembled by our own assembler, and the host code
// that packs test records, runs QEMU once and parses the per-test register dumps.
//
// Layout in the guest (sim machine, RAM from 0):
//   0xfe000000  reset stub (the core's reset vector): jumps to runner_start
//   0x00002000  exception vectors (VECBASE): each records its offset and jumps to the dump
//   0x00002400  runner code and its literal pool
//   0x00006000  runner variables; 0x6100 the output record
//   0x00008000  CODE: each test's code is copied here, followed by `j dump_normal`
//   0x00009000  SCRATCH: 256 bytes the tests load from and store to (dumped after each test)
//   0x00100000  the test blob (-device loader,...,force-raw=on)
//
// Blob: 16-byte header (magic "XTB1", count, 1024, 0) then 1024-byte records:
//   +0 code_len, +4 entry_off, +8 icount_limit (0 = no watchdog), +12 0,
//   +16 STATE (384 bytes), +400 scratch image (256), +656 code (at most 365 bytes).
// Output: one 648-byte record per test: index, reason, STATE, scratch. reason is 0 when the
// code ran off its end, else 0x400 + the offset of the exception vector it reached.
// STATE: a0..a31 logical (relative to WINDOWBASE: a16..a31 are the other 16 physical registers
// of de233_fpu's 32), then SAR LBEG LEND LCOUNT BR ACCLO ACCHI M0-M3 SCOMPARE1 PS WINDOWBASE
// WINDOWSTART THREADPTR FCR FSR CPENABLE EXCCAUSE EPC1 EXCVADDR DEPC EXCSAVE1 ATOMCTL at
// 128..227, f0..f15 (low 32 bits) at 256..319.
// The runner clobbers MISC0, MISC1, EPC2, EPS2, ICOUNT and ICOUNTLEVEL (not compared).

import Foundation
import XtensaCore

enum QEMUBatch {
    static let codeAddress: UInt32 = 0x8000
    static let scratchAddress: UInt32 = 0x9000
    static let scratchSize = 256
    static let vecbase: UInt32 = 0x2000
    static let blobAddress: UInt32 = 0x10_0000
    static let recordSize = 1024
    static let outputSize = 648
    static let maxCode = 1024 - 656 - 3
    static let stateSize = 384

    /// Byte offsets of the special registers in STATE, in dump order.
    static let srFields = ["sar", "lbeg", "lend", "lcount", "br", "acclo", "acchi", "m0", "m1", "m2", "m3",
                           "scompare1", "ps", "windowbase", "windowstart", "threadptr", "fcr", "fsr", "cpenable",
                           "exccause", "epc1", "excvaddr", "depc", "excsave1", "atomctl"]
    static func offset(_ name: String) -> Int { 128 + 4 * srFields.firstIndex(of: name)! }

    static var runnerSource: String {
        var vectors = ""
        for ofs in stride(from: 0, to: 0x400, by: 0x40) where ofs != 0x380 {
            vectors += """
                    .org \(ofs)
                    wsr.misc0 a0            # only a0 is used: no window check can fire here
                    rsr.ps a0
                    wsr.eps2 a0             # PS after the exception
                    movi a0, \(0x400 + ofs)
                    wsr.misc1 a0            # reason
                    j dump_common

                """
        }
        func state(_ n: String) -> Int { offset(n) }
        var loads = ""
        for n in ["sar", "br", "acclo", "acchi", "m0", "m1", "m2", "m3", "scompare1", "exccause", "epc1",
                  "excvaddr", "depc", "excsave1", "atomctl", "lbeg", "lend", "lcount", "cpenable", "windowstart", "windowbase"] {
            loads += "    l32i a2, a15, \(state(n))\n    wsr.\(n) a2\n"
        }
        var dumps = ""
        for n in ["windowbase", "windowstart", "cpenable"] {
            dumps += "    rsr.\(n) a2\n    s32i a2, a15, \(state(n))\n"
        }
        var dumps2 = ""
        for n in ["sar", "lbeg", "lend", "br", "acclo", "acchi", "m0", "m1", "m2", "m3", "scompare1", "exccause",
                  "epc1", "excvaddr", "depc", "excsave1", "atomctl"] {
            dumps2 += "    rsr.\(n) a2\n    s32i a2, a15, \(state(n))\n"
        }
        let fload = (0..<16).map { "    lsi f\($0), a3, \($0 * 4)" }.joined(separator: "\n")
        let fstore = (0..<16).map { "    ssi f\($0), a3, \($0 * 4)" }.joined(separator: "\n")
        let lowLoads = (0..<15).map { "    l32i a\($0), a15, \($0 * 4)" }.joined(separator: "\n")
        let lowStores = (1..<16).map { "    s32i a\($0), a0, \($0 * 4)" }.joined(separator: "\n")
        let highStores = (0..<15).map { "    s32i a\($0), a15, \($0 * 4)" }.joined(separator: "\n")
        return """
            .set CODE_ADDR, \(codeAddress)
            .set SCRATCH_ADDR, \(scratchAddress)
            .set BLOB_ADDR, \(blobAddress)
            .set BLOB_MAGIC, 0x31425458
            .set CUR_IDX, 0x6000
            .set CUR_STATE, 0x6004
            .set OUT_REC, 0x6100
            .set R_STATE, 16
            .set R_SCRATCH, 400
            .set R_CODE, 656
            .set OUT_SIZE, \(outputSize)

        \(vectors)
            .org 0x400
            .literal_position
        runner_start:
            movi a2, 0x1f               # PS: EXCM=1, INTLEVEL=15, WOE=0
            wsr.ps a2
            rsync
            movi a3, BLOB_ADDR
            l32i a4, a3, 0
            movi a5, BLOB_MAGIC
            beq a4, a5, 1f
            movi a2, 1                  # SYS_exit(99): no blob
            movi a3, 99
            simcall
        1:  movi a2, 0
            movi a3, CUR_IDX
            s32i a2, a3, 0

        next_test:
            movi a3, CUR_IDX
            l32i a2, a3, 0
            movi a4, BLOB_ADDR
            l32i a5, a4, 4              # count
            bltu a2, a5, 1f
            movi a2, 1                  # SYS_exit(0): all done
            movi a3, 0
            simcall
        1:  slli a6, a2, 10
            add a6, a6, a4
            addi a6, a6, 16             # a6 = record
            addi a7, a6, R_STATE
            movi a3, CUR_STATE
            s32i a7, a3, 0
            movi a7, \(vecbase)
            wsr.vecbase a7
            movi a7, 0
            wsr.lcount a7
            # copy the code (whole words)
            l32i a7, a6, 0              # code_len
            movi a9, R_CODE
            add a9, a9, a6
            movi a8, CODE_ADDR
            addi a10, a7, 3
            srli a10, a10, 2
        2:  beqz a10, 3f
            l32i a11, a9, 0
            s32i a11, a8, 0
            addi a9, a9, 4
            addi a8, a8, 4
            addi a10, a10, -1
            j 2b
        3:  # append "j dump_normal" at CODE_ADDR + code_len
            movi a8, CODE_ADDR
            add a8, a8, a7
            movi a11, dump_normal
            sub a11, a11, a8
            addi a11, a11, -4
            slli a11, a11, 6
            addi a11, a11, 6
            s8i a11, a8, 0
            srli a12, a11, 8
            s8i a12, a8, 1
            extui a12, a11, 16, 8
            s8i a12, a8, 2
            # copy the scratch image
            movi a9, R_SCRATCH
            add a9, a9, a6
            movi a8, SCRATCH_ADDR
            movi a10, 64
        4:  l32i a11, a9, 0
            s32i a11, a8, 0
            addi a9, a9, 4
            addi a8, a8, 4
            addi a10, a10, -1
            bnez a10, 4b
            # watchdog: ICOUNT debug exception (reason 0x680) after icount_limit instructions
            l32i a14, a6, 8
            movi a13, 0
            wsr.icountlevel a13
            beqz a14, 5f
            neg a14, a14
            wsr.icount a14
            movi a13, 1
            wsr.icountlevel a13
        5:  # initial state
            l32i a14, a6, 4             # entry_off
            movi a13, CODE_ADDR
            add a13, a13, a14
            wsr.epc2 a13
            addi a15, a6, R_STATE
            l32i a2, a15, \(state("ps"))
            wsr.eps2 a2
            movi a2, 1
            wsr.cpenable a2
            rsync
            addmi a3, a15, 256
        \(fload)
            l32i a2, a15, \(state("fcr"))
            wur.fcr a2
            l32i a2, a15, \(state("fsr"))
            wur.fsr a2
            l32i a2, a15, \(state("threadptr"))
            wur.threadptr a2
        \(loads)
            rsync
            rotw 4                      # the other 16 physical registers
            movi a15, CUR_STATE
            l32i a15, a15, 0
            addi a15, a15, 64
        \(lowLoads)
            l32i a15, a15, 60
            rotw -4
            movi a15, CUR_STATE
            l32i a15, a15, 0
        \(lowLoads)
            l32i a15, a15, 60
            rfi 2                       # PS <- EPS2, PC <- EPC2: run the test

            .align 4
        dump_normal:                    # the test ran off its end
            wsr.misc0 a0
            rsr.ps a0
            wsr.eps2 a0
            movi a0, 0
            wsr.misc1 a0
        dump_common:                    # a0 in MISC0, PS in EPS2, reason in MISC1
            movi a0, 0x1f
            wsr.ps a0
            rsync
            movi a0, 0
            wsr.icountlevel a0
            movi a0, OUT_REC + 8
        \(lowStores)
            rsr.misc0 a1
            s32i a1, a0, 0
            mov a15, a0
            rsr.eps2 a2
            s32i a2, a15, \(state("ps"))
            rsr.lcount a2
            s32i a2, a15, \(state("lcount"))
            movi a3, 0
            wsr.lcount a3
        \(dumps)
            movi a3, 1
            wsr.cpenable a3
            rsync
        \(dumps2)
            rur.threadptr a2
            s32i a2, a15, \(state("threadptr"))
            rur.fcr a2
            s32i a2, a15, \(state("fcr"))
            rur.fsr a2
            s32i a2, a15, \(state("fsr"))
            addmi a3, a15, 256
        \(fstore)
            rotw 4
            wsr.misc0 a15
            movi a15, OUT_REC + 8 + 64
        \(highStores)
            rsr.misc0 a14
            s32i a14, a15, 60
            rotw -4
            movi a2, OUT_REC
            movi a4, CUR_IDX
            l32i a5, a4, 0
            s32i a5, a2, 0
            rsr.misc1 a3
            s32i a3, a2, 4
            movi a8, SCRATCH_ADDR
            movi a9, OUT_REC + 392
            movi a10, 64
        1:  l32i a11, a8, 0
            s32i a11, a9, 0
            addi a8, a8, 4
            addi a9, a9, 4
            addi a10, a10, -1
            bnez a10, 1b
            movi a2, 4                  # SYS_write(1, OUT_REC, OUT_SIZE)
            movi a3, 1
            movi a4, OUT_REC
            movi a5, OUT_SIZE
            simcall
            movi a3, CUR_IDX
            l32i a2, a3, 0
            addi a2, a2, 1
            s32i a2, a3, 0
            j next_test
        """
    }

    /// The reset-vector stub: QEMU starts the core at 0xfe000000.
    static func stubSource(runnerStart: UInt32) -> String {
        """
            j 1f
            .align 4
        runner_address:
            .word \(runnerStart)
        1:  l32r a0, runner_address
            jx a0
        """
    }

    struct Record {
        var code: [UInt8]
        var entryOffset: UInt32
        var icountLimit: UInt32
        var state: DiffState
        var scratch: [UInt8]
    }

    struct Result {
        var reason: UInt32
        var state: DiffState
        var scratch: [UInt8]
    }

    static func put(_ v: UInt32, _ b: inout [UInt8], _ at: Int) {
        for i in 0..<4 { b[at + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(i))) }
    }

    static func get(_ b: ArraySlice<UInt8>, _ at: Int) -> UInt32 {
        let s = b.startIndex + at
        return UInt32(b[s]) | UInt32(b[s + 1]) << 8 | UInt32(b[s + 2]) << 16 | UInt32(b[s + 3]) << 24
    }

    /// STATE with the registers in logical order for WINDOWBASE = state.windowbase.
    static func packState(_ s: DiffState) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: stateSize)
        let wb = Int(s["windowbase"] & 7)
        for i in 0..<32 { put(s.ar[(4 * wb + i) & 31], &b, 4 * i) }
        for n in srFields { put(s[n], &b, offset(n)) }
        for i in 0..<16 { put(s.f[i], &b, 256 + 4 * i) }
        return b
    }

    /// Parses STATE; address registers come back in physical order (de233_fpu has 32).
    static func unpackState(_ b: ArraySlice<UInt8>) -> DiffState {
        var s = DiffState()
        for n in srFields { s[n] = get(b, offset(n)) }
        let wb = Int(s["windowbase"] & 7)
        for i in 0..<32 { s.ar[(4 * wb + i) & 31] = get(b, 4 * i) }
        for i in 0..<16 { s.f[i] = get(b, 256 + 4 * i) }
        return s
    }

    static func blob(_ records: [Record]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 16 + records.count * recordSize)
        put(0x3142_5458, &out, 0)
        put(UInt32(records.count), &out, 4)
        put(UInt32(recordSize), &out, 8)
        for (i, r) in records.enumerated() {
            precondition(r.code.count <= maxCode, "test code too long")
            let base = 16 + i * recordSize
            put(UInt32(r.code.count), &out, base)
            put(r.entryOffset, &out, base + 4)
            put(r.icountLimit, &out, base + 8)
            out.replaceSubrange((base + 16)..<(base + 16 + stateSize), with: packState(r.state))
            out.replaceSubrange((base + 400)..<(base + 400 + scratchSize), with: r.scratch)
            out.replaceSubrange((base + 656)..<(base + 656 + r.code.count), with: r.code)
        }
        return out
    }

    /// The qemu-system-xtensa executable: $ESP32EMU_QEMU, else the first one on PATH.
    static func findQEMU() -> String? {
        let env = ProcessInfo.processInfo.environment
        if let p = env["ESP32EMU_QEMU"], FileManager.default.isExecutableFile(atPath: p) { return p }
        for dir in (env["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let p = "\(dir)/qemu-system-xtensa"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    struct RunError: Error, CustomStringConvertible {
        var description: String
    }

    /// Assembles the runner, runs all records in one QEMU process and returns one result per record.
    static func run(_ records: [Record], qemu: String) throws -> [Result] {
        let runner = try Assembler.assemble(runnerSource, base: vecbase, file: "qemu-runner.S")
        guard let start = runner.symbols["runner_start"] else { throw RunError(description: "runner_start missing") }
        let stub = try Assembler.assemble(stubSource(runnerStart: start), base: 0xFE00_0000, file: "qemu-stub.S")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("esp32emu-qemu-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = [("stub.bin", stub.bytes), ("runner.bin", runner.bytes), ("tests.bin", blob(records))]
        for (name, bytes) in files {
            try Data(bytes).write(to: dir.appendingPathComponent(name))
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: qemu)
        // -singlestep: one guest instruction per translation block. QEMU 7.2 has two bugs that
        // only show inside multi-instruction blocks (see QEMUDifferentialTests.swift): lost
        // boolean-register updates and SRA/SRL by SAR = 32 after SSL/SSA8B.
        p.arguments = ["-M", "sim", "-cpu", "de233_fpu", "-semihosting", "-nographic", "-monitor", "none", "-singlestep",
                       "-device", "loader,file=\(dir.path)/stub.bin,addr=0xfe000000,force-raw=on",
                       "-device", "loader,file=\(dir.path)/runner.bin,addr=0x\(String(vecbase, radix: 16)),force-raw=on",
                       "-device", "loader,file=\(dir.path)/tests.bin,addr=0x\(String(blobAddress, radix: 16)),force-raw=on"]
            + (ProcessInfo.processInfo.environment["ESP32EMU_QEMU_ARGS"].map { $0.split(separator: " ").map(String.init) } ?? [])
        let out = Pipe()
        p.standardOutput = out
        p.standardInput = FileHandle.nullDevice
        let errURL = dir.appendingPathComponent("stderr.txt")
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        p.standardError = try FileHandle(forWritingTo: errURL)
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let bytes = [UInt8](data)
        guard p.terminationStatus == 0, bytes.count == records.count * outputSize else {
            let err = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
            throw RunError(description: "qemu exited with \(p.terminationStatus) after \(bytes.count / outputSize) of \(records.count) results: \(err.prefix(2000))")
        }
        var results: [Result] = []
        results.reserveCapacity(records.count)
        for i in 0..<records.count {
            let rec = bytes[(i * outputSize)..<((i + 1) * outputSize)]
            guard get(rec, 0) == UInt32(i) else { throw RunError(description: "result \(i) out of order") }
            let st = unpackState(rec[(rec.startIndex + 8)..<(rec.startIndex + 8 + stateSize)])
            results.append(Result(reason: get(rec, 4), state: st, scratch: Array(rec[(rec.startIndex + 392)..<(rec.startIndex + outputSize)])))
        }
        return results
    }
}

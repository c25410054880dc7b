import ESP32
import Foundation
import XCTest
import XtensaCore

/// A hung program is reset by the watchdogs and the whole chain runs again with the right
/// reset reason in the ROM banner.
final class WatchdogTests: XCTestCase {
    func bootHangingImage(_ setup: String, expect: [String]) throws {
        let rom = BootChainTests.corpus + "/rom/esp32-v3-rom.bin"
        guard FileManager.default.fileExists(atPath: rom) else { throw XCTSkip("no ROM in \(BootChainTests.corpus): watchdog tests skipped") }
        let src = """
            j 1f
            .literal_position
            .align 4
        1:  entry a1, 32
        \(setup)
        hang:
            j hang
        """
        let program = try Assembler.assemble(src, base: 0x4008_0400)
        let image = DirectBoot.buildImage(entry: 0x4008_0400, segments: [(0x4008_0400, program.bytes)])
        let s = try Session(romPath: rom, imageAt0x1000: image)
        s.soc.diagnostics.sink = { _ in }
        let r = s.run(expect: expect, ordered: true, timeoutMilliseconds: 3000)
        XCTAssertEqual(r.outcome, .expectedTextSeen, String(decoding: s.output, as: UTF8.self))
    }

    func testRTCWatchdogResetsTheChip() throws {
        // Stage 0: RTC reset after 15000 slow-clock cycles (100 ms at 150 kHz).
        try bootHangingImage("""
            movi a2, 0x3FF480A4     # RTC_CNTL_WDTWPROTECT
            movi a3, 0x50D83AA1
            s32i a3, a2, 0
            movi a2, 0x3FF48090     # WDTCONFIG1: stage 0 timeout
            movi a3, 15000
            s32i a3, a2, 0
            movi a2, 0x3FF4808C     # WDTCONFIG0: enable, stage 0 -> RTC reset
            movi a3, 0xC0000000
            s32i a3, a2, 0
            memw
        """, expect: ["rst:0x1 (POWERON_RESET)", "rst:0x10 (RTCWDT_RTC_RESET)"])
    }

    func testTimerGroupWatchdogResetsTheChip() throws {
        // TIMG0 MWDT stage 0 -> system reset after 100000 ticks of APB/prescale.
        try bootHangingImage("""
            movi a2, 0x3FF5F064     # TIMG0_WDTWPROTECT
            movi a3, 0x50D83AA1
            s32i a3, a2, 0
            movi a2, 0x3FF5F04C     # WDTCONFIG1: prescaler 80
            movi a3, 0x00500000
            s32i a3, a2, 0
            movi a2, 0x3FF5F050     # WDTCONFIG2: stage 0 timeout
            movi a3, 100000
            s32i a3, a2, 0
            movi a2, 0x3FF5F048     # WDTCONFIG0: enable, stage 0 -> system reset
            movi a3, 0xE0000000
            s32i a3, a2, 0
            memw
        """, expect: ["rst:0x1 (POWERON_RESET)", "rst:0x7 (TG0WDT_SYS_RESET)"])
    }
}

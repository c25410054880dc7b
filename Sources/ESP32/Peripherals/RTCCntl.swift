// RTC_CNTL (TRM "Low-Power Management"; ESP-IDF soc/rtc_cntl_reg.h): reset causes, software
// system/CPU resets, CPU stall, store registers, the SoC clock source, the RTC timer and
// the RTC watchdog.

public final class RTCCntl: RegisterModel, Peripheral {
    public let name = "RTC_CNTL"
    public let range: Range<UInt32> = 0x4_8000..<0x4_8400

    public enum ResetReason: UInt32 {
        case powerOn = 1, softwareSystem = 3, deepSleep = 5, timerGroup0WDT = 7, timerGroup1WDT = 8
        case rtcWDT = 9, intrusion = 10, timerGroupCPU = 11, softwareCPU = 12, rtcWDTCPU = 13
        case externalCPU = 14, brownOut = 15, rtcWDTRTC = 16
    }

    static let options0: UInt32 = 0x00, timeUpdate: UInt32 = 0x0C, time0: UInt32 = 0x10, time1: UInt32 = 0x14
    static let resetState: UInt32 = 0x34, intEna: UInt32 = 0x3C, intRaw: UInt32 = 0x40, intSt: UInt32 = 0x44, intClr: UInt32 = 0x48
    static let clkConf: UInt32 = 0x70, wdtConfig0: UInt32 = 0x8C, wdtFeed: UInt32 = 0xA0, wdtWProtect: UInt32 = 0xA4
    static let swCpuStall: UInt32 = 0xAC, date: UInt32 = 0x13C

    var regs = RegisterFile(count: 0x140 / 4)
    var resetCause: (pro: ResetReason, app: ResetReason) = (.powerOn, .powerOn)
    /// The RTC slow clock (RC oscillator, about 150 kHz) count, from simulated time.
    public var slowClockTicks: () -> UInt64 = { 0 }
    /// Software reset requests: system (peripherals too) or a single CPU.
    public var requestSystemReset: (() -> Void)?
    public var requestCPUReset: ((_ cpu: Int) -> Void)?
    public var stallChanged: (() -> Void)?
    /// Called when CLK_CONF (the SoC clock source) changes.
    public var clockChanged: (() -> Void)?
    public var latchedTime: UInt64 = 0
    var wdtFedAt: UInt64 = 0
    var wdtStage = 0
    /// The RTC watchdog's final action for a stage: reset the CPU, the system or the RTC domain.
    public var watchdogReset: ((ResetReason) -> Void)?
    public var interruptChanged: (() -> Void)?

    public override init() { super.init(); reset() }

    static let wdtKey: UInt32 = 0x50D8_3AA1

    /// RTC watchdog (WDTCONFIG0: EN bit 31, stage actions in bits 30:28, 27:25, 24:22, 21:19;
    /// WDTCONFIG1-4: stage timeouts in slow-clock cycles). Returns the slow-clock tick of the next
    /// stage, to schedule it; performs due stage actions.
    public func updateWatchdog() -> UInt64? {
        let cfg = regs[RTCCntl.wdtConfig0]
        guard cfg & (1 << 31) != 0 else { return nil }
        let now = slowClockTicks()
        var elapsed = now > wdtFedAt ? now - wdtFedAt : 0
        var stage = 0
        while stage < 4 {
            let timeout = UInt64(max(1, regs[RTCCntl.wdtConfig0 + 4 + UInt32(stage) * 4]))
            if elapsed < timeout { break }
            elapsed -= timeout
            if stage >= wdtStage {
                wdtStage = stage + 1
                switch (cfg >> UInt32(28 - stage * 3)) & 7 {
                case 1: regs[RTCCntl.intRaw] |= 1 << 3; interruptChanged?()    // RTC_CNTL_WDT_INT
                case 2: watchdogReset?(.rtcWDTCPU)
                case 3: watchdogReset?(.rtcWDT)
                case 4: watchdogReset?(.rtcWDTRTC)
                default: break
                }
            }
            stage += 1
        }
        guard stage < 4 else { return nil }
        let timeout = UInt64(max(1, regs[RTCCntl.wdtConfig0 + 4 + UInt32(stage) * 4]))
        return now + (timeout - elapsed)
    }

    public func reset() {
        let cause = resetCause
        wdtStage = 0
        regs = RegisterFile(count: 0x140 / 4, resets: [
            0x00: 0x1C49_2000,   // OPTIONS0
            0x0C: 0,
            0x30: 0x00C4_0000,   // ANA_CONF
            0x5C: 0x0000_0000,
            0x70: 0x0000_2210,   // CLK_CONF: SOC_CLK_SEL = XTAL, CK8M dividers
            0x78: 0x0000_0000,
            0x7C: 0x2940_0000,   // REG: DBIAS defaults
            0x80: 0x0012_925B,   // PWC
            0x84: 0x0055_5A8F,   // DIG_PWC
            0x88: 0x0000_0000,   // DIG_ISO
            0x8C: 0x0000_4C80,   // WDTCONFIG0 (disabled)
            0x90: 0x0001_F400, 0x94: 0x0008_0000, 0x98: 0x0000_0FFF, 0x9C: 0x0000_0FFF,
            0xA4: RTCCntl.wdtKey,
            0x13C: 0x0160_4280,
        ])
        resetCause = cause
        setResetState()
    }

    func setResetState() {
        regs[RTCCntl.resetState] = (regs[RTCCntl.resetState] & ~0xFFF) | resetCause.pro.rawValue | (resetCause.app.rawValue << 6)
    }

    /// Sets the reset reasons the ROM will read next.
    public func setResetCause(pro: ResetReason, app: ResetReason) {
        resetCause = (pro, app)
        setResetState()
    }

    /// SOC_CLK_SEL: 0 XTAL, 1 PLL, 2 CK8M, 3 APLL.
    public var socClockSelect: UInt32 { (regs[RTCCntl.clkConf] >> 27) & 3 }

    /// Stall request for a CPU from the RTC side (SW_STALL_*CPU_C0 in OPTIONS0, C1 in SW_CPU_STALL).
    public func stalled(cpu: Int) -> Bool {
        let c0 = cpu == 0 ? (regs[RTCCntl.options0] >> 2) & 3 : regs[RTCCntl.options0] & 3
        let c1 = cpu == 0 ? (regs[RTCCntl.swCpuStall] >> 26) & 0x3F : (regs[RTCCntl.swCpuStall] >> 20) & 0x3F
        return c0 == 2 && c1 == 0x21
    }

    public override func read(offset: UInt32, size: Int) -> UInt32? {
        let o = offset & ~3
        switch o {
        case RTCCntl.timeUpdate: return regs[o] | (1 << 30)   // TIME_VALID
        case RTCCntl.time0: return UInt32(truncatingIfNeeded: latchedTime)
        case RTCCntl.time1: return UInt32(truncatingIfNeeded: latchedTime >> 32) & 0xFFFF
        case RTCCntl.intSt: return regs[RTCCntl.intRaw] & regs[RTCCntl.intEna]
        case 0x00...0x13C: return regs[o]
        default: return nil
        }
    }

    public override func write(offset: UInt32, size: Int, value: UInt32) -> Bool {
        let o = offset & ~3
        guard o <= 0x13C else { return false }
        let v = RegisterFile.merge(regs[o], offset: offset, size: size, value: value)
        switch o {
        case RTCCntl.options0:
            regs[o] = v & ~((1 << 31) | (1 << 5) | (1 << 4))
            if v & (1 << 31) != 0 { requestSystemReset?() }
            else if v & (1 << 5) != 0 { requestCPUReset?(0) }
            else if v & (1 << 4) != 0 { requestCPUReset?(1) }
            stallChanged?()
        case RTCCntl.swCpuStall:
            regs[o] = v
            stallChanged?()
        case RTCCntl.timeUpdate:
            if v & (1 << 31) != 0 { latchedTime = slowClockTicks() }
            regs[o] = v & ~(1 << 31)
        case RTCCntl.clkConf:
            let old = regs[o]
            regs[o] = v
            if old != v { clockChanged?() }
        case RTCCntl.intClr:
            regs[RTCCntl.intRaw] &= ~v
        case RTCCntl.resetState:
            regs[o] = (regs[o] & 0xFFF) | (v & ~0xFFF)
        case RTCCntl.wdtFeed:
            if v & (1 << 31) != 0 && regs[RTCCntl.wdtWProtect] == RTCCntl.wdtKey {
                wdtFedAt = slowClockTicks()
                wdtStage = 0
            }
        case RTCCntl.wdtConfig0...(RTCCntl.wdtConfig0 + 16):
            // The watchdog registers take writes only while WDTWPROTECT holds the key.
            if regs[RTCCntl.wdtWProtect] == RTCCntl.wdtKey {
                regs[o] = v
                if o == RTCCntl.wdtConfig0 { wdtFedAt = slowClockTicks(); wdtStage = 0 }
            }
        case RTCCntl.time0, RTCCntl.time1, RTCCntl.intRaw, RTCCntl.intSt:
            break
        default:
            regs[o] = v
        }
        return true
    }
}

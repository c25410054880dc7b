// Timer groups TIMG0/TIMG1 (TRM "Timer Group"; ESP-IDF soc/timer_group_reg.h): two 64-bit
// general-purpose timers with alarms, the main watchdog (MWDT), the RTC slow-clock
// calibration unit and the LACT timer. Counters are computed from simulated time, so
// they advance exactly with executed cycles.

public final class TimerGroup: RegisterModel, Peripheral {
    public let name: String
    public let range: Range<UInt32>
    public let index: Int

    /// Interrupt source numbers (level): T0, T1, WDT, LACT.
    public var levelSources: [Int] { index == 0 ? [14, 15, 16, 17] : [18, 19, 20, 21] }
    /// Current time in units of 1/1920 MHz and the APB clock in Hz.
    public var now: () -> UInt64 = { 0 }
    public var apbHz: () -> UInt64 = { 80_000_000 }
    public var xtalHz: UInt64 = 40_000_000
    /// The watchdog's final stage asks for a reset: (system reset?).
    public var watchdogReset: ((_ system: Bool) -> Void)?
    public var interruptChanged: (() -> Void)?

    struct Timer {
        var config: UInt32 = 0x6000_2000     // INCREASE, AUTORELOAD, DIVIDER 1... (reset value: divider 1)
        var value: UInt64 = 0                // counter at `since`
        var since: UInt64 = 0
        var latched: UInt64 = 0
        var alarm: UInt64 = 0
        var load: UInt64 = 0
        var enabled: Bool { config & (1 << 31) != 0 }
        var increase: Bool { config & (1 << 30) != 0 }
        var divider: UInt64 { let d = UInt64((config >> 13) & 0xFFFF); return d == 0 ? 65536 : (d == 1 ? 2 : d) }
    }

    var timers = [Timer(), Timer(), Timer()]   // T0, T1, LACT
    var wdt = RegisterFile(count: 8)
    var wdtFedAt: UInt64 = 0
    var wdtStage = 0
    var intEna: UInt32 = 0
    var intRaw: UInt32 = 0
    var calConfig: UInt32 = 0x0001_3000
    var calValue: UInt32 = 0
    var wdtProtect: UInt32 = TimerGroup.wdtKey
    var lactRTC: UInt32 = 0

    public init(index: Int) {
        self.index = index
        name = "TIMG\(index)"
        let base: UInt32 = index == 0 ? 0x5_F000 : 0x6_0000
        range = base..<(base + 0x1000)
        super.init()
        reset()
    }

    public func reset() {
        timers = [Timer(), Timer(), Timer()]
        timers[2].config = 0x6000_2000
        wdt = RegisterFile(count: 8, resets: [0x00: 0x0004_C000, 0x04: 0x0001_0000, 0x08: 26_000_000, 0x0C: 0x07FF_FFFF,
                                              0x10: 0x000F_FFFF, 0x14: 0x000F_FFFF])
        // The ROM enables the flash boot watchdog itself; at power-on MWDT0 is off here.
        wdtFedAt = 0
        wdtStage = 0
        intEna = 0
        intRaw = 0
        calConfig = 0x0001_3000
        calValue = 0
        wdtProtect = TimerGroup.wdtKey
    }

    static let wdtKey: UInt32 = 0x50D8_3AA1

    /// Timer ticks between two times (units of 1/1920 MHz) at the APB clock over the divider.
    func ticks(_ t: Timer, to time: UInt64) -> UInt64 {
        guard t.enabled, time > t.since else { return 0 }
        let elapsed = time - t.since
        // apb cycles = elapsed * apbHz / 1.92e9, divided by the divider.
        return (elapsed * (apbHz() / 1_000_000)) / (1920 * t.divider)
    }

    func counter(_ i: Int, at time: UInt64) -> UInt64 {
        let t = timers[i]
        let d = ticks(t, to: time)
        return t.increase ? t.value &+ d : t.value &- d
    }

    /// Re-bases a timer on the current time (before changing its configuration).
    func rebase(_ i: Int) {
        let time = now()
        timers[i].value = counter(i, at: time)
        timers[i].since = time
    }

    // MARK: Events

    /// Sets alarm and watchdog interrupts that are due; returns when the next one falls due.
    public func update() -> UInt64? {
        let time = now()
        var next: UInt64?
        for i in 0..<3 {
            let t = timers[i]
            guard t.enabled, t.config & (1 << 10) != 0 else { continue }   // ALARM_EN
            let c = counter(i, at: time)
            let due = t.increase ? c >= t.alarm : c <= t.alarm
            if due {
                intRaw |= 1 << UInt32(i == 2 ? 3 : i)
                if t.config & (1 << 29) != 0 {   // AUTORELOAD
                    timers[i].value = t.load
                    timers[i].since = time
                } else {
                    timers[i].config &= ~(1 << 10)
                }
                interruptChanged?()
            } else if t.increase {
                let remaining = t.alarm - c
                let units = remaining * 1920 * t.divider / max(1, apbHz() / 1_000_000) + 1
                next = min(next ?? .max, time + units)
            }
        }
        if let w = watchdogCheck(time) { next = min(next ?? .max, w) }
        return next
    }

    /// MWDT: stages time out in prescaled APB ticks; the action of each stage is in CONFIG0.
    func watchdogCheck(_ time: UInt64) -> UInt64? {
        let cfg = wdt[0]
        guard cfg & (1 << 31) != 0 else { return nil }
        let prescale = UInt64(max(1, wdt[4] >> 16))
        let unitsPerTick = 1920 * prescale / max(1, apbHz() / 1_000_000)
        var elapsed = time > wdtFedAt ? (time - wdtFedAt) / max(1, unitsPerTick) : 0
        var stage = 0
        while stage < 4 {
            let timeout = UInt64(wdt[UInt32(8 + stage * 4)])
            if elapsed < timeout { break }
            elapsed -= timeout
            let action = (cfg >> UInt32(29 - stage * 2)) & 3
            if stage >= wdtStage {
                wdtStage = stage + 1
                switch action {
                case 1: intRaw |= 1 << 2; interruptChanged?()
                case 2: watchdogReset?(false)
                case 3: watchdogReset?(true)
                default: break
                }
            }
            stage += 1
        }
        guard stage < 4 else { return nil }
        let timeout = UInt64(wdt[UInt32(8 + stage * 4)])
        return time + (timeout - elapsed) * max(1, unitsPerTick)
    }

    public var interruptLevels: [Bool] {
        let st = intRaw & intEna
        return [st & 1 != 0, st & 2 != 0, st & 4 != 0, st & 8 != 0]
    }

    // MARK: Registers

    /// Which timer a register belongs to and its offset in the T0/T1 layout. The LACT block
    /// (0x70-0x94) has an extra LACTRTC register at 0x74, so its later registers sit 4 higher.
    func timerIndex(_ o: UInt32) -> (Int, UInt32)? {
        if o < 0x48 { return (Int(o / 0x24), o % 0x24) }
        if o >= 0x70 && o < 0x98 {
            let r = o - 0x70
            if r == 0x04 { return (2, 0x24) }   // LACTRTC: RTC step length (storage)
            return (2, r >= 0x08 ? r - 4 : r)
        }
        return nil
    }

    public override func read(offset: UInt32, size: Int) -> UInt32? {
        let o = offset & ~3
        if let (i, r) = timerIndex(o) {
            let t = timers[i]
            switch r {
            case 0x00: return t.config
            case 0x04: return UInt32(truncatingIfNeeded: t.latched)
            case 0x08: return UInt32(truncatingIfNeeded: t.latched >> 32)
            case 0x0C: return 0
            case 0x10: return UInt32(truncatingIfNeeded: t.alarm)
            case 0x14: return UInt32(truncatingIfNeeded: t.alarm >> 32)
            case 0x18: return UInt32(truncatingIfNeeded: t.load)
            case 0x1C: return UInt32(truncatingIfNeeded: t.load >> 32)
            case 0x20: return 0
            case 0x24: return lactRTC
            default: return nil
            }
        }
        switch o {
        case 0x48...0x5C: return wdt[o - 0x48]
        case 0x60: return 0
        case 0x64: return wdtProtect
        case 0x68:
            return calConfig
        case 0x6C: return calValue << 7
        case 0x98: return intEna
        case 0x9C: return intRaw
        case 0xA0: return intRaw & intEna
        case 0xA4: return 0
        case 0xF8: return 0x1604_2000
        case 0xFC: return 0
        default: return nil
        }
    }

    public override func write(offset: UInt32, size: Int, value: UInt32) -> Bool {
        let o = offset & ~3
        if let (i, r) = timerIndex(o) {
            switch r {
            case 0x00:
                rebase(i)
                timers[i].config = value
            case 0x04, 0x08: break
            case 0x0C: timers[i].latched = counter(i, at: now())
            case 0x10: timers[i].alarm = (timers[i].alarm & ~0xFFFF_FFFF) | UInt64(value)
            case 0x14: timers[i].alarm = (timers[i].alarm & 0xFFFF_FFFF) | UInt64(value) << 32
            case 0x18: timers[i].load = (timers[i].load & ~0xFFFF_FFFF) | UInt64(value)
            case 0x1C: timers[i].load = (timers[i].load & 0xFFFF_FFFF) | UInt64(value) << 32
            case 0x20:
                timers[i].value = timers[i].load
                timers[i].since = now()
            case 0x24: lactRTC = value
            default:
                return false
            }
            return true
        }
        switch o {
        case 0x48...0x5C:
            // Writes take effect only while WDTWPROTECT holds the key.
            if wdtProtect == TimerGroup.wdtKey {
                wdt[o - 0x48] = value
                if o == 0x48 { wdtFedAt = now(); wdtStage = 0 }
            }
        case 0x60: if wdtProtect == TimerGroup.wdtKey { wdtFedAt = now(); wdtStage = 0 }
        case 0x64: wdtProtect = value
        case 0x68:
            calConfig = value & ~(1 << 15)
            if value & (1 << 31) != 0 || value & (1 << 12) != 0 {
                // Calibration finishes at once: XTAL cycles counted over MAX slow-clock cycles
                // (150 kHz RC slow clock, 8.5 MHz/256 for 8MD256, 32.768 kHz crystal).
                let maxCycles = UInt64((value >> 16) & 0x7FFF)
                let sel = (value >> 13) & 3
                let slowHz: UInt64 = sel == 1 ? 8_500_000 / 256 : sel == 2 ? 32_768 : 150_000
                calValue = UInt32(truncatingIfNeeded: maxCycles * xtalHz / slowHz) & 0x1FF_FFFF
                calConfig |= 1 << 15   // RDY
            }
        case 0x6C: break
        case 0x98: intEna = value; interruptChanged?()
        case 0x9C: break
        case 0xA0: break
        case 0xA4: intRaw &= ~value; interruptChanged?()
        case 0xF8, 0xFC: break
        default: return false
        }
        return true
    }
}

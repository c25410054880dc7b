// The two legacy FRC timers at 0x3FF47000 (ESP-IDF soc/frc_timer_reg.h): FRC1 counts down
// from LOAD (optionally reloading), FRC2 counts up and raises an alarm interrupt. Both run
// on the APB clock through a prescaler of 1, 16 or 256; counts come from simulated time.

public final class FRCTimers: RegisterModel, Peripheral {
    public let name = "FRC_TIMER"
    public let range: Range<UInt32> = 0x4_7000..<0x4_7100
    public var now: () -> UInt64 = { 0 }
    public var apbHz: () -> UInt64 = { 80_000_000 }
    public var interruptChanged: (() -> Void)?

    struct Timer {
        var load: UInt32 = 0
        var count: UInt32 = 0
        var since: UInt64 = 0
        var ctrl: UInt32 = 0
        var alarm: UInt32 = 0
        var pending = false
        var enabled: Bool { ctrl & (1 << 7) != 0 }
        var prescale: UInt64 { [1, 16, 256, 256][Int((ctrl >> 1) & 3)] }
    }
    var timers = [Timer(), Timer()]

    public override init() {}

    public func reset() { timers = [Timer(), Timer()] }

    /// Interrupt sources 56 (TIMER1 = FRC1) and 57 (TIMER2 = FRC2).
    public var interruptLevels: [Bool] { [timers[0].pending, timers[1].pending] }

    func ticks(_ i: Int, _ time: UInt64) -> UInt64 {
        let t = timers[i]
        guard t.enabled, time > t.since else { return 0 }
        return (time - t.since) * (apbHz() / 1_000_000) / (1920 * t.prescale)
    }

    func value(_ i: Int, _ time: UInt64) -> UInt32 {
        let d = UInt32(truncatingIfNeeded: ticks(i, time))
        return i == 0 ? timers[0].count &- d : timers[1].count &+ d
    }

    func rebase(_ i: Int) {
        let time = now()
        timers[i].count = value(i, time)
        timers[i].since = time
    }

    /// Raises due interrupts; returns the time of the next one.
    public func update() -> UInt64? {
        let time = now()
        var next: UInt64?
        let unitsPerTick = { (i: Int) -> UInt64 in 1920 * self.timers[i].prescale / max(1, self.apbHz() / 1_000_000) }
        // FRC1: interrupt when the down-counter passes zero; reload if AUTOLOAD.
        if timers[0].enabled {
            let elapsed = ticks(0, time)
            let c = UInt64(timers[0].count)
            if elapsed > c {
                timers[0].pending = true
                interruptChanged?()
                let period = UInt64(max(1, timers[0].load))
                if timers[0].ctrl & (1 << 6) != 0 {
                    let over = (elapsed - c - 1) % period
                    timers[0].count = UInt32(truncatingIfNeeded: period - 1 - over)
                } else {
                    timers[0].count = 0
                }
                timers[0].since = time
            }
            next = time + (UInt64(timers[0].count) + 1) * max(1, unitsPerTick(0))
        }
        // FRC2: alarm when the up-counter reaches ALARM.
        if timers[1].enabled {
            let v = value(1, time)
            let dist = timers[1].alarm &- timers[1].count
            if UInt64(dist) <= ticks(1, time) && !timers[1].pending {
                timers[1].pending = true
                interruptChanged?()
            } else if !timers[1].pending {
                let remaining = UInt64(timers[1].alarm &- v)
                next = min(next ?? .max, time + remaining * max(1, unitsPerTick(1)))
            }
        }
        return next
    }

    public override func read(offset: UInt32, size: Int) -> UInt32? {
        let i = Int(offset / 0x20), r = offset % 0x20 & ~3
        guard i < 2 else { return nil }
        switch r {
        case 0x00: return timers[i].load
        case 0x04: return value(i, now())
        case 0x08: return timers[i].ctrl | (timers[i].pending ? 1 << 8 : 0)
        case 0x0C: return 0
        case 0x10: return i == 1 ? timers[1].alarm : nil
        default: return nil
        }
    }

    public override func write(offset: UInt32, size: Int, value: UInt32) -> Bool {
        let i = Int(offset / 0x20), r = offset % 0x20 & ~3
        guard i < 2 else { return false }
        switch r {
        case 0x00:
            timers[i].load = value
            timers[i].count = value
            timers[i].since = now()
        case 0x04:
            timers[i].count = value
            timers[i].since = now()
        case 0x08:
            rebase(i)
            timers[i].ctrl = value & 0xFF
        case 0x0C:
            timers[i].pending = false
            interruptChanged?()
        case 0x10 where i == 1:
            rebase(1)
            timers[1].alarm = value
            timers[1].pending = false
            interruptChanged?()
        default:
            return false
        }
        return true
    }
}

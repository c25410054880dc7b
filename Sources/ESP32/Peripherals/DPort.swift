// DPORT (TRM "System and Memory", "Interrupt Matrix"; ESP-IDF soc/dport_reg.h): APP CPU
// control, CPU clock selection, flash cache control and MMU tables, peripheral clocks and
// resets, the interrupt matrix and the cross-core interrupts.

public final class DPort: RegisterModel, Peripheral {
    public let name = "DPORT"
    /// The control registers; the MMU tables at 0x10000-0x13FFF are also routed here.
    public let range: Range<UInt32> = 0x0000..<0x1000

    // Register offsets.
    static let proBootRemap: UInt32 = 0x000, appBootRemap: UInt32 = 0x004
    static let appCpuCtrlA: UInt32 = 0x02C, appCpuCtrlB: UInt32 = 0x030, appCpuCtrlC: UInt32 = 0x034, appCpuCtrlD: UInt32 = 0x038
    static let cpuPerConf: UInt32 = 0x03C
    static let proCacheCtrl: UInt32 = 0x040, proCacheCtrl1: UInt32 = 0x044
    static let appCacheCtrl: UInt32 = 0x058, appCacheCtrl1: UInt32 = 0x05C
    static let cpuIntrFromCpu0: UInt32 = 0x0DC
    static let proIntrMap0: UInt32 = 0x104, appIntrMap0: UInt32 = 0x218
    public static let interruptSources = 69
    static let proDcacheDbug0: UInt32 = 0x3F0, appDcacheDbug0: UInt32 = 0x418
    static let date: UInt32 = 0xFFC

    var regs = RegisterFile(count: 0x1000 / 4)
    /// PRO (0) and APP (1) flash MMU tables: 384 entries each (DROM0, IRAM0, IRAM1, IROM0, DRAM1).
    public var mmu: [[UInt32]] = [[UInt32](repeating: 0x100, count: 384), [UInt32](repeating: 0x100, count: 384)]

    /// Called after anything that changes what the caches map (enable bits, masks, MMU entries).
    public var cacheChanged: ((_ cpu: Int) -> Void)?
    /// Called when the APP CPU's reset/clock/stall control changes.
    public var appCpuControlChanged: (() -> Void)?
    /// Called when the interrupt matrix or a cross-core interrupt changes.
    public var interruptsChanged: (() -> Void)?
    /// Called when the CPU clock selection changes.
    public var clockChanged: (() -> Void)?

    public override init() { super.init(); reset() }

    public func reset() {
        regs = RegisterFile(count: 0x1000 / 4, resets: [
            0x02C: 1,            // APPCPU_RESETTING
            0x040: 0x0000_0000,  // PRO cache disabled
            0x044: 0x0000_08FF,  // all regions masked, CMMU_FORCE_ON
            0x058: 0x0000_0000,
            0x05C: 0x0000_08FF,
            0x0C0: 0x0000_F9C1,  // PERIP_CLK_EN reset value
            0x0C4: 0,
            0x0CC: 0xFFFC_E030,  // WIFI_CLK_EN
            0x3F0: 1 << 7,       // PRO cache state: idle
            0x418: 1 << 7,
            0xFFC: 0x0160_5190,
        ])
        for c in 0..<2 { for i in 0..<384 { mmu[c][i] = 0x100 } }
        // Interrupt matrix: every source routed to interrupt 16 (disabled/unused: ESP-IDF treats
        // a non-allocated source as mapped to 16 or above 31).
        for i in 0..<DPort.interruptSources {
            regs[DPort.proIntrMap0 + UInt32(i) * 4] = 16
            regs[DPort.appIntrMap0 + UInt32(i) * 4] = 16
        }
    }

    // MARK: State for the SoC

    public var appCpuRunning: Bool {
        regs[DPort.appCpuCtrlA] & 1 == 0 && regs[DPort.appCpuCtrlB] & 1 != 0 && regs[DPort.appCpuCtrlC] & 1 == 0
    }
    public var appCpuInReset: Bool { regs[DPort.appCpuCtrlA] & 1 != 0 }
    public var appCpuBootAddress: UInt32 { regs[DPort.appCpuCtrlD] }
    public var cpuPeriodSelect: UInt32 { regs[DPort.cpuPerConf] & 3 }

    public func cacheEnabled(cpu: Int) -> Bool { regs[cpu == 0 ? DPort.proCacheCtrl : DPort.appCacheCtrl] & (1 << 3) != 0 }
    /// CACHE_CTRL1 mask bits: 0 IRAM0, 1 IRAM1, 2 IROM0, 3 DRAM1, 4 DROM0.
    public func cacheMask(cpu: Int) -> UInt32 { regs[cpu == 0 ? DPort.proCacheCtrl1 : DPort.appCacheCtrl1] }

    /// CPU interrupt number a peripheral interrupt source is routed to on a core (>31: none).
    public func route(source: Int, cpu: Int) -> Int {
        Int(regs[(cpu == 0 ? DPort.proIntrMap0 : DPort.appIntrMap0) + UInt32(source) * 4] & 0x1F)
    }

    /// Level of the four cross-core interrupt sources (FROM_CPU_INTR0..3).
    public func crossCore(_ n: Int) -> Bool { regs[DPort.cpuIntrFromCpu0 + UInt32(n) * 4] & 1 != 0 }

    // MARK: Bus

    public func readMMU(cpu: Int, index: Int) -> UInt32 { index < 384 ? mmu[cpu][index] : 0 }

    public func writeMMU(cpu: Int, index: Int, value: UInt32) {
        guard index < 384 else { return }
        mmu[cpu][index] = value & 0x1FF
        cacheChanged?(cpu)
    }

    public override func read(offset: UInt32, size: Int) -> UInt32? {
        let o = offset & ~3
        switch o {
        case DPort.proCacheCtrl, DPort.appCacheCtrl:
            // A requested flush completes at once: FLUSH_DONE (bit 5) follows FLUSH_ENA (bit 4).
            let v = regs[o]
            return v & (1 << 4) != 0 ? v | (1 << 5) : v
        case DPort.proDcacheDbug0, DPort.appDcacheDbug0:
            return 1 << 7
        case 0x000...0x3FC, 0x400...0x5FC, DPort.date:
            return regs[o]
        default:
            return nil
        }
    }

    public override func write(offset: UInt32, size: Int, value: UInt32) -> Bool {
        let o = offset & ~3
        guard o <= 0x5FC else { return false }
        let v = RegisterFile.merge(regs[o], offset: offset, size: size, value: value)
        let old = regs[o]
        regs[o] = v
        switch o {
        case DPort.appCpuCtrlA, DPort.appCpuCtrlB, DPort.appCpuCtrlC:
            if old != v { appCpuControlChanged?() }
        case DPort.cpuPerConf:
            if old != v { clockChanged?() }
        case DPort.proCacheCtrl, DPort.proCacheCtrl1:
            if (old ^ v) & ~0x30 != 0 { cacheChanged?(0) }
        case DPort.appCacheCtrl, DPort.appCacheCtrl1:
            if (old ^ v) & ~0x30 != 0 { cacheChanged?(1) }
        case DPort.cpuIntrFromCpu0...(DPort.cpuIntrFromCpu0 + 12):
            interruptsChanged?()
        case DPort.proIntrMap0..<(DPort.appIntrMap0 + UInt32(DPort.interruptSources) * 4):
            interruptsChanged?()
        default:
            break
        }
        return true
    }
}

// The ESP32 SoC: memories, peripherals, the flash cache, the two LX6 cores and the
// deterministic scheduler that interleaves them.

import FirmwareFormats
import Foundation
import XtensaCore

public final class ESP32: XtensaBus {
    public let memory = InternalMemory()
    public let diagnostics = Diagnostics()
    public private(set) var cores: [XtensaCPU] = []

    // Peripherals.
    public let dport = DPort()
    public let rtc = RTCCntl()
    public let gpio = GPIO()
    public let uarts: [UART] = [UART(index: 0, offset: 0x4_0000), UART(index: 1, offset: 0x5_0000), UART(index: 2, offset: 0x6_E000)]
    public let timerGroups = [TimerGroup(index: 0), TimerGroup(index: 1)]
    /// The timer groups and UARTs again, unretained, for `updatePeripherals` (once per
    /// quantum): walking the arrays above would retain and release the arrays and every
    /// element each time.
    private let timed: (Unmanaged<TimerGroup>, Unmanaged<TimerGroup>, Unmanaged<UART>, Unmanaged<UART>, Unmanaged<UART>)
    public let frc = FRCTimers()
    public let efuse = EFuse()
    public let rng = RNG()
    public let sha = SHA()
    /// APB_CTRL: clock and tick configuration as storage; DATE bit 31 marks a revision 3 chip.
    public let apbCtrl = StorageBlock(name: "APB_CTRL", range: 0x6_6000..<0x6_7000, valid: 0..<0x80,
                                      resets: [0x00: 0x0000_0000, 0x04: 39, 0x08: 79, 0x0C: 11])
    public let spi0 = SPIController(index: 0)
    public let spi1 = SPIController(index: 1)
    /// The SPI flash chip (nil: none attached).
    public private(set) var flashChip: SPIFlash?
    public private(set) var peripherals: [Peripheral] = []
    /// Edge-triggered CPU interrupts seen high at the last update (per core), for edge detection.
    private var edgeHigh: [UInt32] = [0, 0]
    /// Time (1/1920 MHz units) of the next peripheral event (timer alarm, watchdog stage).
    private var nextPeripheralEvent: UInt64 = .max
    /// Peripherals within each 4 KiB page of 0x3FF00000-0x3FF7FFFF: page i's are
    /// `owners[ownerStart[i] ..< ownerStart[i + 1]]`. Flat and unowned (the peripherals are
    /// kept by `peripherals`), so a register access retains nothing.
    private var owners: UnsafeMutablePointer<PeripheralSlot> = .allocate(capacity: 0)
    private var ownerStart: UnsafeMutablePointer<Int32> = {
        let p = UnsafeMutablePointer<Int32>.allocate(capacity: 129)
        p.initialize(repeating: 0, count: 129)
        return p
    }()

    /// Flash contents behind the cache (nil: no flash attached).
    public private(set) var flash: UnsafeMutableRawPointer?
    public private(set) var flashSize = 0

    /// CPU clock in Hz (from the clock tree the firmware configures).
    public private(set) var cpuHz: UInt64 = 40_000_000
    /// Simulated time in units of 1/1920 MHz (every CPU clock is a whole number of units).
    public private(set) var timeUnits: UInt64 = 0
    /// Cycles per quantum before the scheduler switches cores.
    public var quantum: UInt64 = 1000
    public private(set) var appRunning = false
    var pendingReset: (system: Bool, cpus: Set<Int>)?
    var resetCauseForPending: RTCCntl.ResetReason = .softwareSystem

    /// Bytes UART0 transmits (and UART1/2 through their own sinks).
    public var uartOutput: ((Int, UInt8) -> Void)?

    public override init() {
        let pro = XtensaCPU(config: .esp32(prid: 0xCDCD), bus: NullBus.shared)
        let app = XtensaCPU(config: .esp32(prid: 0xABAB), bus: NullBus.shared)
        cores = [pro, app]
        timed = (.passUnretained(timerGroups[0]), .passUnretained(timerGroups[1]),
                 .passUnretained(uarts[0]), .passUnretained(uarts[1]), .passUnretained(uarts[2]))
        super.init()
        for c in cores {
            c.bus = self
            memory.map(into: c.memory)
        }
        // Both cores see the same SRAM: code either has predecoded is dropped by a store from
        // either.
        pro.memory.share(with: app.memory)
        register(dport)
        register(rtc)
        register(gpio)
        for u in uarts {
            register(u)
            u.output = { [unowned self] b in self.uartOutput?(u.index, b) }
        }
        for t in timerGroups {
            register(t)
            t.now = { [unowned(unsafe) self] in self.timeUnits }
            t.apbHz = { [unowned(unsafe) self] in self.apbHz }
            t.interruptChanged = { [unowned self] in self.updateInterrupts() }
            t.watchdogReset = { [unowned self] system in
                self.diagnostics.note("\(t.name) watchdog reset")
                self.resetCauseForPending = t.index == 0 ? .timerGroup0WDT : .timerGroup1WDT
                self.scheduleReset(system: true, cpus: [0, 1])
            }
        }
        register(frc)
        register(efuse)
        register(rng)
        register(sha)
        register(spi0)
        register(spi1)
        efuse.interruptChanged = { [unowned self] in self.updateInterrupts() }
        apbCtrl.setResetValue(offset: 0x7C, efuse.apbCtrlDate)
        frc.now = { [unowned(unsafe) self] in self.timeUnits }
        frc.apbHz = { [unowned(unsafe) self] in self.apbHz }
        frc.interruptChanged = { [unowned self] in self.updateInterrupts() }
        // APB_CTRL: clock and tick configuration as storage; DATE bit 31 marks a revision 3 chip.
        register(apbCtrl)
        for u in uarts {
            u.interruptChanged = { [unowned self] in self.updateInterrupts() }
            u.now = { [unowned(unsafe) self] in self.timeUnits }
            u.apbHz = { [unowned(unsafe) self] in self.apbHz }
            u.cpuHz = { [unowned(unsafe) self] in self.cpuHz }
        }
        dport.interruptsChanged = { [unowned self] in self.updateInterrupts() }
        register(AnalogI2C())
        register(StorageBlock(name: "I2S0", range: 0x4_F000..<0x5_0000, valid: 0..<0x100))
        register(StorageBlock(name: "IO_MUX", range: 0x4_9000..<0x4_a000, valid: 0..<0x90))
        register(StorageBlock(name: "RTC_IO", range: 0x4_8400..<0x4_8800, valid: 0..<0xD0))
        register(StorageBlock(name: "SENS", range: 0x4_8800..<0x4_8C00, valid: 0..<0x100))
        // SDIO slave (download-mode start): SLC DMA, SLCHOST and HINF.
        register(SLC())
        register(StorageBlock(name: "SLCHOST", range: 0x5_5000..<0x5_6000, valid: 0..<0x200))
        register(StorageBlock(name: "HINF", range: 0x4_B000..<0x4_C000, valid: 0..<0x100))
        dport.cacheChanged = { [unowned self] cpu in self.refreshCache(cpu: cpu) }
        dport.appCpuControlChanged = { [unowned self] in self.updateAppCpu() }
        dport.clockChanged = { [unowned self] in self.updateClock() }
        rtc.clockChanged = { [unowned self] in self.updateClock() }
        rtc.requestSystemReset = { [unowned self] in self.scheduleReset(system: true, cpus: [0, 1]) }
        rtc.requestCPUReset = { [unowned self] cpu in self.scheduleReset(system: false, cpus: [cpu]) }
        rtc.slowClockTicks = { [unowned self] in self.timeUnits / (1_920_000_000 / 150_000) }
        rtc.watchdogReset = { [unowned self] reason in
            self.diagnostics.note("RTC watchdog reset")
            self.resetCauseForPending = reason
            self.scheduleReset(system: true, cpus: [0, 1])
        }
        diagnostics.stopCore = { [unowned self] i in self.cores[i].requestStop() }
        reset(cause: .powerOn)
    }

    deinit {
        owners.deallocate()
        ownerStart.deallocate()
    }

    /// Adds a peripheral to the bus.
    public func register(_ p: Peripheral) {
        peripherals.append(p)
        var slots: [PeripheralSlot] = []
        for page in 0..<128 {
            ownerStart[page] = Int32(slots.count)
            for q in peripherals where Int(q.range.lowerBound >> 12) <= page && Int((q.range.upperBound - 1) >> 12) >= page {
                slots.append(PeripheralSlot(peripheral: q, lower: q.range.lowerBound, upper: q.range.upperBound))
            }
        }
        ownerStart[128] = Int32(slots.count)
        owners.deallocate()
        owners = .allocate(capacity: slots.count)
        owners.initialize(from: slots, count: slots.count)
    }

    // MARK: Setup

    /// Loads the mask ROM: a raw image (ROM0 at offset 0, ROM1 at 0x60000) or a ROM ELF.
    public func loadROM(path: String) throws -> [ELFFile.Symbol] {
        guard let data = FileManager.default.contents(atPath: path) else { throw InputError("\(path): cannot read ROM file") }
        let bytes = [UInt8](data)
        if bytes.starts(with: [0x7F, 0x45, 0x4C, 0x46]) {
            let elf = try ELFFile(bytes: bytes, path: path)
            try elf.requireXtensa()
            var loaded = 0
            for seg in elf.segments where seg.fileSize > 0 {
                let a = seg.physicalAddress
                guard a >= AddressMap.rom0, Int(a - AddressMap.rom0) + seg.data.count <= memory.rom.size else { continue }
                seg.data.withUnsafeBytes { memory.rom.bytes.advanced(by: Int(a - AddressMap.rom0)).copyMemory(from: $0.baseAddress!, byteCount: seg.data.count) }
                loaded += seg.data.count
            }
            guard loaded > 0 else { throw InputError("\(path): ROM ELF has no segments in ROM (0x40000000-0x4006FFFF)") }
            // The ROM's initialised data (.data_* sections: written, not allocated, addressed in
            // DRAM) has no bytes in the ELF's ROM segments, but the ROM's startup copies it from
            // there. Each DRAM region starts with a 4-byte ".from_now_on_..._into_dramN" marker
            // section whose segment gives the region's place in ROM; the region's sections follow
            // it in address order, 16-byte aligned. Rebuild those bytes as the chip's ROM has them.
            let markers = elf.sections.filter { $0.name.hasPrefix(".from_now_on_") }.compactMap { m -> (UInt32, UInt32)? in
                guard let seg = elf.segments.first(where: { $0.virtualAddress == m.address && $0.fileSize > 0 }) else { return nil }
                return (m.address, seg.physicalAddress &+ m.size)
            }.sorted { $0.0 < $1.0 }
            let initialised = elf.sections.filter {
                $0.name.hasPrefix(".data") && !$0.name.hasSuffix("_app") && $0.type == 1 && !$0.isAllocated
            }.sorted { $0.address < $1.address }
            for (i, marker) in markers.enumerated() {
                let end = i + 1 < markers.count ? markers[i + 1].0 : UInt32.max
                var at = marker.1
                for sec in initialised where sec.address >= marker.0 && sec.address < end {
                    at = (at + 15) & ~15
                    if !sec.data.isEmpty, at >= AddressMap.rom0, Int(at - AddressMap.rom0) + sec.data.count <= memory.rom.size {
                        sec.data.withUnsafeBytes { memory.rom.bytes.advanced(by: Int(at - AddressMap.rom0)).copyMemory(from: $0.baseAddress!, byteCount: sec.data.count) }
                    }
                    at &+= UInt32(sec.data.count)
                }
            }
            return elf.symbols
        }
        guard !bytes.isEmpty else { throw InputError("\(path): ROM file is empty") }
        guard bytes.count >= AddressMap.rom0Size else {
            throw InputError("\(path): \(bytes.count) bytes, too small for a raw ESP32 ROM (ROM0 alone is \(AddressMap.rom0Size) bytes; the v3 ROM file is 455722); sha256 \(Digest.hex(Digest.sha256(bytes)))")
        }
        let n = min(bytes.count, memory.rom.size)
        if bytes.count != 455_722 && bytes.count != memory.rom.size {
            diagnostics.note("warning: \(path): unexpected ROM size \(bytes.count) bytes (the ESP32 v3 ROM is 455722, sha256 9115bbcd...); this file's sha256 is \(Digest.hex(Digest.sha256(bytes)))")
        }
        bytes.withUnsafeBytes { memory.rom.bytes.copyMemory(from: $0.baseAddress!, byteCount: n) }
        return []
    }

    /// Loads eFuse contents from a QEMU eFuse image (124 bytes).
    public func loadEFuse(path: String) throws {
        efuse.replace(fuses: try EFuse.loadImage(path: path))
        apbCtrl.setResetValue(offset: 0x7C, efuse.apbCtrlDate)
    }

    /// Attaches the SPI flash: SPI0/SPI1 talk to it and the cache maps its 64 KiB pages directly.
    public func attach(flash chip: SPIFlash) {
        flashChip = chip
        flash = chip.storage
        flashSize = chip.size
        spi0.devices[0] = chip
        spi1.devices[0] = chip
        chip.onWrite = { [unowned self] _ in self.flashChanged() }
        refreshCache(cpu: 0)
        refreshCache(cpu: 1)
    }

    /// Chip reset: memories keep their contents (as on silicon) unless power-on.
    public func reset(cause: RTCCntl.ResetReason) {
        if cause == .powerOn {
            memory.sram0.clear(); memory.sram1.clear(); memory.sram2.clear(); memory.sram1Code.clear()
            memory.rtcFast.clear(); memory.rtcSlow.clear()
        }
        for p in peripherals where !(p is RTCCntl) { p.reset() }
        rtc.setResetCause(pro: cause, app: cause)
        if cause == .powerOn { rtc.reset() }
        for c in cores {
            c.reset()
            c.memory.invalidateAllCode()
        }
        appRunning = false
        cpuHz = 40_000_000
        refreshCache(cpu: 0)
        refreshCache(cpu: 1)
    }

    func scheduleReset(system: Bool, cpus: Set<Int>) {
        pendingReset = (system, cpus)
        for c in cores { c.requestStop() }
    }

    func performPendingReset() {
        guard let r = pendingReset else { return }
        pendingReset = nil
        if r.system {
            reset(cause: resetCauseForPending)
            resetCauseForPending = .softwareSystem
        } else if r.cpus.contains(0) {
            // A PRO CPU reset runs the ROM again with peripherals as they are; the APP CPU is
            // held in reset by the ROM's own startup.
            rtc.setResetCause(pro: .softwareCPU, app: .softwareCPU)
            cores[0].reset()
            cores[1].reset()
            dport.reset()
            appRunning = false
            for c in cores { c.memory.invalidateAllCode() }
            refreshCache(cpu: 0); refreshCache(cpu: 1)
            cpuHz = 40_000_000
        } else if r.cpus.contains(1) {
            cores[1].reset()
            appRunning = dport.appCpuRunning
        }
    }

    // MARK: Clocks and the APP CPU

    /// APB clock: 80 MHz from the PLL, otherwise the CPU clock source (XTAL 40 MHz).
    public var apbHz: UInt64 { cpuHz >= 80_000_000 ? 80_000_000 : cpuHz }

    // MARK: Interrupt matrix

    /// Interrupt sources (ESP-IDF periph_defs.h numbering) currently asserted.
    func sourceLevels() -> [Int] {
        var s: [Int] = []
        for t in timerGroups {
            let l = t.interruptLevels
            for i in 0..<4 where l[i] { s.append(t.levelSources[i]) }
        }
        for n in 0..<4 where dport.crossCore(n) { s.append(24 + n) }
        for u in uarts where u.interruptLine { s.append(34 + u.index) }
        let f = frc.interruptLevels
        if f[0] { s.append(56) }
        if f[1] { s.append(57) }
        return s
    }

    /// Routes asserted sources through the interrupt matrix to each core's interrupt lines.
    public func updateInterrupts() {
        let sources = sourceLevels()
        for cpu in 0..<2 {
            var level: UInt32 = 0
            for src in sources {
                let n = dport.route(source: src, cpu: cpu)
                guard n < 32 else { continue }
                switch cores[cpu].config.interruptTypes[n] {
                case .level, .nmi, .edge: level |= 1 << UInt32(n)
                default: break   // internal (timer/software/profiling) lines cannot be driven
                }
            }
            let edges = level & edgeMask
            let rising = edges & ~edgeHigh[cpu]
            edgeHigh[cpu] = edges
            for n in 0..<32 where rising & (1 << UInt32(n)) != 0 { cores[cpu].raiseInterrupt(n) }
            cores[cpu].setExternalInterruptLines(level & ~edgeMask)
        }
    }

    private let edgeMask: UInt32 = (1 << 10) | (1 << 22) | (1 << 28) | (1 << 30)

    /// When the next timed peripheral event (timer alarm, watchdog stage, UART RX frame) is due
    /// (.max: none).
    public var nextTimedEvent: UInt64 { nextPeripheralEvent }
    /// Peripheral register accesses (reads and writes, both cores) since power-on.
    public private(set) var peripheralAccesses: UInt64 = 0

    /// Lets timed peripherals catch up with simulated time (and see new host input).
    public func updatePeripherals() {
        var next = UInt64.max
        if let n = timed.0._withUnsafeGuaranteedRef({ $0.update() }) { next = min(next, n) }
        if let n = timed.1._withUnsafeGuaranteedRef({ $0.update() }) { next = min(next, n) }
        if let n = frc.update() { next = min(next, n) }
        if let n = timed.2._withUnsafeGuaranteedRef({ $0.update() }) { next = min(next, n) }
        if let n = timed.3._withUnsafeGuaranteedRef({ $0.update() }) { next = min(next, n) }
        if let n = timed.4._withUnsafeGuaranteedRef({ $0.update() }) { next = min(next, n) }
        if let tick = rtc.updateWatchdog() { next = min(next, tick * (1_920_000_000 / 150_000)) }
        nextPeripheralEvent = next
    }

    func updateClock() {
        // SOC_CLK_SEL (RTC_CNTL_CLK_CONF): XTAL (40 MHz) or PLL with CPUPERIOD_SEL 80/160/240 MHz.
        switch rtc.socClockSelect {
        case 1: cpuHz = [80_000_000, 160_000_000, 240_000_000, 240_000_000][Int(dport.cpuPeriodSelect)]
        case 2: cpuHz = 8_000_000
        default: cpuHz = 40_000_000
        }
    }

    func updateAppCpu() {
        let run = dport.appCpuRunning
        if dport.appCpuInReset {
            cores[1].reset()
        }
        appRunning = run
    }

    // MARK: Flash cache

    /// Rebuilds one CPU's view of flash through its MMU table, enable bit and region masks.
    func refreshCache(cpu: Int) {
        let m = cores[cpu].memory
        let enabled = dport.cacheEnabled(cpu: cpu) && flash != nil
        let mask = dport.cacheMask(cpu: cpu)
        // (first MMU entry, virtual base, number of 64 KiB pages, mask bit, attributes)
        let regions: [(Int, UInt32, Int, UInt32, MemoryAttributes)] = [
            (0, 0x3F40_0000, 64, 1 << 4, [.read]),                                // DROM0
            (64 + 13, 0x400D_0000, 64 - 13, 1 << 0, [.read, .execute, .wordOnly]), // IRAM0 (flash part)
            (128, 0x4040_0000, 64, 1 << 1, [.read, .execute, .wordOnly]),         // IRAM1
            (192, 0x4080_0000, 64, 1 << 2, [.read, .execute, .wordOnly]),         // IROM0
        ]
        for (entry0, vbase, pages, bit, attrs) in regions {
            for i in 0..<pages {
                let vaddr = vbase &+ UInt32(i) << 16
                let e = dport.mmu[cpu][entry0 + i]
                let page = Int(e & 0xFF)
                if enabled && mask & bit == 0 && e & 0x100 == 0 && (page + 1) << 16 <= flashSize, let f = flash {
                    let host = f + page << 16
                    if m.hostPointer(vaddr) != host { m.map(base: vaddr, size: 0x1_0000, host: host, attributes: attrs) }
                } else if m.hostPointer(vaddr) != nil {
                    m.unmap(base: vaddr, size: 0x1_0000)
                }
            }
        }
    }

    /// Flash was programmed or erased: forget predecoded code mapped from it.
    public func flashChanged() {
        for c in cores { c.memory.invalidateAllCode() }
    }

    // MARK: Bus (everything that is not in a core's page table)

    func coreIndex(_ cpu: XtensaCPU) -> Int { cpu === cores[0] ? 0 : 1 }

    public override func read(_ address: UInt32, size: Int, cpu: XtensaCPU) -> UInt32? {
        var a = address
        if a >= AddressMap.peripheralsAHB && a < AddressMap.peripheralsAHB + AddressMap.peripheralsAHBSize {
            a = a - AddressMap.peripheralsAHB + AddressMap.peripheralsAHBTarget
        }
        if a >= AddressMap.peripherals && a < AddressMap.peripherals + AddressMap.peripheralsSize {
            peripheralAccesses &+= 1
            let off = a - AddressMap.peripherals
            if off >= 0x1_0000 && off < 0x1_4000 {
                let table = off < 0x1_2000 ? 0 : 1
                return dport.readMMU(cpu: table, index: Int((off - (table == 0 ? 0x1_0000 : 0x1_2000)) >> 2))
            }
            if let e = owner(off), let v = e.registers._withUnsafeGuaranteedRef({ $0.read(offset: off &- e.lower, size: size) }) {
                return extract(v, address: a, size: size)
            }
            diagnostics.unmodelled(peripheralName(off), address: address, size: size, write: false, pc: cpu.pc, core: coreIndex(cpu))
            return 0
        }
        if a >= AddressMap.sram1Instr && a < AddressMap.sram1Instr + UInt32(AddressMap.sram1Size) {
            let off = memory.sram1InstrOffset(a & ~3)
            return extract(memory.sram1.bytes.load(fromByteOffset: off, as: UInt32.self), address: a, size: size)
        }
        if a >= AddressMap.sram1Data && a < AddressMap.sram1Data + UInt32(AddressMap.sram1Size),
           let v = readSRAM1Data(a, size: size) {
            return v
        }
        if (a >= AddressMap.drom0 && a < AddressMap.drom0End) || (a >= AddressMap.irom0 && a < AddressMap.irom1End) {
            diagnostics.unmodelled("unmapped flash cache address", address: address, size: size, write: false, pc: cpu.pc, core: coreIndex(cpu))
            return 0
        }
        diagnostics.unmodelled("address", address: address, size: size, write: false, pc: cpu.pc, core: coreIndex(cpu))
        return 0
    }

    public override func write(_ address: UInt32, size: Int, value: UInt32, cpu: XtensaCPU) -> Bool {
        var a = address
        if a >= AddressMap.peripheralsAHB && a < AddressMap.peripheralsAHB + AddressMap.peripheralsAHBSize {
            a = a - AddressMap.peripheralsAHB + AddressMap.peripheralsAHBTarget
        }
        if a >= AddressMap.peripherals && a < AddressMap.peripherals + AddressMap.peripheralsSize {
            peripheralAccesses &+= 1
            let off = a - AddressMap.peripherals
            if off >= 0x1_0000 && off < 0x1_4000 {
                let table = off < 0x1_2000 ? 0 : 1
                dport.writeMMU(cpu: table, index: Int((off - (table == 0 ? 0x1_0000 : 0x1_2000)) >> 2), value: value)
                return true
            }
            if let e = owner(off), e.registers._withUnsafeGuaranteedRef({ $0.write(offset: off &- e.lower, size: size, value: value) }) {
                return true
            }
            diagnostics.unmodelled(peripheralName(off), address: address, size: size, write: true, value: value, pc: cpu.pc, core: coreIndex(cpu))
            return true
        }
        if a >= AddressMap.sram1Instr && a < AddressMap.sram1Instr + UInt32(AddressMap.sram1Size) {
            writeSRAM1Instr(a, size: size, value: value)
            return true
        }
        if a >= AddressMap.sram1Data && a < AddressMap.sram1Data + UInt32(AddressMap.sram1Size),
           writeSRAM1Data(a, size: size, value: value) {
            return true
        }
        diagnostics.unmodelled("address", address: address, size: size, write: true, value: value, pc: cpu.pc, core: coreIndex(cpu))
        return true
    }

    /// The bytes of a word register that a narrower access sees.
    func extract(_ v: UInt32, address: UInt32, size: Int) -> UInt32 {
        if size == 4 { return v }
        let shift = (address & 3) * 8
        return (v >> shift) & (size == 1 ? 0xFF : 0xFFFF)
    }

    @inline(__always) func owner(_ off: UInt32) -> PeripheralSlot? {
        let page = Int(off >> 12)
        guard page < 128 else { return nil }
        var i = Int(ownerStart[page])
        let end = Int(ownerStart[page &+ 1])
        while i < end {
            let e = owners[i]
            if off >= e.lower && off < e.upper { return e }
            i &+= 1
        }
        return nil
    }

    func peripheralName(_ off: UInt32) -> String {
        if let e = owner(off) { return "\(e.peripheral.name) register" }
        return "peripheral register"
    }

    // MARK: Running

    public enum RunResult: Equatable {
        case limit, stopped, exit(Int32), fatal(String)
    }

    /// Observation hooks per core (tracer, debugger); nil runs the plain interpreter loop.
    public var hooks: [HookTarget?] = [nil, nil]
    /// A slice that a hook stopped part-way (breakpoint, single step): `run` finishes it first, so
    /// stopping never changes how the cores interleave.
    var stoppedSlice: (slice: UInt64, unitsPerCycle: UInt64, proUsed: UInt64, appUsed: UInt64?, r0: StopReason)?

    /// False runs without the interpreter's speed shortcuts: every instruction through its plain
    /// path (`ReferenceStepping`: full fetch, no carried slot, no busy-wait skip). Slower; the
    /// output, the instruction counts and the simulated time are the same (checked by the tests).
    /// The skip of time when both cores wait stays: it decides where slices start, i.e. how the
    /// two cores interleave, and executes no instruction.
    public var shortcuts = true

    @inline(__always) func runCore(_ i: Int, cycles: UInt64) -> StopReason {
        if let h = hooks[i] { return cores[i].run(cycles: cycles, forwardingTo: h) }
        if !shortcuts { return cores[i].run(cycles: cycles, forwardingTo: ReferenceStepping.shared) }
        return cores[i].run(cycles: cycles)
    }

    /// Runs both cores, interleaved by a fixed quantum, for at most `cycles` PRO CPU cycles.
    /// Returns `.stopped` when a hook stops a core (`.breakpoint`).
    public func run(cycles budget: UInt64, shouldStop: () -> Bool = { false }) -> RunResult {
        var remaining = budget
        while remaining > 0 {
            var slice = min(quantum, remaining)
            var unitsPerCycle = 1_920_000_000 / max(1, cpuHz)
            // Both cores wait for an interrupt: jump straight to the next event that can wake one.
            if cores[0].isWaiting && (!appRunning || cores[1].isWaiting) && pendingReset == nil && stoppedSlice == nil {
                var skip = remaining
                for (i, c) in cores.enumerated() where i == 0 || appRunning {
                    let t = c.nextTimerCycle
                    if t != .max { skip = min(skip, t > c.st.pointee.cycles ? t - c.st.pointee.cycles : 0) }
                }
                if nextPeripheralEvent != .max {
                    skip = min(skip, nextPeripheralEvent > timeUnits ? (nextPeripheralEvent - timeUnits) / unitsPerCycle : 0)
                }
                // Nothing can ever raise an interrupt a waiting core has enabled: a hang, not idle time.
                if !canWake(cores[0]) && (!appRunning || !canWake(cores[1])) {
                    return .fatal(appRunning ? "both CPUs halted (WAITI) with no interrupt source that could wake them"
                                             : "the PRO CPU halted (WAITI) with no interrupt source that could wake it (the APP CPU is not running)")
                }
                if skip > 1 {
                    skip -= 1
                    cores[0].advanceIdle(cycles: skip)
                    if appRunning { cores[1].advanceIdle(cycles: skip) }
                    timeUnits &+= skip * unitsPerCycle
                    remaining -= skip
                    updatePeripherals()
                    if shouldStop() { return .stopped }
                    continue
                }
            }
            if nextPeripheralEvent != .max {
                let until = nextPeripheralEvent > timeUnits ? (nextPeripheralEvent - timeUnits) / unitsPerCycle + 1 : 1
                slice = min(slice, until)
            }
            var proUsed: UInt64 = 0, appUsed: UInt64?, r0 = StopReason.limit
            if let s = stoppedSlice { (slice, unitsPerCycle, proUsed, appUsed, r0) = s; stoppedSlice = nil }
            if appUsed == nil {
                let startPro = cores[0].st.pointee.cycles
                r0 = runCore(0, cycles: slice - proUsed)
                proUsed += cores[0].st.pointee.cycles - startPro
                if r0 == .breakpoint { stoppedSlice = (slice, unitsPerCycle, proUsed, nil, r0); return .stopped }
            }
            let used = max(1, proUsed)
            if appRunning, (appUsed ?? 0) < used {
                let startApp = cores[1].st.pointee.cycles
                let r1 = runCore(1, cycles: used - (appUsed ?? 0))
                let done = (appUsed ?? 0) + cores[1].st.pointee.cycles - startApp
                if r1 == .breakpoint { stoppedSlice = (slice, unitsPerCycle, proUsed, done, r0); return .stopped }
            }
            timeUnits &+= used * unitsPerCycle
            remaining = remaining > used ? remaining - used : 0
            updatePeripherals()
            if let msg = diagnostics.strictStop { return .fatal(msg) }
            if appRunning, let msg = cores[1].fatalReason { return .fatal("APP CPU: " + msg) }
            switch r0 {
            case .exit(let code): return .exit(code)
            case .fatal(let msg): return .fatal("PRO CPU: " + msg)
            case .stopRequested:
                if pendingReset != nil { performPendingReset() }
            case .halted:
                if !appRunning || cores[1].st.pointee.waiting {
                    // Both cores wait for an interrupt that nothing will raise.
                    if pendingInterruptSources() == false && cores[0].st.pointee.timerDeadline == .max {
                        return .fatal("both CPUs halted (WAITI) with no interrupt source that could wake them")
                    }
                }
            default: break
            }
            if pendingReset != nil { performPendingReset() }
            if shouldStop() { return .stopped }
        }
        return .limit
    }

    /// Whether something can still happen to a core waiting in WAITI: a timed peripheral event
    /// (timer alarm, watchdog stage: a watchdog resets even with interrupts off), or an interrupt
    /// it has enabled is pending or may come (its CCOMPARE timers, host input).
    func canWake(_ c: XtensaCPU) -> Bool {
        if nextPeripheralEvent != .max || pendingReset != nil { return true }
        let s = c.st.pointee
        if s.intenable == 0 { return false }
        if (s.interrupt | s.externalLevels) & s.intenable != 0 { return true }
        return s.timerDeadline != .max || pendingInterruptSources()
    }

    func pendingInterruptSources() -> Bool { externalWakeSource?() ?? false }

    /// Whether something outside the chip can still raise an interrupt (e.g. a host serial port
    /// feeding a UART with RX interrupts enabled), so both cores waiting in WAITI is not a hang.
    public var externalWakeSource: (() -> Bool)?

    /// Simulated milliseconds since power-on.
    public var simulatedMilliseconds: UInt64 { timeUnits / 1_920_000 }
}

/// A peripheral on the bus and its block (offsets from 0x3FF00000).
struct PeripheralSlot {
    unowned(unsafe) let peripheral: Peripheral
    /// The same model, for register accesses (no retain and release per access).
    let registers: Unmanaged<RegisterModel>
    let lower: UInt32
    let upper: UInt32

    init(peripheral: Peripheral, lower: UInt32, upper: UInt32) {
        self.peripheral = peripheral
        registers = .passUnretained(peripheral)
        self.lower = lower
        self.upper = upper
    }
}

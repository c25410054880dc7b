// A bare-metal machine for running assembled programs: RAM regions, no
// peripherals, semihosting on. The tests, the benchmarks and `esp32emu asm`
// users share it.

/// A bus with nothing behind it: every access outside the mapped RAM is a bus error.
/// (`XtensaBus` itself answers every access that way.)
public final class NullBus: XtensaBus {
    /// One shared instance (cores hold their bus unowned).
    public static let shared = NullBus()
}

public final class BareMetalMachine {
    public let bus = NullBus()
    public let cpu: XtensaCPU
    public private(set) var regions: [(base: UInt32, memory: UnsafeMutableRawPointer, size: Int)] = []
    public var output: [UInt8] = []

    /// Maps RAM at each (base, size) and builds an ESP32-configured core with semihosting.
    public init(ram: [(UInt32, Int)] = [(0x4008_0000, 0x2_0000), (0x3FFE_0000, 0x2_0000)], config: CoreConfig? = nil) {
        var cfg = config ?? CoreConfig.esp32()
        cfg.semihosting = true
        cpu = XtensaCPU(config: cfg, bus: bus)
        for (base, size) in ram {
            let rounded = (size + pageSize - 1) & ~(pageSize - 1)
            let mem = UnsafeMutableRawPointer.allocate(byteCount: rounded, alignment: pageSize)
            mem.initializeMemory(as: UInt8.self, repeating: 0, count: rounded)
            cpu.memory.map(base: base, size: rounded, host: mem, attributes: .rwx)
            regions.append((base, mem, rounded))
        }
        cpu.semihostingOutput = { [unowned self] _, bytes in self.output.append(contentsOf: bytes) }
    }

    deinit {
        for r in regions { r.memory.deallocate() }
    }

    /// Copies bytes into mapped memory.
    public func load(_ bytes: [UInt8], at address: UInt32) {
        var i = 0
        while i < bytes.count {
            let a = address &+ UInt32(i)
            let chunk = min(bytes.count - i, pageSize - Int(a & UInt32(pageSize - 1)))
            if let p = cpu.memory.hostPointer(a) {
                cpu.memory.invalidateCode(at: a)
                bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress! + i, byteCount: chunk) }
            } else {
                for j in 0..<chunk { cpu.poke(a &+ UInt32(j), size: 1, value: UInt32(bytes[i + j])) }
            }
            i += chunk
        }
    }

    /// Sets the state a freshly called bare-metal program expects: windowed ABI on,
    /// interrupts unmasked, FPU enabled, stack at the top of the last RAM region.
    public func prepare(entry: UInt32, vecbase: UInt32? = nil) {
        cpu.reset()
        cpu.pc = entry
        cpu.setSpecialRegister(SR.ps, PS.woe)
        cpu.setSpecialRegister(SR.windowbase, 0)
        cpu.setSpecialRegister(SR.windowstart, 1)
        cpu.setSpecialRegister(SR.cpenable, 1)
        cpu.setSpecialRegister(SR.atomctl, 0x15)
        if let v = vecbase { cpu.setSpecialRegister(SR.vecbase, v) }
        if let last = regions.last {
            // Stack below the top of the last region; the word at sp-12 is where a window
            // overflow of this outermost frame finds its extended save area (64 bytes below the top).
            let top = last.base &+ UInt32(last.size)
            let sp = top &- 256
            cpu.setAR(1, sp)
            cpu.poke(sp &- 12, size: 4, value: top &- 64)
        }
    }
}

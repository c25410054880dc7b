// GPIO matrix (TRM "IO_MUX and GPIO Matrix"; ESP-IDF soc/gpio_reg.h): outputs with
// write-1-to-set/clear, enables, the strapping register and input levels.

public final class GPIO: RegisterModel, Peripheral {
    public let name = "GPIO"
    public let range: Range<UInt32> = 0x4_4000..<0x4_5000

    static let out: UInt32 = 0x04, outW1TS: UInt32 = 0x08, outW1TC: UInt32 = 0x0C
    static let out1: UInt32 = 0x10, out1W1TS: UInt32 = 0x14, out1W1TC: UInt32 = 0x18
    static let enable: UInt32 = 0x20, enableW1TS: UInt32 = 0x24, enableW1TC: UInt32 = 0x28
    static let enable1: UInt32 = 0x2C, enable1W1TS: UInt32 = 0x30, enable1W1TC: UInt32 = 0x34
    static let strap: UInt32 = 0x38, input: UInt32 = 0x3C, input1: UInt32 = 0x40
    static let status: UInt32 = 0x44, statusW1TS: UInt32 = 0x48, statusW1TC: UInt32 = 0x4C

    var regs = RegisterFile(count: 0x1000 / 4)
    /// Strapping pins as sampled at reset: 0x13 = SPI_FAST_FLASH_BOOT, 0x03 = download (GPIO0 low).
    public var strapping: UInt32 = 0x13
    /// External input levels (bit n = GPIOn).
    public var inputLevels: UInt64 = 0
    /// Called when an output level changes: (pin, level).
    public var outputChanged: ((Int, Bool) -> Void)?

    public override init() { super.init(); reset() }

    public func reset() { regs = RegisterFile(count: 0x1000 / 4) }

    public var outputs: UInt64 { UInt64(regs[GPIO.out]) | UInt64(regs[GPIO.out1] & 0xFF) << 32 }

    func setOut(_ reg: UInt32, _ v: UInt32) {
        let old = regs[reg]
        regs[reg] = v
        let changed = old ^ v
        guard changed != 0, let cb = outputChanged else { return }
        let base = reg == GPIO.out ? 0 : 32
        for i in 0..<32 where changed & (1 << UInt32(i)) != 0 { cb(base + i, v & (1 << UInt32(i)) != 0) }
    }

    public override func read(offset: UInt32, size: Int) -> UInt32? {
        let o = offset & ~3
        switch o {
        case GPIO.strap: return strapping
        case GPIO.input: return UInt32(truncatingIfNeeded: inputLevels)
        case GPIO.input1: return UInt32(truncatingIfNeeded: inputLevels >> 32) & 0xFF
        case GPIO.outW1TS, GPIO.outW1TC, GPIO.out1W1TS, GPIO.out1W1TC, GPIO.enableW1TS, GPIO.enableW1TC,
             GPIO.enable1W1TS, GPIO.enable1W1TC, GPIO.statusW1TS, GPIO.statusW1TC:
            return 0
        case 0x00...0x6FC: return regs[o]   // pin, interrupt and matrix select registers
        default: return nil
        }
    }

    public override func write(offset: UInt32, size: Int, value: UInt32) -> Bool {
        let o = offset & ~3
        let v = RegisterFile.merge(regs[o], offset: offset, size: size, value: value)
        switch o {
        case GPIO.out: setOut(GPIO.out, v)
        case GPIO.outW1TS: setOut(GPIO.out, regs[GPIO.out] | v)
        case GPIO.outW1TC: setOut(GPIO.out, regs[GPIO.out] & ~v)
        case GPIO.out1: setOut(GPIO.out1, v & 0xFF)
        case GPIO.out1W1TS: setOut(GPIO.out1, regs[GPIO.out1] | (v & 0xFF))
        case GPIO.out1W1TC: setOut(GPIO.out1, regs[GPIO.out1] & ~v)
        case GPIO.enableW1TS: regs[GPIO.enable] |= v
        case GPIO.enableW1TC: regs[GPIO.enable] &= ~v
        case GPIO.enable1W1TS: regs[GPIO.enable1] |= v & 0xFF
        case GPIO.enable1W1TC: regs[GPIO.enable1] &= ~v
        case GPIO.statusW1TS: regs[GPIO.status] |= v
        case GPIO.statusW1TC: regs[GPIO.status] &= ~v
        case GPIO.strap, GPIO.input, GPIO.input1: break
        case 0x00...0x6FC: regs[o] = v
        default: return false
        }
        return true
    }
}

/// A block of configuration registers modelled as storage (they hold what software writes and
/// have no side effects the emulator needs), e.g. IO_MUX pin functions.
public final class StorageBlock: RegisterModel, Peripheral {
    public let name: String
    public let range: Range<UInt32>
    var regs: RegisterFile
    var resets: [Int: UInt32]
    /// Offsets (within the block) that exist; others are reported as unmodelled.
    let valid: Range<UInt32>

    public init(name: String, range: Range<UInt32>, valid: Range<UInt32>? = nil, resets: [Int: UInt32] = [:]) {
        self.name = name
        self.range = range
        self.valid = valid ?? 0..<UInt32(range.count)
        self.resets = resets
        regs = RegisterFile(count: range.count / 4, resets: resets)
    }

    public func reset() { regs = RegisterFile(count: range.count / 4, resets: resets) }

    /// Changes a register's reset value (and its current value).
    public func setResetValue(offset: UInt32, _ value: UInt32) {
        resets[Int(offset)] = value
        regs[offset] = value
    }

    public override func read(offset: UInt32, size: Int) -> UInt32? {
        valid.contains(offset) ? regs[offset & ~3] : nil
    }

    public override func write(offset: UInt32, size: Int, value: UInt32) -> Bool {
        guard valid.contains(offset) else { return false }
        regs[offset & ~3] = RegisterFile.merge(regs[offset & ~3], offset: offset, size: size, value: value)
        return true
    }
}

// Hardware random number generator: RNG_DATA_REG / WDEV_RND_REG at 0x3FF75144 (0x60035144 on the
// AHB alias; ESP-IDF soc/wdev_reg.h, TRM chapter "Random Number Generator").
//
// On silicon every read returns 32 bits of noise. Here it is a seeded SplitMix64 stream, so a run
// sees the same "random" numbers every time: each read of RNG_DATA_REG returns the high half of
// the next SplitMix64 output. Reset rewinds the stream to the seed, so every run started from
// reset reads the same sequence.
//
// The block is the Wi-Fi device ("WDEV") range 0x3FF75000-0x3FF75FFF; only the RNG register is
// modelled, every other offset reports as unmodelled. Writes to RNG_DATA_REG (read-only) are ignored.

public final class RNG: RegisterModel, Peripheral {
    public let name = "WDEV (RNG)"
    public let range: Range<UInt32> = 0x75000..<0x76000
    /// RNG_DATA_REG's offset in the block.
    public static let dataOffset: UInt32 = 0x144
    /// "ESP32RNG" in ASCII.
    public static let defaultSeed: UInt64 = 0x4553_5033_3252_4E47

    public private(set) var seed: UInt64
    var state: UInt64
    /// Values read since reset.
    public private(set) var readCount = 0

    public init(seed: UInt64 = RNG.defaultSeed) {
        self.seed = seed
        state = seed
    }

    public func reset() {
        state = seed
        readCount = 0
    }

    /// Restarts the stream from a new seed.
    public func reseed(_ newSeed: UInt64) {
        seed = newSeed
        reset()
    }

    /// The next 32-bit value of the stream (what the next read of RNG_DATA_REG returns).
    public func next() -> UInt32 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        readCount += 1
        return UInt32(truncatingIfNeeded: z >> 32)
    }

    public override func read(offset: UInt32, size: Int) -> UInt32? {
        guard offset & ~3 == RNG.dataOffset else { return nil }
        return next()
    }

    public override func write(offset: UInt32, size: Int, value: UInt32) -> Bool {
        offset & ~3 == RNG.dataOffset
    }
}

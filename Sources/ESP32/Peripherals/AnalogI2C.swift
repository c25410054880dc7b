// The internal I2C master (0x3FF4E000) through which the ROM's rom_i2c_writeReg/readReg
// configure analog blocks (BBPLL, bias, ...). A transaction completes at once: the busy bit
// (25) reads clear, and a read returns the register value last written to that analog
// block/register in the data field (bits 23:16).

public final class AnalogI2C: RegisterModel, Peripheral {
    public let name = "I2C_ANA"
    public let range: Range<UInt32> = 0x4_E000..<0x4_F000
    var regs = RegisterFile(count: 0x1000 / 4)
    /// Analog registers by (block, register) = last value written.
    var analog: [UInt16: UInt8] = [:]

    public override init() {}
    public func reset() { regs = RegisterFile(count: 0x1000 / 4); analog.removeAll() }

    public override func read(offset: UInt32, size: Int) -> UInt32? {
        let o = offset & ~3
        guard o < 0x100 else { return nil }
        return regs[o] & ~(1 << 25)
    }

    public override func write(offset: UInt32, size: Int, value: UInt32) -> Bool {
        let o = offset & ~3
        guard o < 0x100 else { return false }
        var v = RegisterFile.merge(regs[o], offset: offset, size: size, value: value)
        if o >= 0x10 && o < 0x20 {
            // Transaction word: block id in 7:0, register in 15:8, data in 23:16, write flag bit 24.
            let key = UInt16(v & 0xFF) << 8 | UInt16((v >> 8) & 0xFF)
            if v & (1 << 24) != 0 {
                analog[key] = UInt8((v >> 16) & 0xFF)
            } else {
                v = (v & ~0x00FF_0000) | UInt32(analog[key] ?? 0) << 16
            }
        }
        regs[o] = v
        return true
    }
}

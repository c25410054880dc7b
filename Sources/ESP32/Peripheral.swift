// What every peripheral model implements. The SoC's bus routes an MMIO access in
// 0x3FF00000-0x3FF7FFFF (and its 0x60000000 alias) to the peripheral covering it.

import XtensaCore

/// The register interface of a peripheral model. It is a class so that the bus calls it
/// through the vtable on an unretained reference (`PeripheralSlot.registers`): a register
/// access costs no reference counting, which a call through a protocol existential would.
public class RegisterModel {
    init() {}
    /// Reads a register; `offset` is from the block's start. nil: no model covers it
    /// (the SoC reports it once and reads 0).
    public func read(offset: UInt32, size: Int) -> UInt32? { nil }
    /// Writes a register; false: no model covers it (reported once, ignored).
    public func write(offset: UInt32, size: Int, value: UInt32) -> Bool { false }
}

public protocol Peripheral: RegisterModel {
    /// Name used in diagnostics (e.g. "UART0").
    var name: String { get }
    /// Offset of the block from 0x3FF00000 and its size in bytes.
    var range: Range<UInt32> { get }
    /// Chip reset (power-on or system reset).
    func reset()
}

/// Register storage for simple peripherals: plain read/write words with reset values,
/// for registers whose behaviour is "stores what software writes".
public struct RegisterFile {
    public var words: [UInt32]
    let resetValues: [UInt32]

    public init(count: Int, resets: [Int: UInt32] = [:]) {
        var r = [UInt32](repeating: 0, count: count)
        for (k, v) in resets { r[k / 4] = v }
        words = r
        resetValues = r
    }

    public mutating func reset() { words = resetValues }

    public subscript(offset: UInt32) -> UInt32 {
        get { Int(offset / 4) < words.count ? words[Int(offset / 4)] : 0 }
        set { if Int(offset / 4) < words.count { words[Int(offset / 4)] = newValue } }
    }

    /// Applies a sub-word write to the stored word.
    public static func merge(_ old: UInt32, offset: UInt32, size: Int, value: UInt32) -> UInt32 {
        if size == 4 { return value }
        let shift = (offset & 3) * 8
        let mask: UInt32 = (size == 1 ? 0xFF : 0xFFFF) << shift
        return (old & ~mask) | ((value << shift) & mask)
    }
}

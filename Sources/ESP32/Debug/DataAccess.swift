// The data access an instruction is about to make, for watchpoints and the trace's memory column.

import XtensaCore

public struct DataAccess: Equatable {
    public var address: UInt32
    public var size: Int
    public var read: Bool
    public var write: Bool

    /// The access `d` makes with the registers as they are now (before it executes); nil when it
    /// makes none.
    public static func of(_ d: Decoded, cpu: XtensaCPU) -> DataAccess? {
        @inline(__always) func ar(_ i: UInt8) -> UInt32 { cpu.ar(Int(i)) }
        let off = UInt32(bitPattern: d.imm)
        switch d.op {
        case .l8ui: return DataAccess(address: ar(d.b) &+ off, size: 1, read: true, write: false)
        case .l16ui, .l16si: return DataAccess(address: ar(d.b) &+ off, size: 2, read: true, write: false)
        case .l32i, .l32in, .l32ai, .l32e: return DataAccess(address: ar(d.b) &+ off, size: 4, read: true, write: false)
        case .l32r: return DataAccess(address: off, size: 4, read: true, write: false)
        case .s8i: return DataAccess(address: ar(d.b) &+ off, size: 1, read: false, write: true)
        case .s16i: return DataAccess(address: ar(d.b) &+ off, size: 2, read: false, write: true)
        case .s32i, .s32in, .s32ri, .s32e: return DataAccess(address: ar(d.b) &+ off, size: 4, read: false, write: true)
        case .s32c1i: return DataAccess(address: ar(d.b) &+ off, size: 4, read: true, write: true)
        case .lsi: return DataAccess(address: ar(d.b) &+ off, size: 4, read: true, write: false)
        case .lsip, .lsxp: return DataAccess(address: ar(d.b), size: 4, read: true, write: false)
        case .lsx: return DataAccess(address: ar(d.b) &+ ar(d.c), size: 4, read: true, write: false)
        case .ssi: return DataAccess(address: ar(d.b) &+ off, size: 4, read: false, write: true)
        case .ssip, .ssxp: return DataAccess(address: ar(d.b), size: 4, read: false, write: true)
        case .ssx: return DataAccess(address: ar(d.b) &+ ar(d.c), size: 4, read: false, write: true)
        case .macDAld, .macDDld, .lddec, .ldinc:
            let inc = d.op == .ldinc || (d.op != .lddec && (d.imm2 >> 4) == 2)
            return DataAccess(address: inc ? ar(d.b) &+ 4 : ar(d.b) &- 4, size: 4, read: true, write: false)
        default: return nil
        }
    }

    /// Whether the access touches any byte of `[start, start + length)`.
    public func overlaps(_ start: UInt32, length: UInt32) -> Bool {
        let a = UInt64(address), e = a + UInt64(size)
        let s = UInt64(start), se = s + UInt64(length)
        return a < se && s < e
    }
}

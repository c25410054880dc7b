// Reports of guest accesses that no model covers: each address once, all counted.

import Foundation
import XtensaCore

public final class Diagnostics {
    public private(set) var unmodelledCount = 0
    private var reported: Set<UInt64> = []
    /// Where messages go (stderr by default).
    public var sink: (String) -> Void = { msg in FileHandle.standardError.write(Data(("esp32emu: " + msg + "\n").utf8)) }
    /// Resolves an address to `symbol+offset` for messages.
    public var symbolizer: ((UInt32) -> String?)?
    /// Stop the run at the first unmodelled access.
    public var strict = false
    public private(set) var strictStop: String?
    /// Stops a core at the next instruction boundary (the strict stop then ends the run there).
    public var stopCore: ((Int) -> Void)?

    public init() {}

    public func describe(_ pc: UInt32) -> String {
        let h = "0x" + String(pc, radix: 16)
        if let s = symbolizer?(pc) { return "\(h) (\(s))" }
        return h
    }

    /// An access to `address` that no model covers.
    public func unmodelled(_ what: String, address: UInt32, size: Int, write: Bool, value: UInt32 = 0, pc: UInt32, core: Int) {
        unmodelledCount += 1
        let key = UInt64(address) | (write ? 1 << 32 : 0)
        guard !reported.contains(key) || (strict && strictStop == nil) else { return }
        let message = "unmodelled \(write ? "write" : "read") of \(what) 0x\(String(address, radix: 16)) (\(size) bytes\(write ? ", value 0x" + String(value, radix: 16) : "")) at PC \(describe(pc)) on core \(core)"
        if strict && strictStop == nil { strictStop = message; stopCore?(core) }
        if reported.insert(key).inserted { sink(message + (write ? " (ignored)" : " (reads 0)")) }
    }

    public func note(_ message: String) { sink(message) }
}

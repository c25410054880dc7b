// Observation points of the interpreter loop, for tracers and debuggers.

public protocol ExecutionHooks {
    /// False for hooks that do nothing: the loop then skips the calls entirely.
    static var active: Bool { get }
    /// Before an instruction executes; return a stop reason to stop before it.
    mutating func before(_ cpu: XtensaCPU, pc: UInt32, decoded: Decoded) -> StopReason?
    /// After it executed (`completed` false when it raised an exception or was a taken jump/branch,
    /// i.e. PC was set by the instruction; exceptions are visible through EXCCAUSE/EPC).
    mutating func after(_ cpu: XtensaCPU, pc: UInt32, decoded: Decoded, completed: Bool)
}

public struct NoHooks: ExecutionHooks {
    public static var active: Bool { false }
    public init() {}
    @inline(__always) public mutating func before(_ cpu: XtensaCPU, pc: UInt32, decoded: Decoded) -> StopReason? { nil }
    @inline(__always) public mutating func after(_ cpu: XtensaCPU, pc: UInt32, decoded: Decoded, completed: Bool) {}
}

/// Hooks implemented by an object in another module. A generic loop cannot be specialised across
/// modules, so `run(cycles:forwardingTo:)` is the loop specialised here for forwarding hooks:
/// two calls through the protocol per instruction, and the plain loop is left as it is.
public protocol HookTarget: AnyObject {
    func before(_ cpu: XtensaCPU, pc: UInt32, decoded: Decoded) -> StopReason?
    func after(_ cpu: XtensaCPU, pc: UInt32, decoded: Decoded, completed: Bool)
}

public struct ForwardingHooks: ExecutionHooks {
    public static var active: Bool { true }
    public unowned(unsafe) let target: HookTarget
    public init(_ target: HookTarget) { self.target = target }
    @inline(__always) public mutating func before(_ cpu: XtensaCPU, pc: UInt32, decoded: Decoded) -> StopReason? {
        target.before(cpu, pc: pc, decoded: decoded)
    }
    @inline(__always) public mutating func after(_ cpu: XtensaCPU, pc: UInt32, decoded: Decoded, completed: Bool) {
        target.after(cpu, pc: pc, decoded: decoded, completed: completed)
    }
}

extension XtensaCPU {
    /// Runs like `run(cycles:)` with every instruction reported to `target`, which can stop the
    /// core before an instruction (the stop reason is returned, PC still at that instruction).
    public func run(cycles budget: UInt64, forwardingTo target: HookTarget) -> StopReason {
        var hooks = ForwardingHooks(target)
        return run(cycles: budget, hooks: &hooks)
    }
}

/// Hooks that observe nothing but make the loop take its plain path for every instruction: a full
/// fetch through the page table, no carried next slot, no busy-wait skip. The reference against
/// which the shortcuts are checked (same output, same instruction count).
public final class ReferenceStepping: HookTarget {
    public static let shared = ReferenceStepping()
    public init() {}
    public func before(_ cpu: XtensaCPU, pc: UInt32, decoded: Decoded) -> StopReason? { nil }
    public func after(_ cpu: XtensaCPU, pc: UInt32, decoded: Decoded, completed: Bool) {}
}

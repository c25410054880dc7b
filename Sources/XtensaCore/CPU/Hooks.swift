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

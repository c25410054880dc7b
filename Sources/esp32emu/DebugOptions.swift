import ArgumentParser
import ESP32

/// Options for step-debugging and tracing (issue 5: GDB stub, instruction and call traces).
struct DebugOptions: ParsableArguments {
    /// Installs debugger/tracer hooks on a session before it runs.
    func attach(to session: Session) throws {}
}

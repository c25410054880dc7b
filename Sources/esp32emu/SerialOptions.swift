import ArgumentParser
import ESP32

/// Options that connect the emulated UARTs to the host (issue 4: TCP serial ports,
/// interactive stdin, download boot mode).
struct SerialOptions: ParsableArguments {
    /// Connects the options' endpoints to a session before it runs.
    func attach(to session: Session) throws {}
}

import ESP32
import Foundation

/// The live status line on stderr (simulated time, MIPS) while a run takes more than a second of
/// host time; only when stderr is a terminal. It reads counters between run slices (a Session
/// service) and never changes how the run goes. Before anything else is printed it erases itself
/// (`clear`), and it is not drawn while a UART line on the same terminal is incomplete.
final class StatusLine {
    static let firstAfter: UInt64 = 1_000_000_000      // ns of host time before the first draw
    static let interval: UInt64 = 250_000_000          // at most 4 updates per second

    let start = DispatchTime.now().uptimeNanoseconds
    var lastDraw: UInt64 = 0
    var lastInstructions: UInt64 = 0
    var shown = false
    /// stdout is the same kind of terminal: its output must not land on the status line.
    let stdoutIsTerminal = isatty(1) != 0
    /// Whether the last byte written to stdout ended a line (only tracked when stdoutIsTerminal).
    var stdoutAtLineStart = true

    /// A status line if stderr is a terminal (and ESP32EMU_NO_STATUS is not set), otherwise nil.
    static func forTerminal() -> StatusLine? {
        guard isatty(2) != 0, ProcessInfo.processInfo.environment["ESP32EMU_NO_STATUS"] == nil else { return nil }
        // Ctrl-C: erase a shown line, then die of SIGINT as before.
        signal(SIGINT) { s in
            if StatusLine.onScreen {
                eraseLineOnStderr()
            }
            signal(s, SIG_DFL)
            raise(s)
        }
        return StatusLine()
    }

    /// Whether a line is on the screen (read by the SIGINT handler).
    nonisolated(unsafe) static var onScreen = false

    /// Called between run slices.
    func update(_ session: Session) {
        let now = DispatchTime.now().uptimeNanoseconds
        guard now - start >= StatusLine.firstAfter, now - lastDraw >= StatusLine.interval else { return }
        guard !stdoutIsTerminal || stdoutAtLineStart else { return }
        let instructions = session.instructionCount
        let dt = Double(now - (lastDraw == 0 ? start : lastDraw)) / 1e9
        let mips = Double(instructions - lastInstructions) / max(dt, 1e-9) / 1e6
        lastDraw = now
        lastInstructions = instructions
        let ms = session.soc.simulatedMilliseconds
        let simulated = ms >= 10_000 ? String(format: "%.1f s", Double(ms) / 1000) : "\(ms) ms"
        let line = "esp32emu: \(simulated) simulated, " + String(format: "%.1f MIPS, %.1fM instructions, %.1f s",
                                                                  mips, Double(instructions) / 1e6, Double(now - start) / 1e9)
        write("\r\u{1B}[K" + line)
        shown = true
        StatusLine.onScreen = true
    }

    /// Erases the line (before other output, and at the end of the run).
    func clear() {
        guard shown else { return }
        write("\r\u{1B}[K")
        shown = false
        StatusLine.onScreen = false
    }

    /// Notes what went to stdout (so the line is not drawn in the middle of a UART line).
    func wroteToStdout(_ bytes: [UInt8]) {
        if let last = bytes.last { stdoutAtLineStart = last == 10 }
    }

    private func write(_ s: String) {
        FileHandle.standardError.write(Data(s.utf8))
    }
}

/// "\r ESC [ K" on fd 2 with write(2) only (safe in a signal handler).
private func eraseLineOnStderr() {
    var bytes: (UInt8, UInt8, UInt8, UInt8) = (13, 27, 91, 75)
    _ = withUnsafeBytes(of: &bytes) { write(2, $0.baseAddress, 4) }
}

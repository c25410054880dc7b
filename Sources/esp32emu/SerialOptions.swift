import ArgumentParser
import ESP32
import FirmwareFormats
import Foundation

/// Options that connect the emulated UARTs to the host (issue 4: TCP serial ports,
/// interactive stdin, download boot mode).
struct SerialOptions: ParsableArguments {
    @Option(help: "Boot mode the strapping pins select: spi (GPIO0 high: boot from flash) or download (GPIO0 low: the ROM waits for esptool on UART0).")
    var bootMode: String = "spi"

    @Flag(help: "Feed stdin to UART0 RX (raw terminal mode when stdin is a terminal; Ctrl-] quits).")
    var interactive = false

    @Option(help: "Serve UART0 as a TCP socket: tcp:PORT on 127.0.0.1 (0: any free port); esptool's --port socket://127.0.0.1:PORT. Output still goes to stdout too.")
    var uart0: String?
    @Option(help: "Serve UART1 as a TCP socket: tcp:PORT.")
    var uart1: String?
    @Option(help: "Serve UART2 as a TCP socket: tcp:PORT.")
    var uart2: String?

    /// Strapping register values: GPIO0 high selects SPI_FAST_FLASH_BOOT (0x13), low
    /// DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2) (0x03), the value a devkit held in download mode reads.
    static let bootModes: [String: UInt32] = ["spi": 0x13, "download": 0x03]

    func validate() throws {
        guard SerialOptions.bootModes[bootMode] != nil else {
            throw ValidationError("--boot-mode: '\(bootMode)' is not one of spi, download")
        }
        var used: [UInt16: Int] = [:]
        for (i, spec) in [uart0, uart1, uart2].enumerated() {
            guard let spec else { continue }
            guard let port = SerialOptions.parseTCP(spec) else {
                throw ValidationError("--uart\(i): '\(spec)' is not tcp:PORT with PORT 0-65535")
            }
            if port != 0, let other = used[port] {
                throw ValidationError("--uart\(i): port \(port) is already used by --uart\(other)")
            }
            used[port] = i
        }
    }

    static func parseTCP(_ s: String) -> UInt16? {
        guard s.hasPrefix("tcp:") else { return nil }
        let p = s.dropFirst(4)
        guard !p.isEmpty, p.allSatisfy(\.isASCII), p.allSatisfy(\.isNumber) else { return nil }
        return UInt16(p)
    }

    /// Connects the options' endpoints to a session before it runs.
    func attach(to session: Session) throws {
        session.soc.gpio.strapping = SerialOptions.bootModes[bootMode] ?? 0x13
        let specs = [uart0, uart1, uart2]
        guard interactive || specs.contains(where: { $0 != nil }) else { return }
        let hub = SerialHub(session: session)
        for (i, spec) in specs.enumerated() {
            guard let spec, let port = SerialOptions.parseTCP(spec) else { continue }
            do {
                let actual = try hub.listen(uart: i, port: port)
                session.soc.diagnostics.note("UART\(i) serial port: socket://127.0.0.1:\(actual)")
            } catch let e as InputError {
                throw ValidationError(e.message)
            }
        }
        if interactive {
            hub.attachStdin(uart: 0)
            if RawTerminal.enable() { session.soc.diagnostics.note("interactive: stdin goes to UART0; Ctrl-] quits") }
        }
    }
}

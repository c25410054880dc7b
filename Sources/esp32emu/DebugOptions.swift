import ArgumentParser
import ESP32
import FirmwareFormats

/// Options for step-debugging and tracing (issue 5: GDB stub, instruction and call traces).
struct DebugOptions: ParsableArguments {
    @Option(name: .customLong("gdb"), help: ArgumentHelp("Serve the GDB remote protocol on [HOST:]PORT (host 127.0.0.1 unless given).", valueName: "port"))
    var gdb: String?
    @Flag(name: .customShort("s"), help: "Shorthand for --gdb 1234.")
    var gdbDefaultPort = false
    @Flag(name: .customShort("S"), help: "Stop before the first instruction until a debugger continues (listens on 1234 without --gdb).")
    var waitForDebugger = false
    @Option(help: ArgumentHelp("Write an instruction trace: core, cycle, PC, symbol+offset, bytes, disassembly, registers and memory written.", valueName: "file"))
    var trace: String?
    @Option(help: ArgumentHelp("Start the traces when a core reaches this address or symbol.", valueName: "symbol|addr"))
    var traceFrom: String?
    @Option(help: ArgumentHelp("End the traces (and the run) after the instruction at this address or symbol.", valueName: "symbol|addr"))
    var traceUntil: String?
    @Option(help: ArgumentHelp("End the traces (and the run) after this many lines each.", valueName: "n"))
    var traceMax: UInt64?
    @Option(help: ArgumentHelp("Write a call trace: function entries and returns as an indented tree.", valueName: "file"))
    var traceCalls: String?

    func validate() throws {
        if trace == nil && traceCalls == nil && (traceFrom != nil || traceUntil != nil || traceMax != nil) {
            throw ValidationError("--trace-from, --trace-until and --trace-max need --trace or --trace-calls")
        }
        if let g = gdb, DebugOptions.parseEndpoint(g) == nil {
            throw ValidationError("--gdb: '\(g)' is not PORT or HOST:PORT")
        }
    }

    static func parseEndpoint(_ s: String) -> (String, UInt16)? {
        var host = "127.0.0.1", port = Substring(s)
        if let colon = s.lastIndex(of: ":") {
            host = String(s[..<colon])
            port = s[s.index(after: colon)...]
            if host.isEmpty { host = "0.0.0.0" }
        }
        guard let p = UInt16(port) else { return nil }
        return (host, p)
    }

    /// Installs debugger/tracer hooks on a session before it runs.
    func attach(to session: Session) throws {
        let listening = gdb != nil || gdbDefaultPort || waitForDebugger
        guard listening || trace != nil || traceCalls != nil else { return }
        let debug = DebugController(session: session)
        func resolve(_ s: String, _ option: String) throws -> UInt32 {
            guard let a = debug.resolve(s) else {
                throw ValidationError("\(option): '\(s)' is neither an address nor a symbol of the ROM or --symbols ELFs")
            }
            return a
        }
        do {
            if let f = traceFrom { debug.traceFrom = try resolve(f, "--trace-from") }
            if let u = traceUntil { debug.traceUntil = try resolve(u, "--trace-until") }
            if let t = trace { try debug.traceInstructions(to: t, maxLines: traceMax) }
            if let c = traceCalls { try debug.traceCalls(to: c, maxLines: traceMax) }
            if listening {
                let (host, port) = gdb.flatMap(DebugOptions.parseEndpoint) ?? ("127.0.0.1", 1234)
                try debug.listen(host: host, port: port, wait: waitForDebugger)
                session.soc.diagnostics.note("gdb: listening on \(host):\(debug.gdb?.port ?? port)" + (waitForDebugger ? ", waiting for a debugger" : ""))
            }
        } catch let e as InputError {
            throw ValidationError(e.message)
        }
    }
}

import ArgumentParser
import ESP32
import FirmwareFormats
import Foundation

struct TraceDiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace-diff",
        abstract: "Show where two instruction or call traces (run --trace / --trace-calls) first diverge, with context.",
        discussion: "Exit status: 0 when the traces are identical, 1 when they diverge.")

    @Argument(help: "First trace.") var a: String
    @Argument(help: "Second trace.") var b: String
    @Option(help: "Lines of context before and after the divergence.") var context: Int = 5
    @Flag(help: "Compare without the cycle column.") var ignoreCycles = false

    func run() throws {
        let result: TraceDiff.Result
        do {
            result = try TraceDiff.compare(a, b, options: TraceDiff.Options(context: max(0, context), ignoreCycles: ignoreCycles))
        } catch let e as InputError {
            throw ValidationError(e.message)
        }
        print(TraceDiff.report(result, nameA: a, nameB: b), terminator: "")
        if case .diverged = result { throw CLIExit(code: 1) }
    }
}

import ArgumentParser
import Foundation

@main
struct Main {
    static func main() {
        do {
            var command = try ESP32Emu.parseAsRoot()
            try command.run()
        } catch let e as CLIExit {
            exit(e.code)
        } catch {
            let code = ESP32Emu.exitCode(for: error)
            if code == .success {
                print(ESP32Emu.fullMessage(for: error))
                exit(0)
            }
            let message = ESP32Emu.message(for: error)
            let line = message.split(separator: "\n").first.map(String.init) ?? message
            FileHandle.standardError.write(Data("esp32emu: \(line)\n".utf8))
            exit(2)
        }
    }
}

/// Exit with a code after having printed what needed printing.
struct CLIExit: Error { let code: Int32 }

struct ESP32Emu: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "esp32emu",
        abstract: "An instruction-level, deterministic emulator of the ESP32 (two Xtensa LX6 cores).",
        subcommands: [Demo.self, Run.self, Asm.self, Disasm.self, ImageInfoCommand.self, Elf2ImageCommand.self, MergeBinCommand.self, PartitionTableCommand.self, TraceDiffCommand.self],
        defaultSubcommand: Demo.self
    )
}

/// Parses an address or size: decimal, 0x-hex, with optional K/M suffix.
func parseNumber(_ s: String) -> UInt64? {
    var t = s.lowercased()
    var mul: UInt64 = 1
    if t.hasSuffix("kb") || t.hasSuffix("k") { mul = 1024; t = String(t.prefix(while: { $0 != "k" })) }
    else if t.hasSuffix("mb") || t.hasSuffix("m") { mul = 1024 * 1024; t = String(t.prefix(while: { $0 != "m" })) }
    let v: UInt64?
    if t.hasPrefix("0x") { v = UInt64(t.dropFirst(2), radix: 16) } else { v = UInt64(t) }
    return v.map { $0 * mul }
}

struct Address: ExpressibleByArgument {
    let value: UInt32
    init?(argument: String) {
        guard let v = parseNumber(argument), v <= UInt64(UInt32.max) else { return nil }
        value = UInt32(v)
    }
}

func readInput(_ path: String) throws -> [UInt8] {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw ValidationError("\(path): no such file") }
    guard !isDir.boolValue else { throw ValidationError("\(path): is a directory") }
    guard let d = FileManager.default.contents(atPath: path) else { throw ValidationError("\(path): cannot read file") }
    return [UInt8](d)
}

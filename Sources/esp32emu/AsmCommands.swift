import ArgumentParser
import FirmwareFormats
import Foundation
import XtensaCore

struct Asm: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Assemble Xtensa assembly (GNU as syntax) into a raw binary or an ELF.")

    @Argument(help: "Assembly source file (.S).") var file: String
    @Option(name: .shortAndLong, help: "Output file.") var output: String
    @Option(help: "Load address of the first byte (default 0x40080000).") var base: Address?
    @Flag(help: "Write an ELF executable instead of raw bytes (default when OUT ends in .elf).") var elf = false

    func run() throws {
        let bytes = try readInput(file)
        guard let source = String(bytes: bytes, encoding: .utf8) else { throw ValidationError("\(file): not UTF-8 text") }
        let baseAddr = base?.value ?? 0x4008_0000
        let program: AssembledProgram
        do {
            program = try Assembler.assemble(source, base: baseAddr, file: file)
        } catch let e as AssemblyError {
            throw ValidationError(e.description)
        }
        let out: [UInt8]
        if elf || output.hasSuffix(".elf") {
            out = ELFWriter.executable(code: program.bytes, base: baseAddr, entry: program.entry, symbols: program.symbols)
        } else {
            out = program.bytes
        }
        guard FileManager.default.createFile(atPath: output, contents: Data(out)) else {
            throw ValidationError("\(output): cannot write file")
        }
    }
}

struct Disasm: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Disassemble a raw binary (with --base) or every executable section of an ELF.")

    @Argument(help: "Raw binary or ELF file.") var file: String
    @Option(help: "Address of the first byte of a raw binary (default 0).") var base: Address?

    func run() throws {
        let bytes = try readInput(file)
        var out = ""
        func emit(_ code: [UInt8], _ addr: UInt32) {
            for ins in Disassembler.disassembleAll(code, base: addr) {
                out += ins.line
                out += "\n"
                if out.utf8.count > 1 << 16 { FileHandle.standardOutput.write(Data(out.utf8)); out = "" }
            }
        }
        if bytes.count >= 4 && bytes[0] == 0x7F && bytes[1] == 0x45 && bytes[2] == 0x4C && bytes[3] == 0x46 {
            let elf: ELFFile
            do {
                elf = try ELFFile(bytes: bytes, path: file)
                try elf.requireXtensa()
            } catch let e as InputError { throw ValidationError(e.message) }
            for s in elf.executableSections { emit(s.data, s.address) }
        } else {
            emit(bytes, base?.value ?? 0)
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}

import ArgumentParser
import ESP32
import FirmwareFormats
import Foundation

/// `esp32emu` with no arguments: boots the project's own demo (Images/demo.bin, assembled from
/// Images/demo.S by `esp32emu asm`). Through the real ROM when one is found (the demo is a
/// 2nd-stage image at 0x1000), otherwise directly.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Boot the project's own demo image (the default when no command is given).")

    @Option(help: "Mask ROM (default: searched as for `run`; without one the demo starts directly).") var rom: String?
    @Flag(help: "Start the demo directly even if a ROM is found.") var noRom = false

    static func findImage() -> String? {
        var dirs = [FileManager.default.currentDirectoryPath + "/Images"]
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            dirs.append(url.appendingPathComponent("Images").path)
            url.deleteLastPathComponent()
        }
        return dirs.map { $0 + "/demo.bin" }.first { FileManager.default.fileExists(atPath: $0) }
    }

    func run() throws {
        guard let imagePath = Demo.findImage() else {
            throw ValidationError("Images/demo.bin not found (run from the esp32emu checkout, or build it with Images/build.sh)")
        }
        let image = try readInput(imagePath)
        let romPath = noRom ? nil : try? Run.findROM(rom)
        let note = { (s: String) in FileHandle.standardError.write(Data(("esp32emu: " + s + "\n").utf8)) }
        let session: Session
        do {
            if let r = romPath {
                note("booting the demo \(imagePath) through the ROM \(r) (2nd-stage image at flash 0x1000)")
                session = try Session(romPath: r, parts: [], imageAt0x1000: image)
            } else {
                note("no ROM found (see Roms/README.md): starting the demo \(imagePath) directly")
                session = try Session(romPath: nil, parts: [], imageAt0x1000: image, directStartPath: imagePath)
            }
        } catch let e as InputError { throw ValidationError(e.message) }
        session.soc.diagnostics.sink = { _ in }
        let out = OutputBuffer(logPath: nil)
        let r = session.run(expect: ["demo done"], timeoutMilliseconds: 10_000, sink: { out.put($0) })
        out.flush()
        note(String(format: "demo finished: %llu instructions, %llu simulated ms, %.3f s", r.instructions, r.simulatedMilliseconds, r.wallSeconds))
        guard r.outcome == .expectedTextSeen else { throw CLIExit(code: 1) }
    }
}

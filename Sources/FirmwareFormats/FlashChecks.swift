// What `esp32emu run` accepts as flash contents, checked before anything runs: one-line
// InputErrors naming the file, the offset and what is wrong.
//
// Rules:
// - A `--part` at 0x1000 must be an ESP32 image (the ROM loads the 2nd-stage bootloader from
//   there), one at 0x8000 a partition table, one at 0x10000 an ESP32 image (the app slot of
//   ESP-IDF's default tables and of the tables this tool generates). A part elsewhere may hold
//   anything, but if it starts with the image magic 0xE9 it is checked as an image.
// - A whole-flash FILE (written at offset 0) must hold a valid 2nd-stage image at 0x1000, unless a
//   `--part 0x1000` replaces it or the chip boots in download mode (esptool will write the flash).
//   A FILE that is itself an image (magic 0xE9 at offset 0) is checked, then refused with a
//   hint: the ROM would not find it there.
// - Image checks are structural (header, segment count, every segment and the checksum/digest
//   inside the bytes); a wrong checksum is left for the ROM or the bootloader to report.

import Foundation

public enum FlashChecks {
    public static let bootloaderOffset = 0x1000
    public static let tableOffset = 0x8000
    public static let appOffset = 0x1_0000
    public static let maxFlashSize = 16 << 20

    static func where_(_ offset: Int) -> String { "--part 0x\(String(offset, radix: 16))" }

    /// Parses an image, with the error message pointing at `context` (e.g. the --part offset).
    @discardableResult
    public static func image(_ bytes: [UInt8], path: String, offset: Int = 0, context: String? = nil) throws -> ESPImage {
        do {
            return try ESPImage(bytes: bytes, path: path, offset: offset)
        } catch let e as InputError {
            guard let c = context else { throw e }
            throw InputError("\(e.message) [\(c)]")
        }
    }

    /// Checks one `--part OFFSET=FILE` against what the ROM and a bootloader expect at that offset.
    public static func part(_ bytes: [UInt8], path: String, offset: Int) throws {
        let ctx = where_(offset)
        guard !bytes.isEmpty else { throw InputError("\(path): empty file [\(ctx)]") }
        switch offset {
        case bootloaderOffset, appOffset:
            let role = offset == bootloaderOffset ? "the 2nd-stage bootloader" : "the app"
            guard bytes[0] == ESPImage.magic else {
                throw InputError("\(path): not an ESP32 image: magic byte is \(hexByte(bytes[0])), expected 0xe9 (\(role) goes at 0x\(String(offset, radix: 16))) (offset 0x0) [\(ctx)]")
            }
            try image(bytes, path: path, context: ctx)
        case tableOffset:
            guard bytes.count >= 2, bytes[0] == 0xAA, bytes[1] == 0x50 else {
                let found = bytes.prefix(2).map { String(format: "%02x", $0) }.joined(separator: " ")
                throw InputError("\(path): not a partition table: starts with \(found), expected aa 50 (offset 0x0) [\(ctx)]")
            }
            do { _ = try PartitionTable(bytes: bytes, path: path) } catch let e as InputError { throw InputError("\(e.message) [\(ctx)]") }
        default:
            if bytes[0] == ESPImage.magic { try image(bytes, path: path, context: ctx) }
        }
    }

    /// Checks a whole-flash FILE (written at offset 0). `needsBootloader`: no `--part 0x1000`
    /// replaces its 0x1000 region and the chip boots from flash.
    public static func wholeFlash(_ bytes: [UInt8], path: String, needsBootloader: Bool) throws {
        guard !bytes.isEmpty else { throw InputError("\(path): empty file") }
        guard bytes.count <= maxFlashSize else {
            throw InputError("\(path): \(bytes.count) bytes, larger than the largest ESP32 flash (16 MB)")
        }
        if bytes[0] == ESPImage.magic {
            let img = try image(bytes, path: path)
            let kind = img.appDescriptor != nil ? "an app image" : "an ESP32 image"
            throw InputError("\(path): \(kind), not a whole-flash image (the ROM boots from 0x1000, not 0): give it with --part 0x\(String(img.appDescriptor != nil ? appOffset : bootloaderOffset, radix: 16))=\(path), or boot its ELF directly")
        }
        guard needsBootloader else { return }
        guard bytes.count > bootloaderOffset else {
            throw InputError("\(path): no 2nd-stage bootloader at offset 0x1000: the file is only \(bytes.count) bytes (a whole-flash image holds the bootloader at 0x1000; for parts use --part OFFSET=FILE)")
        }
        guard bytes[bootloaderOffset] == ESPImage.magic else {
            throw InputError("\(path): no 2nd-stage bootloader at offset 0x1000: magic byte is \(hexByte(bytes[bootloaderOffset])), expected 0xe9 (offset 0x1000)")
        }
        try image(bytes, path: path, offset: bootloaderOffset)
    }

    static func hexByte(_ b: UInt8) -> String { String(format: "0x%02x", b) }
}

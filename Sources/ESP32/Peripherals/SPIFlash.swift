// The external SPI NOR flash (GigaDevice GD25Qxx or Winbond W25Qxx, 2/4/8/16 MiB) on the
// flash bus that SPI0 (cache) and SPI1 (software) share.
//
// The contents live in one host allocation (`storage`, `size` bytes, 64 KiB aligned) that never
// moves, so the SoC's cache MMU can map flash pages straight into the CPU's page table. Every
// change of the contents (program, erase, `load`) is reported through `onWrite` with the flash
// offsets it touched, so the SoC can drop predecoded code of mapped pages.
//
// NOR semantics: erase sets bytes to 0xFF (4 KiB sector 0x20, 32 KiB block 0x52, 64 KiB block
// 0xD8, chip 0x60/0xC7); page program (0x02/0x32) only clears bits (new = old AND data) inside
// one 256-byte page, wrapping at the page end (only the last 256 bytes sent count).
// Program, erase and status writes need WEL (set by WREN 0x06, cleared by WRDI 0x04) and clear
// it when accepted. Operations finish at once, so WIP always reads 0. Block protection bits are
// stored but not enforced.
//
// Persistence: the image given to the initializer is copied; the guest's changes go to that
// private copy. Only with `persistPath` set are they written to that file, write-through: the
// first change writes the whole flash (the file becomes exactly `size` bytes, 0xFF-padded), later
// changes write just the bytes an erase/program touched. `flush()` fsyncs; deinit closes the file.
// The status registers are not persisted (a fresh chip: QE and block protection clear).

import Foundation

/// A device on one chip-select line of an SPI controller.
public protocol SPIDevice: AnyObject {
    /// One transaction (chip select low ... high). `output` is everything the controller drives
    /// before the read phase (command, address, write data), `dummyCycles` the clocks between that
    /// and the read phase; returns the `readCount` bytes the device drives during the read phase.
    func transfer(_ output: [UInt8], dummyCycles: Int, readCount: Int) -> [UInt8]
}

public enum SPIFlashError: Error, CustomStringConvertible {
    case invalidSize(Int)
    case imageTooLarge(image: Int, flash: Int)
    case io(String)

    public var description: String {
        switch self {
        case .invalidSize(let s): return "flash size \(s) bytes is not 2, 4, 8 or 16 MiB"
        case .imageTooLarge(let i, let f): return "flash image of \(i) bytes does not fit a \(f)-byte flash"
        case .io(let m): return m
        }
    }
}

public final class SPIFlash: SPIDevice {
    public enum Vendor: Sendable {
        /// GigaDevice GD25Qxx: JEDEC id 0xC840nn (GD25Q32 = 0xC84016).
        case gigaDevice
        /// Winbond W25QxxJV: JEDEC id 0xEF40nn.
        case winbond

        var manufacturer: UInt8 { self == .gigaDevice ? 0xC8 : 0xEF }
    }

    public static let validSizes = [2 << 20, 4 << 20, 8 << 20, 16 << 20]
    public static let pageSize = 256
    public static let sectorSize = 4096

    /// Flash size in bytes.
    public let size: Int
    /// The flash contents: `size` bytes at a fixed, 64 KiB aligned host address for the
    /// object's lifetime. Writing through it bypasses NOR semantics and `onWrite`.
    public let storage: UnsafeMutableRawPointer
    public let vendor: Vendor
    /// JEDEC id as ESP-IDF composes it: manufacturer << 16 | memory type << 8 | capacity.
    public let jedecID: UInt32
    /// File the contents are written back to (nil: changes stay in memory).
    public let persistPath: String?
    /// Called after the contents changed, with the flash offsets touched.
    public var onWrite: ((Range<Int>) -> Void)?
    /// The last failure writing the persistence file (the flash keeps working in memory).
    public private(set) var persistError: SPIFlashError?

    /// Status register 1: WIP(0) WEL(1) BP0-BP2(2-4) TB(5) SEC(6) SRP0(7).
    public private(set) var status1: UInt8 = 0
    /// Status register 2: SRP1(0) QE(1) LB1-LB3(3-5) CMP(6) SUS(7).
    public private(set) var status2: UInt8 = 0
    /// Status register 3 (drive strength etc.).
    public private(set) var status3: UInt8 = 0
    /// In deep power-down (after 0xB9; only 0xAB is obeyed until then).
    public private(set) var poweredDown = false

    public static let wip: UInt8 = 1 << 0
    public static let wel: UInt8 = 1 << 1
    public static let qe: UInt8 = 1 << 1   // in status register 2

    var volatileStatusWrite = false
    var resetEnabled = false
    var fd: Int32 = -1
    var fileComplete = false

    /// Flash commands (standard SPI NOR opcodes).
    public enum Command {
        public static let writeStatus: UInt8 = 0x01, pageProgram: UInt8 = 0x02, read: UInt8 = 0x03
        public static let writeDisable: UInt8 = 0x04, readStatus: UInt8 = 0x05, writeEnable: UInt8 = 0x06
        public static let fastRead: UInt8 = 0x0B, writeStatus3: UInt8 = 0x11, readStatus3: UInt8 = 0x15
        public static let sectorErase: UInt8 = 0x20, writeStatus2: UInt8 = 0x31, quadPageProgram: UInt8 = 0x32
        public static let readStatus2: UInt8 = 0x35, dualOutputRead: UInt8 = 0x3B, uniqueID: UInt8 = 0x4B
        public static let volatileStatusWriteEnable: UInt8 = 0x50, blockErase32K: UInt8 = 0x52
        public static let readSFDP: UInt8 = 0x5A, chipErase: UInt8 = 0x60, enableReset: UInt8 = 0x66
        public static let quadOutputRead: UInt8 = 0x6B, suspend: UInt8 = 0x75, resume: UInt8 = 0x7A
        public static let manufacturerDeviceID: UInt8 = 0x90, reset: UInt8 = 0x99, readID: UInt8 = 0x9F
        public static let highPerformanceMode: UInt8 = 0xA3, releasePowerDown: UInt8 = 0xAB
        public static let powerDown: UInt8 = 0xB9, dualIORead: UInt8 = 0xBB, chipErase2: UInt8 = 0xC7
        public static let blockErase64K: UInt8 = 0xD8, quadIORead: UInt8 = 0xEB
    }

    /// A flash of `size` bytes holding `image` from offset 0 and 0xFF after it.
    public init(size: Int = 4 << 20, image: [UInt8] = [], vendor: Vendor = .gigaDevice,
                persistPath: String? = nil) throws {
        guard SPIFlash.validSizes.contains(size) else { throw SPIFlashError.invalidSize(size) }
        guard image.count <= size else { throw SPIFlashError.imageTooLarge(image: image.count, flash: size) }
        self.size = size
        self.vendor = vendor
        self.persistPath = persistPath
        // Capacity byte: log2 of the size (0x16 for 4 MiB), memory type 0x40 (3 V serial NOR).
        let capacity = UInt32(size.trailingZeroBitCount)
        jedecID = UInt32(vendor.manufacturer) << 16 | 0x40 << 8 | capacity
        storage = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 1 << 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0xFF, count: size)
        image.withUnsafeBytes { if let b = $0.baseAddress, !$0.isEmpty { storage.copyMemory(from: b, byteCount: $0.count) } }
    }

    /// A flash holding the file at `path`. `size` defaults to the file's size when that is a valid
    /// flash size, else the smallest valid size of at least 4 MiB that holds it (the size most
    /// image headers declare); with `persist` the guest's changes go back to the file.
    public convenience init(contentsOf path: String, size: Int? = nil, vendor: Vendor = .gigaDevice,
                            persist: Bool = false) throws {
        let image: [UInt8]
        if persist && !FileManager.default.fileExists(atPath: path) {
            image = []
        } else {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw SPIFlashError.io("cannot read flash image \(path)")
            }
            image = [UInt8](data)
        }
        let s = size ?? (SPIFlash.validSizes.contains(image.count) ? image.count
            : SPIFlash.validSizes.first { $0 >= max(image.count, 4 << 20) } ?? image.count)
        try self.init(size: s, image: image, vendor: vendor, persistPath: persist ? path : nil)
    }

    deinit {
        if fd >= 0 { close(fd) }
        storage.deallocate()
    }

    // MARK: Host-side access

    /// Bytes at a flash offset (wrapping at the end, as the chip's address counter does).
    public func read(at offset: Int, count: Int) -> [UInt8] {
        let bytes = storage.assumingMemoryBound(to: UInt8.self)
        return (0..<count).map { bytes[(offset + $0) & (size - 1)] }
    }

    public subscript(offset: Int) -> UInt8 {
        storage.load(fromByteOffset: offset & (size - 1), as: UInt8.self)
    }

    /// Overwrites bytes directly (like flashing an image: no NOR semantics, no WEL needed).
    public func load(_ bytes: [UInt8], at offset: Int) {
        precondition(offset >= 0 && offset + bytes.count <= size, "image outside the flash")
        guard !bytes.isEmpty else { return }
        bytes.withUnsafeBytes { storage.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        changed(offset..<(offset + bytes.count))
    }

    /// Power-on reset of the chip: volatile state (WEL, power-down, reset enable) clears; the
    /// non-volatile status bits and the contents stay.
    public func reset() {
        status1 &= ~(SPIFlash.wel | SPIFlash.wip)
        status2 &= ~0x80
        poweredDown = false
        volatileStatusWrite = false
        resetEnabled = false
    }

    /// Makes sure every change is on disk (with persistence).
    public func flush() {
        if fd >= 0 { fsync(fd) }
    }

    // MARK: The SPI protocol

    public func transfer(_ output: [UInt8], dummyCycles: Int = 0, readCount: Int) -> [UInt8] {
        guard let command = output.first else { return idle(readCount) }
        let args = output.dropFirst()
        if poweredDown && command != Command.releasePowerDown { return idle(readCount) }
        let wasResetEnabled = resetEnabled
        resetEnabled = false

        switch command {
        case Command.writeEnable: status1 |= SPIFlash.wel
        case Command.writeDisable: status1 &= ~SPIFlash.wel; volatileStatusWrite = false
        case Command.volatileStatusWriteEnable: volatileStatusWrite = true
        case Command.readStatus: return repeating([status1], readCount)
        case Command.readStatus2: return repeating([status2], readCount)
        case Command.readStatus3: return repeating([status3], readCount)
        case Command.writeStatus: writeStatus(Array(args), first: 1)
        case Command.writeStatus2: writeStatus(Array(args.prefix(1)), first: 2)
        case Command.writeStatus3: writeStatus(Array(args.prefix(1)), first: 3)
        case Command.readID:
            return repeating([vendor.manufacturer, UInt8(jedecID >> 8 & 0xFF), UInt8(jedecID & 0xFF)], readCount)
        case Command.manufacturerDeviceID:
            // 0x90 + 24-bit address: address bit 0 selects which of the two ids comes first.
            let pair = [vendor.manufacturer, electronicSignature]
            return repeating(args.count >= 3 && args[args.startIndex + 2] & 1 != 0 ? pair.reversed() : pair, readCount)
        case Command.releasePowerDown:
            poweredDown = false
            return repeating([electronicSignature], readCount)
        case Command.powerDown: poweredDown = true
        case Command.enableReset: resetEnabled = true
        case Command.reset: if wasResetEnabled { reset() }
        case Command.uniqueID: return repeating(uniqueID, readCount)
        case Command.readSFDP:
            guard let a = address(args) else { return idle(readCount) }
            let table = sfdp
            return (0..<readCount).map { i in a + i < table.count ? table[a + i] : 0xFF }
        case Command.read, Command.fastRead, Command.dualOutputRead, Command.quadOutputRead,
             Command.dualIORead, Command.quadIORead:
            // The data is the same whatever the line width; mode bits and dummy clocks are ignored.
            guard let a = address(args) else { return idle(readCount) }
            return read(at: a, count: readCount)
        case Command.pageProgram, Command.quadPageProgram:
            if let a = address(args), writeEnabled { program(at: a, Array(args.dropFirst(3))) }
        case Command.sectorErase: if let a = address(args), writeEnabled { erase(at: a, blockSize: 4 << 10) }
        case Command.blockErase32K: if let a = address(args), writeEnabled { erase(at: a, blockSize: 32 << 10) }
        case Command.blockErase64K: if let a = address(args), writeEnabled { erase(at: a, blockSize: 64 << 10) }
        case Command.chipErase, Command.chipErase2: if writeEnabled { erase(at: 0, blockSize: size) }
        case Command.highPerformanceMode, Command.suspend, Command.resume, 0xFF:
            break // timing-only commands; 0xFF ends continuous-read mode
        default:
            break // unknown: the chip does not drive the data lines
        }
        return idle(readCount)
    }

    var writeEnabled: Bool { status1 & SPIFlash.wel != 0 }

    /// Release-from-power-down device id: capacity - 1 (0x15 for 4 MiB).
    var electronicSignature: UInt8 { UInt8(jedecID & 0xFF) - 1 }

    var uniqueID: [UInt8] {
        // 64-bit id derived from the JEDEC id and size (deterministic).
        var x = UInt64(jedecID) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(size)
        return (0..<8).map { _ in x = x &* 6364136223846793005 &+ 1442695040888963407; return UInt8(x >> 56) }
    }

    func idle(_ n: Int) -> [UInt8] { [UInt8](repeating: 0xFF, count: n) }

    func repeating(_ pattern: [UInt8], _ n: Int) -> [UInt8] {
        (0..<n).map { pattern[$0 % pattern.count] }
    }

    /// 24-bit address from the first three bytes after the command.
    func address(_ args: ArraySlice<UInt8>) -> Int? {
        guard args.count >= 3 else { return nil }
        let i = args.startIndex
        return (Int(args[i]) << 16 | Int(args[i + 1]) << 8 | Int(args[i + 2])) & (size - 1)
    }

    func writeStatus(_ bytes: [UInt8], first: Int) {
        guard !bytes.isEmpty, writeEnabled || volatileStatusWrite else { return }
        var reg = first
        for b in bytes.prefix(4 - first) {
            switch reg {
            case 1: status1 = status1 & 0x03 | b & 0xFC
            // LB1-3 are one-time programmable: they can be set, never cleared.
            case 2: status2 = status2 & 0x80 | status2 & 0x38 | b & 0x7B
            default: status3 = b & 0xFC
            }
            reg += 1
        }
        status1 &= ~SPIFlash.wel
        volatileStatusWrite = false
    }

    /// Page program: AND `data` into the page holding `address`, wrapping at the page end.
    func program(at address: Int, _ data: [UInt8]) {
        status1 &= ~SPIFlash.wel
        let bytes = data.suffix(SPIFlash.pageSize)
        guard !bytes.isEmpty else { return }
        let page = address & ~(SPIFlash.pageSize - 1)
        let p = storage.assumingMemoryBound(to: UInt8.self)
        // Byte j of the data goes to column (address + j) mod 256: with more than 256 bytes the
        // earlier ones are overwritten in the page buffer, so only the last 256 count.
        var column = (address + data.count - bytes.count) & (SPIFlash.pageSize - 1)
        for b in bytes {
            p[page + column] &= b
            column = (column + 1) & (SPIFlash.pageSize - 1)
        }
        let start = page + (address + data.count - bytes.count) & (SPIFlash.pageSize - 1)
        let end = start + bytes.count
        changed(end <= page + SPIFlash.pageSize ? start..<end : page..<(page + SPIFlash.pageSize))
    }

    /// Erase the `blockSize`-aligned block holding `address`.
    func erase(at address: Int, blockSize: Int) {
        status1 &= ~SPIFlash.wel
        let start = address & ~(blockSize - 1)
        storage.advanced(by: start).initializeMemory(as: UInt8.self, repeating: 0xFF, count: blockSize)
        changed(start..<(start + blockSize))
    }

    func changed(_ r: Range<Int>) {
        persist(r)
        onWrite?(r)
    }

    // MARK: Persistence

    func persist(_ r: Range<Int>) {
        guard let path = persistPath else { return }
        if fd < 0 {
            fd = open(path, O_RDWR | O_CREAT, 0o644)
            if fd < 0 { persistError = .io("cannot open \(path): \(String(cString: strerror(errno)))"); return }
        }
        let range = fileComplete ? r : 0..<size
        var done = 0
        while done < range.count {
            let n = pwrite(fd, storage + range.lowerBound + done, range.count - done, off_t(range.lowerBound + done))
            if n <= 0 { persistError = .io("cannot write \(path): \(String(cString: strerror(errno)))"); return }
            done += n
        }
        if !fileComplete {
            if ftruncate(fd, off_t(size)) != 0 { persistError = .io("cannot truncate \(path)"); return }
            fileComplete = true
        }
    }

    // MARK: SFDP

    /// A JESD216 SFDP table: header, the basic flash parameter table (9 dwords) and an
    /// (empty) vendor table whose id is the manufacturer, which the IDF bootloader reads at 0x10.
    var sfdp: [UInt8] {
        var t = [UInt8](repeating: 0xFF, count: 0x80)
        func put(_ offset: Int, _ bytes: [UInt8]) { for (i, b) in bytes.enumerated() { t[offset + i] = b } }
        func dword(_ offset: Int, _ v: UInt32) { put(offset, (0..<4).map { UInt8(v >> (8 * $0) & 0xFF) }) }
        // "SFDP", revision (GD C-series report minor 0), 2 parameter headers.
        put(0x00, [0x53, 0x46, 0x44, 0x50, vendor == .gigaDevice ? 0x00 : 0x06, 0x01, 0x01, 0xFF])
        put(0x08, [0x00, 0x00, 0x01, 0x09, 0x30, 0x00, 0x00, 0xFF]) // JEDEC basic table at 0x30
        put(0x10, [vendor.manufacturer, 0x00, 0x01, 0x03, 0x60, 0x00, 0x00, 0xFF])
        dword(0x30, 0xFFF1_20E5)                     // 4K erase 0x20, 1-1-2/1-2-2/1-4-4/1-1-4, 3-byte address
        dword(0x34, UInt32(size * 8 - 1))            // density in bits - 1
        dword(0x38, 0x6B08_EB44)                     // 1-4-4 0xEB (4 dummy, 2 mode), 1-1-4 0x6B (8 dummy)
        dword(0x3C, 0xBB80_3B08)                     // 1-1-2 0x3B (8 dummy), 1-2-2 0xBB (4 mode clocks)
        dword(0x40, 0xFFFF_FFEE)                     // no 2-2-2 / 4-4-4
        dword(0x44, 0xFFFF_FFFF)
        dword(0x48, 0xFFFF_FFFF)
        dword(0x4C, 0x520F_200C)                     // erase types: 4K 0x20, 32K 0x52
        dword(0x50, 0x00FF_D810)                     // 64K 0xD8
        return t
    }
}

// Booting an app ELF without a 2nd-stage bootloader, as Espressif's QEMU does with -kernel.
//
// The app is converted to an image (elf2image) and written at 0x10000 with a single-app
// partition table at 0x8000, so its IROM/DROM segments sit in flash where a bootloader
// would find them. Then either
//  - with a ROM: a small generated 2nd-stage image at 0x1000 carries the app's RAM segments
//    and a stub that programs the flash MMU of both CPUs and enables their caches exactly as
//    the bootloader does, then calls the app's entry; the real ROM boots it; or
//  - without a ROM: the same loading is done by the emulator and the PRO CPU starts at the
//    app's entry (enough for programs that do not call into the ROM).

import FirmwareFormats
import Foundation
import XtensaCore

public enum DirectBoot {
    public static let appOffset = 0x1_0000
    public static let tableOffset = 0x8000

    public struct Layout {
        public var appImage: [UInt8]
        public var image: ESPImage
        public var entry: UInt32 { image.entry }
        /// (virtual page base, flash page) pairs for the flash-mapped segments.
        public var mappings: [(UInt32, Int)]
        public var ramSegments: [(UInt32, [UInt8])]
        /// Flash offset of each RAM segment's data (for the stub, which copies it like a bootloader).
        public var ramSegmentFlashOffsets: [Int]
    }

    /// Converts the ELF and works out where each segment goes.
    public static func layout(elfPath: String, flashSize: Int) throws -> Layout {
        let elf = try ELFFile(path: elfPath)
        try elf.requireXtensa()
        var options = ImageOptions()
        options.flashMode = .dio
        options.flashSize = FlashSize.allCases.first { $0.bytes == flashSize } ?? .mb4
        var bytes: [UInt8]
        do {
            bytes = try ElfToImage.convert(path: elfPath, options: options)
        } catch {
            // Some ELFs (Rust esp-hal) only convert from their program headers.
            options.useSegments = true
            bytes = try ElfToImage.convert(path: elfPath, options: options)
        }
        let image = try ESPImage(bytes: bytes, path: elfPath)
        var mappings: [(UInt32, Int)] = []
        var ram: [(UInt32, [UInt8])] = []
        var ramOffsets: [Int] = []
        for seg in image.segments {
            if seg.isFlashMapped {
                // Data starts after the 8-byte segment header; elf2image aligned it so that
                // flash offset and virtual address agree modulo 64 KiB.
                let flashStart = appOffset + seg.headerOffset + 8
                let vstart = seg.loadAddress
                var v = vstart & ~0xFFFF
                var f = (flashStart - Int(vstart & 0xFFFF)) >> 16
                while v < vstart &+ UInt32(seg.length) {
                    mappings.append((v, f))
                    v &+= 0x1_0000
                    f += 1
                }
            } else if !seg.isPadding && !seg.data.isEmpty {
                ram.append((seg.loadAddress, seg.data))
                ramOffsets.append(appOffset + seg.headerOffset + 8)
            }
        }
        return Layout(appImage: bytes, image: image, mappings: mappings, ramSegments: ram, ramSegmentFlashOffsets: ramOffsets)
    }

    /// The layout of an already built image (e.g. the demo) that is started without a ROM:
    /// its RAM segments are loaded and its flash segments mapped from where it sits at 0x1000.
    public static func layout(image bytes: [UInt8], path: String, flashOffset: Int = 0x1000) throws -> Layout {
        let image = try ESPImage(bytes: bytes, path: path)
        var mappings: [(UInt32, Int)] = []
        var ram: [(UInt32, [UInt8])] = []
        var ramOffsets: [Int] = []
        for seg in image.segments {
            let flashStart = flashOffset + seg.headerOffset + 8
            if seg.isFlashMapped {
                var v = seg.loadAddress & ~0xFFFF
                var f = (flashStart - Int(seg.loadAddress & 0xFFFF)) >> 16
                while v < seg.loadAddress &+ UInt32(seg.length) { mappings.append((v, f)); v &+= 0x1_0000; f += 1 }
            } else if !seg.isPadding && !seg.data.isEmpty {
                ram.append((seg.loadAddress, seg.data))
                ramOffsets.append(flashStart)
            }
        }
        return Layout(appImage: bytes, image: image, mappings: mappings, ramSegments: ram, ramSegmentFlashOffsets: ramOffsets)
    }

    /// MMU entry index for a virtual page (PRO and APP tables use the same numbering).
    static func mmuIndex(_ vaddr: UInt32) -> Int? {
        switch vaddr {
        case 0x3F40_0000..<0x3F80_0000: return Int((vaddr - 0x3F40_0000) >> 16)
        case 0x4000_0000..<0x4040_0000: return 64 + Int((vaddr - 0x4000_0000) >> 16)
        case 0x4040_0000..<0x4080_0000: return 128 + Int((vaddr - 0x4040_0000) >> 16)
        case 0x4080_0000..<0x40C0_0000: return 192 + Int((vaddr - 0x4080_0000) >> 16)
        default: return nil
        }
    }

    /// A single-app partition table (nvs, phy_init, factory at 0x10000) with its MD5 entry.
    public static func singleAppTable(appSize: Int) -> [UInt8] {
        var t: [UInt8] = []
        func entry(_ type: UInt8, _ sub: UInt8, _ off: UInt32, _ size: UInt32, _ name: String) {
            t += [0xAA, 0x50, type, sub]
            for v in [off, size] { t += (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }
            var label = Array(name.utf8.prefix(16))
            label += [UInt8](repeating: 0, count: 16 - label.count)
            t += label + [0, 0, 0, 0]
        }
        let appSpace = max(0x10_0000, (appSize + 0xFFFF) & ~0xFFFF)
        entry(1, 2, 0x9000, 0x6000, "nvs")
        entry(1, 1, 0xF000, 0x1000, "phy_init")
        entry(0, 0, UInt32(appOffset), UInt32(appSpace), "factory")
        t += [0xEB, 0xEB] + [UInt8](repeating: 0xFF, count: 14) + Digest.md5(t)
        t += [UInt8](repeating: 0xFF, count: 0xC00 - t.count)
        return t
    }

    /// Builds an ESP32 image: header, extended header, segments, checksum (no digest).
    public static func buildImage(entry: UInt32, segments: [(UInt32, [UInt8])]) -> [UInt8] {
        var out: [UInt8] = [0xE9, UInt8(segments.count), 0x02, 0x20]
        out += (0..<4).map { UInt8(truncatingIfNeeded: entry >> (8 * UInt32($0))) }
        // Extended header: WP pin disabled, drive settings 0, chip id 0 (ESP32), revisions, no digest.
        out += [0xEE, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0]
        var checksum: UInt8 = 0xEF
        for (addr, data) in segments {
            var d = data
            while d.count % 4 != 0 { d.append(0) }
            out += (0..<4).map { UInt8(truncatingIfNeeded: addr >> (8 * UInt32($0))) }
            out += (0..<4).map { UInt8(truncatingIfNeeded: UInt32(d.count) >> (8 * UInt32($0))) }
            out += d
            for b in d { checksum ^= b }
        }
        while out.count % 16 != 15 { out.append(0) }
        out.append(checksum)
        return out
    }

    /// Where the hand-off stub runs: the 2nd-stage bootloaders' own area of IRAM.
    public static let stubAddress: UInt32 = 0x4007_8000

    /// MMU entries the stub borrows to read the app's RAM segments from flash (DROM 0x3F700000-0x3F7FFFFF).
    static let windowFirstEntry = 48, windowPages = 16
    static let windowBase: UInt32 = 0x3F70_0000

    /// The stub's source (assembled by our own assembler). Like a 2nd-stage bootloader it maps
    /// the app's RAM segments through the PRO CPU's data cache, copies them into RAM, then
    /// programs the final mappings of both CPUs and calls the app's entry.
    static func stubSource(_ layout: Layout) -> String {
        var s = """
            j stub_start
            .literal_position
            .align 4
        stub_start:
            entry a1, 48
            movi a2, 0x3FF480B0     # RTC_XTAL_FREQ_REG (STORE4): 40 MHz, as the bootloader's clock init leaves it
            movi a3, 0x00280028
            s32i a3, a2, 0
            movi a3, 0x50D83AA1     # turn off the watchdogs the ROM armed (TIMG0 MWDT, RTC WDT)
            movi a4, 0
            movi a2, 0x3FF5F064
            s32i a3, a2, 0
            movi a5, 0x3FF5F048
            s32i a4, a5, 0
            s32i a4, a2, 0
            movi a2, 0x3FF480A4
            s32i a3, a2, 0
            movi a5, 0x3FF4808C
            s32i a4, a5, 0
            s32i a4, a2, 0

        """
        func mmu(_ table: UInt32, _ index: Int, _ value: Int) {
            s += "    movi a2, \(table + UInt32(index * 4))\n    movi a3, \(value)\n    s32i a3, a2, 0\n"
        }
        func enableCaches() {
            for (ctrl, ctrl1) in [(0x3FF0_0040, 0x3FF0_0044), (0x3FF0_0058, 0x3FF0_005C)] as [(UInt32, UInt32)] {
                s += """
                    movi a2, \(ctrl)
                    l32i a3, a2, 0
                    movi a4, 8
                    or a3, a3, a4
                    s32i a3, a2, 0
                    movi a2, \(ctrl1)
                    l32i a3, a2, 0
                    movi a4, -32
                    and a3, a3, a4
                    s32i a3, a2, 0

                """
            }
        }
        // Copy RAM segments through the window, up to 1 MiB at a time.
        var copies: [(src: Int, dst: UInt32, len: Int)] = []
        for (i, (addr, data)) in layout.ramSegments.enumerated() {
            copies.append((layout.ramSegmentFlashOffsets[i], addr, (data.count + 3) & ~3))
        }
        if !copies.isEmpty {
            enableCaches()
            for c in copies {
                var done = 0
                while done < c.len {
                    let src = c.src + done
                    let firstPage = src >> 16
                    let chunk = min(c.len - done, windowPages * 0x1_0000 - (src & 0xFFFF))
                    for p in 0..<windowPages { mmu(0x3FF1_0000, windowFirstEntry + p, firstPage + p) }
                    s += """
                        memw
                        movi a2, \(windowBase + UInt32(src & 0xFFFF))
                        movi a3, \(c.dst &+ UInt32(done))
                        movi a4, \(chunk / 4)
                        loopnez a4, 2f
                        l32i a5, a2, 0
                        s32i a5, a3, 0
                        addi a2, a2, 4
                        addi a3, a3, 4
                    2:

                    """
                    done += chunk
                }
            }
            for p in 0..<windowPages { mmu(0x3FF1_0000, windowFirstEntry + p, 0x100) }
        }
        for (v, page) in layout.mappings {
            guard let idx = mmuIndex(v) else { continue }
            for table: UInt32 in [0x3FF1_0000, 0x3FF1_2000] { mmu(table, idx, page) }
        }
        enableCaches()
        // Call the entry on a fresh stack below the APP CPU's ROM stack (see `appStack`), with
        // the ROM's and the stub's frames discarded (WINDOWSTART = this window only) and CALLX4,
        // so no later window spill writes into the ROM stack the APP CPU is about to use.
        s += """
            memw
            movi a8, \(layout.entry)
            rsr.windowbase a3
            movi a4, 1
            ssl a3
            sll a4, a4
            wsr.windowstart a4
            rsync
            movi a1, \(appStack)
            movi a4, 0
            addi a5, a1, -16
            s32i a4, a5, 0
            s32i a4, a5, 4
            s32i a4, a5, 8
            s32i a4, a5, 12
            callx4 a8
        1:  j 1b

        """
        return s
    }

    /// The PRO CPU's stack pointer at the app's entry. The ROM starts *both* CPUs on a stack at
    /// 0x3FFE3F20 (its reset handler loads the same literal whatever PRID says), and the APP CPU
    /// runs ESP-IDF's call_start_cpu1 and its early init there while the PRO CPU is still on its
    /// own startup stack. A real 2nd-stage bootloader calls the app from deep in its own call
    /// chain (about 0x3FFE3C80 for ESP-IDF v4.2-v5.x), so its dead frames keep the two stacks
    /// apart; calling the entry straight from a shallow stub (0x3FFE3E80) made them overlap and
    /// the APP CPU's locals were overwritten (esp_intr_alloc found no free interrupt). This leaves
    /// 3.8 KiB for the APP CPU and 11 KiB (down to 0x3FFE0440, the end of the ROM's PRO data) for
    /// the PRO CPU, inside the region ESP-IDF reserves as startup stack.
    public static let appStack: UInt32 = 0x3FFE_3000

    /// The 2nd-stage image for the ROM: the stub alone (it loads the app's RAM segments itself).
    public static func stubImage(_ layout: Layout) throws -> [UInt8] {
        let program = try Assembler.assemble(stubSource(layout), base: stubAddress, file: "direct-boot stub")
        let stub = stubAddress..<(stubAddress + UInt32(program.bytes.count))
        for (addr, data) in layout.ramSegments where addr < stub.upperBound && stub.lowerBound < addr &+ UInt32(data.count) {
            throw InputError("\(layout.image.path): a segment loads at 0x\(String(addr, radix: 16))-0x\(String(addr &+ UInt32(data.count), radix: 16)), over the direct-boot stub at 0x\(String(stub.lowerBound, radix: 16)) (a 2nd-stage bootloader ELF? give its image with --part 0x1000=FILE, or boot an app ELF)")
        }
        let entry = program.symbols["stub_start"] ?? stubAddress
        return buildImage(entry: entry, segments: [(stubAddress, program.bytes)])
    }

    /// The whole flash for a direct boot through the ROM.
    public static func flashParts(_ layout: Layout, withStub: Bool) throws -> [(Int, [UInt8])] {
        var parts: [(Int, [UInt8])] = [(tableOffset, singleAppTable(appSize: layout.appImage.count)), (appOffset, layout.appImage)]
        if withStub { parts.insert((0x1000, try stubImage(layout)), at: 0) }
        return parts
    }

    /// Without a ROM: load RAM segments, program the MMUs, enable the caches and start the PRO CPU.
    public static func start(_ soc: ESP32, layout: Layout) {
        for (addr, data) in layout.ramSegments {
            for (i, b) in data.enumerated() { soc.cores[0].poke(addr &+ UInt32(i), size: 1, value: UInt32(b)) }
        }
        for cpu in 0..<2 {
            for (v, page) in layout.mappings {
                if let idx = mmuIndex(v) { soc.dport.writeMMU(cpu: cpu, index: idx, value: UInt32(page)) }
            }
            _ = soc.dport.write(offset: cpu == 0 ? 0x40 : 0x58, size: 4, value: 1 << 3)
            _ = soc.dport.write(offset: cpu == 0 ? 0x44 : 0x5C, size: 4, value: 0x800)
        }
        let c = soc.cores[0]
        c.pc = layout.entry
        // As if called with CALLX4 from an outermost windowed frame whose a0 is 0 (backtraces end
        // there; spilling it writes only the 16 bytes below the entry's frame), on the stack the
        // ROM stub also uses.
        c.setSpecialRegister(SR.ps, PS.woe | (1 << PS.callincShift))
        c.setSpecialRegister(SR.windowbase, 0)
        c.setSpecialRegister(SR.windowstart, 1)
        c.setAR(1, appStack)
    }
}

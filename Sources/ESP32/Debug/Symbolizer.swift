// Names for addresses while the boot chain runs. The ROM, the bootloader and the app are loaded
// into the same RAM one after the other (the bootloader's IRAM code overlaps the app's), so a RAM
// address is named from an image only once control has entered that image: a call or jump to the
// exact start of one of its functions (the ROM calling the bootloader's entry, the bootloader
// calling the app's). The images entered are ranked, the latest first. Addresses in ROM and in
// flash (through the cache) belong to one image each and are always named. A reset forgets which
// images were entered.

import FirmwareFormats

public final class Symbolizer {
    public let table: SymbolTable
    /// Layers (ELFs) entered, the latest first.
    private(set) var enteredLayers: [Int] = []
    private let all: [Int]
    private var cache: [UInt32: String?] = [:]
    private var startCache: [UInt32: [(layer: Int, names: [String])]] = [:]

    public init(table: SymbolTable) {
        self.table = table
        all = Array(0..<table.layerCount)
    }

    public var isEmpty: Bool { table.isEmpty }

    /// Internal RAM (DRAM, IRAM, RTC memories), where images replace each other.
    @inline(__always) static func isRAM(_ a: UInt32) -> Bool {
        (a >= 0x3FF8_0000 && a < 0x4000_0000) || (a >= 0x4007_0000 && a < 0x400C_2000) || (a >= 0x5000_0000 && a < 0x5000_2000)
    }

    /// The layers that may name `a`, best first.
    @inline(__always) private func layers(for a: UInt32) -> [Int] {
        Symbolizer.isRAM(a) ? enteredLayers : enteredLayers + all.filter { !enteredLayers.contains($0) }
    }

    /// The chip starts again: no image has been entered.
    public func reset() {
        if !enteredLayers.isEmpty { enteredLayers = []; cache.removeAll(keepingCapacity: true) }
    }

    /// The function starting exactly at `a` in the best layer that may name it.
    public func function(startingAt a: UInt32) -> (layer: Int, names: [String])? {
        let found = starts(a)
        guard !found.isEmpty else { return nil }
        for l in layers(for: a) { if let f = found.first(where: { $0.layer == l }) { return f } }
        return nil
    }

    private func starts(_ a: UInt32) -> [(layer: Int, names: [String])] {
        if let c = startCache[a] { return c }
        let found = table.functions(startingAt: a)
        if startCache.count > 1 << 20 { startCache.removeAll(keepingCapacity: true) }
        startCache[a] = found
        return found
    }

    /// Control reached `a` through a call or jump: an image with a function starting there is
    /// entered (if several have one: the one entered most recently, else the one loaded first).
    public func entered(_ a: UInt32) {
        let found = starts(a)
        guard !found.isEmpty else { return }
        if let top = enteredLayers.first, found.contains(where: { $0.layer == top }) { return }
        let pick = enteredLayers.first(where: { l in found.contains { $0.layer == l } }) ?? found.map(\.layer).min()!
        enteredLayers.removeAll { $0 == pick }
        enteredLayers.insert(pick, at: 0)
        cache.removeAll(keepingCapacity: true)
    }

    /// `name+0xoff` (or `name`) from the best layer that covers `a`.
    public func describe(_ a: UInt32) -> String? {
        if let c = cache[a] { return c }
        var result: String?
        for l in layers(for: a) {
            if let (name, off) = table.lookup(a, layer: l) {
                result = off == 0 ? name : "\(name)+0x\(String(off, radix: 16))"
                break
            }
        }
        if cache.count > 1 << 20 { cache.removeAll(keepingCapacity: true) }
        cache[a] = result
        return result
    }
}

/// Address-to-name lookup over the function symbols of one or more ELFs.
public struct SymbolTable {
    struct Entry { var address: UInt32; var size: UInt32; var name: String; var isFunction = false }
    private var entries: [Entry] = []
    private var byName: [String: UInt32] = [:]
    /// The entries of each `add` call (one ELF each), sorted by address: ELFs loaded over the same
    /// memory one after the other (bootloader, app) are told apart by layer.
    private var layers: [[Entry]] = []

    public init() {}

    public mutating func add(_ symbols: [ELFFile.Symbol]) {
        var layer: [Entry] = []
        for s in symbols where s.isFunction || (s.size == 0 && s.section != 0 && !s.name.hasPrefix("$")) {
            guard s.value != 0, !s.name.isEmpty else { continue }
            entries.append(Entry(address: s.value, size: s.size, name: s.name, isFunction: s.isFunction))
            if s.isFunction || byName[s.name] == nil { byName[s.name] = s.value }
            layer.append(entries[entries.count - 1])
        }
        entries.sort { $0.address != $1.address ? $0.address < $1.address : $0.size > $1.size }
        layers.append(layer.sorted { $0.address != $1.address ? $0.address < $1.address : $0.size > $1.size })
    }

    /// Number of `add` calls so far.
    public var layerCount: Int { layers.count }

    /// `(name, offset)` for an address inside a known function of one layer.
    public func lookup(_ a: UInt32, layer: Int) -> (name: String, offset: UInt32)? {
        guard layer >= 0 && layer < layers.count else { return nil }
        let list = layers[layer]
        var lo = 0, hi = list.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if list[mid].address <= a { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0 else { return nil }
        let e = list[lo - 1]
        let off = a - e.address
        if e.size != 0 && off >= e.size { return nil }
        if e.size == 0 && off > 0x1000 { return nil }
        return (e.name, off)
    }

    /// The names of the functions that start exactly at `a` in each layer (aliases shortest first).
    public func functions(startingAt a: UInt32) -> [(layer: Int, names: [String])] {
        var out: [(layer: Int, names: [String])] = []
        for (i, list) in layers.enumerated() {
            var lo = 0, hi = list.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if list[mid].address < a { lo = mid + 1 } else { hi = mid }
            }
            var names: [String] = []
            while lo < list.count && list[lo].address == a {
                if list[lo].isFunction && !names.contains(list[lo].name) { names.append(list[lo].name) }
                lo += 1
            }
            if !names.isEmpty {
                out.append((i, names.sorted { $0.count != $1.count ? $0.count < $1.count : $0 < $1 }))
            }
        }
        return out
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// The address of a named symbol.
    public func address(of name: String) -> UInt32? { byName[name] }

    /// `name+0xoff` for an address inside (or just after) a known function.
    public func describe(_ a: UInt32) -> String? {
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if entries[mid].address <= a { lo = mid + 1 } else { hi = mid }
        }
        guard lo > 0 else { return nil }
        let e = entries[lo - 1]
        let off = a - e.address
        if e.size != 0 && off >= e.size { return nil }
        if e.size == 0 && off > 0x1000 { return nil }
        return off == 0 ? e.name : "\(e.name)+0x\(String(off, radix: 16))"
    }
}

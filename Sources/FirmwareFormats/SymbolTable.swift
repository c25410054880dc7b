/// Address-to-name lookup over the function symbols of one or more ELFs.
public struct SymbolTable {
    struct Entry { var address: UInt32; var size: UInt32; var name: String }
    private var entries: [Entry] = []
    private var byName: [String: UInt32] = [:]

    public init() {}

    public mutating func add(_ symbols: [ELFFile.Symbol]) {
        for s in symbols where s.isFunction || (s.size == 0 && s.section != 0 && !s.name.hasPrefix("$")) {
            guard s.value != 0, !s.name.isEmpty else { continue }
            entries.append(Entry(address: s.value, size: s.size, name: s.name))
            if s.isFunction || byName[s.name] == nil { byName[s.name] = s.value }
        }
        entries.sort { $0.address != $1.address ? $0.address < $1.address : $0.size > $1.size }
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

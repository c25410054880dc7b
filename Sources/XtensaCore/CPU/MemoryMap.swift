#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The CPU's view of memory: a 4 KiB page table of direct host pointers for
// RAM/ROM/flash-cache pages, and the predecoded instruction pages.
//
// Loads and stores whose page has a host pointer never leave the core;
// everything else (MMIO, unmapped addresses, sub-word access to word-only
// memory, stores into pages holding predecoded code) takes the slow path.

public let pageShift: UInt32 = 12
public let pageSize = 1 << 12
let pageCount = 1 << 20

public struct MemoryAttributes: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let read = MemoryAttributes(rawValue: 1)
    public static let write = MemoryAttributes(rawValue: 2)
    public static let execute = MemoryAttributes(rawValue: 4)
    /// Only 32-bit aligned loads and stores are allowed (ESP32 IRAM); narrower ones raise LoadStoreError.
    public static let wordOnly = MemoryAttributes(rawValue: 8)
    public static let rwx: MemoryAttributes = [.read, .write, .execute]
}

public final class MemoryMap {
    /// Host pointer of each page's first byte, for loads of any size.
    let rd: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// Host pointer for 32-bit loads (also set for word-only pages).
    let rd32: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// Host pointer for stores of any size (nil while the page holds predecoded code).
    let wr: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    let wr32: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    /// Mapped host pointer and attributes regardless of code state.
    let host: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    let attrs: UnsafeMutablePointer<UInt8>
    /// Predecoded instructions, one slot per byte offset in the page.
    let decoded: UnsafeMutablePointer<UnsafeMutablePointer<Decoded>?>
    /// Virtual pages that currently have a decode page (to free them on reset).
    var decodedPages: [Int] = []

    /// Jump targets outside the jumping instruction's page (calls, returns, exception vectors):
    /// a direct-mapped cache of target address -> decoded slot, so that a transfer to another
    /// page needs no page-table walk. Emptied whenever a decode page is dropped.
    let targets: UnsafeMutablePointer<TargetEntry>
    static let targetCount = 512

    struct Mapping { var base: UInt32; var size: UInt32; var host: UnsafeMutableRawPointer }
    var mappings: [Mapping] = []

    public init() {
        // Zero-filled by the OS (calloc): a nil pointer is all zero bits, and pages of the
        // table that are never written are never touched, so a 1M-entry table costs only the
        // few pages the memory map uses.
        func table<T>(_ t: T.Type) -> UnsafeMutablePointer<T?> {
            guard let raw = calloc(pageCount, MemoryLayout<T?>.stride) else { fatalError("out of memory for the page table") }
            return raw.bindMemory(to: T?.self, capacity: pageCount)
        }
        rd = table(UnsafeMutableRawPointer.self)
        rd32 = table(UnsafeMutableRawPointer.self)
        wr = table(UnsafeMutableRawPointer.self)
        wr32 = table(UnsafeMutableRawPointer.self)
        host = table(UnsafeMutableRawPointer.self)
        decoded = table(UnsafeMutablePointer<Decoded>.self)
        attrs = calloc(pageCount, 1)!.bindMemory(to: UInt8.self, capacity: pageCount)
        targets = .allocate(capacity: MemoryMap.targetCount)
        targets.initialize(repeating: TargetEntry(), count: MemoryMap.targetCount)
    }

    /// The cached slot for a jump target, or the unknown slot.
    @inline(__always) func target(_ pc: UInt32) -> UnsafeMutablePointer<Decoded> {
        let e = targets + Int((pc ^ pc &>> 9) & UInt32(MemoryMap.targetCount - 1))
        return e.pointee.pc == pc ? e.pointee.slot : Decoded.unknownSlot
    }

    @inline(__always) func rememberTarget(_ pc: UInt32, _ slot: UnsafeMutablePointer<Decoded>) {
        targets[Int((pc ^ pc &>> 9) & UInt32(MemoryMap.targetCount - 1))] = TargetEntry(pc: pc, slot: slot)
        targetsHeld = true
    }

    /// Whether `targets` may hold an entry (dropping many pages then empties it once).
    var targetsHeld = false

    func forgetTargets() {
        guard targetsHeld else { return }
        targets.update(repeating: TargetEntry(), count: MemoryMap.targetCount)
        targetsHeld = false
    }

    deinit {
        for p in decodedPages { decoded[p]?.deallocate() }
        reclaimRetired()
        for t in [UnsafeMutableRawPointer(rd), UnsafeMutableRawPointer(rd32), UnsafeMutableRawPointer(wr),
                  UnsafeMutableRawPointer(wr32), UnsafeMutableRawPointer(host), UnsafeMutableRawPointer(decoded),
                  UnsafeMutableRawPointer(attrs)] { free(t) }
        targets.deallocate()
    }

    /// Maps `size` bytes of host memory at guest address `base` (both page aligned).
    public func map(base: UInt32, size: Int, host ptr: UnsafeMutableRawPointer, attributes: MemoryAttributes) {
        precondition(base & UInt32(pageSize - 1) == 0 && size % pageSize == 0, "mapping must be page aligned")
        unmap(base: base, size: size)
        mappings.append(Mapping(base: base, size: UInt32(size), host: ptr))
        for i in 0..<(size / pageSize) {
            let page = Int(base >> pageShift) + i
            let hp = ptr + i * pageSize
            host[page] = hp
            attrs[page] = attributes.rawValue
            refresh(page)
        }
    }

    /// Removes pages from the fast map (they go to the bus again).
    public func unmap(base: UInt32, size: Int) {
        let first = Int(base >> pageShift), n = size / pageSize
        for page in first..<(first + n) {
            dropDecoded(page)
            host[page] = nil; attrs[page] = 0
            rd[page] = nil; rd32[page] = nil; wr[page] = nil; wr32[page] = nil
        }
        let end = UInt64(base) + UInt64(size)
        mappings.removeAll { UInt64($0.base) >= UInt64(base) && UInt64($0.base) + UInt64($0.size) <= end }
    }

    /// Recomputes a page's fast pointers from its mapping and code state.
    func refresh(_ page: Int) {
        let a = MemoryAttributes(rawValue: attrs[page])
        let hp = host[page]
        let code = decoded[page] != nil || aliasHasCode(page)
        rd32[page] = a.contains(.read) ? hp : nil
        rd[page] = a.contains(.read) && !a.contains(.wordOnly) ? hp : nil
        wr32[page] = a.contains(.write) && !code ? hp : nil
        wr[page] = a.contains(.write) && !a.contains(.wordOnly) && !code ? hp : nil
    }

    public func attributes(of address: UInt32) -> MemoryAttributes {
        MemoryAttributes(rawValue: attrs[Int(address >> pageShift)])
    }

    /// Host pointer for an address if it is mapped (any attributes).
    @inline(__always) public func hostPointer(_ address: UInt32) -> UnsafeMutableRawPointer? {
        guard let p = host[Int(address >> pageShift)] else { return nil }
        return p + Int(address & UInt32(pageSize - 1))
    }

    /// Virtual pages that map the same host page as `page` (including itself).
    func aliases(of page: Int) -> [Int] {
        guard let hp = host[page] else { return [page] }
        let out = pages(mapping: hp)
        return out.isEmpty ? [page] : out
    }

    /// Virtual pages of this map that map host page `hp`.
    func pages(mapping hp: UnsafeMutableRawPointer) -> [Int] {
        var out: [Int] = []
        for m in mappings where hp >= m.host && hp < m.host + Int(m.size) {
            out.append(Int(m.base >> pageShift) + (hp - m.host) / pageSize)
        }
        return out
    }

    /// Other cores' memory maps over the same memory (`share(with:)`): code one core has
    /// predecoded is write-protected in every map, and a store through any of them drops it.
    struct Peer { unowned(unsafe) let map: MemoryMap }
    var peers: [Peer] = []

    /// Makes this map and `other` see each other's predecoded code (cores sharing RAM).
    public func share(with other: MemoryMap) {
        peers.append(Peer(map: other))
        other.peers.append(Peer(map: self))
    }

    func aliasHasCode(_ page: Int) -> Bool {
        guard let hp = host[page] else { return false }
        if hasCode(mapping: hp) { return true }
        for peer in peers where peer.map.hasCode(mapping: hp) { return true }
        return false
    }

    /// Whether a page of this map that maps host page `hp` has predecoded code.
    func hasCode(mapping hp: UnsafeMutableRawPointer) -> Bool {
        for m in mappings where hp >= m.host && hp < m.host + Int(m.size) {
            if decoded[Int(m.base >> pageShift) + (hp - m.host) / pageSize] != nil { return true }
        }
        return false
    }

    /// Recomputes the fast pointers of every page, in this map and its peers, that maps the
    /// same host memory as `page`.
    func refreshAliases(_ page: Int) {
        for p in aliases(of: page) { refresh(p) }
        guard let hp = host[page] else { return }
        for peer in peers { for p in peer.map.pages(mapping: hp) { peer.map.refresh(p) } }
    }

    /// Returns the decode page for a virtual page, creating it (and write-protecting every alias).
    @inline(__always) func decodePage(_ page: Int) -> UnsafeMutablePointer<Decoded> {
        if let d = decoded[page] { return d }
        return makeDecodePage(page)
    }

    @inline(never) func makeDecodePage(_ page: Int) -> UnsafeMutablePointer<Decoded> {
        // Empty slots past the end: the run loop steps from an instruction at the end of the
        // page to one of them and then fetches from the next page.
        let d = UnsafeMutablePointer<Decoded>.allocate(capacity: pageSize + 4)
        d.initialize(repeating: Decoded.empty, count: pageSize + 4)
        decoded[page] = d
        decodedPages.append(page)
        refreshAliases(page)
        return d
    }

    /// Forgets predecoded code of a page and its aliases, in this map and its peers (after a
    /// store into it).
    public func invalidateCode(at address: UInt32) {
        let page = Int(address >> pageShift)
        for p in aliases(of: page) { dropDecoded(p) }
        if let hp = host[page] {
            for peer in peers { for p in peer.map.pages(mapping: hp) { peer.map.dropDecoded(p) } }
        }
        refreshAliases(page)
    }

    /// Decode pages dropped while an instruction may still be reading its slot; freed at the next
    /// safe point (`reclaimRetired`, from the run loop's event check).
    var retired: [UnsafeMutablePointer<Decoded>] = []
    /// Set to 0 whenever a decode page is dropped: the owning CPU's next-event cycle, so its
    /// run loop stops using slots of the dropped page before the next instruction.
    var codeDropped: UnsafeMutablePointer<UInt64>?

    public func reclaimRetired() {
        for d in retired { d.deallocate() }
        retired.removeAll(keepingCapacity: true)
    }

    func dropDecoded(_ page: Int) {
        guard let d = decoded[page] else { return }
        retired.append(d)
        decoded[page] = nil
        forgetTargets()
        // The CPU may hold a pointer to the next slot of this page: make it look again.
        codeDropped?.pointee = 0
        if let i = decodedPages.firstIndex(of: page) { decodedPages.remove(at: i) }
    }

    /// Forgets all predecoded code (e.g. when a cache MMU mapping changes).
    public func invalidateAllCode() {
        let pages = decodedPages
        for p in pages { dropDecoded(p) }
        for p in pages { refreshAliases(p) }
    }
}

struct TargetEntry {
    /// Never a target: the empty entry's slot is the unknown slot anyway.
    var pc: UInt32 = 0
    var slot: UnsafeMutablePointer<Decoded> = Decoded.unknownSlot
}

extension Decoded {
    /// A slot that has not been decoded yet (length 0).
    static let empty: Decoded = { var d = Decoded(); d.length = 0; d.gate = 0; return d }()

    /// An empty slot that is never written: the run loop's "next instruction not known yet".
    nonisolated(unsafe) static let unknownSlot: UnsafeMutablePointer<Decoded> = {
        let p = UnsafeMutablePointer<Decoded>.allocate(capacity: 1)
        p.initialize(to: empty)
        return p
    }()
}

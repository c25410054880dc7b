// The first point where two traces (instruction or call traces) differ, with context: for
// bisecting a boot regression between two firmware builds or two emulator versions.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import FirmwareFormats
import Foundation

public enum TraceDiff {
    public struct Options {
        /// Lines of context shown before and after the divergence.
        public var context = 5
        /// Compare without the cycle column (timing differences only).
        public var ignoreCycles = false
        public init(context: Int = 5, ignoreCycles: Bool = false) {
            self.context = context
            self.ignoreCycles = ignoreCycles
        }
    }

    public struct Divergence: Equatable {
        /// 1-based line number of the first differing line.
        public var line: UInt64
        /// The lines before it (equal in both), oldest first.
        public var before: [String]
        /// The differing line and the ones after it in each trace (empty: the trace ended).
        public var a: [String]
        public var b: [String]
        public init(line: UInt64, before: [String], a: [String], b: [String]) {
            self.line = line; self.before = before; self.a = a; self.b = b
        }
    }

    public enum Result: Equatable {
        case identical(lines: UInt64)
        case diverged(Divergence)
    }

    /// Compares two trace files line by line, streaming (traces can be gigabytes).
    public static func compare(_ pathA: String, _ pathB: String, options: Options = Options()) throws -> Result {
        let ra = try LineReader(path: pathA), rb = try LineReader(path: pathB)
        var recent: [String] = []
        var n: UInt64 = 0
        while true {
            let la = ra.next(), lb = rb.next()
            if la == nil && lb == nil { return .identical(lines: n) }
            n += 1
            if let x = la, let y = lb, same(x, y, options) {
                recent.append(x)
                if recent.count > options.context { recent.removeFirst(recent.count - options.context) }
                continue
            }
            var a: [String] = la.map { [$0] } ?? [], b: [String] = lb.map { [$0] } ?? []
            while a.count <= options.context, !a.isEmpty, let l = ra.next() { a.append(l) }
            while b.count <= options.context, !b.isEmpty, let l = rb.next() { b.append(l) }
            return .diverged(Divergence(line: n, before: recent, a: a, b: b))
        }
    }

    static func same(_ x: String, _ y: String, _ o: Options) -> Bool {
        if x == y { return true }
        guard o.ignoreCycles else { return false }
        return withoutCycle(x) == withoutCycle(y)
    }

    /// The line without its second tab-separated column (the cycle count).
    static func withoutCycle(_ s: String) -> Substring {
        guard let t1 = s.firstIndex(of: "\t") else { return Substring(s) }
        guard let t2 = s[s.index(after: t1)...].firstIndex(of: "\t") else { return s[..<t1] }
        return s[..<t1] + s[t2...]
    }

    /// A human-readable report of a comparison.
    public static func report(_ r: Result, nameA: String, nameB: String) -> String {
        switch r {
        case .identical(let n):
            return "no divergence: \(n) lines identical\n"
        case .diverged(let d):
            var s = "traces diverge at line \(d.line) (after \(d.line - 1) identical lines)\n"
            let width = String(d.line + UInt64(max(d.a.count, d.b.count))).count
            func num(_ k: UInt64) -> String { let t = String(k); return String(repeating: " ", count: width - t.count) + t }
            for (i, l) in d.before.enumerated() { s += "  \(num(d.line - UInt64(d.before.count - i)))  \(l)\n" }
            s += "--- \(nameA)\n"
            if d.a.isEmpty { s += "  (trace ends)\n" }
            for (i, l) in d.a.enumerated() { s += (i == 0 ? "- " : "  ") + "\(num(d.line + UInt64(i)))  \(l)\n" }
            s += "+++ \(nameB)\n"
            if d.b.isEmpty { s += "  (trace ends)\n" }
            for (i, l) in d.b.enumerated() { s += (i == 0 ? "+ " : "  ") + "\(num(d.line + UInt64(i)))  \(l)\n" }
            return s
        }
    }
}

/// Reads a text file line by line (without the newline).
final class LineReader {
    private var file: UnsafeMutablePointer<FILE>?
    private var buffer: UnsafeMutablePointer<CChar>?
    private var capacity = 0

    init(path: String) throws {
        guard let f = fopen(path, "r") else { throw InputError("\(path): cannot read file") }
        file = f
    }

    deinit {
        if let f = file { fclose(f) }
        free(buffer)
    }

    func next() -> String? {
        guard let f = file else { return nil }
        let n = getline(&buffer, &capacity, f)
        guard n >= 0, let b = buffer else { return nil }
        var len = n
        if len > 0 && b[len - 1] == 10 { len -= 1 }
        if len > 0 && b[len - 1] == 13 { len -= 1 }
        return b.withMemoryRebound(to: UInt8.self, capacity: len) { String(decoding: UnsafeBufferPointer(start: $0, count: len), as: UTF8.self) }
    }
}

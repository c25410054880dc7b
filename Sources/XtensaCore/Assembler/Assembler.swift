import Foundation

// A two-pass assembler for GNU as syntax, driven by the instruction table.
//
// Supported: labels (`name:` and numeric local labels `1:` with `1f`/`1b`),
// `#` and `//` comments, `;` separating statements, and the directives
// .text .data .section .global/.globl .type .size .begin .end (accepted),
// .align/.balign (bytes), .p2align, .org, .word/.long/.int, .short/.half/.hword,
// .byte, .ascii, .asciz/.string, .space/.skip/.zero, .fill, .equ/.set/`=`,
// `.literal NAME, VALUE...` (emits the words here, 4-aligned, and defines NAME), and
// `.literal_position`: where the assembler may put the literal pool for `movi` values
// that do not fit its 12-bit immediate (such a `movi` becomes an `l32r` of a pool word,
// as GNU as does; the pool is the last .literal_position before the instruction).

public struct AssemblyError: Error, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let message: String
    public var description: String { "\(file):\(line): \(message)" }
}

public struct AssembledProgram {
    public var base: UInt32
    public var bytes: [UInt8]
    public var symbols: [String: UInt32]
    public var globals: Set<String>
    public var entry: UInt32 { symbols["_start"] ?? base }
}

public struct Assembler {
    struct Statement {
        var line: Int
        var label: String?
        var op: String?       // mnemonic or directive (lower case)
        var args: String      // rest of the statement
    }

    /// Instruction definitions by mnemonic.
    static let byMnemonic: [String: [InstrDef]] = {
        var m: [String: [InstrDef]] = [:]
        for d in instructionTable { m[d.mnemonic, default: []].append(d) }
        return m
    }()

    public static func assemble(_ source: String, base: UInt32 = 0, file: String = "<input>") throws -> AssembledProgram {
        var a = AssemblerRun(file: file, base: base)
        let stmts = try a.parse(source)
        try a.layout(stmts)
        try a.pass(stmts, emit: true)
        return AssembledProgram(base: base, bytes: a.out, symbols: a.symbols.mapValues { UInt32(truncatingIfNeeded: $0) }, globals: a.globals)
    }

    /// Encodes one instruction given as text (`mnemonic operands`) at `address`.
    public static func encode(_ text: String, at address: UInt32) throws -> [UInt8] {
        var a = AssemblerRun(file: "<instruction>", base: address)
        a.hexTargets = true
        let stmts = try a.parse(text)
        try a.layout(stmts)
        try a.pass(stmts, emit: true)
        return a.out
    }
}

struct AssemblerRun {
    let file: String
    let base: UInt32
    var out: [UInt8] = []
    var symbols: [String: Int64] = [:]
    var globals: Set<String> = []
    var pc: UInt32 = 0
    var emitting = false
    /// Accept bare 8-digit hex numbers as targets (objdump output).
    var hexTargets = true
    /// Numeric local labels: name -> sorted list of (statement index, address).
    var localDefs: [String: [(Int, Int64)]] = [:]
    var currentIndex = 0
    /// Whether each movi statement (by index) became an l32r (decided while sizing).
    var poolUse: [Int: Bool] = [:]

    init(file: String, base: UInt32) {
        self.file = file
        self.base = base
    }

    func err(_ line: Int, _ msg: String) -> AssemblyError { AssemblyError(file: file, line: line, message: msg) }

    // MARK: Parsing

    func stripComment(_ s: Substring) -> Substring {
        var inString = false
        var prev: Character = " "
        var idx = s.startIndex
        while idx < s.endIndex {
            let c = s[idx]
            if c == "\"" && prev != "\\" { inString.toggle() }
            if !inString {
                if c == "#" { return s[s.startIndex..<idx] }
                if c == "/" && s.index(after: idx) < s.endIndex && s[s.index(after: idx)] == "/" { return s[s.startIndex..<idx] }
            }
            prev = c
            idx = s.index(after: idx)
        }
        return s
    }

    func splitStatements(_ s: Substring) -> [Substring] {
        var parts: [Substring] = []
        var inString = false
        var start = s.startIndex
        var idx = s.startIndex
        var prev: Character = " "
        while idx < s.endIndex {
            let c = s[idx]
            if c == "\"" && prev != "\\" { inString.toggle() }
            if c == ";" && !inString { parts.append(s[start..<idx]); start = s.index(after: idx) }
            prev = c
            idx = s.index(after: idx)
        }
        parts.append(s[start..<s.endIndex])
        return parts
    }

    mutating func parse(_ source: String) throws -> [Assembler.Statement] {
        var out: [Assembler.Statement] = []
        var lineNo = 0
        var inBlockComment = false
        for rawLine in source.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNo += 1
            var line = Substring(rawLine)
            // /* ... */ comments
            var cleaned = ""
            var i = line.startIndex
            while i < line.endIndex {
                if inBlockComment {
                    if line[i...].hasPrefix("*/") { inBlockComment = false; i = line.index(i, offsetBy: 2); continue }
                    i = line.index(after: i)
                } else {
                    if line[i...].hasPrefix("/*") { inBlockComment = true; i = line.index(i, offsetBy: 2); continue }
                    cleaned.append(line[i]); i = line.index(after: i)
                }
            }
            line = stripComment(Substring(cleaned))
            for part in splitStatements(line) {
                var rest = part.trimmingCharacters(in: .whitespaces)
                // Labels (possibly several) at the start.
                while let colon = labelEnd(rest) {
                    let name = String(rest[rest.startIndex..<colon]).trimmingCharacters(in: .whitespaces)
                    out.append(Assembler.Statement(line: lineNo, label: name, op: nil, args: ""))
                    rest = String(rest[rest.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
                }
                if rest.isEmpty { continue }
                // NAME = EXPR
                if let eq = rest.firstIndex(of: "="), !rest.hasPrefix("."), isSymbolName(rest[rest.startIndex..<eq].trimmingCharacters(in: .whitespaces)) {
                    let name = rest[rest.startIndex..<eq].trimmingCharacters(in: .whitespaces)
                    out.append(Assembler.Statement(line: lineNo, label: nil, op: ".set", args: name + ", " + rest[rest.index(after: eq)...]))
                    continue
                }
                let opEnd = rest.firstIndex(where: { $0 == " " || $0 == "\t" }) ?? rest.endIndex
                let op = rest[rest.startIndex..<opEnd].lowercased()
                let args = String(rest[opEnd...]).trimmingCharacters(in: .whitespaces)
                out.append(Assembler.Statement(line: lineNo, label: nil, op: op, args: args))
            }
        }
        return out
    }

    func isSymbolName(_ s: String) -> Bool {
        guard let f = s.first, f.isLetter || f == "_" || f == "." else { return false }
        return s.allSatisfy { $0.isLetter || $0.isNumber || "_.$".contains($0) }
    }

    func labelEnd(_ s: String) -> String.Index? {
        guard let colon = s.firstIndex(of: ":") else { return nil }
        let name = s[s.startIndex..<colon].trimmingCharacters(in: .whitespaces)
        if name.isEmpty { return nil }
        if name.allSatisfy({ $0.isNumber }) { return colon }
        return isSymbolName(name) ? colon : nil
    }

    // MARK: Passes

    /// Literal pools: per .literal_position (in order), the values placed there.
    var pools: [[Int64]] = []
    var poolSizes: [Int] = []
    var poolAddresses: [Int64] = []
    var currentPool = -1
    /// Symbol values of the previous sizing pass, for forward references while sizing.
    var fallbackSymbols: [String: Int64] = [:]

    /// Sizing passes until label addresses and literal pools no longer change.
    mutating func layout(_ stmts: [Assembler.Statement]) throws {
        var previous: [String: Int64] = [:]
        for _ in 0..<6 {
            let sizes = pools.map { $0.count }
            let old = symbols
            fallbackSymbols = symbols
            symbols = [:]
            localDefs = [:]
            try pass(stmts, emit: false)
            if sizes == pools.map({ $0.count }) && old == symbols && previous == symbols { return }
            previous = symbols
        }
    }

    /// Index of a literal in the current pool (reusing an equal value), for `movi` → `l32r`.
    mutating func literal(_ value: Int64) throws -> Int64 {
        guard currentPool >= 0 else {
            throw AsmIssue("movi value \(value) does not fit in 12 bits: put a .literal_position before it (or use l32r)")
        }
        if !emitting {
            if !pools[currentPool].contains(value) { pools[currentPool].append(value) }
        }
        guard let i = pools[currentPool].firstIndex(of: value), currentPool < poolAddresses.count else { return Int64(pc) }
        return poolAddresses[currentPool] + Int64(4 * i)
    }

    mutating func pass(_ stmts: [Assembler.Statement], emit: Bool) throws {
        emitting = emit
        pc = base
        out = []
        currentPool = -1
        if !emit { poolSizes = pools.map { $0.count }; pools = pools.map { _ in [] }; poolAddresses = [] }
        for (i, st) in stmts.enumerated() {
            currentIndex = i
            if let l = st.label {
                if l.allSatisfy({ $0.isNumber }) {
                    if !emit { localDefs[l, default: []].append((i, Int64(pc))) }
                } else if !emit {
                    if symbols[l] != nil { throw err(st.line, "symbol '\(l)' defined twice") }
                    symbols[l] = Int64(pc)
                } else if symbols[l] != Int64(pc) {
                    throw err(st.line, "label '\(l)' moved between passes (a size depends on a later symbol)")
                }
                continue
            }
            guard let op = st.op else { continue }
            do {
                if op.hasPrefix(".") {
                    try directive(op, st.args, line: st.line)
                } else {
                    try instruction(op, st.args)
                }
            } catch let e as AsmIssue {
                throw err(st.line, e.message)
            }
        }
    }

    func resolve(_ name: String) -> Int64? {
        if name == "." { return Int64(pc) }
        if let v = symbols[name] { return v }
        if !emitting, let v = fallbackSymbols[name] { return v }
        if let last = name.last, last == "f" || last == "b" {
            let num = String(name.dropLast())
            if let defs = localDefs[num] {
                if last == "b" { return defs.last(where: { $0.0 < currentIndex })?.1 }
                return defs.first(where: { $0.0 > currentIndex })?.1
            }
        }
        return nil
    }

    /// Evaluates an expression; in the first pass unknown symbols count as 0.
    func eval(_ s: String) throws -> Int64 {
        do {
            return try ExpressionParser.evaluate(s, resolve: { self.resolve($0) })
        } catch let e as AsmIssue where !emitting && e.message.hasPrefix("undefined symbol") {
            return 0
        }
    }

    /// Evaluates an expression that must be known in the first pass (sizes, .org).
    func evalNow(_ s: String) throws -> Int64 {
        try ExpressionParser.evaluate(s, resolve: { self.resolve($0) })
    }

    func splitArgs(_ s: String) -> [String] {
        var parts: [String] = []
        var depth = 0, inString = false, cur = ""
        var prev: Character = " "
        for c in s {
            if c == "\"" && prev != "\\" { inString.toggle() }
            if !inString {
                if c == "(" { depth += 1 }
                if c == ")" { depth -= 1 }
                if c == "," && depth == 0 { parts.append(cur.trimmingCharacters(in: .whitespaces)); cur = ""; prev = c; continue }
            }
            cur.append(c)
            prev = c
        }
        let last = cur.trimmingCharacters(in: .whitespaces)
        if !last.isEmpty || !parts.isEmpty { parts.append(last) }
        return parts
    }

    mutating func emitBytes(_ b: [UInt8]) {
        if emitting { out.append(contentsOf: b) } else { out.append(contentsOf: [UInt8](repeating: 0, count: b.count)) }
        pc &+= UInt32(b.count)
    }

    mutating func emitValue(_ v: Int64, size: Int) throws {
        if emitting {
            let lo = size == 4 ? Int64(Int32.min) : -(Int64(1) << (size * 8 - 1))
            let hi = size == 4 ? Int64(UInt32.max) : (Int64(1) << (size * 8)) - 1
            guard v >= lo && v <= hi else { throw AsmIssue("value \(v) does not fit in \(size) byte(s)") }
        }
        emitBytes((0..<size).map { UInt8(truncatingIfNeeded: v >> (8 * Int64($0))) })
    }

    mutating func align(_ n: Int64, fill: UInt8 = 0) throws {
        guard n > 0 && n & (n - 1) == 0 && n <= 1 << 16 else { throw AsmIssue("alignment must be a power of two") }
        let pad = Int((n - Int64(pc) % n) % n)
        emitBytes([UInt8](repeating: fill, count: pad))
    }

    func parseString(_ s: String) throws -> [UInt8] {
        let t = s.trimmingCharacters(in: .whitespaces)
        guard t.count >= 2, t.first == "\"", t.last == "\"" else { throw AsmIssue("expected a string in quotes") }
        var out: [UInt8] = []
        var it = Array(t.dropFirst().dropLast()).makeIterator()
        while let c = it.next() {
            if c == "\\" {
                guard let e = it.next() else { break }
                switch e {
                case "n": out.append(10)
                case "t": out.append(9)
                case "r": out.append(13)
                case "0": out.append(0)
                case "\\": out.append(92)
                case "\"": out.append(34)
                default: out.append(contentsOf: Array(String(e).utf8))
                }
            } else {
                out.append(contentsOf: Array(String(c).utf8))
            }
        }
        return out
    }

    mutating func directive(_ op: String, _ args: String, line: Int) throws {
        let a = splitArgs(args)
        switch op {
        case ".text", ".data", ".section", ".global", ".globl", ".type", ".size", ".begin", ".end",
             ".file", ".ident", ".local", ".weak", ".previous", ".pushsection", ".popsection", ".rodata":
            if op == ".global" || op == ".globl" { for n in a { globals.insert(n) } }
        case ".align", ".balign":
            guard let n = a.first else { throw AsmIssue("\(op) needs an alignment") }
            try align(try evalNow(n), fill: a.count > 1 ? UInt8(truncatingIfNeeded: try evalNow(a[1])) : 0)
        case ".p2align":
            guard let n = a.first else { throw AsmIssue(".p2align needs an exponent") }
            try align(1 << min(16, try evalNow(n)))
        case ".org":
            guard let n = a.first else { throw AsmIssue(".org needs an address") }
            let target = try evalNow(n)
            let abs = target < Int64(base) ? Int64(base) + target : target
            guard abs >= Int64(pc) else { throw AsmIssue(".org moves backwards") }
            emitBytes([UInt8](repeating: 0, count: Int(abs - Int64(pc))))
        case ".word", ".long", ".int", ".4byte":
            for x in a { try emitValue(try eval(x), size: 4) }
        case ".short", ".half", ".hword", ".2byte":
            for x in a { try emitValue(try eval(x), size: 2) }
        case ".byte":
            for x in a { try emitValue(try eval(x), size: 1) }
        case ".ascii", ".asciz", ".string":
            for x in a {
                var b = try parseString(x)
                if op != ".ascii" { b.append(0) }
                emitBytes(b)
            }
        case ".space", ".skip", ".zero":
            guard let n = a.first else { throw AsmIssue("\(op) needs a size") }
            let count = try evalNow(n)
            guard count >= 0 && count < 1 << 26 else { throw AsmIssue("bad size \(count)") }
            let fill = a.count > 1 ? UInt8(truncatingIfNeeded: try evalNow(a[1])) : 0
            emitBytes([UInt8](repeating: fill, count: Int(count)))
        case ".fill":
            guard a.count >= 1 else { throw AsmIssue(".fill needs a repeat count") }
            let count = try evalNow(a[0]), size = a.count > 1 ? try evalNow(a[1]) : 1
            let value = a.count > 2 ? try eval(a[2]) : 0
            guard count >= 0 && count < 1 << 24, [1, 2, 4].contains(size) else { throw AsmIssue("bad .fill arguments") }
            for _ in 0..<count { try emitValue(value & (size == 4 ? 0xFFFF_FFFF : (1 << (size * 8)) - 1), size: Int(size)) }
        case ".equ", ".set":
            guard a.count == 2 else { throw AsmIssue("\(op) needs NAME, VALUE") }
            symbols[a[0]] = try eval(a[1])
        case ".literal_position":
            currentPool += 1
            try align(4)
            if !emitting {
                if currentPool >= pools.count { pools.append([]); poolSizes.append(0) }
                poolAddresses.append(Int64(pc))
                emitBytes([UInt8](repeating: 0, count: 4 * poolSizes[currentPool]))
            } else {
                // Jump over the pool when code runs into it.
                let values = currentPool < poolSizes.count ? Array(pools[currentPool].prefix(poolSizes[currentPool])) : []
                for v in values { try emitValue(v, size: 4) }
            }
        case ".literal":
            guard a.count >= 2 else { throw AsmIssue(".literal needs NAME, VALUE") }
            try align(4)
            if !emitting {
                if symbols[a[0]] != nil { throw AsmIssue("symbol '\(a[0])' defined twice") }
                symbols[a[0]] = Int64(pc)
            }
            for x in a.dropFirst() { try emitValue(try eval(x), size: 4) }
        default:
            throw AsmIssue("unknown directive \(op)")
        }
    }

    // MARK: Instructions

    func register(_ s: String, prefix: Character) -> Int64? {
        let t = s.lowercased()
        if prefix == "a" && t == "sp" { return 1 }
        guard t.first == prefix, let n = Int64(t.dropFirst()), n >= 0 && n <= 15 else { return nil }
        return n
    }

    mutating func instruction(_ mnemonicIn: String, _ args: String) throws {
        var mnemonic = mnemonicIn
        var args = splitArgs(args)
        // rsr.ps a2 / wur.fcr a2 -> rsr a2, ps
        if let dot = mnemonic.firstIndex(of: "."), ["rsr", "wsr", "xsr", "rur", "wur"].contains(String(mnemonic[mnemonic.startIndex..<dot])) {
            let reg = String(mnemonic[mnemonic.index(after: dot)...])
            mnemonic = String(mnemonic[mnemonic.startIndex..<dot])
            args.append(reg)
        }
        // Pseudo-instructions of GNU as.
        if mnemonic == "mov" && args.count == 2 { mnemonic = "or"; args = [args[0], args[1], args[1]] }
        if mnemonic == "movi" && args.count == 2 {
            // A value known while sizing that fits stays a movi; anything else becomes a literal.
            if !emitting {
                let known = try? evalNow(args[1])
                if !(known.map { $0 >= -2048 && $0 <= 2047 } ?? false) { poolUse[currentIndex] = true }
            }
            if poolUse[currentIndex] == true {
                let value = try eval(args[1]) & 0xFFFF_FFFF
                let address = try literal(value)
                mnemonic = "l32r"
                args = [args[0], String(address)]
            }
        }
        guard let defs = Assembler.byMnemonic[mnemonic] else { throw AsmIssue("unknown instruction '\(mnemonicIn)'") }
        var lastError = AsmIssue("wrong operands for \(mnemonicIn)")
        for def in defs {
            guard def.operands.count == args.count else {
                lastError = AsmIssue("\(mnemonicIn) takes \(def.operands.count) operand(s), got \(args.count)")
                continue
            }
            if !emitting {
                emitBytes([UInt8](repeating: 0, count: def.length))
                return
            }
            do {
                var word = def.match
                for (kind, text) in zip(def.operands, args) {
                    let v = try operandValue(kind, text, mnemonic: mnemonic)
                    guard let bits = kind.encode(v, pc: pc) else {
                        throw AsmIssue(kind.isTarget ? "target \(hex(UInt32(truncatingIfNeeded: v), digits: 8)) out of range for \(mnemonicIn) at \(hex(pc, digits: 8))"
                                                     : "operand '\(text)' (\(v)) out of range for \(mnemonicIn)")
                    }
                    word |= bits
                }
                emitBytes((0..<def.length).map { UInt8(truncatingIfNeeded: word >> (8 * UInt32($0))) })
                return
            } catch let e as AsmIssue {
                lastError = e
            }
        }
        throw lastError
    }

    func operandValue(_ kind: OperandKind, _ text: String, mnemonic: String) throws -> Int64 {
        switch kind {
        case .ar:
            guard let r = register(text, prefix: "a") else { throw AsmIssue("expected an address register, got '\(text)'") }
            return r
        case .fr:
            guard let r = register(text, prefix: "f") else { throw AsmIssue("expected a float register, got '\(text)'") }
            return r
        case .br, .br4, .br8:
            guard let r = register(text, prefix: "b") else { throw AsmIssue("expected a boolean register, got '\(text)'") }
            return r
        case .mx, .my, .mw:
            guard let r = register(text, prefix: "m"), r <= 3 else { throw AsmIssue("expected m0..m3, got '\(text)'") }
            return r
        case .sr:
            if let n = specialRegisterNumber(text) { return Int64(n) }
            return try evalNow(text)
        case .urRS, .urST:
            if let n = userRegisterNames.firstIndex(where: { $0 == text.lowercased() }) { return Int64(n) }
            return try evalNow(text)
        default:
            if kind.isTarget && hexTargets && text.count == 8 && text.allSatisfy({ $0.isHexDigit }) && resolve(text) == nil {
                return Int64(UInt32(text, radix: 16)!)
            }
            return try eval(text)
        }
    }
}

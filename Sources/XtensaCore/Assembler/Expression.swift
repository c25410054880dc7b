import Foundation

// Integer expressions of the assembler: numbers, symbols, '.', unary - ~ +,
// and binary * / % + - << >> & ^ | with C precedence, parentheses.

struct ExpressionParser {
    let text: [Character]
    var pos = 0
    let resolve: (String) -> Int64?
    var undefined: String?

    init(_ s: String, resolve: @escaping (String) -> Int64?) {
        text = Array(s)
        self.resolve = resolve
    }

    static func evaluate(_ s: String, resolve: @escaping (String) -> Int64?) throws -> Int64 {
        var p = ExpressionParser(s, resolve: resolve)
        let v = try p.parseBinary(0)
        p.skipSpace()
        guard p.pos == p.text.count else { throw AsmIssue("unexpected '\(String(p.text[p.pos...]))' in expression '\(s)'") }
        if let u = p.undefined { throw AsmIssue("undefined symbol '\(u)'") }
        return v
    }

    mutating func skipSpace() { while pos < text.count, text[pos] == " " || text[pos] == "\t" { pos += 1 } }

    static let precedence: [String: Int] = ["|": 1, "^": 2, "&": 3, "<<": 4, ">>": 4, "+": 5, "-": 5, "*": 6, "/": 6, "%": 6]

    mutating func peekOperator() -> String? {
        skipSpace()
        guard pos < text.count else { return nil }
        let c = text[pos]
        if (c == "<" || c == ">") && pos + 1 < text.count && text[pos + 1] == c { return String([c, c]) }
        if "|^&+-*/%".contains(c) { return String(c) }
        return nil
    }

    mutating func parseBinary(_ minPrec: Int) throws -> Int64 {
        var lhs = try parseUnary()
        while let op = peekOperator(), let prec = Self.precedence[op], prec > minPrec {
            pos += op.count
            let rhs = try parseBinary(prec)
            switch op {
            case "|": lhs |= rhs
            case "^": lhs ^= rhs
            case "&": lhs &= rhs
            case "<<": lhs = rhs >= 64 ? 0 : lhs << rhs
            case ">>": lhs = rhs >= 64 ? (lhs < 0 ? -1 : 0) : lhs >> rhs
            case "+": lhs = lhs &+ rhs
            case "-": lhs = lhs &- rhs
            case "*": lhs = lhs &* rhs
            case "/": guard rhs != 0 else { throw AsmIssue("division by zero") }; lhs /= rhs
            default: guard rhs != 0 else { throw AsmIssue("division by zero") }; lhs %= rhs
            }
        }
        return lhs
    }

    mutating func parseUnary() throws -> Int64 {
        skipSpace()
        guard pos < text.count else { throw AsmIssue("missing operand") }
        let c = text[pos]
        if c == "-" { pos += 1; return 0 &- (try parseUnary()) }
        if c == "+" { pos += 1; return try parseUnary() }
        if c == "~" { pos += 1; return ~(try parseUnary()) }
        if c == "(" {
            pos += 1
            let v = try parseBinary(0)
            skipSpace()
            guard pos < text.count, text[pos] == ")" else { throw AsmIssue("missing ')'") }
            pos += 1
            return v
        }
        if c == "'" {
            guard pos + 2 < text.count, text[pos + 2] == "'", let a = text[pos + 1].asciiValue else { throw AsmIssue("bad character constant") }
            pos += 3
            return Int64(a)
        }
        if c.isNumber {
            var s = ""
            while pos < text.count, text[pos].isLetter || text[pos].isNumber || text[pos] == "_" { s.append(text[pos]); pos += 1 }
            // Local label references: 1f / 1b
            if let last = s.last, (last == "f" || last == "b"), s.dropLast().allSatisfy({ $0.isNumber }), !s.lowercased().hasPrefix("0x") {
                if let v = resolve(s) { return v }
                if undefined == nil { undefined = s }
                return 0
            }
            guard let v = Self.number(s) else { throw AsmIssue("bad number '\(s)'") }
            return v
        }
        if c.isLetter || c == "_" || c == "." || c == "$" {
            var s = ""
            while pos < text.count, text[pos].isLetter || text[pos].isNumber || "_.$".contains(text[pos]) { s.append(text[pos]); pos += 1 }
            if let v = resolve(s) { return v }
            if undefined == nil { undefined = s }
            return 0
        }
        throw AsmIssue("unexpected '\(c)' in expression")
    }

    static func number(_ s: String) -> Int64? {
        let l = s.lowercased().replacingOccurrences(of: "_", with: "")
        if l.hasPrefix("0x") { return UInt64(l.dropFirst(2), radix: 16).map { Int64(bitPattern: $0) } }
        if l.hasPrefix("0b") { return UInt64(l.dropFirst(2), radix: 2).map { Int64(bitPattern: $0) } }
        if l.count > 1 && l.hasPrefix("0") && l.allSatisfy({ $0.isNumber }) { return Int64(l.dropFirst(), radix: 8) }
        return Int64(l)
    }
}

/// An assembler problem without its location (the assembler adds file and line).
public struct AsmIssue: Error, CustomStringConvertible {
    public let message: String
    public init(_ m: String) { message = m }
    public var description: String { message }
}

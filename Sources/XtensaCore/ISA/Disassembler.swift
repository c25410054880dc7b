// Text form of instructions, in GNU objdump's style for Xtensa.

public struct DisassembledInstruction: Sendable {
    public var address: UInt32
    public var length: Int
    public var word: UInt32
    public var mnemonic: String
    public var operands: String

    /// Instruction bytes as objdump prints them: the little-endian word in hex.
    public var hexBytes: String { hex(word, digits: length * 2) }

    public var line: String {
        let head = "\(hex(address, digits: 8)): \(hexBytes)\t\(mnemonic)"
        return operands.isEmpty ? head : head + "\t" + operands
    }

    /// The instruction as assembler input.
    public var text: String { operands.isEmpty ? mnemonic : mnemonic + " " + operands }
}

@inline(__always) func hex<T: BinaryInteger>(_ v: T, digits: Int) -> String {
    let s = String(v, radix: 16)
    return s.count >= digits ? s : String(repeating: "0", count: digits - s.count) + s
}

public enum Disassembler {
    /// Disassembles one instruction from `bytes` at `offset`; nil if fewer bytes remain than it needs.
    /// Words that decode to nothing come back as `.byte 0xNN` (one byte), as objdump does.
    public static func disassemble(_ bytes: UnsafeBufferPointer<UInt8>, offset: Int, address: UInt32) -> DisassembledInstruction? {
        guard offset < bytes.count else { return nil }
        let b0 = bytes[offset]
        let len = instructionLength(firstByte: b0)
        guard offset + len <= bytes.count else {
            return DisassembledInstruction(address: address, length: 1, word: UInt32(b0), mnemonic: ".byte", operands: "0x" + hex(b0, digits: 2))
        }
        let b1 = bytes[offset + 1]
        let b2: UInt8 = len == 3 ? bytes[offset + 2] : 0
        let (w, _) = Decoder.word(b0, b1, b2)
        return format(word: w, length: len, address: address)
            ?? DisassembledInstruction(address: address, length: 1, word: UInt32(b0), mnemonic: ".byte", operands: "0x" + hex(b0, digits: 2))
    }

    public static func format(word w: UInt32, length: Int, address: UInt32) -> DisassembledInstruction? {
        guard let def = Decoder.lookup(w), def.length == length else { return nil }
        var mnemonic = def.mnemonic
        var parts: [String] = []
        for o in def.operands {
            let v = o.decode(w, pc: address)
            switch o {
            case .ar: parts.append("a\(v)")
            case .fr: parts.append("f\(v)")
            case .br, .br4, .br8: parts.append("b\(v)")
            case .mx, .my, .mw: parts.append("m\(v)")
            case .sr:
                if let n = specialRegisterName(Int(v), op: def.op) { mnemonic += "." + n } else { parts.append("\(v)") }
            case .urRS, .urST:
                if let n = userRegisterNames[Int(v)] { mnemonic += "." + n } else { parts.append("\(v)") }
            default:
                if o.isTarget { parts.append(hex(UInt32(truncatingIfNeeded: v), digits: 8)) } else { parts.append("\(v)") }
            }
        }
        return DisassembledInstruction(address: address, length: length, word: w, mnemonic: mnemonic, operands: parts.joined(separator: ", "))
    }

    /// Linear disassembly of a block of code.
    public static func disassembleAll(_ bytes: [UInt8], base: UInt32) -> [DisassembledInstruction] {
        var out: [DisassembledInstruction] = []
        bytes.withUnsafeBufferPointer { buf in
            var off = 0
            while let ins = disassemble(buf, offset: off, address: base &+ UInt32(off)) {
                out.append(ins)
                off += ins.length
            }
        }
        return out
    }
}

// The ESP32 register file in the numbering of Espressif's xtensa-esp32-elf-gdb: the XTREG table of
// its configuration (espressif/xtensa-overlays, xtensa_esp32/gdb/gdb/xtensa-config.c), registers
// 0-172. The first 105 (pc ... fsr, regformats/reg-xtensa.dat) make up the `g` packet; the others
// are read and written one at a time with `p`/`P`.

import XtensaCore

public enum GDBRegisters {
    public struct Register: Sendable {
        public let name: String
        /// Xtensa target number: 0x0020 pc, 0x01nn AR nn, 0x02nn special register nn, 0x03nn user
        /// register nn, 0x0030+n FR n, 0x00nn windowed a nn.
        public let target: Int
        public let bits: Int
        public let group: String
    }

    /// Registers in the `g` packet.
    public static let gPacketCount = 105

    public static let all: [Register] = {
        var r: [Register] = []
        func add(_ name: String, _ target: Int, bits: Int = 32, group: String = "general") {
            r.append(Register(name: name, target: target, bits: bits, group: group))
        }
        add("pc", 0x0020)
        for i in 0..<64 { add("ar\(i)", 0x0100 + i) }
        add("lbeg", 0x0200); add("lend", 0x0201); add("lcount", 0x0202); add("sar", 0x0203, bits: 6)
        add("windowbase", 0x0248, bits: 4); add("windowstart", 0x0249, bits: 16)
        add("configid0", 0x02b0); add("configid1", 0x02d0); add("ps", 0x02e6, bits: 19)
        add("threadptr", 0x03e7); add("br", 0x0204, bits: 16); add("scompare1", 0x020c)
        add("acclo", 0x0210); add("acchi", 0x0211, bits: 8)
        for i in 0..<4 { add("m\(i)", 0x0220 + i) }
        add("expstate", 0x03e6); add("f64r_lo", 0x03ea); add("f64r_hi", 0x03eb); add("f64s", 0x03ec)
        for i in 0..<16 { add("f\(i)", 0x0030 + i, group: "float") }
        add("fcr", 0x03e8, group: "float"); add("fsr", 0x03e9, group: "float")
        // Privileged registers (not in the g packet).
        add("mmid", 0x0259, group: "system"); add("ibreakenable", 0x0260, bits: 2, group: "system")
        add("memctl", 0x0261, bits: 1, group: "system"); add("atomctl", 0x0263, bits: 6, group: "system")
        add("ddr", 0x0268, group: "system")
        add("ibreaka0", 0x0280, group: "system"); add("ibreaka1", 0x0281, group: "system")
        add("dbreaka0", 0x0290, group: "system"); add("dbreaka1", 0x0291, group: "system")
        add("dbreakc0", 0x02a0, group: "system"); add("dbreakc1", 0x02a1, group: "system")
        for l in 1...7 { add("epc\(l)", 0x02b0 + l, group: "system") }
        add("depc", 0x02c0, group: "system")
        for l in 2...7 { add("eps\(l)", 0x02c0 + l, bits: 19, group: "system") }
        for l in 1...7 { add("excsave\(l)", 0x02d0 + l, group: "system") }
        add("cpenable", 0x02e0, bits: 8, group: "system")
        add("interrupt", 0x02e2, group: "system"); add("intset", 0x02e2, group: "system"); add("intclear", 0x02e3, group: "system")
        add("intenable", 0x02e4, group: "system"); add("vecbase", 0x02e7, group: "system")
        add("exccause", 0x02e8, bits: 6, group: "system"); add("debugcause", 0x02e9, bits: 12, group: "system")
        add("ccount", 0x02ea, group: "system"); add("prid", 0x02eb, group: "system")
        add("icount", 0x02ec, group: "system"); add("icountlevel", 0x02ed, bits: 4, group: "system")
        add("excvaddr", 0x02ee, group: "system")
        for i in 0..<3 { add("ccompare\(i)", 0x02f0 + i, group: "system") }
        for i in 0..<4 { add("misc\(i)", 0x02f4 + i, group: "system") }
        for i in 0..<16 { add("a\(i)", 0x0000 + i) }
        return r
    }()

    public static let index: [String: Int] = {
        var d: [String: Int] = [:]
        for (i, r) in all.enumerated() where d[r.name] == nil { d[r.name] = i }
        return d
    }()

    /// Reads register `n` (GDB numbering); nil if there is no such register.
    public static func read(_ n: Int, cpu: XtensaCPU) -> UInt32? {
        guard n >= 0 && n < all.count else { return nil }
        let r = all[n]
        let t = r.target
        switch t {
        case 0x0020: return cpu.pc
        case 0x0000..<0x0010: return cpu.ar(t)
        case 0x0030..<0x0040: return cpu.floatRegister(t - 0x30)
        case 0x0100..<0x0140: return cpu.phys[t - 0x100]
        case 0x0259: return 0                                     // MMID: write-only
        case 0x02e3: return 0                                     // INTCLEAR: write-only
        case 0x0200..<0x0300: return cpu.specialRegister(t - 0x200)
        case 0x0300..<0x0400: return cpu.userRegister(t - 0x300)
        default: return nil
        }
    }

    /// Writes register `n`; false if there is no such register or it is read-only.
    @discardableResult
    public static func write(_ n: Int, _ v: UInt32, cpu: XtensaCPU) -> Bool {
        guard n >= 0 && n < all.count else { return false }
        let r = all[n]
        let t = r.target
        switch t {
        case 0x0020: cpu.pc = v; return true
        case 0x0000..<0x0010: cpu.setAR(t, v); return true
        case 0x0030..<0x0040: cpu.setFloatRegister(t - 0x30, v); return true
        case 0x0100..<0x0140: cpu.phys[t - 0x100] = v; return true
        case 0x0259: return true
        case 0x02b0, 0x02d0, 0x02eb: return false                  // CONFIGID0/1, PRID
        case 0x02e2 where r.name == "interrupt": return false      // INTERRUPT reads; INTSET writes
        case 0x0200..<0x0300: return cpu.setSpecialRegister(t - 0x200, v)
        case 0x0300..<0x0400: return cpu.setUserRegister(t - 0x300, v)
        default: return false
        }
    }

    /// The target description served through qXfer:features:read:target.xml.
    public static let targetXML: String = {
        var s = """
        <?xml version="1.0"?>
        <!DOCTYPE target SYSTEM "gdb-target.dtd">
        <target version="1.0">
          <architecture>xtensa</architecture>
          <feature name="org.gnu.gdb.xtensa.esp32">

        """
        for (i, r) in all.enumerated() {
            let type = r.name == "pc" ? "code_ptr" : r.name == "a1" ? "data_ptr" : "int"
            s += "    <reg name=\"\(r.name)\" bitsize=\"32\" regnum=\"\(i)\" type=\"\(type)\" group=\"\(r.group)\"/>\n"
        }
        s += "  </feature>\n</target>\n"
        return s
    }()
}

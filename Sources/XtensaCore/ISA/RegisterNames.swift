// Special and user register numbers of the ESP32's LX6 configuration.

public enum SR {
    public static let lbeg = 0, lend = 1, lcount = 2, sar = 3, br = 4, litbase = 5, scompare1 = 12
    public static let acclo = 16, acchi = 17, m0 = 32, m1 = 33, m2 = 34, m3 = 35
    public static let windowbase = 72, windowstart = 73, ibreakenable = 96, memctl = 97, atomctl = 99, ddr = 104
    public static let ibreaka0 = 128, ibreaka1 = 129, dbreaka0 = 144, dbreaka1 = 145, dbreakc0 = 160, dbreakc1 = 161
    public static let configid0 = 176, epc1 = 177, depc = 192, eps2 = 194, configid1 = 208, excsave1 = 209
    public static let cpenable = 224, interrupt = 226, intclear = 227, intenable = 228, ps = 230, vecbase = 231
    public static let exccause = 232, debugcause = 233, ccount = 234, prid = 235, icount = 236, icountlevel = 237
    public static let excvaddr = 238, ccompare0 = 240, misc0 = 244
}

public enum UR {
    public static let threadptr = 231, fcr = 232, fsr = 233
}

/// Names of the special registers that exist in this configuration (nil: none at that number).
public let specialRegisterNames: [String?] = {
    var n = [String?](repeating: nil, count: 256)
    let fixed: [(Int, String)] = [
        (0, "lbeg"), (1, "lend"), (2, "lcount"), (3, "sar"), (4, "br"), (5, "litbase"), (12, "scompare1"),
        (16, "acclo"), (17, "acchi"), (32, "m0"), (33, "m1"), (34, "m2"), (35, "m3"),
        (72, "windowbase"), (73, "windowstart"), (89, "mmid"), (96, "ibreakenable"), (97, "memctl"), (99, "atomctl"), (104, "ddr"),
        (128, "ibreaka0"), (129, "ibreaka1"), (144, "dbreaka0"), (145, "dbreaka1"), (160, "dbreakc0"), (161, "dbreakc1"),
        (176, "configid0"), (192, "depc"), (208, "configid1"), (224, "cpenable"), (226, "interrupt"), (227, "intclear"),
        (228, "intenable"), (230, "ps"), (231, "vecbase"), (232, "exccause"), (233, "debugcause"), (234, "ccount"),
        (235, "prid"), (236, "icount"), (237, "icountlevel"), (238, "excvaddr"),
        (240, "ccompare0"), (241, "ccompare1"), (242, "ccompare2"),
        (244, "misc0"), (245, "misc1"), (246, "misc2"), (247, "misc3"),
    ]
    for (i, s) in fixed { n[i] = s }
    for l in 1...7 { n[176 + l] = "epc\(l)" }
    for l in 2...7 { n[192 + l] = "eps\(l)" }
    for l in 1...7 { n[208 + l] = "excsave\(l)" }
    return n
}()

public let userRegisterNames: [String?] = {
    var n = [String?](repeating: nil, count: 256)
    n[230] = "expstate"; n[231] = "threadptr"; n[232] = "fcr"; n[233] = "fsr"
    n[234] = "f64r_lo"; n[235] = "f64r_hi"; n[236] = "f64s"
    return n
}()

/// The name GNU tools use for a special register in the given instruction (wsr.intset for SR 226).
public func specialRegisterName(_ sr: Int, op: Op) -> String? {
    if sr == 226 && op == .wsr { return "intset" }
    return specialRegisterNames[sr]
}

/// Whether the ESP32 has `op` (RSR/WSR/XSR, RUR/WUR) for register number `n`, per the opcode list of
/// its libisa table (xtensa-modules for esp32): RSR, WSR and XSR of every named special register,
/// except CONFIGID0 (no XSR), CONFIGID1, PRID and INTERRUPT (RSR only; WSR 226 is wsr.intset),
/// INTCLEAR and MMID (WSR only); RUR and WUR of every named user register. Other numbers are not
/// instructions (objdump prints them as data; the core raises IllegalInstruction).
public func registerAccessExists(_ n: Int, op: Op) -> Bool {
    guard n >= 0 && n < 256 else { return false }
    switch op {
    case .rur, .wur: return userRegisterNames[n] != nil
    case .rsr, .wsr, .xsr:
        guard specialRegisterNames[n] != nil else { return false }
        switch n {
        case SR.configid0: return op != .xsr
        case SR.configid1, SR.prid: return op == .rsr
        case SR.interrupt: return op != .xsr
        case SR.intclear, 89: return op == .wsr
        default: return true
        }
    default: return true
    }
}

public func specialRegisterNumber(_ name: String) -> Int? {
    let l = name.lowercased()
    if l == "intset" { return 226 }
    return specialRegisterNames.firstIndex { $0 == l }
}

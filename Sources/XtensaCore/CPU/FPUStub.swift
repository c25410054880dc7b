// TEMPORARY: replaced by FPU.swift (soft-float) — build scaffolding only.
public enum FPRounding: UInt32 { case nearestEven = 0, towardZero = 1, up = 2, down = 3 }
public enum FPU {
    static func f(_ x: UInt32) -> Float { Float(bitPattern: x) }
    public static func add(_ a: UInt32, _ b: UInt32, fcr: UInt32, fsr: inout UInt32) -> UInt32 { (f(a) + f(b)).bitPattern }
    public static func sub(_ a: UInt32, _ b: UInt32, fcr: UInt32, fsr: inout UInt32) -> UInt32 { (f(a) - f(b)).bitPattern }
    public static func mul(_ a: UInt32, _ b: UInt32, fcr: UInt32, fsr: inout UInt32) -> UInt32 { (f(a) * f(b)).bitPattern }
    public static func madd(_ acc: UInt32, _ a: UInt32, _ b: UInt32, fcr: UInt32, fsr: inout UInt32) -> UInt32 { (f(acc) + f(a) * f(b)).bitPattern }
    public static func msub(_ acc: UInt32, _ a: UInt32, _ b: UInt32, fcr: UInt32, fsr: inout UInt32) -> UInt32 { (f(acc) - f(a) * f(b)).bitPattern }
    public static func div(_ a: UInt32, _ b: UInt32, fcr: UInt32, fsr: inout UInt32) -> UInt32 { (f(a) / f(b)).bitPattern }
    public static func sqrt(_ a: UInt32, fcr: UInt32, fsr: inout UInt32) -> UInt32 { f(a).squareRoot().bitPattern }
    public static func toInt32(_ a: UInt32, scale: Int, rounding: FPRounding, fsr: inout UInt32) -> UInt32 { UInt32(bitPattern: Int32(f(a))) }
    public static func utrunc(_ a: UInt32, scale: Int, fsr: inout UInt32) -> UInt32 { UInt32(f(a)) }
    public static func fromInt(_ v: UInt32, signed: Bool, scale: Int, fcr: UInt32, fsr: inout UInt32) -> UInt32 { Float(Int32(bitPattern: v)).bitPattern }
    public static func un(_ a: UInt32, _ b: UInt32, fsr: inout UInt32) -> Bool { f(a).isNaN || f(b).isNaN }
    public static func oeq(_ a: UInt32, _ b: UInt32, fsr: inout UInt32) -> Bool { f(a) == f(b) }
    public static func ueq(_ a: UInt32, _ b: UInt32, fsr: inout UInt32) -> Bool { f(a) == f(b) }
    public static func olt(_ a: UInt32, _ b: UInt32, fsr: inout UInt32) -> Bool { f(a) < f(b) }
    public static func ult(_ a: UInt32, _ b: UInt32, fsr: inout UInt32) -> Bool { f(a) < f(b) }
    public static func ole(_ a: UInt32, _ b: UInt32, fsr: inout UInt32) -> Bool { f(a) <= f(b) }
    public static func ule(_ a: UInt32, _ b: UInt32, fsr: inout UInt32) -> Bool { f(a) <= f(b) }
    public static func recip(_ a: UInt32, fcr: UInt32, fsr: inout UInt32) -> UInt32 { (1 / f(a)).bitPattern }
    public static func rsqrt(_ a: UInt32, fcr: UInt32, fsr: inout UInt32) -> UInt32 { (1 / f(a).squareRoot()).bitPattern }
}

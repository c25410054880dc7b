// The processor configuration as data (what ESP-IDF's core-isa.h lists for the ESP32).

public enum InterruptType: UInt8, Sendable {
    case level, edge, nmi, software, timer, profiling
}

public struct CoreConfig: Sendable {
    public var resetVector: UInt32
    public var vecbaseReset: UInt32
    public var prid: UInt32
    public var excmLevel: UInt32 = 3
    public var debugLevel: UInt32 = 6
    public var nmiLevel: UInt32 = 7
    /// Level and type of each of the 32 interrupts.
    public var interruptLevels: [UInt8]
    public var interruptTypes: [InterruptType]
    /// Interrupt number raised by each CCOMPARE timer.
    public var timerInterrupts: [Int]
    /// SIMCALL performs semihosting (SYS_exit, SYS_write) instead of raising IllegalInstruction.
    public var semihosting: Bool = false
    /// CONFIGID0/1 values read by software.
    public var configID0: UInt32 = 0xC2BCFFFE
    public var configID1: UInt32 = 0x1CC5FE96

    /// The ESP32's LX6 configuration (PRO CPU unless `prid` says otherwise).
    public static func esp32(prid: UInt32 = 0xCDCD) -> CoreConfig {
        // Levels and types of interrupts 0..31 as listed in core-isa.h for the ESP32.
        let levels: [UInt8] = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1, 1, 7, 3,
                               5, 1, 1, 2, 2, 2, 3, 3, 4, 4, 5, 3, 4, 3, 4, 5]
        var types = [InterruptType](repeating: .level, count: 32)
        types[6] = .timer; types[15] = .timer; types[16] = .timer
        types[7] = .software; types[29] = .software
        types[10] = .edge; types[22] = .edge; types[28] = .edge; types[30] = .edge
        types[11] = .profiling
        types[14] = .nmi
        return CoreConfig(resetVector: 0x4000_0400, vecbaseReset: 0x4000_0000, prid: prid,
                          interruptLevels: levels, interruptTypes: types, timerInterrupts: [6, 15, 16])
    }

    func mask(of type: InterruptType) -> UInt32 {
        var m: UInt32 = 0
        for i in 0..<32 where interruptTypes[i] == type { m |= 1 << UInt32(i) }
        return m
    }
}

/// Exception causes (EXCCAUSE values).
public enum ExceptionCause: UInt32, Sendable {
    case illegalInstruction = 0, syscall = 1, instructionFetchError = 2, loadStoreError = 3
    case level1Interrupt = 4, alloca = 5, integerDivideByZero = 6, privileged = 8, loadStoreAlignment = 9
    case instrPIFDataError = 12, loadStorePIFDataError = 13, instrPIFAddrError = 14, loadStorePIFAddrError = 15
    case instTLBMiss = 16, instTLBMultiHit = 17, instFetchPrivilege = 18, instFetchProhibited = 20
    case loadStoreTLBMiss = 24, loadStoreTLBMultiHit = 25, loadStorePrivilege = 26
    case loadProhibited = 28, storeProhibited = 29
    case coprocessor0Disabled = 32

    public var name: String {
        switch self {
        case .illegalInstruction: return "IllegalInstruction"
        case .syscall: return "Syscall"
        case .instructionFetchError: return "InstructionFetchError"
        case .loadStoreError: return "LoadStoreError"
        case .level1Interrupt: return "Level1Interrupt"
        case .alloca: return "Alloca"
        case .integerDivideByZero: return "IntegerDivideByZero"
        case .privileged: return "Privileged"
        case .loadStoreAlignment: return "LoadStoreAlignment"
        case .instrPIFDataError: return "InstrPIFDataError"
        case .loadStorePIFDataError: return "LoadStorePIFDataError"
        case .instrPIFAddrError: return "InstrPIFAddrError"
        case .loadStorePIFAddrError: return "LoadStorePIFAddrError"
        case .instTLBMiss: return "InstTLBMiss"
        case .instTLBMultiHit: return "InstTLBMultiHit"
        case .instFetchPrivilege: return "InstFetchPrivilege"
        case .instFetchProhibited: return "InstFetchProhibited"
        case .loadStoreTLBMiss: return "LoadStoreTLBMiss"
        case .loadStoreTLBMultiHit: return "LoadStoreTLBMultiHit"
        case .loadStorePrivilege: return "LoadStorePrivilege"
        case .loadProhibited: return "LoadProhibited"
        case .storeProhibited: return "StoreProhibited"
        case .coprocessor0Disabled: return "Coprocessor0Disabled"
        }
    }
}

/// PS register fields.
public enum PS {
    public static let intlevelMask: UInt32 = 0xF
    public static let excm: UInt32 = 1 << 4
    public static let um: UInt32 = 1 << 5
    public static let owbShift: UInt32 = 8
    public static let owbMask: UInt32 = 0xF << 8
    public static let callincShift: UInt32 = 16
    public static let callincMask: UInt32 = 3 << 16
    public static let woe: UInt32 = 1 << 18
    public static let writableMask: UInt32 = 0x70F3F
}

/// Vector offsets from VECBASE.
public enum Vector {
    public static let windowOverflow4: UInt32 = 0x00, windowUnderflow4: UInt32 = 0x40
    public static let windowOverflow8: UInt32 = 0x80, windowUnderflow8: UInt32 = 0xC0
    public static let windowOverflow12: UInt32 = 0x100, windowUnderflow12: UInt32 = 0x140
    public static let level2: UInt32 = 0x180, level3: UInt32 = 0x1C0, level4: UInt32 = 0x200, level5: UInt32 = 0x240
    public static let debug: UInt32 = 0x280, nmi: UInt32 = 0x2C0
    public static let kernel: UInt32 = 0x300, user: UInt32 = 0x340, doubleException: UInt32 = 0x3C0

    public static func level(_ n: UInt32) -> UInt32 { 0x180 + (n - 2) * 0x40 }
}

import XCTest
@testable import XtensaCore

/// The register window is a pointer into a rotated register file: a0-a15 must always be the
/// physical registers 4 * WINDOWBASE ... + 15 (mod 64), whatever rotation the file is in.
final class WindowFileTests: XCTestCase {
    func testWindowsSeeThePhysicalRegistersAtEveryBaseAndRotation() {
        let m = BareMetalMachine()
        let cpu = m.cpu
        var expected = (0..<64).map { UInt32($0) &* 0x0101_0101 ^ 0xA5A5_0000 }
        for i in 0..<64 { cpu.setPhysicalRegister(i, expected[i]) }
        // Every step to every base, including the ones past ar63 that rotate the file, and back.
        var bases: [UInt32] = []
        for a in 0..<16 { for b in [a, (a + 1) % 16, (a + 3) % 16, (a + 13) % 16, (a + 7) % 16] { bases.append(UInt32(b)) } }
        var stamp: UInt32 = 1
        for wb in bases {
            XCTAssertTrue(cpu.setSpecialRegister(SR.windowbase, wb))
            for k in 0..<16 {
                XCTAssertEqual(cpu.ar(k), expected[(Int(wb) * 4 + k) & 63], "a\(k) at WINDOWBASE \(wb)")
            }
            // Writes through the window land in the physical file...
            let k = Int(stamp % 16)
            cpu.setAR(k, stamp)
            expected[(Int(wb) * 4 + k) & 63] = stamp
            // ...and writes to the physical file show through the window.
            let p = Int((stamp &* 7) % 64)
            cpu.setPhysicalRegister(p, ~stamp)
            expected[p] = ~stamp
            for i in 0..<64 { XCTAssertEqual(cpu.physicalRegister(i), expected[i], "ar\(i) at WINDOWBASE \(wb)") }
            stamp &+= 1
        }
    }
}

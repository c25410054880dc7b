// Register access to one peripheral model by absolute address, as the guest sees it.

import XCTest
@testable import ESP32

struct MMIO {
    let device: Peripheral
    static let peripheralBase: UInt32 = 0x3FF0_0000

    func offset(_ address: UInt32, file: StaticString = #filePath, line: UInt = #line) -> UInt32 {
        let o = address &- MMIO.peripheralBase
        XCTAssertTrue(device.range.contains(o), "0x\(String(address, radix: 16)) is outside \(device.name)", file: file, line: line)
        return o - device.range.lowerBound
    }

    /// REG_READ: nil when the model does not cover the register.
    func read(_ address: UInt32, size: Int = 4) -> UInt32? {
        device.read(offset: offset(address), size: size)
    }

    /// REG_READ of a register the model must cover.
    func read32(_ address: UInt32, file: StaticString = #filePath, line: UInt = #line) -> UInt32 {
        guard let v = device.read(offset: offset(address), size: 4) else {
            XCTFail("read of 0x\(String(address, radix: 16)) not modelled", file: file, line: line)
            return 0
        }
        return v
    }

    /// REG_WRITE of a register the model must cover.
    func write32(_ address: UInt32, _ value: UInt32, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(device.write(offset: offset(address), size: 4, value: value),
                      "write of 0x\(String(address, radix: 16)) not modelled", file: file, line: line)
    }
}

func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

/// A little-endian load of 4 bytes, as the Xtensa core reads a `uint32_t` from memory.
func le32(_ b: [UInt8], _ i: Int) -> UInt32 {
    UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
}

/// A little-endian store of a `uint32_t`.
func le32Bytes(_ v: UInt32) -> [UInt8] {
    [UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 24)]
}

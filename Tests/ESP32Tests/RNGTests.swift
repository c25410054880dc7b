// The RNG: a seeded, repeatable stream at RNG_DATA_REG (WDEV_RND_REG).

import XCTest
@testable import ESP32

let WDEV_RND_REG: UInt32 = 0x3FF7_5144

final class RNGTests: XCTestCase {
    func testDefaultStreamIsFixed() {
        let rng = RNG()
        let bus = MMIO(device: rng)
        XCTAssertEqual(rng.seed, RNG.defaultSeed)
        // SplitMix64 from "ESP32RNG", high halves: pinned so a change to the stream is noticed.
        XCTAssertEqual((0..<4).map { _ in bus.read32(WDEV_RND_REG) }, [0x3FEC_AB98, 0xCE64_2CF8, 0xDA8D_A28E, 0xF88E_2682])
        XCTAssertEqual(rng.readCount, 4)
    }

    func testSplitMix64Reference() {
        // SplitMix64 with seed 0 starts 0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4.
        let rng = RNG(seed: 0)
        XCTAssertEqual(rng.next(), 0xE220_A839)
        XCTAssertEqual(rng.next(), 0x6E78_9E6A)
    }

    func testSameSeedSameSequence() {
        let a = RNG(seed: 1234), b = RNG(seed: 1234), c = RNG(seed: 1235)
        let sa = (0..<1000).map { _ in a.read(offset: RNG.dataOffset, size: 4)! }
        let sb = (0..<1000).map { _ in b.read(offset: RNG.dataOffset, size: 4)! }
        let sc = (0..<1000).map { _ in c.read(offset: RNG.dataOffset, size: 4)! }
        XCTAssertEqual(sa, sb)
        XCTAssertNotEqual(sa, sc)
        // Looks random: no repeats to speak of, every bit set about half the time.
        XCTAssertGreaterThan(Set(sa).count, 995)
        for bit in 0..<32 {
            let ones = sa.filter { $0 & (1 << UInt32(bit)) != 0 }.count
            XCTAssertTrue((400...600).contains(ones), "bit \(bit) set \(ones)/1000 times")
        }
    }

    func testResetRewindsAndReseed() {
        let rng = RNG(seed: 42)
        let first = (0..<8).map { _ in rng.next() }
        rng.reset()
        XCTAssertEqual((0..<8).map { _ in rng.next() }, first)
        rng.reseed(43)
        XCTAssertEqual(rng.seed, 43)
        let other = (0..<8).map { _ in rng.next() }
        XCTAssertNotEqual(other, first)
        XCTAssertEqual(other, { let r = RNG(seed: 43); return (0..<8).map { _ in r.next() } }())
    }

    func testRegisters() {
        let rng = RNG()
        let bus = MMIO(device: rng)
        XCTAssertEqual(rng.range, 0x75000..<0x76000)
        // Every read, of any width, takes the next value; writes are ignored.
        let v0 = bus.read32(WDEV_RND_REG)
        bus.write32(WDEV_RND_REG, 0)
        let v1 = rng.read(offset: RNG.dataOffset, size: 1)!
        let ref = RNG()
        XCTAssertEqual([v0, v1], [ref.next(), ref.next()])
        // The rest of the Wi-Fi block is not modelled.
        XCTAssertNil(bus.read(0x3FF7_5140))
        XCTAssertNil(bus.read(0x3FF7_5000))
        XCTAssertFalse(rng.write(offset: 0x148, size: 4, value: 1))
    }
}

// The SHA accelerator driven through its registers exactly as ESP-IDF drives it, checked
// against the FIPS 180 digests.

import XCTest
@testable import ESP32
import FirmwareFormats

// Register addresses (ESP-IDF soc/hwcrypto_reg.h, DR_REG_SHA_BASE 0x3FF03000).
let SHA_TEXT_BASE: UInt32 = 0x3FF0_3000
func SHA_START_REG(_ a: SHA.Algorithm) -> UInt32 { 0x3FF0_3080 + UInt32(a.rawValue) * 0x10 }
func SHA_CONTINUE_REG(_ a: SHA.Algorithm) -> UInt32 { 0x3FF0_3084 + UInt32(a.rawValue) * 0x10 }
func SHA_LOAD_REG(_ a: SHA.Algorithm) -> UInt32 { 0x3FF0_3088 + UInt32(a.rawValue) * 0x10 }
func SHA_BUSY_REG(_ a: SHA.Algorithm) -> UInt32 { 0x3FF0_308C + UInt32(a.rawValue) * 0x10 }

/// bootloader_support/src/esp32/bootloader_sha.c (bootloader_sha256_start/data/finish), one
/// register access per access of the C code. Data lengths must be multiples of 4 bytes.
final class BootloaderSHA256 {
    let bus: MMIO
    var wordsHashed = 0
    static let blockWords = 64 / 4, digestWords = 32 / 4
    var busyPolls = 0

    init(_ sha: SHA) {
        bus = MMIO(device: sha)   // ets_sha_enable() only touches the DPORT clock gate
        wordsHashed = 0
    }

    func data(_ bytes: [UInt8]) {
        precondition(bytes.count % 4 == 0)
        var wordLen = bytes.count / 4
        var w = 0
        while wordLen > 0 {
            var blockCount = wordsHashed % BootloaderSHA256.blockWords
            let copyWords = min(wordLen, BootloaderSHA256.blockWords - blockCount)
            while bus.read32(SHA_BUSY_REG(.sha256)) != 0 { busyPolls += 1 }
            for i in 0..<copyWords {
                // sha_text_reg[block_count + i] = __builtin_bswap32(w[i]);
                bus.write32(SHA_TEXT_BASE + UInt32(4 * (blockCount + i)), le32(bytes, 4 * (w + i)).byteSwapped)
            }
            wordsHashed += copyWords
            blockCount += copyWords
            wordLen -= copyWords
            w += copyWords
            if blockCount == BootloaderSHA256.blockWords {
                if wordsHashed == BootloaderSHA256.blockWords {
                    bus.write32(SHA_START_REG(.sha256), 1)
                } else {
                    bus.write32(SHA_CONTINUE_REG(.sha256), 1)
                }
                blockCount = 0
            }
        }
    }

    func finish() -> [UInt8] {
        let dataWords = wordsHashed
        // Pad to a 55 byte long block loaded in the engine.
        let blockBytes = (wordsHashed % BootloaderSHA256.blockWords) * 4
        var padBytes = 55 - blockBytes
        if padBytes < 0 { padBytes += 64 }
        // The C code's `static const uint8_t padding[64]` is read up to 68 bytes far (block_bytes
        // 56..63 gives pad_bytes 64..68): the bytes past it are taken as zeros here.
        var padding = [UInt8](repeating: 0, count: 68)
        padding[0] = 0x80
        padBytes += 5
        XCTAssertEqual(padBytes % 4, 0)
        data(Array(padding[0..<padBytes]))
        XCTAssertEqual(wordsHashed % BootloaderSHA256.blockWords, 60 / 4)
        // Calculate 32-bit length for final 32 bits of data.
        let bitCount = UInt32(truncatingIfNeeded: dataWords * 32).byteSwapped
        data(le32Bytes(bitCount))
        XCTAssertEqual(wordsHashed % BootloaderSHA256.blockWords, 0)

        while bus.read32(SHA_BUSY_REG(.sha256)) == 1 { busyPolls += 1 }
        bus.write32(SHA_LOAD_REG(.sha256), 1)
        while bus.read32(SHA_BUSY_REG(.sha256)) == 1 { busyPolls += 1 }
        var digest: [UInt8] = []
        for i in 0..<BootloaderSHA256.digestWords {
            // digest_words[i] = __builtin_bswap32(sha_text_reg[i]);
            digest += le32Bytes(bus.read32(SHA_TEXT_BASE + UInt32(4 * i)).byteSwapped)
        }
        return digest
    }
}

/// The ESP32 port of mbedTLS (mbedtls/port/sha/parallel_engine) over hal/sha_hal.c and
/// hal/esp32 sha_ll.h: software padding, sha_hal_hash_block per block, sha_hal_read_digest.
func hardwareDigest(_ sha: SHA, _ a: SHA.Algorithm, _ message: [UInt8]) -> [UInt8] {
    let bus = MMIO(device: sha)
    func waitIdle() {   // sha_ll_busy: any of the four BUSY registers
        while bus.read32(SHA_BUSY_REG(.sha1)) != 0 || bus.read32(SHA_BUSY_REG(.sha256)) != 0
            || bus.read32(SHA_BUSY_REG(.sha384)) != 0 || bus.read32(SHA_BUSY_REG(.sha512)) != 0 {}
    }
    let blockBytes = a.blockWords * 4
    let lengthBytes = blockBytes == 64 ? 8 : 16
    var m = message
    m.append(0x80)
    while (m.count + lengthBytes) % blockBytes != 0 { m.append(0) }
    if lengthBytes == 16 { m += [UInt8](repeating: 0, count: 8) }
    let bits = UInt64(message.count) * 8
    for s in stride(from: 56, through: 0, by: -8) { m.append(UInt8(truncatingIfNeeded: bits >> UInt64(s))) }

    for (n, start) in stride(from: 0, to: m.count, by: blockBytes).enumerated() {
        waitIdle()
        for i in 0..<a.blockWords {   // sha_ll_fill_text_block: reg_addr_buf[i] = HAL_SWAP32(data_words[i])
            bus.write32(SHA_TEXT_BASE + UInt32(4 * i), le32(m, start + 4 * i).byteSwapped)
        }
        bus.write32(n == 0 ? SHA_START_REG(a) : SHA_CONTINUE_REG(a), 1)
    }

    // sha_hal_read_digest: LOAD, wait, sha_ll_read_digest(state_length words).
    bus.write32(SHA_LOAD_REG(a), 1)
    waitIdle()
    let stateWords = a == .sha1 ? 5 : a == .sha256 ? 8 : 16
    var state = [UInt32](repeating: 0, count: stateWords)
    if a == .sha384 || a == .sha512 {
        for i in stride(from: 0, to: stateWords, by: 2) {   // swap each pair of words
            state[i + 1] = bus.read32(SHA_TEXT_BASE + UInt32(4 * i))
            state[i] = bus.read32(SHA_TEXT_BASE + UInt32(4 * (i + 1)))
        }
    } else {
        for i in 0..<stateWords { state[i] = bus.read32(SHA_TEXT_BASE + UInt32(4 * i)) }
    }
    XCTAssertTrue(state.contains { $0 != 0 }, "sha_hal_read_digest aborts on an all-zero state")

    // mbedtls *_finish: the state words big-endian (64-bit words for SHA-384/512).
    var out: [UInt8] = []
    if a == .sha384 || a == .sha512 {
        for k in 0..<8 {
            let v = UInt64(state[2 * k + 1]) << 32 | UInt64(state[2 * k])
            for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt64(s))) }
        }
    } else {
        for v in state { for s in stride(from: 24, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt32(s))) } }
    }
    let digestBytes = [SHA.Algorithm.sha1: 20, .sha256: 32, .sha384: 48, .sha512: 64][a]!
    return Array(out[0..<digestBytes])
}

let abc = Array("abc".utf8)
let twoBlock = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)   // 56 bytes
let longMessage = Array("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu".utf8)   // 112 bytes
let millionA = [UInt8](repeating: 0x61, count: 1_000_000)

final class SHATests: XCTestCase {
    func bootloaderSHA256(_ message: [UInt8], chunk: Int? = nil) -> String {
        let sha = SHA()
        let h = BootloaderSHA256(sha)
        if let chunk {
            var i = 0
            while i < message.count { h.data(Array(message[i..<min(i + chunk, message.count)])); i += chunk }
        } else {
            h.data(message)
        }
        return hex(h.finish())
    }

    func testBootloaderSHA256() {
        XCTAssertEqual(bootloaderSHA256([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(bootloaderSHA256(twoBlock), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(bootloaderSHA256([UInt8](repeating: 0x61, count: 60)),    // padding spills into a second block
                       "11ee391211c6256460b6ed375957fadd8061cafbb31daf967db875aebd5aaad4")
        XCTAssertEqual(bootloaderSHA256([UInt8](repeating: 0x61, count: 64)),    // exactly one block of data
                       "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb")
        XCTAssertEqual(bootloaderSHA256(longMessage, chunk: 12), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        // The image verifier feeds flash in pieces of varying size.
        XCTAssertEqual(bootloaderSHA256(millionA, chunk: 4092), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testSHA1() {
        let sha = SHA()
        XCTAssertEqual(hex(hardwareDigest(sha, .sha1, [])), "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        XCTAssertEqual(hex(hardwareDigest(sha, .sha1, abc)), "a9993e364706816aba3e25717850c26c9cd0d89d")
        XCTAssertEqual(hex(hardwareDigest(sha, .sha1, twoBlock)), "84983e441c3bd26ebaae4aa1f95129e5e54670f1")
        XCTAssertEqual(hex(hardwareDigest(sha, .sha1, millionA)), "34aa973cd4c4daa4f61eeb2bdbad27316534016f")
    }

    func testSHA256() {
        let sha = SHA()
        XCTAssertEqual(hex(hardwareDigest(sha, .sha256, [])), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(hex(hardwareDigest(sha, .sha256, abc)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(hex(hardwareDigest(sha, .sha256, twoBlock)), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(hex(hardwareDigest(sha, .sha256, longMessage)), "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
    }

    func testSHA384() {
        let sha = SHA()
        XCTAssertEqual(hex(hardwareDigest(sha, .sha384, [])),
                       "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b")
        XCTAssertEqual(hex(hardwareDigest(sha, .sha384, abc)),
                       "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7")
        XCTAssertEqual(hex(hardwareDigest(sha, .sha384, longMessage)),
                       "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712fcc7c71a557e2db966c3e9fa91746039")
    }

    func testSHA512() {
        let sha = SHA()
        XCTAssertEqual(hex(hardwareDigest(sha, .sha512, [])),
                       "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e")
        XCTAssertEqual(hex(hardwareDigest(sha, .sha512, abc)),
                       "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f")
        XCTAssertEqual(hex(hardwareDigest(sha, .sha512, longMessage)),
                       "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909")
        XCTAssertEqual(hex(hardwareDigest(sha, .sha512, millionA)),
                       "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b")
    }

    /// The three engines keep their own state while sharing SHA_TEXT (ESP-IDF's parallel engine).
    func testEnginesInterleave() {
        let sha = SHA()
        let bus = MMIO(device: sha)
        // "abc" padded into one SHA-1/SHA-256 block (the same padding for both).
        var block = [UInt8](repeating: 0, count: 64)
        block[0] = 0x61; block[1] = 0x62; block[2] = 0x63; block[3] = 0x80; block[63] = 24
        // Start SHA-256 on the first block of twoBlock, then SHA-1 on "abc", then finish SHA-256.
        var m = twoBlock + [0x80] + [UInt8](repeating: 0, count: 71)
        m[126] = 0x01; m[127] = 0xC0   // 448 bits
        func fill(_ bytes: [UInt8], _ at: Int) {
            for i in 0..<16 { bus.write32(SHA_TEXT_BASE + UInt32(4 * i), le32(bytes, at + 4 * i).byteSwapped) }
        }
        fill(m, 0); bus.write32(SHA_START_REG(.sha256), 1)
        fill(block, 0); bus.write32(SHA_START_REG(.sha1), 1)
        fill(m, 64); bus.write32(SHA_CONTINUE_REG(.sha256), 1)
        bus.write32(SHA_LOAD_REG(.sha1), 1)
        let sha1Words = (0..<5).map { bus.read32(SHA_TEXT_BASE + UInt32(4 * $0)) }
        bus.write32(SHA_LOAD_REG(.sha256), 1)
        let sha256Words = (0..<8).map { bus.read32(SHA_TEXT_BASE + UInt32(4 * $0)) }
        XCTAssertEqual(sha1Words, [0xA999_3E36, 0x4706_816A, 0xBA3E_2571, 0x7850_C26C, 0x9CD0_D89D])
        XCTAssertEqual(sha256Words.map { String(format: "%08x", $0) }.joined(),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    /// LOAD puts the whole 512-bit state in SHA_TEXT for SHA-384 too, high half of each 64-bit
    /// word first; SHA_TEXT beyond the digest keeps what was written.
    func testLoadLayout() {
        let sha = SHA()
        let bus = MMIO(device: sha)
        for i in 0..<32 { bus.write32(SHA_TEXT_BASE + UInt32(4 * i), 0xDEAD_0000 | UInt32(i)) }
        bus.write32(SHA_START_REG(.sha384), 1)
        bus.write32(SHA_LOAD_REG(.sha384), 1)
        var words = (0..<32).map { bus.read32(SHA_TEXT_BASE + UInt32(4 * $0)) }
        var expected = SHACompression.sha384Initial
        var block = [UInt32](repeating: 0, count: 32)
        for i in 0..<32 { block[i] = 0xDEAD_0000 | UInt32(i) }
        SHACompression.sha512(&expected, block)
        for k in 0..<8 {
            XCTAssertEqual(words[2 * k], UInt32(truncatingIfNeeded: expected[k] >> 32))
            XCTAssertEqual(words[2 * k + 1], UInt32(truncatingIfNeeded: expected[k]))
        }
        XCTAssertEqual(Array(words[16...]), (16..<32).map { 0xDEAD_0000 | UInt32($0) })

        // SHA-1 LOAD writes 5 words only.
        bus.write32(SHA_START_REG(.sha1), 1)
        bus.write32(SHA_LOAD_REG(.sha1), 1)
        words = (0..<32).map { bus.read32(SHA_TEXT_BASE + UInt32(4 * $0)) }
        XCTAssertEqual(words[5], UInt32(truncatingIfNeeded: expected[2]))   // left from the SHA-384 LOAD
    }

    func testRegisters() {
        let sha = SHA()
        let bus = MMIO(device: sha)
        XCTAssertEqual(sha.range, 0x3000..<0x4000)
        for a in SHA.Algorithm.allCases {
            XCTAssertEqual(bus.read32(SHA_BUSY_REG(a)), 0)
            XCTAssertEqual(bus.read32(SHA_START_REG(a)), 0)
            XCTAssertEqual(SHA.busyOffset(a), SHA_BUSY_REG(a) - 0x3FF0_3000)
        }
        // Byte and halfword stores merge into the text word.
        bus.write32(SHA_TEXT_BASE + 8, 0x1122_3344)
        XCTAssertTrue(sha.write(offset: 9, size: 1, value: 0xAB))
        XCTAssertTrue(sha.write(offset: 10, size: 2, value: 0xCDEF))
        XCTAssertEqual(bus.read32(SHA_TEXT_BASE + 8), 0xCDEF_AB44)
        // Nothing past SHA_512_BUSY.
        XCTAssertNil(bus.read(0x3FF0_30C0))
        XCTAssertFalse(sha.write(offset: 0x100, size: 4, value: 0))
        // Reset clears text and state.
        bus.write32(SHA_START_REG(.sha256), 1)
        sha.reset()
        XCTAssertEqual(bus.read32(SHA_TEXT_BASE + 8), 0)
        bus.write32(SHA_LOAD_REG(.sha256), 1)
        XCTAssertEqual((0..<8).map { bus.read32(SHA_TEXT_BASE + UInt32(4 * $0)) }, [UInt32](repeating: 0, count: 8))
    }
}

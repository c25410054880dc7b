import FirmwareFormats
import XCTest

final class DigestTests: XCTestCase {
    func testSHA256KnownVectors() {
        XCTAssertEqual(Digest.hex(Digest.sha256([UInt8]())), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(Digest.hex(Digest.sha256(Array("abc".utf8))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(Digest.hex(Digest.sha256(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(Digest.hex(Digest.sha256([UInt8](repeating: 0x61, count: 1_000_000))),
                       "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    func testMD5KnownVectors() {
        XCTAssertEqual(Digest.hex(Digest.md5([UInt8]())), "d41d8cd98f00b204e9800998ecf8427e")
        XCTAssertEqual(Digest.hex(Digest.md5(Array("abc".utf8))), "900150983cd24fb0d6963f7d28e17f72")
        XCTAssertEqual(Digest.hex(Digest.md5(Array("The quick brown fox jumps over the lazy dog".utf8))), "9e107d9d372bb6826bd81d3542a419d6")
        XCTAssertEqual(Digest.hex(Digest.md5(Array("12345678901234567890123456789012345678901234567890123456789012345678901234567890".utf8))),
                       "57edf4a22be3c955ac49da2e2107b67a")
    }

    /// SHA-256 of every corpus file up to 1 MB against the corpus's SHA256SUMS.
    func testSHA256MatchesCorpusSums() throws {
        let folder = try Env.corpus()
        let sums = try String(contentsOf: folder.appendingPathComponent("SHA256SUMS"), encoding: .utf8)
        var checked = 0
        for line in sums.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let rel = parts[1].trimmingCharacters(in: CharacterSet(charactersIn: " *"))
            let path = folder.appendingPathComponent(rel).path
            guard let d = FileManager.default.contents(atPath: path), d.count <= 1 << 20 else { continue }
            XCTAssertEqual(Digest.hex(Digest.sha256([UInt8](d))), String(parts[0]), rel)
            checked += 1
        }
        XCTAssertGreaterThan(checked, 20)
    }
}

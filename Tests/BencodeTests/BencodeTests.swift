import Testing

@testable import Bencode

@Suite struct BencodeDecodingTests {
    let decoder = BencodeDecoder()

    @Test func decodesAnNGOfferDictionary() throws {
        let bytes = Array("d7:command5:offer7:call-id3:abc5:flagsl13:strict-sourceee".utf8)
        let value = try decoder.decode(bytes)
        #expect(value["command"]?.stringValue == "offer")
        #expect(value["call-id"]?.stringValue == "abc")
        #expect(value["flags"]?.listValue == ["strict-source"])
    }

    @Test func decodesIntegersIncludingNegativeAndZero() throws {
        #expect(try decoder.decode(Array("i0e".utf8)) == .integer(0))
        #expect(try decoder.decode(Array("i-42e".utf8)) == .integer(-42))
        #expect(try decoder.decode(Array("i9223372036854775807e".utf8)) == .integer(Int64.max))
    }

    @Test func keepsBinaryByteStrings() throws {
        let bytes: [UInt8] = Array("3:".utf8) + [0x00, 0xFF, 0x80]
        #expect(try decoder.decode(bytes) == .bytes([0x00, 0xFF, 0x80]))
    }

    @Test func encodesDictionaryKeysInByteOrder() {
        let value: BencodeValue = ["sdp": "v=0", "result": "ok", "calls": [1, 2]]
        #expect(String(decoding: value.encoded, as: UTF8.self) == "d5:callsli1ei2ee6:result2:ok3:sdp3:v=0e")
    }

    @Test func roundTripsNestedValues() throws {
        let value: BencodeValue = ["tags": ["a": ["medias": [["index": 1, "type": "audio"]]]], "n": -7]
        #expect(try decoder.decode(value.encoded) == value)
    }

    @Test(arguments: [
        ("d7:command", BencodeError.unexpectedEnd(offset: 10)),
        ("i12", BencodeError.unexpectedEnd(offset: 3)),
        ("ie", BencodeError.invalidInteger(offset: 1)),
        ("i1x2e", BencodeError.unexpectedByte(UInt8(ascii: "x"), offset: 2)),
        ("i99999999999999999999e", BencodeError.invalidInteger(offset: 1)),
        ("5:ab", BencodeError.lengthOutOfRange(5, offset: 0)),
        ("di1ei2ee", BencodeError.invalidKey(offset: 1)),
        ("i1ei2e", BencodeError.trailingBytes(offset: 3)),
        ("x", BencodeError.unexpectedByte(UInt8(ascii: "x"), offset: 0)),
        ("", BencodeError.unexpectedEnd(offset: 0)),
    ])
    func rejectsMalformedInputWithTheOffset(input: String, expected: BencodeError) {
        #expect(throws: expected) { try decoder.decode(Array(input.utf8)) }
    }

    @Test func refusesNestingDeeperThanTheLimit() {
        let deep = String(repeating: "l", count: 100) + String(repeating: "e", count: 100)
        #expect(throws: BencodeError.nestingTooDeep(offset: 32, limit: 32)) { try decoder.decode(Array(deep.utf8)) }
    }

    @Test func errorTextNamesTheOffset() {
        #expect("\(BencodeError.unexpectedEnd(offset: 10))" == "bencode ends early at byte 10")
    }
}

@Suite struct BencodeWriterTests {
    /// What the writer writes is what the general encoder writes for the same value.
    @Test func theWriterWritesWhatTheEncoderWrites() throws {
        var writer = BencodeWriter()
        writer.dictionary { top in
            top.entry("a-key", "text")
            top.entry("empty") { $0.dictionary { _ in } }
            top.entry("extremes") {
                $0.list { list in
                    for value: Int64 in [0, -1, 9, 10, 1_700_000_000_000_000_000, .max, .min + 1] {
                        list.integer(value)
                    }
                }
            }
            top.entry("flag", true)
            top.entry("missing", ifPresent: nil)
            top.entry("nested") { $0.dictionary { inner in inner.entry("x", bitPattern: UInt64.max) } }
            top.entry("z", ifPresent: "last")
        }
        let value = BencodeValue.dictionary([
            "a-key": .string("text"), "empty": .dictionary([:]),
            "extremes": .list(
                [0, -1, 9, 10, 1_700_000_000_000_000_000, .max, .min + 1].map { BencodeValue.integer($0) }),
            "flag": .integer(1), "nested": .dictionary(["x": .integer(-1)]), "z": .string("last"),
        ])
        #expect(writer.bytes == value.encoded)
        #expect(try BencodeDecoder().decode(writer.bytes) == value)
    }
}

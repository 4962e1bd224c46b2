import CallStore
import Cluster
import Testing

@Suite struct RESPTests {
    @Test func commandsAreArraysOfBulkStrings() {
        #expect(RESP.command(["SET", "k", "v"]) == Array("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n".utf8))
        #expect(RESP.command([[0, 13, 10]]) == Array("*1\r\n$3\r\n".utf8) + [0, 13, 10] + [13, 10])
    }

    @Test(arguments: [
        ("+OK\r\n", RESPValue.simpleString("OK")),
        ("-ERR wrong\r\n", .error("ERR wrong")),
        (":-7\r\n", .integer(-7)),
        ("$5\r\nhe\r\no\r\n", .bulkString(Array("he\r\no".utf8))),
        ("$-1\r\n", .bulkString(nil)),
        ("*-1\r\n", .array(nil)),
        ("*2\r\n:1\r\n*1\r\n$0\r\n\r\n", .array([.integer(1), .array([.bulkString([])])])),
    ])
    func repliesAreReadWholeAndNotBeforeTheyAreComplete(text: String, value: RESPValue) throws {
        let bytes = Array(text.utf8)
        let decoded = try #require(try RESP.decode(bytes[...]))
        #expect(decoded.value == value && decoded.consumed == bytes.count)
        for cut in 0..<bytes.count { #expect(try RESP.decode(bytes[..<cut]) == nil, "read from \(cut) bytes") }
        // Two replies back to back: the first is read and the second left.
        let twice = bytes + bytes
        #expect(try RESP.decode(twice[...])?.consumed == bytes.count)
        #expect(try RESP.decode(twice[bytes.count...])?.value == value)
    }

    @Test(arguments: [
        ("?x\r\n", RESPError.unknownType(UInt8(ascii: "?"))),
        ("$abc\r\n", .badLength("abc")),
        ("*-2\r\n", .badLength("-2")),
        ("$99999999\r\n", .tooLarge(99_999_999, limit: RESP.elementLimit)),
        ("$1\r\nab\r\n", .missingTerminator),
        (String(repeating: "*1\r\n", count: 9) + ":1\r\n", .tooDeep(limit: RESP.depthLimit)),
    ])
    func malformedRepliesAreRefusedWithTheReason(text: String, error: RESPError) {
        #expect(throws: error) { try RESP.decode(Array(text.utf8)[...]) }
    }

    @Test func ownerRecordsSurviveStorageAndRefuseOtherSchemas() throws {
        let node = NodeIdentity(
            id: "n2", ngAddress: "127.0.0.12:2223", clusterAddress: "127.0.0.12:2224", mediaIP: "127.0.0.12",
            rasAddress: nil, callSignalAddress: "127.0.0.12:1720")
        let record = OwnerRecord(node: node, revision: 3, writtenAtWallNanos: 1_700_000_000_000_000_000)
        #expect(try OwnerRecord(decoding: record.encoded) == record)
        let future = Array("d2:ati1e4:noded7:cluster1:x2:id1:n8:media-ip1:x2:ng1:xe3:revi1e1:vi2ee".utf8)
        #expect(throws: CallStoreError.unreadable("owner record of schema 2; this node reads schema 1")) {
            try OwnerRecord(decoding: future)
        }
        #expect(throws: CallStoreError.self) { try OwnerRecord(decoding: Array("not bencode".utf8)) }
        #expect(CallStoreKeys().owner(of: "abc") == "spillway:owner:abc")
    }
}

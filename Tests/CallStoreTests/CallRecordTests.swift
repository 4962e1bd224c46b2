import Bencode
import CallStore
import Cluster
import Testing

@Suite struct CallRecordTests {
    static let owner = OwnerRecord(
        node: NodeIdentity(
            id: "n2", ngAddress: "127.0.0.12:2223", clusterAddress: "127.0.0.12:2224", mediaIP: "127.0.0.12",
            rasAddress: nil, callSignalAddress: nil),
        revision: 4, writtenAtWallNanos: 1_700_000_000_000_000_000)
    static let interface = CallRecord.Interface(name: "default", localIP: "127.0.0.12", advertisedIP: "192.0.2.12")

    /// A call with every kind of side: SDES-SRTP terminated, plain, transcoded, rejected.
    static let record = CallRecord(
        callID: "call-1", owner: owner, createdWallNanos: 1_699_999_999_000_000_000, recording: true,
        parties: [
            .init(
                tag: "A", sdp: "v=0\r\no=- 1 1 IN IP4 192.0.2.12\r\ns=-\r\nc=IN IP4 192.0.2.12\r\nt=0 0\r\n",
                streams: [
                    .init(
                        type: "audio", proto: "RTP/SAVP", interface: interface, port: 30000,
                        advertisedRTP: "127.0.0.1:40000", advertisedRTCP: "127.0.0.1:40001",
                        latchedRTP: "127.0.0.1:40000", latchedRTCP: "127.0.0.1:40001", rtcpMux: false,
                        latching: "strict", clockRate: 8000, ssrc: 0xDEAD_BEEF, extendedSequence: 0x0001_0203,
                        security: .sdes(
                            offered: [], relayKey: "1 AES_CM_128_HMAC_SHA1_80 inline:AAAA",
                            partyKey: "1 AES_CM_128_HMAC_SHA1_80 inline:BBBB|2^20|1:4"),
                        transcoding: .init(
                            inputs: [.init(payloadType: 0, codec: "PCMU")], outputCodec: "opus", outputPayloadType: 96,
                            events: [101, 8000, 100, 48000], opusBitRate: 24000, opusInbandFEC: true, opusStereo: false,
                            opusComplexity: 5, outputSSRC: 7, outputSequence: 70_000, outputTimestamp: 123_456,
                            positionWallNanos: 1_700_000_000_500_000_000)),
                    nil,
                ]),
            .init(
                tag: nil,
                streams: [
                    .init(
                        type: "audio", proto: "RTP/AVP", interface: interface, port: 30002,
                        security: .passThrough, signalledCodec: "PCMA"),
                    nil,
                ]),
        ])

    @Test func aRecordSurvivesStorage() throws {
        #expect(try CallRecord(decoding: Self.record.encoded) == Self.record)
    }

    @Test func unreadableRecordsSayWhatIsWrongWithThem() throws {
        let stored = try BencodeDecoder().decode(Self.record.encoded)
        func damaged(_ change: (inout [String: BencodeValue]) -> Void) -> [UInt8] {
            var dictionary = stored.dictionaryValue!
            change(&dictionary)
            return BencodeValue.dictionary(dictionary).encoded
        }
        #expect(throws: CallStoreError.unreadable("call record of schema 2; this node reads schema 1")) {
            try CallRecord(decoding: damaged { $0["v"] = .integer(2) })
        }
        #expect(throws: CallStoreError.unreadable("call record has 1 parties; a call has two")) {
            try CallRecord(decoding: damaged { $0["parties"] = .list([$0["parties"]!.listValue![0]]) })
        }
        let portOutOfRange = damaged { dictionary in
            var party = dictionary["parties"]!.listValue![1].dictionaryValue!
            var stream = party["streams"]!.listValue![0].dictionaryValue!
            stream["port"] = .integer(70000)
            party["streams"] = .list([.dictionary(stream)])
            dictionary["parties"] = .list([dictionary["parties"]!.listValue![0], .dictionary(party)])
        }
        #expect(
            throws: CallStoreError.unreadable("call record.parties[1].streams[0].port is not an integer in 1...65534")
        ) { try CallRecord(decoding: portOutOfRange) }
        #expect(throws: CallStoreError.unreadable("call record has no 'owner'")) {
            try CallRecord(decoding: damaged { $0["owner"] = nil })
        }
        #expect(throws: CallStoreError.self) { try CallRecord(decoding: Array("li1ee".utf8)) }
    }

    @Test func keysNameTheCallAndTheNodesSet() {
        let keys = CallStoreKeys()
        #expect(keys.call("abc") == "spillway:call:abc")
        #expect(keys.calls(of: "n2") == "spillway:node:n2:calls")
        #expect(keys.heartbeat(of: "n2") == "spillway:node:n2:alive")
    }
}

import Bencode
import Foundation
import MediaPlane
import SDP
import SRTP
import SpillwayClient
import SpillwayTestSupport
import Testing

/// SDES-keyed SRTP terminated by the relay, with Swift peers that encrypt and decrypt through
/// libsrtp: bridging to plain RTP both ways, re-keying between suites, refused keys and answers.
@Suite struct SRTPBridgingTests {
    /// The a=crypto lines of the first m= line of a reply's SDP.
    static func cryptoLines(in reply: BencodeValue) throws -> [CryptoAttribute] {
        let description = try SessionDescription(parsing: try #require(reply["sdp"]?.stringValue))
        return try description.media[0].attributes(named: "crypto").compactMap { $0 }.map {
            try CryptoAttribute(parsing: $0)
        }
    }

    static func proto(in reply: BencodeValue) throws -> String {
        try SessionDescription(parsing: try #require(reply["sdp"]?.stringValue)).media[0].proto
    }

    @Test(arguments: DataPlaneEngine.allCases)
    func anSRTPCallerIsBridgedToAPlainCalleeInBothDirections(engine: DataPlaneEngine) async throws {
        let node = try await TestNode.start { $0.dataPlane = engine }
        let caller = try SecureParty()
        let (callee, calleeRTCP) = try UDPPeer.bindPair()
        let offer = try node.request([
            "command": "offer", "call-id": "bridge", "from-tag": "A", "sdp": .string(caller.sdp()),
            "transport-protocol": "RTP/AVP",
        ])
        #expect(try Self.proto(in: offer) == "RTP/AVP")
        #expect(try Self.cryptoLines(in: offer).isEmpty)
        let answer = try node.request([
            "command": "answer", "call-id": "bridge", "from-tag": "A", "to-tag": "B",
            "sdp": .string(audioSDP(port: callee.address.port)),
        ])
        #expect(try Self.proto(in: answer) == "RTP/SAVP")
        let relayKeys = try Self.cryptoLines(in: answer)
        #expect(relayKeys.count == 1)
        let relayKey = try #require(relayKeys.first)
        #expect(
            relayKey.tag == caller.key.tag && relayKey.suite == caller.key.suite
                && relayKey.keyMaterial != caller.key.keyMaterial)
        let decryptRelay = try SRTPSession(suite: relayKey.suite, key: relayKey.masterKey, role: .decrypting)
        let relayForCaller = try ScriptedCall.mediaAddress(in: answer)
        let relayForCallee = try ScriptedCall.mediaAddress(in: offer)

        for sequence in 1...20 {
            #expect(caller.rtp.send(try caller.encryptor.protect(pcmu(sequence)).get(), to: relayForCaller))
            #expect(callee.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(sequence))
            #expect(callee.send(pcmu(sequence, ssrc: 0x5151), to: relayForCallee))
            let received = try #require(caller.rtp.receive(timeoutMilliseconds: 1000)?.bytes)
            #expect(received.count == pcmu(sequence).count + 10 && received != pcmu(sequence, ssrc: 0x5151))
            #expect(decryptRelay.unprotect(received) == .success(pcmu(sequence, ssrc: 0x5151)))
        }
        // SRTCP from the caller arrives as plain RTCP on the callee's RTCP port, and back.
        let report: [UInt8] = [0x81, 201, 0, 7] + [UInt8](repeating: 3, count: 28)
        var relayRTCPForCaller = relayForCaller
        relayRTCPForCaller.port += 1
        #expect(caller.rtcp.send(try caller.encryptor.protect(report, rtcp: true).get(), to: relayRTCPForCaller))
        #expect(calleeRTCP.receive(timeoutMilliseconds: 1000)?.bytes == report)
        var relayRTCPForCallee = relayForCallee
        relayRTCPForCallee.port += 1
        #expect(calleeRTCP.send(report, to: relayRTCPForCallee))
        let srtcp = try #require(caller.rtcp.receive(timeoutMilliseconds: 1000)?.bytes)
        #expect(decryptRelay.unprotect(srtcp, rtcp: true) == .success(report))

        let stream = try await node.stream(callID: "bridge", tag: "A")
        #expect(stream?["stats"]?["packets"] == 20)
        #expect(stream?["drops"] == .dictionary([:]))
        let medias = try node.request(["command": "query", "call-id": "bridge"])["tags"]
        #expect(medias?["A"]?["medias"]?.listValue?.first?["crypto suite"] == "AES_CM_128_HMAC_SHA1_80")
        #expect(medias?["A"]?["medias"]?.listValue?.first?["protocol"] == "RTP/SAVP")
        #expect(medias?["B"]?["medias"]?.listValue?.first?["crypto suite"] == nil)
        #expect(medias?["B"]?["medias"]?.listValue?.first?["protocol"] == "RTP/AVP")
        await node.stop()
    }

    @Test(arguments: DataPlaneEngine.allCases)
    func aWrongKeyAndReplaysAreDroppedAndCountedPerStream(engine: DataPlaneEngine) async throws {
        let node = try await TestNode.start { $0.dataPlane = engine }
        let caller = try SecureParty()
        let impostor = try SRTPSession(
            suite: .aesCM128HMACSHA1_80, key: .random(for: .aesCM128HMACSHA1_80), role: .encrypting)
        let callee = try UDPPeer()
        let (relayForCaller, _) = try node.connect(
            callID: "wrong-key", caller: caller.sdp(), callee: audioSDP(port: callee.address.port),
            extraOffer: ["transport-protocol": "RTP/AVP"])
        for sequence in 1...5 {
            #expect(caller.rtp.send(try impostor.protect(pcmu(sequence)).get(), to: relayForCaller))
        }
        let genuine = try caller.encryptor.protect(pcmu(6)).get()
        #expect(caller.rtp.send(genuine, to: relayForCaller))
        #expect(caller.rtp.send(genuine, to: relayForCaller))
        #expect(callee.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(6))
        #expect(callee.receive(timeoutMilliseconds: 300) == nil)

        let stream = try await node.stream(callID: "wrong-key", tag: "A")
        #expect(stream?["drops"]?["srtp-auth-failed"] == 5)
        #expect(stream?["drops"]?["srtp-replayed"] == 1)
        #expect(stream?["stats"]?["packets"] == 1)
        await node.stop()
    }

    @Test func twoSRTPPartiesAreReKeyedWithDifferentSuites() async throws {
        let node = try await TestNode.start()
        let caller = try SecureParty(suite: .aesCM128HMACSHA1_80)
        let offer = try node.request([
            "command": "offer", "call-id": "rekey", "from-tag": "A", "sdp": .string(caller.sdp()),
            "SDES": ["only-AEAD_AES_256_GCM"],
        ])
        let offered = try Self.cryptoLines(in: offer)
        #expect(offered.map(\.suite) == [.aeadAES256GCM])
        #expect(try Self.proto(in: offer) == "RTP/SAVP")
        // The callee takes the offered GCM key and answers with its own GCM key under the same tag.
        let callee = try SecureParty(suite: .aeadAES256GCM, tag: offered[0].tag)
        let answer = try node.request([
            "command": "answer", "call-id": "rekey", "from-tag": "A", "to-tag": "B", "sdp": .string(callee.sdp()),
        ])
        let relayKeyForCaller = try #require(try Self.cryptoLines(in: answer).first)
        #expect(relayKeyForCaller.suite == .aesCM128HMACSHA1_80)
        let callerDecrypts = try SRTPSession(
            suite: relayKeyForCaller.suite, key: relayKeyForCaller.masterKey, role: .decrypting)
        let calleeDecrypts = try SRTPSession(suite: offered[0].suite, key: offered[0].masterKey, role: .decrypting)

        let forCaller = try ScriptedCall.mediaAddress(in: answer)
        let forCallee = try ScriptedCall.mediaAddress(in: offer)
        #expect(caller.rtp.send(try caller.encryptor.protect(pcmu(1)).get(), to: forCaller))
        let atCallee = try #require(callee.rtp.receive(timeoutMilliseconds: 1000)?.bytes)
        #expect(atCallee.count == pcmu(1).count + 16)
        #expect(calleeDecrypts.unprotect(atCallee) == .success(pcmu(1)))
        #expect(callee.rtp.send(try callee.encryptor.protect(pcmu(2)).get(), to: forCallee))
        let atCaller = try #require(caller.rtp.receive(timeoutMilliseconds: 1000)?.bytes)
        #expect(callerDecrypts.unprotect(atCaller) == .success(pcmu(2)))
        await node.stop()
    }

    @Test func anOfferWhoseKeysCannotBeUsedIsRefusedAndCreatesNoCall() async throws {
        let node = try await TestNode.start(portPairs: 2)
        let caller = try SecureParty()
        let unusable = caller.sdp().replacingOccurrences(of: "AES_CM_128_HMAC_SHA1_80", with: "F8_128_HMAC_SHA1_80")
        let reply = try node.request([
            "command": "offer", "call-id": "bad-keys", "from-tag": "A", "sdp": .string(unusable),
        ])
        #expect(reply["result"] == "error")
        let reason = try #require(reply["error-reason"]?.stringValue)
        #expect(reason.contains("m= line 1 requires SRTP but none of its a=crypto lines can be used"), "\(reason)")
        #expect(reason.contains("F8_128_HMAC_SHA1_80 is not supported"))
        #expect(try node.request(["command": "query", "call-id": "bad-keys"])["result"] == "error")

        let dtls = audioSDP(port: caller.rtp.address.port).replacingOccurrences(of: "RTP/AVP", with: "RTP/SAVP")
        let dtlsReply = try node.request([
            "command": "offer", "call-id": "dtls", "from-tag": "A", "sdp": .string(dtls),
            "transport-protocol": "RTP/AVP",
        ])
        #expect(dtlsReply["error-reason"]?.stringValue?.contains("without a=crypto") == true)
        let noSuite = try node.request([
            "command": "offer", "call-id": "none", "from-tag": "A", "sdp": .string(audioSDP(port: 4000)),
            "transport-protocol": "RTP/SAVP", "SDES": ["only-AES_CM_128_HMAC_SHA1_80", "no-AES_CM_128_HMAC_SHA1_80"],
        ])
        #expect(noSuite["error-reason"]?.stringValue?.contains("leave no crypto suite to offer") == true)
        // Both port pairs are still free: nothing was allocated for the refused offers.
        #expect(
            try node.connect(callID: "after", caller: audioSDP(port: 4000), callee: audioSDP(port: 4002)).forCaller.port
                > 0)
        await node.stop()
    }

    @Test func anAnswerRefusingSRTPLeavesTheOfferedCallIntactForACorrectAnswer() async throws {
        let node = try await TestNode.start()
        let caller = try UDPPeer()
        let offer = try node.request([
            "command": "offer", "call-id": "downgrade", "from-tag": "A",
            "sdp": .string(audioSDP(port: caller.address.port)),
            "transport-protocol": "RTP/SAVP",
        ])
        let offered = try Self.cryptoLines(in: offer)
        #expect(offered.map(\.suite) == SRTPSuite.offerOrder)
        #expect(Set(offered.map(\.tag)).count == offered.count)

        let callee = try SecureParty(suite: .aes256CMHMACSHA1_80, tag: 9)
        let wrongTag = try node.request([
            "command": "answer", "call-id": "downgrade", "from-tag": "A", "to-tag": "B", "sdp": .string(callee.sdp()),
        ])
        #expect(wrongTag["error-reason"]?.stringValue?.contains("accepts none of the offered SRTP keys") == true)
        #expect(
            wrongTag["error-reason"]?.stringValue?.contains("tag 9 with AES_256_CM_HMAC_SHA1_80 was not offered")
                == true)
        let plain = try node.request([
            "command": "answer", "call-id": "downgrade", "from-tag": "A", "to-tag": "B",
            "sdp": .string(audioSDP(port: callee.rtp.address.port)),
        ])
        #expect(plain["error-reason"]?.stringValue?.contains("it has no a=crypto line") == true)

        let chosen = try #require(offered.first { $0.suite == .aes256CMHMACSHA1_80 })
        let agreed = try SecureParty(suite: chosen.suite, tag: chosen.tag)
        let answer = try node.request([
            "command": "answer", "call-id": "downgrade", "from-tag": "A", "to-tag": "B", "sdp": .string(agreed.sdp()),
        ])
        #expect(try Self.proto(in: answer) == "RTP/AVP")
        #expect(try Self.cryptoLines(in: answer).isEmpty)
        #expect(caller.send(pcmu(1), to: try ScriptedCall.mediaAddress(in: answer)))
        let received = try #require(agreed.rtp.receive(timeoutMilliseconds: 1000)?.bytes)
        let decrypt = try SRTPSession(suite: chosen.suite, key: chosen.masterKey, role: .decrypting)
        #expect(decrypt.unprotect(received) == .success(pcmu(1)))
        await node.stop()
    }

    @Test func sdesFlagsInTheFlagsListNarrowAndPadTheOffer() async throws {
        let node = try await TestNode.start()
        let offer = try node.request([
            "command": "offer", "call-id": "flags", "from-tag": "A", "sdp": .string(audioSDP(port: 4000)),
            "transport-protocol": "RTP/SAVPF",
            "flags": ["SDES-no-AES_CM_128_HMAC_SHA1_32", "SDES-no-AEAD_AES_128_GCM", "SDES-pad"],
        ])
        #expect(try Self.proto(in: offer) == "RTP/SAVPF")
        #expect(
            try Self.cryptoLines(in: offer).map(\.suite) == [
                .aesCM128HMACSHA1_80, .aes256CMHMACSHA1_80, .aeadAES256GCM,
            ])
        // 46 bytes of AES-256 key and salt need two '=' of padding, which SDES-pad keeps.
        let lines = try #require(offer["sdp"]?.stringValue).split(separator: "\r\n")
        #expect(lines.contains { $0.hasPrefix("a=crypto:2 AES_256_CM_HMAC_SHA1_80 inline:") && $0.hasSuffix("==") })
        let unknown = try node.request([
            "command": "offer", "call-id": "flags-2", "from-tag": "A", "sdp": .string(audioSDP(port: 4000)),
            "transport-protocol": "RTP/SAVP", "flags": ["SDES-only-AES_CM_129"],
        ])
        #expect(
            unknown["error-reason"]?.stringValue?.contains("Invalid value 'only-AES_CM_129' for key 'SDES'") == true)
        #expect(unknown["error-reason"]?.stringValue?.contains("AES_CM_128_HMAC_SHA1_80") == true)
        await node.stop()
    }

    @Test(arguments: DataPlaneEngine.allCases)
    func srtcpMultiplexedOnTheRTPPortIsDecryptedForACalleeWithoutMuxAndBack(engine: DataPlaneEngine) async throws {
        let node = try await TestNode.start { $0.dataPlane = engine }
        let caller = try SecureParty()
        let (callee, calleeRTCP) = try UDPPeer.bindPair()
        let (forCaller, forCallee) = try node.connect(
            callID: "mux", caller: caller.sdp(attributes: ["rtcp-mux"]), callee: audioSDP(port: callee.address.port),
            extraOffer: ["transport-protocol": "RTP/AVP", "rtcp-mux": ["demux"]])
        let report: [UInt8] = [0x81, 201, 0, 7] + [UInt8](repeating: 5, count: 28)
        #expect(caller.rtp.send(try caller.encryptor.protect(report, rtcp: true).get(), to: forCaller))
        #expect(calleeRTCP.receive(timeoutMilliseconds: 1000)?.bytes == report)

        let answer = try node.request(["command": "query", "call-id": "mux"])
        #expect(answer["tags"]?["A"]?["medias"]?.listValue?.first?["flags"] == ["RTCP-mux"])
        var relayRTCPForCallee = forCallee
        relayRTCPForCallee.port += 1
        #expect(calleeRTCP.send(report, to: relayRTCPForCallee))
        let muxed = try #require(caller.rtp.receive(timeoutMilliseconds: 1000)?.bytes)
        #expect(muxed[1] == 201, "SRTCP keeps its header in the clear")
        #expect(callee.receive(timeoutMilliseconds: 200) == nil)
        let relayKey = try #require(
            try Self.cryptoLines(
                in: try node.request([
                    "command": "answer", "call-id": "mux", "from-tag": "A", "to-tag": "B",
                    "sdp": .string(audioSDP(port: callee.address.port)),
                ])
            ).first)
        let decrypt = try SRTPSession(suite: relayKey.suite, key: relayKey.masterKey, role: .decrypting)
        #expect(decrypt.unprotect(muxed, rtcp: true) == .success(report))
        await node.stop()
    }
}

import Bencode
import Foundation
import Logging
import SRTP
import SpillwayClient
import SpillwayNode
import SpillwayTestFixtures
import SpillwayTestSupport
import Testing

/// ffmpeg as the real SRTP peer (its srtp protocol, libavformat's own SRTP code): the relay
/// bridges SRTP to plain RTP and back, re-keys between suites, and drops what a wrong key sent.
/// The decoded audio must equal a local decode of the source, sample for sample.
/// Fixed ports sit below Linux's ephemeral range, apart from FFmpegTests' ones.
@Suite(.serialized) struct FFmpegSRTPTests {
    let receiverPort: UInt16 = 17200
    let senderPort: UInt16 = 17300
    let seconds = 2

    let calls = FFmpegRelayCall(
        receiverPort: 17200, senderPort: 17300, mediaPorts: 14100...14199, label: "ffmpeg-srtp-test")

    func relayCall(
        _ name: String, offer: [String: BencodeValue], answerSDP: String, receiverSDP: (BencodeValue) throws -> String,
        senderOutput: (UInt16) -> [String], watch: ((String, UInt16) async throws -> LoopbackCapture)? = nil
    ) async throws -> FFmpegRelayCall.Result {
        try await calls.run(
            name, offer: offer, answerSDP: answerSDP, receiverSDP: receiverSDP, senderOutput: senderOutput, watch: watch
        )
    }

    /// A one-line PCMU SDP on loopback; `crypto` adds an a=crypto line and makes it RTP/SAVP.
    func audioSDP(port: UInt16, crypto: CryptoAttribute? = nil) -> String {
        var text = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=ffmpeg\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        text += "m=audio \(port) \(crypto == nil ? "RTP/AVP" : "RTP/SAVP") 0\r\na=rtpmap:0 PCMU/8000\r\n"
        if let crypto { text += "a=crypto:\(crypto.attributeValue())\r\n" }
        return text
    }

    /// ffmpeg's output arguments for SRTP with `key` towards a relay port.
    func srtpOutput(_ key: CryptoAttribute) -> (UInt16) -> [String] {
        { port in
            [
                "-f", "rtp", "-srtp_out_suite", key.suite.rawValue, "-srtp_out_params",
                String(key.attributeValue().split(separator: ":")[1]),
                "srtp://127.0.0.1:\(port)?localrtpport=\(senderPort)",
            ]
        }
    }

    func plainOutput(_ port: UInt16) -> [String] {
        ["-f", "rtp", "rtp://127.0.0.1:\(port)?localrtpport=\(senderPort)"]
    }

    static func stream(_ query: BencodeValue, tag: String) -> BencodeValue? {
        query["tags"]?[tag]?["medias"]?.listValue?.first?["streams"]?.listValue?.first
    }

    static func cryptoAttributes(in reply: BencodeValue) throws -> [CryptoAttribute] {
        try #require(reply["sdp"]?.stringValue).split(whereSeparator: \.isNewline).filter { $0.hasPrefix("a=crypto:") }
            .map { try CryptoAttribute(parsing: $0.dropFirst("a=crypto:".count)) }
    }

    @Test func ffmpegSRTPIsBridgedToPlainRTPAndDecodedInFull() async throws {
        let senderKey = CryptoAttribute.generated(tag: 1, suite: .aesCM128HMACSHA1_80)
        let result = try await relayCall(
            "srtp-to-rtp",
            offer: ["sdp": .string(audioSDP(port: senderPort, crypto: senderKey)), "transport-protocol": "RTP/AVP"],
            answerSDP: audioSDP(port: receiverPort), receiverSDP: { _ in audioSDP(port: receiverPort) },
            senderOutput: srtpOutput(senderKey))
        #expect(result.referenceAudio.count == seconds * 8000 * 2)
        #expect(result.receivedAudio == result.referenceAudio, "receiver log: \(result.receiverLog.suffix(1500))")
        let sent = Self.stream(result.query, tag: "sender")
        #expect(sent?["drops"] == .dictionary([:]))
        #expect((sent?["stats"]?["packets"]?.integerValue ?? 0) > 0)
    }

    @Test func plainRTPIsBridgedToSRTPThatFFmpegDecryptsWithTheRelaysKey() async throws {
        var relayKey: CryptoAttribute?
        let receiverKey = CryptoAttribute.generated(tag: 1, suite: .aesCM128HMACSHA1_80)
        let result = try await relayCall(
            "rtp-to-srtp",
            offer: [
                "sdp": .string(audioSDP(port: senderPort)), "transport-protocol": "RTP/SAVP",
                "SDES": ["only-AES_CM_128_HMAC_SHA1_80"],
            ],
            answerSDP: audioSDP(port: receiverPort, crypto: receiverKey),
            receiverSDP: { offer in
                let key = try #require(try Self.cryptoAttributes(in: offer).first)
                relayKey = key
                return audioSDP(port: receiverPort, crypto: key)
            },
            senderOutput: plainOutput)
        #expect(relayKey?.suite == .aesCM128HMACSHA1_80 && relayKey?.tag == receiverKey.tag)
        #expect(result.receivedAudio == result.referenceAudio, "receiver log: \(result.receiverLog.suffix(1500))")
        #expect(Self.stream(result.query, tag: "sender")?["drops"] == .dictionary([:]))
    }

    @Test func srtpSentWithAnotherKeyThanTheSDPsDecodesNothingAndIsCountedAsAuthFailures() async throws {
        let announcedKey = CryptoAttribute.generated(tag: 1, suite: .aesCM128HMACSHA1_80)
        let actualKey = CryptoAttribute.generated(tag: 1, suite: .aesCM128HMACSHA1_80)
        let result = try await relayCall(
            "wrong-key",
            offer: ["sdp": .string(audioSDP(port: senderPort, crypto: announcedKey)), "transport-protocol": "RTP/AVP"],
            answerSDP: audioSDP(port: receiverPort), receiverSDP: { _ in audioSDP(port: receiverPort) },
            senderOutput: srtpOutput(actualKey))
        #expect(result.receivedAudio.isEmpty)
        let sent = Self.stream(result.query, tag: "sender")
        let failures = sent?["drops"]?["srtp-auth-failed"]?.integerValue ?? 0
        // 2 s of PCMU from ffmpeg's RTP muxer is tens of packets; every one must fail.
        #expect(failures >= 10, "drops: \(String(describing: sent?["drops"]))")
        #expect(sent?["stats"]?["packets"] == 0)
    }

    @Test func srtpIsReKeyedBetweenSuitesAndTsharkSeesNoPlaintextOnEitherLeg() async throws {
        let senderKey = CryptoAttribute.generated(tag: 1, suite: .aesCM128HMACSHA1_80)
        var relayKey: CryptoAttribute?
        let receiverKey = CryptoAttribute.generated(tag: 1, suite: .aesCM128HMACSHA1_32)
        let result = try await relayCall(
            "rekey",
            offer: [
                "sdp": .string(audioSDP(port: senderPort, crypto: senderKey)), "SDES": ["only-AES_CM_128_HMAC_SHA1_32"],
            ],
            answerSDP: audioSDP(port: receiverPort, crypto: receiverKey),
            receiverSDP: { offer in
                let key = try #require(try Self.cryptoAttributes(in: offer).first)
                relayKey = key
                return audioSDP(port: receiverPort, crypto: key)
            },
            senderOutput: srtpOutput(senderKey),
            watch: { directory, relayPort in
                try await LoopbackCapture.start(
                    filter: "udp and (dst port \(relayPort) or dst port \(receiverPort))", in: directory)
            })
        #expect(relayKey?.suite == .aesCM128HMACSHA1_32)
        #expect(result.receivedAudio == result.referenceAudio, "receiver log: \(result.receiverLog.suffix(1500))")

        let plaintext = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(result.directory)/reference.ulaw")))
        let packets = try await tsharkFields(
            "\(result.directory)/wire.pcap", filter: "rtp", fields: ["udp.dstport", "rtp.payload"],
            arguments: ["-d", "udp.port==\(result.relayPortForSender),rtp", "-d", "udp.port==\(receiverPort),rtp"])
        for (port, tagLength) in [(result.relayPortForSender, 10), (receiverPort, 4)] {
            let payloads = packets.filter { $0.first == "\(port)" }.map {
                hexBytes($0[1].replacingOccurrences(of: ":", with: ""))
            }
            #expect(payloads.count >= 10, "tshark saw \(payloads.count) RTP packets to port \(port)")
            // Each packet carries the encrypted samples and the suite's tag; in stream order the
            // samples line up with the source, and almost no byte may match it.
            let encrypted = payloads.flatMap { $0.dropLast(tagLength) }
            #expect(
                encrypted.count == plaintext.count,
                "port \(port): \(encrypted.count) payload bytes for \(plaintext.count) samples")
            let matching = zip(encrypted, plaintext).filter { $0 == $1 }.count
            #expect(
                matching * 20 < encrypted.count, "port \(port): \(matching) of \(encrypted.count) bytes are plaintext")
        }
    }
}

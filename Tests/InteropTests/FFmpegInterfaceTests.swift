import Bencode
import Foundation
import SpillwayClient
import Testing

/// ffmpeg on IPv4 (127.0.0.1) and on IPv6 (::1) calling each other through a node with an
/// interface in each family: the relay bridges the families, and each direction decodes in full.
@Suite(.serialized) struct FFmpegInterfaceTests {
    static let receiverPort: UInt16 = 17600
    static let senderPort: UInt16 = 17700

    /// A one-line PCMU SDP for a party at `ip`.
    static func audioSDP(port: UInt16, ip: String) -> String {
        let family = ip.contains(":") ? "IP6" : "IP4"
        return "v=0\r\no=- 0 0 IN \(family) \(ip)\r\ns=ffmpeg\r\nc=IN \(family) \(ip)\r\nt=0 0\r\n"
            + "m=audio \(port) RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    }

    @Test(arguments: [("127.0.0.1", "::1"), ("::1", "127.0.0.1")])
    func aCallBetweenIPv4AndIPv6IsBridgedAndDecodedInFull(senderIP: String, receiverIP: String) async throws {
        var calls = FFmpegRelayCall(
            receiverPort: Self.receiverPort, senderPort: Self.senderPort, mediaPorts: 14300...14399,
            label: "ffmpeg-interfaces")
        calls.interfaces = ["v4/127.0.0.1", "v6/::1"]
        calls.receiverIP = receiverIP
        let direction: BencodeValue = senderIP.contains(":") ? ["v6", "v4"] : ["v4", "v6"]
        let result = try await calls.run(
            "bridge-\(senderIP.contains(":") ? "6to4" : "4to6")",
            offer: ["sdp": .string(Self.audioSDP(port: Self.senderPort, ip: senderIP)), "direction": direction],
            answerSDP: Self.audioSDP(port: Self.receiverPort, ip: receiverIP),
            receiverSDP: { offer in
                // The relay's offer names its interface in the receiver's family.
                let family = receiverIP.contains(":") ? "c=IN IP6 ::1" : "c=IN IP4 127.0.0.1"
                #expect(offer["sdp"]?.stringValue?.contains(family) == true, "\(offer)")
                return Self.audioSDP(port: Self.receiverPort, ip: receiverIP)
            },
            senderOutput: { port in
                let host = senderIP.contains(":") ? "[\(senderIP)]" : senderIP
                return ["-f", "rtp", "rtp://\(host):\(port)?localrtpport=\(Self.senderPort)"]
            })
        #expect(result.referenceAudio.count == calls.seconds * 8000 * 2)
        #expect(result.receivedAudio == result.referenceAudio, "receiver log: \(result.receiverLog.suffix(1500))")
        let sent = result.query["tags"]?["sender"]?["medias"]?.listValue?.first?["streams"]?.listValue?.first
        #expect(sent?["drops"] == .dictionary([:]))
        #expect(sent?["endpoint"]?["address"]?.stringValue == senderIP, "\(String(describing: sent))")
    }
}

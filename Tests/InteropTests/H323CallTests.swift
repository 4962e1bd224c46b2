import Bencode
import Foundation
import H323
import SpillwayTestSupport
import Testing

/// H.323 calls routed through a Spillway node between two independent endpoints (pycrate's
/// H.225.0/H.245 codecs), with ffmpeg sending and decoding the media on each side, and tshark
/// looking at the wire.
@Suite(.serialized) struct H323CallTests {
    @Test(arguments: H323RelayCall.Mode.allCases)
    func aCallCarriesG711BothWaysThroughTheNodeAndNowhereElse(mode: H323RelayCall.Mode) async throws {
        let result = try await H323RelayCall(mode: mode).run("g711-\(mode.rawValue)")
        for party in ["caller", "callee"] {
            let share = H323RelayCall.matchingShare(result.receivedAudio[party] ?? Data(), result.referenceAudio[party] ?? Data())
            #expect(share >= 0.99, "the \(party) decoded \(Int(share * 100))% of the other side's audio")
        }
        try await Self.expectMediaOnlyThroughTheNode(result, sessions: 1)
        // The node ended the call on the caller's ReleaseComplete and freed its media.
        #expect(Self.received(result.calleeEvents, "releaseComplete") != nil, "the callee got no ReleaseComplete")
        #expect(result.portPairsInUseAfter == 0 && result.callsAfter == 0, "after the call: \(String(describing: result.portPairsInUseAfter)) port pairs, \(String(describing: result.callsAfter)) calls")
        #expect(result.h323Counters?.callsEnded["release-complete"] == 1)
    }

    @Test func aCallWithAudioAndH264VideoCarriesEveryFrameBothWays() async throws {
        let result = try await H323RelayCall(mode: .fastStart, video: true).run("av")
        for party in ["caller", "callee"] {
            let share = H323RelayCall.matchingShare(result.receivedAudio[party] ?? Data(), result.referenceAudio[party] ?? Data())
            #expect(share >= 0.99, "the \(party) decoded \(Int(share * 100))% of the other side's audio")
            let frames = result.receivedFrames[party] ?? []
            let reference = result.referenceFrames[party] ?? []
            #expect(!reference.isEmpty && frames == reference, "the \(party) decoded \(frames.count) of \(reference.count) video frames")
        }
        try await Self.expectMediaOnlyThroughTheNode(result, sessions: 2)
        let medias = result.query["tags"]?["caller"]?["medias"]?.listValue
        #expect(medias?.count == 2 && medias?[1]["type"]?.stringValue == "video", "query: \(result.query)")
    }

    /// RTP flows endpoint -> node -> endpoint both ways, and none goes from one endpoint to the
    /// other. (Each endpoint's ffmpeg processes also talk to its RTP socket on its own address.)
    static func expectMediaOnlyThroughTheNode(_ result: H323RelayCall.Result, sessions: Int) async throws {
        let packets = try await tsharkFields(
            result.capture, filter: "rtp", fields: ["ip.src", "ip.dst", "udp.srcport", "udp.dstport"],
            arguments: ["--enable-heuristic", "rtp_udp"])
        let node = H323RelayCall.nodeIP
        let endpoints = [H323RelayCall.caller.ip, H323RelayCall.callee.ip]
        let direct = packets.filter { endpoints.contains($0[0]) && endpoints.contains($0[1]) && $0[0] != $0[1] }
        #expect(direct.count == 0, "\(direct.count) RTP packets went around the node, e.g. \(direct.prefix(3))")
        for (from, to) in [(endpoints[0], endpoints[1]), (endpoints[1], endpoints[0])] {
            let toNode = packets.count { $0[0] == from && $0[1] == node }
            let fromNode = packets.count { $0[0] == node && $0[1] == to }
            // 50 G.711 packets a second for at least 2 s (and the video), each forwarded.
            #expect(toNode >= 100 * sessions && fromNode >= 100 * sessions, "\(from) -> node: \(toNode) RTP packets; node -> \(to): \(fromNode)")
        }
    }

    /// The endpoint's event for a received message of `type`, if any.
    static func received(_ events: [[String: Any]], _ type: String) -> [String: Any]? {
        events.first { $0["event"] as? String == "received" && $0["type"] as? String == type }
    }
}

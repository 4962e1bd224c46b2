import Bencode
import Cluster
import Foundation
import H323
import H323Edge
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
            let share = H323RelayCall.matchingShare(
                result.receivedAudio[party] ?? Data(), result.referenceAudio[party] ?? Data())
            #expect(share >= 0.99, "the \(party) decoded \(Int(share * 100))% of the other side's audio")
        }
        try await Self.expectMediaOnlyThroughTheNode(result, sessions: 1)
        try await Self.expectTsharkDecodesEveryMessageOfTheNode(result, mode: mode)
        // The node ended the call on the caller's ReleaseComplete (cause 16) and freed its media.
        #expect(
            Self.received(result.calleeEvents, "releaseComplete")?["cause"] as? Int == 16,
            "the callee got no ReleaseComplete")
        #expect(
            result.portPairsInUseAfter == 0 && result.callsAfter == 0,
            "after the call: \(String(describing: result.portPairsInUseAfter)) port pairs, \(String(describing: result.callsAfter)) calls"
        )
        #expect(result.h323Counters?.callsEnded["release-complete"] == 1)
        // Like an NG call: counted in the node's workload and statistics, and recorded on request.
        let statistics = result.statisticsDuringCall["spillway"]
        #expect(
            statistics?["sessions"] == 1 && statistics?["h323"]?["calls"] == 1
                && statistics?["h323"]?["calls-routed"] == 1, "\(String(describing: statistics))")
        #expect(result.recordedDatagrams >= 200, "the recording holds \(result.recordedDatagrams) datagrams")
    }

    /// A call to a drained node of a three-node cluster lands on another node, by either reply
    /// mode, and its media runs through that node only.
    @Test(
        arguments: SteeringMode.allCases.flatMap { policy in
            H323ReplyMode.allCases.map { H323RelayCall.Spill(policy: policy, reply: $0) }
        })
    func aCallToAFullNodeSpillsAndItsMediaRunsThroughTheNodeThatTookIt(spill: H323RelayCall.Spill) async throws {
        var call = H323RelayCall(mode: .fastStart, seconds: 2)
        call.spill = spill
        let result = try await call.run("spill-\(spill.policy.rawValue)-\(spill.reply.rawValue)")
        #expect(H323RelayCall.spillIPs.contains(result.anchorIP), "the call stayed on \(result.anchorIP)")
        if spill.policy == .sequence {
            #expect(result.anchorIP == H323RelayCall.spillIPs[0], "sequence: the next node in the order")
        }
        for party in ["caller", "callee"] {
            let share = H323RelayCall.matchingShare(
                result.receivedAudio[party] ?? Data(), result.referenceAudio[party] ?? Data())
            #expect(share >= 0.99, "the \(party) decoded \(Int(share * 100))% of the other side's audio")
        }
        try await Self.expectMediaOnlyThroughTheNode(result, sessions: 1)
        // The callee's signalling comes from the node that took the call.
        let accepted = result.calleeEvents.first { $0["event"] as? String == "accepted" }?["peer"] as? String
        #expect(
            accepted?.hasPrefix(result.anchorIP + ":") == true,
            "the callee was called from \(String(describing: accepted))")
        #expect(
            result.dialledNodeCounters?.spills == [spill.reply.rawValue: 1]
                && result.dialledNodeCounters?.callsRouted == 0)
        let setups = result.callerEvents.filter { $0["event"] as? String == "sent" && $0["type"] as? String == "setup" }
            .compactMap { $0["to"] as? String }
        switch spill.reply {
        case .reverse:
            // One Setup, to the dialled node, which forwarded it and relayed the call's signalling.
            #expect(setups == [result.nodeCallSignalAddress], "\(setups)")
            #expect(
                Self.received(result.calleeEvents, "releaseComplete")?["cause"] as? Int == 16,
                "the caller's ReleaseComplete came through")
        case .direct:
            // Told by Facility callForwarded, the caller sent its Setup again to the node named.
            let forwarded = result.callerEvents.first { $0["event"] as? String == "forwarded" }?["to"] as? String
            #expect(
                forwarded?.hasPrefix(result.anchorIP + ":") == true
                    && setups == [result.nodeCallSignalAddress, forwarded ?? ""], "\(setups)")
        }
    }

    @Test func aCallWithAudioAndH264VideoCarriesEveryFrameBothWays() async throws {
        let result = try await H323RelayCall(mode: .fastStart, video: true).run("av")
        for party in ["caller", "callee"] {
            let share = H323RelayCall.matchingShare(
                result.receivedAudio[party] ?? Data(), result.referenceAudio[party] ?? Data())
            #expect(share >= 0.99, "the \(party) decoded \(Int(share * 100))% of the other side's audio")
            let frames = result.receivedFrames[party] ?? []
            let reference = result.referenceFrames[party] ?? []
            #expect(
                !reference.isEmpty && frames == reference,
                "the \(party) decoded \(frames.count) of \(reference.count) video frames")
        }
        try await Self.expectMediaOnlyThroughTheNode(result, sessions: 2)
        // query names each stream's codec from its H.245 data type, per sending party.
        for tag in ["caller", "callee"] {
            let medias = result.query["tags"]?[tag]?["medias"]?.listValue
            #expect(medias?.count == 2 && medias?[1]["type"]?.stringValue == "video", "query: \(result.query)")
            #expect(
                medias?[0]["codec"]?.stringValue == "G.711 mu-law" && medias?[1]["codec"]?.stringValue == "H.264",
                "\(tag): \(String(describing: medias))")
        }
    }

    @Test func aRegisteredCallerIsAdmittedToTheNodeAndReachesARegisteredCalleeByAlias() async throws {
        let result = try await H323RelayCall(mode: .fastStart, seconds: nil, registered: true).run("registered")
        guard case .admissionConfirm(let confirm)? = result.admission else {
            Issue.record("no ACF: \(String(describing: result.admission))")
            return
        }
        #expect(confirm.callModel == .gatekeeperRouted)
        #expect(confirm.destCallSignalAddress.description == result.nodeCallSignalAddress)
        let setup = try #require(Self.received(result.calleeEvents, "setup"), "the callee got no Setup")
        #expect(setup["destination"] as? [String] == ["5551234"] && setup["callIdentifier"] as? String == result.callID)
        #expect(Self.received(result.callerEvents, "connect") != nil, "the caller got no Connect")
        #expect(result.h323Counters?.callsRouted == 1)
    }

    @Test(arguments: [H323RelayCall.Ending.connectionDrop, .mediaTimeout, .ngDelete])
    func aCallEndedAnyOtherWayReleasesTheSidesStillConnectedAndFreesItsPorts(ending: H323RelayCall.Ending) async throws
    {
        var call = H323RelayCall(mode: .fastStart, seconds: nil, ending: ending)
        if ending == .mediaTimeout { call.mediaTimeout = 2 }
        let result = try await call.run("end-\(ending.rawValue)")
        // Q.931 causes: 41 temporary failure, 102 recovery on timer expiry, 16 normal call clearing.
        let (released, cause, how): ([String], Int, String) =
            switch ending {
            case .connectionDrop: (["callee"], 41, "connection-dropped")
            case .mediaTimeout: (["caller", "callee"], 102, "media-timeout")
            default: (["caller", "callee"], 16, "deleted")
            }
        for party in released {
            let events = party == "caller" ? result.callerEvents : result.calleeEvents
            let release = Self.received(events, "releaseComplete")
            #expect(release?["cause"] as? Int == cause, "the \(party) got \(String(describing: release))")
            #expect(release?["callIdentifier"] as? String == result.callID)
        }
        #expect(result.h323Counters?.callsEnded == [how: 1])
        #expect(
            result.portPairsInUseAfter == 0 && result.callsAfter == 0,
            "after the call: \(String(describing: result.portPairsInUseAfter)) port pairs, \(String(describing: result.callsAfter)) calls"
        )
    }

    /// RTP flows endpoint -> node -> endpoint both ways through the node that anchored the call,
    /// none goes from one endpoint to the other, and none touches another node of a cluster.
    /// (Each endpoint's ffmpeg processes also talk to its RTP socket on its own address.)
    static func expectMediaOnlyThroughTheNode(_ result: H323RelayCall.Result, sessions: Int) async throws {
        let packets = try await tsharkFields(
            result.capture, filter: "rtp", fields: ["ip.src", "ip.dst", "udp.srcport", "udp.dstport"],
            arguments: ["--enable-heuristic", "rtp_udp"])
        let node = result.anchorIP
        let endpoints = [H323RelayCall.caller.ip, H323RelayCall.callee.ip]
        let direct = packets.filter { endpoints.contains($0[0]) && endpoints.contains($0[1]) && $0[0] != $0[1] }
        #expect(direct.count == 0, "\(direct.count) RTP packets went around the node, e.g. \(direct.prefix(3))")
        let otherNodes = ([H323RelayCall.nodeIP] + H323RelayCall.spillIPs).filter { $0 != node }
        let elsewhere = packets.filter { otherNodes.contains($0[0]) || otherNodes.contains($0[1]) }
        #expect(
            elsewhere.isEmpty,
            "\(elsewhere.count) RTP packets touched a node that did not anchor the call, e.g. \(elsewhere.prefix(3))")
        for (from, to) in [(endpoints[0], endpoints[1]), (endpoints[1], endpoints[0])] {
            let toNode = packets.count { $0[0] == from && $0[1] == node }
            let fromNode = packets.count { $0[0] == node && $0[1] == to }
            // 50 G.711 packets a second for at least 2 s (and the video), each forwarded.
            #expect(
                toNode >= 100 * sessions && fromNode >= 100 * sessions,
                "\(from) -> node: \(toNode) RTP packets; node -> \(to): \(fromNode)")
        }
    }

    /// tshark's H.225.0 and H.245 dissectors decode every message the node sent without error,
    /// with the call's identifier and destination kept and every media and H.245 address the
    /// node's own.
    static func expectTsharkDecodesEveryMessageOfTheNode(_ result: H323RelayCall.Result, mode: H323RelayCall.Mode)
        async throws
    {
        let rows = try await tsharkFields(
            result.capture, filter: "(h225 || h245) && ip.src == \(H323RelayCall.nodeIP)",
            fields: [
                "h225.h323_message_body", "h225.guid", "h225.dialledDigits", "h245.ip4_network", "h245.tsapIdentifier",
                "h225.h245Ip",
                "h225.h245IpPort", "_ws.malformed", "_ws.expert.message",
            ])
        let bodies = Set(rows.map(\.[0]).flatMap { $0.split(separator: ",").map(String.init) })
        // setup, callProceeding, connect, alerting, releaseComplete; tunnelled H.245 rides in facility (body empty, 8).
        var expected: Set<String> = ["0", "1", "2", "3", "5"]
        if mode == .tunnelled { expected.insert("8") }
        #expect(expected.isSubset(of: bodies), "message bodies the node sent: \(bodies.sorted())")
        for row in rows {
            #expect(
                row[7].isEmpty && !row[8].localizedCaseInsensitiveContains("malformed")
                    && !row[8].localizedCaseInsensitiveContains("error"), "tshark: \(row[8])")
            if !row[1].isEmpty { #expect(row[1].replacingOccurrences(of: "-", with: "") == result.callID) }
            for network in row[3].split(separator: ",") {
                #expect(network == H323RelayCall.nodeIP, "an H.245 media address the node sent: \(row[3])")
            }
            for port in row[4].split(separator: ",").compactMap({ UInt16($0) }) {
                #expect(H323RelayCall.mediaPorts.contains(port))
            }
            for ip in row[5].split(separator: ",") {
                #expect(ip == H323RelayCall.nodeIP, "an h245Address the node sent: \(row[5]):\(row[6])")
            }
        }
        let setup = try #require(rows.first { $0[0] == "0" }, "tshark saw no Setup from the node")
        #expect(setup[2].split(separator: ",").contains("5551234"))
        #expect(rows.contains { !$0[3].isEmpty }, "tshark saw no media address in the node's messages")
        if mode == .separate { #expect(rows.contains { !$0[5].isEmpty }, "tshark saw no h245Address from the node") }
    }

    /// The endpoint's event for a received message of `type`, if any.
    static func received(_ events: [[String: Any]], _ type: String) -> [String: Any]? {
        events.first { $0["event"] as? String == "received" && $0["type"] as? String == type }
    }
}

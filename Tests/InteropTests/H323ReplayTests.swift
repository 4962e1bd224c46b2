import Capture
import Cluster
import Foundation
import H323
import H323Edge
import MediaPlane
import SpillwayClient
import SpillwayTestFixtures
import SpillwayTestSupport
import Testing

/// The bundled H.323 captures (a fastStart G.711 call, a call with a separate H.245 connection
/// carrying G.711 and H.264, and a call tunnelling H.245): their calls paired by their signalling,
/// and replayed through nodes' H.323 call-signalling path by a Setup/Connect exchange of the
/// replay's own.
@Suite struct H323ReplayTests {
    static let capture = "\(ReplayTests.capturesDirectory)/h323-calls.pcapng"
    static let tunnelledCapture = "\(ReplayTests.capturesDirectory)/h323-tunnelled.pcapng"

    @Test func theCapturesCallsAreNamedByCallIdentifierWithTheirChannelsReadFromTheirSignalling() throws {
        let analysis = FlowAnalysis(try CaptureFile(path: Self.capture))
        // fastStart call: Setup, CallProceeding, Alerting, Connect, ReleaseComplete; the other:
        // Setup, CallProceeding, Connect, ReleaseComplete, and 10 H.245 messages on their own connection.
        #expect(analysis.h323Messages == 19)
        let streams = analysis.calls.map { call in
            "\(call.name) \(call.encoding?.name ?? "?")/\(call.encoding?.clockRate ?? 0) session \(call.h323Channel?.sessionID ?? -1) "
                + "\(call.forward.packets.count)+\(call.backward?.packets.count ?? 0) rtcp \(call.rtcpFlows.map(\.packets.count))"
        }
        #expect(
            streams == [
                "h323-5a11e55e0000400080000000000000a1 PCMU/8000 session 1 100+100 rtcp [2, 2]",
                "h323-5a11e55e0000400080000000000000b2 PCMU/8000 session 1 100+100 rtcp [2, 2]",
                "h323-5a11e55e0000400080000000000000b2 H264/90000 session 2 100+100 rtcp []",
            ], "\(streams)")
        #expect(analysis.calls.allSatisfy { $0.h323Channel?.backward != nil })

        // Setup, CallProceeding, Alerting, Connect, three Facility messages tunnelling 6 H.245 messages,
        // and ReleaseComplete.
        let tunnelled = FlowAnalysis(try CaptureFile(path: Self.tunnelledCapture))
        #expect(tunnelled.h323Messages == 14)
        #expect(tunnelled.calls.map(\.name) == ["h323-5a11e55e0000400080000000000000c3"])
        #expect(tunnelled.calls.first?.encoding?.name == "PCMU" && tunnelled.calls.first?.h323Channel?.sessionID == 1)
        #expect(tunnelled.calls.first?.h323Channel?.backward != nil)
    }

    /// The fastStart channels, Setup and Connect the replay builds, decoded by pycrate.
    @Test func pycrateDecodesTheReplaysOwnSetupConnectAndChannels() async throws {
        let calls = FlowAnalysis(try CaptureFile(path: Self.capture)).calls
        let audio = try #require(calls.first?.h323Channel)
        let video = try #require(calls.last?.h323Channel)
        let own = MediaAddress(ip: [127, 0, 0, 1], port: 5000)
        let channels = [
            try OpenLogicalChannel.fastStart(
                number: 101, .transmitting, dataType: audio.forward, sessionID: 1, rtp: nil, rtcp: own),
            try OpenLogicalChannel.fastStart(
                number: 2, .receiving, dataType: try #require(video.backward), sessionID: 2, rtp: own, rtcp: own,
                dynamicPayloadType: 109),
        ]
        let decoded = try await pycrateDecode("OpenLogicalChannel", channels)
        let forward = decoded[0]["forwardLogicalChannelParameters"] as? [String: Any]
        #expect(decoded[0]["forwardLogicalChannelNumber"] as? Int == 101)
        #expect("\(forward?["dataType"] ?? "")".contains("g711Ulaw64k"), "\(decoded[0])")
        let forwardMedia =
            (forward?["multiplexParameters"] as? [String: Any])?["h2250LogicalChannelParameters"] as? [String: Any]
        #expect(forwardMedia?["sessionID"] as? Int == 1 && forwardMedia?["mediaChannel"] == nil)
        #expect("\(forwardMedia?["mediaControlChannel"] ?? "")".contains("7f000001"), "\(decoded[0])")
        let reverse = decoded[1]["reverseLogicalChannelParameters"] as? [String: Any]
        #expect("\(reverse?["dataType"] ?? "")".contains("genericVideoCapability"), "\(decoded[1])")
        let reverseMedia =
            (reverse?["multiplexParameters"] as? [String: Any])?["h2250LogicalChannelParameters"] as? [String: Any]
        #expect(reverseMedia?["sessionID"] as? Int == 2 && reverseMedia?["dynamicRTPPayloadType"] as? Int == 109)
        #expect("\(reverseMedia?["mediaChannel"] ?? "")".contains("5000"), "\(decoded[1])")
        #expect(
            "\((decoded[1]["forwardLogicalChannelParameters"] as? [String: Any])?["dataType"] ?? "")".contains(
                "nullData"))

        let identifier = CallIdentifier(guid: Array(0..<16))
        let setup = H323UserInformation.setup(
            callIdentifier: identifier, conferenceID: Array(16..<32), aliases: [],
            destination: TransportAddress(ipv4: "127.0.0.1", port: 1720), fastStart: channels)
        let connect = H323UserInformation.connect(
            callIdentifier: identifier, conferenceID: Array(16..<32), fastStart: channels)
        let messages = try await pycrateDecode("H323-UserInformation", [setup, connect])
        let bodies = messages.map {
            (($0["h323-uu-pdu"] as? [String: Any])?["h323-message-body"] as? [String: Any]) ?? [:]
        }
        let setupBody = try #require(bodies[0]["setup"] as? [String: Any], "\(messages[0])")
        #expect(
            (setupBody["callIdentifier"] as? [String: Any])?["guid"] as? String == "000102030405060708090a0b0c0d0e0f")
        #expect("\(setupBody["destCallSignalAddress"] ?? "")".contains("7f000001"), "\(setupBody)")
        #expect(setupBody["fastStart"] as? [String] == channels.map { $0.map { String(format: "%02x", $0) }.joined() })
        #expect(setupBody["mediaWaitForConnect"] as? Bool == false && setupBody["multipleCalls"] as? Bool == false)
        let connectBody = try #require(bodies[1]["connect"] as? [String: Any], "\(messages[1])")
        #expect(
            (connectBody["callIdentifier"] as? [String: Any])?["guid"] as? String == "000102030405060708090a0b0c0d0e0f")
        #expect(
            (connectBody["fastStart"] as? [String])?.count == 2 && connectBody["maintainConnection"] as? Bool == false)
    }

    /// Each captured call of both captures set up through the H.323 port of one node, or of the
    /// first of three whose sequence takes two calls per node (forwarding the Setup, or telling the
    /// caller with a Facility): every RTP packet of every SSRC, and the RTCP, arrive intact as often
    /// as tshark counts them in the captures.
    @Test(arguments: [(1, H323ReplyMode.reverse), (3, .reverse), (3, .direct)])
    func theCapturesReplayThroughTheH323PathAsTSharkCountsThem(nodes: Int, reply: H323ReplyMode) async throws {
        var rtp: [UInt32: Int] = [:]
        var rtcp = 0
        for capture in [Self.capture, Self.tunnelledCapture] {
            for ssrc in try await ReplayTests.tsharkSSRCs(capture, "rtp") { rtp[ssrc, default: 0] += 1 }
            rtcp += try await ReplayTests.tsharkSSRCs(capture, "rtcp").count
        }
        #expect(rtp.count == 8 && rtp.values.allSatisfy { $0 == 100 } && rtcp == 12, "\(rtp) \(rtcp)")
        let cluster = try await TestCluster.start(
            count: nodes, policy: .sequence, maxSessions: nodes == 1 ? 3 : 2,
            configure: { node, configuration in
                configuration.callSignalAddress = "\(TestCluster.ip(node)):0"
                configuration.h323Reply = reply
            })
        for node in 0..<nodes {
            try cluster.waitForPeers(of: node, cluster.ids.filter { $0 != cluster.ids[node] }, state: "up")
        }
        var options = ReplayOptions()
        options.speed = 4
        options.copies = nodes == 1 ? 1 : 2
        let calls = try [Self.capture, Self.tunnelledCapture].flatMap { FlowAnalysis(try CaptureFile(path: $0)).calls }
        let signalAddress = try #require(cluster.nodes[0]?.callSignalAddress)
        let node = try #require(SocketAddress(hostAndPort: signalAddress))
        let report = try CaptureReplayer(calls: calls, viaH323: node, options: options).run()
        #expect(report.placements.count == 3 * options.copies)
        for copy in Set(report.flows.map { $0.callID.split(separator: "#").last.map(String.init) ?? "" }) {
            let flows = report.flows.filter { options.copies == 1 || $0.callID.hasSuffix("#\(copy)") }
            let sent = Dictionary(flows.filter { !$0.isRTCP }.map { ($0.ssrc, $0.packetsSent) }, uniquingKeysWith: +)
            let received = Dictionary(
                flows.filter { !$0.isRTCP }.map { ($0.ssrc, $0.packetsReceived) }, uniquingKeysWith: +)
            #expect(sent == rtp && received == rtp, "copy \(copy): \(flows)")
            #expect(flows.filter(\.isRTCP).map(\.packetsReceived).reduce(0, +) == rtcp, "\(flows)")
        }
        #expect(report.lost == 0 && report.corrupted == 0 && report.flows.allSatisfy { $0.duplicated == 0 })
        // Every video frame arrives: 50 each way in each copy.
        #expect(report.flows.filter { $0.payloadType == 109 }.allSatisfy { $0.framesDelivered == 50 })
        if nodes == 3 {
            // Two calls fit on each node in turn, and each call's media went to the node that took it.
            let byNode = Dictionary(grouping: report.placements, by: \.relayAddress).mapValues(\.count)
            #expect(byNode == [TestCluster.ip(0): 2, TestCluster.ip(1): 2, TestCluster.ip(2): 2], "\(byNode)")
            // A Facility sent the caller on (direct); a forwarded Setup is not the caller's to see (reverse).
            let spilled = report.placements.filter { $0.relayAddress != TestCluster.ip(0) }.map(\.hops)
            #expect(spilled.allSatisfy { reply == .direct ? $0 >= 1 : $0 == 0 }, "\(spilled)")
        }
        await cluster.stop()
    }

    @Test func aCaptureWithoutH323SignallingIsRefusedNamingTheCallAndTheWayOut() async throws {
        let node = try await TestCluster.start(
            count: 1, policy: .sequence, maxSessions: 2,
            configure: { _, configuration in configuration.callSignalAddress = "\(TestCluster.ip(0)):0" })
        let calls = FlowAnalysis(try CaptureFile(path: "\(ReplayTests.capturesDirectory)/sip-call.pcapng")).calls
        let signalAddress = try #require(node.nodes[0]?.callSignalAddress)
        let address = try #require(SocketAddress(hostAndPort: signalAddress))
        #expect(
            throws: ReplayError.self,
            performing: { _ = try CaptureReplayer(calls: calls, viaH323: address, options: ReplayOptions()).run() })
        do {
            _ = try CaptureReplayer(calls: calls, viaH323: address, options: ReplayOptions()).run()
        } catch {
            #expect("\(error)".contains("call sample-call-1@10.0.1.10 cannot be replayed over H.323"), "\(error)")
            #expect("\(error)".contains("replay it over NG with --via"), "\(error)")
        }
        await node.stop()
    }
}

/// Call signalling whose TCP segments came out of order, retransmitted or missing, as captures of
/// real networks hold it: read in sequence order, once, and not past a gap.
@Suite struct H323CaptureReassemblyTests {
    /// A Setup with pycrate's UUIE (fastStart: the caller receives G.711 mu-law at 127.0.0.21:5000) in three
    /// segments, and three RTP packets each way between 127.0.0.21:5000 and 127.0.0.22:6000.
    private func capture(segmentOrder: [Int]) throws -> FlowAnalysis {
        var setup = Q931Message(type: .setup, callReference: 7, fromDestination: false)
        setup.setUserInformation(PycrateMessages.setup)
        let frame = try #require(TPKT.frame(setup.encoded))
        let third = frame.count / 3
        let pieces = [0..<third, third..<2 * third, 2 * third..<frame.count].map { Array(frame[$0]) }
        let caller: ([UInt8], UInt16) = ([127, 0, 0, 21], 40_000)
        let node: ([UInt8], UInt16) = ([127, 0, 0, 22], 1720)
        var frames: [[UInt8]] = [Self.tcp(from: caller, to: node, sequence: 999, syn: true, payload: [])]
        for index in segmentOrder {
            frames.append(
                Self.tcp(
                    from: caller, to: node, sequence: 1000 + UInt32(index * third), syn: false, payload: pieces[index]))
        }
        for sequence in 0..<3 {
            let payload = ScriptedCall.rtp(
                sequence: sequence, timestamp: UInt32(sequence * 160), ssrc: 7, payload: [1, 2])
            frames.append(Self.udp(from: ([127, 0, 0, 21], 5000), to: ([127, 0, 0, 22], 6000), payload: payload))
            frames.append(Self.udp(from: ([127, 0, 0, 22], 6000), to: ([127, 0, 0, 21], 5000), payload: payload))
        }
        let path = "\(try scratchDirectory("h323-reassembly"))/\(segmentOrder.map(String.init).joined()).pcap"
        var file: [UInt8] =
            [0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0] + Array(repeating: 0, count: 8) + [0xFF, 0xFF, 0, 0, 1, 0, 0, 0]
        for (index, frame) in frames.enumerated() {
            for field in [UInt32(1_700_000_000), UInt32(index * 20_000), UInt32(frame.count), UInt32(frame.count)] {
                file += withUnsafeBytes(of: field.littleEndian, Array.init)
            }
            file += frame
        }
        try Data(file).write(to: URL(fileURLWithPath: path))
        return FlowAnalysis(try CaptureFile(path: path))
    }

    private static func ipv4(_ source: [UInt8], _ destination: [UInt8], protocol number: UInt8, _ segment: [UInt8])
        -> [UInt8]
    {
        let length = UInt16(20 + segment.count)
        let ethernet: [UInt8] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]
        return ethernet + [0x45, 0, UInt8(length >> 8), UInt8(length & 0xFF), 0, 0, 0x40, 0, 64, number, 0, 0]
            + source + destination + segment
    }

    private static func tcp(
        from source: ([UInt8], UInt16), to destination: ([UInt8], UInt16), sequence: UInt32, syn: Bool, payload: [UInt8]
    ) -> [UInt8] {
        var header =
            withUnsafeBytes(of: source.1.bigEndian, Array.init)
            + withUnsafeBytes(of: destination.1.bigEndian, Array.init)
        header +=
            withUnsafeBytes(of: sequence.bigEndian, Array.init) + [
                0, 0, 0, 0, 0x50, syn ? 0x02 : 0x18, 0xFF, 0xFF, 0, 0, 0, 0,
            ]
        return ipv4(source.0, destination.0, protocol: 6, header + payload)
    }

    private static func udp(from source: ([UInt8], UInt16), to destination: ([UInt8], UInt16), payload: [UInt8])
        -> [UInt8]
    {
        let length = UInt16(8 + payload.count)
        return ipv4(
            source.0, destination.0, protocol: 17,
            withUnsafeBytes(of: source.1.bigEndian, Array.init)
                + withUnsafeBytes(of: destination.1.bigEndian, Array.init)
                + [UInt8(length >> 8), UInt8(length & 0xFF), 0, 0] + payload)
    }

    @Test(arguments: [[0, 1, 2], [2, 0, 1], [1, 0, 0, 2, 1]])
    func segmentsOutOfOrderOrRetransmittedAreReadInSequenceOrder(_ order: [Int]) throws {
        let analysis = try capture(segmentOrder: order)
        #expect(analysis.h323Messages == 1)
        #expect(analysis.calls.map(\.name) == ["h323-101112131415161718191a1b1c1d1e1f"])
        #expect(analysis.calls.first?.encoding?.name == "PCMU" && analysis.calls.first?.h323Channel?.sessionID == 1)
    }

    @Test func aMissingSegmentLeavesTheSignallingUnreadAndTheFlowsPairedByAddress() throws {
        let analysis = try capture(segmentOrder: [0, 2])
        #expect(analysis.h323Messages == 0)
        #expect(analysis.calls.map(\.name) == ["127.0.0.21:5000-127.0.0.22:6000"])
        #expect(analysis.calls.first?.h323Channel == nil)
    }
}

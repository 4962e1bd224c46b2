import Capture
import Cluster
import Foundation
import MediaPlane
import SpillwayClient
import SpillwayTestSupport
import Testing

/// The bundled captures replayed through a node and through a three-node cluster: every RTP and
/// RTCP packet tshark finds in a capture is sent, and every one arrives intact.
@Suite struct ReplayTests {
    static let capturesDirectory = packageDirectory.appendingPathComponent("captures").path
    static let captures = [
        "g711-tone.pcap", "sip-call.pcapng", "opus.pcap", "h264.pcap", "srtp-pcmu.pcap", "sip-events-rtcp.pcapng",
        "h323-calls.pcapng", "h323-tunnelled.pcapng",
    ]

    /// RTP and RTCP packets in a capture by tshark's count (heuristic detection for captures without SIP).
    static func tsharkRTPCount(_ capture: String) async throws -> Int {
        try await tsharkSSRCs(capture, "rtp").count + tsharkSSRCs(capture, "rtcp").count
    }

    /// The SSRC of every RTP packet, or the sender SSRC of every RTCP packet, as tshark decodes them.
    static func tsharkSSRCs(_ capture: String, _ protocolName: String) async throws -> [UInt32] {
        try await tsharkFields(
            capture, filter: protocolName, fields: [protocolName == "rtp" ? "rtp.ssrc" : "rtcp.senderssrc"],
            arguments: ["-o", "rtp.heuristic_rtp:TRUE", "-o", "rtcp.heuristic_rtcp:TRUE"]
        ).compactMap { $0.first.flatMap { UInt32($0.dropFirst(2), radix: 16) } }
    }

    @Test(arguments: captures)
    func aBundledCaptureReplaysThroughOneNodeWithNothingLost(_ name: String) async throws {
        let path = "\(Self.capturesDirectory)/\(name)"
        let expected = try await Self.tsharkRTPCount(path)
        #expect(expected > 0)
        let node = try await TestCluster.start(count: 1, policy: .delegate, maxSessions: 10)
        var options = ReplayOptions()
        options.speed = 4
        // Both sides offered as SRTP: the relay passes the captured SRTP through as it is.
        if name.hasPrefix("srtp") { options.defaultProfile = "RTP/SAVP" }
        let calls = FlowAnalysis(try CaptureFile(path: path)).calls
        let report = try CaptureReplayer(calls: calls, via: node.clients[0], options: options).run()
        #expect(report.packetsSent == expected)
        #expect(report.packetsReceived == expected)
        #expect(report.lost == 0 && report.corrupted == 0)
        #expect(report.flows.allSatisfy { $0.duplicated == 0 && $0.latencyMicros.p50 > 0 })
        // Every video frame (marker bit) of the H.264 capture arrives: 2 s at 25 frames/s.
        if name == "h264.pcap" {
            let video = report.flows.filter { !$0.isRTCP }
            #expect(video.map(\.framesDelivered) == [50] && video.map(\.framesSent) == [50])
        }
        await node.stop()
    }

    @Test(arguments: captures)
    func aBundledCaptureReplaysThroughAThreeNodeClusterWithNothingLost(_ name: String) async throws {
        let path = "\(Self.capturesDirectory)/\(name)"
        let expected = try await Self.tsharkRTPCount(path)
        let cluster = try await TestCluster.start(policy: .sequence, maxSessions: 2)
        let calls = FlowAnalysis(try CaptureFile(path: path)).calls
        // Four calls in all: four copies of a one-call capture, two of the H.323 capture's two calls
        // (one of them with audio and video, set up as one NG call with two m= lines).
        var options = ReplayOptions()
        options.speed = 4
        options.copies = 4 / Set(calls.map(\.name)).count
        let report = try CaptureReplayer(calls: calls, via: cluster.clients[0], options: options).run()
        #expect(report.packetsSent == expected * options.copies)
        #expect(report.packetsReceived == expected * options.copies)
        #expect(report.lost == 0 && report.corrupted == 0)
        // Two calls fit on the first node; the others spilled, and their media went to the owner.
        let byNode = Dictionary(grouping: report.placements, by: { $0.node ?? "?" }).mapValues(\.count)
        #expect(byNode == ["n1": 2, "n2": 2])
        #expect(
            report.placements.allSatisfy { $0.relayAddress == TestCluster.ip(cluster.ids.firstIndex(of: $0.node!)!) })
        #expect(report.placements.filter { $0.node != "n1" }.allSatisfy { $0.hops == 1 })
        await cluster.stop()
    }

    /// A call whose flows carry telephone-events on a second SSRC, an SSRC change and RTCP on the
    /// ports + 1: each SSRC's packets, and the RTCP, are sent and received as many times as tshark
    /// counts them in the capture, through one node and through a three-node cluster.
    @Test(arguments: [1, 3])
    func everySSRCAndTheRTCPOfACallAreReplayedAsTSharkCountsThem(nodes: Int) async throws {
        let path = "\(Self.capturesDirectory)/sip-events-rtcp.pcapng"
        let rtp = Dictionary(grouping: try await Self.tsharkSSRCs(path, "rtp"), by: { $0 }).mapValues(\.count)
        let rtcp = try await Self.tsharkSSRCs(path, "rtcp")
        #expect(rtp.count == 5 && rtcp.count == 8, "\(rtp) \(rtcp)")
        let cluster = try await TestCluster.start(count: nodes, policy: .sequence, maxSessions: 1)
        var options = ReplayOptions()
        options.speed = 4
        options.copies = nodes
        let calls = FlowAnalysis(try CaptureFile(path: path)).calls
        #expect(calls.count == 1 && calls.first?.additionalFlows.count == 3 && calls.first?.rtcpFlows.count == 2)
        let report = try CaptureReplayer(calls: calls, via: cluster.clients[0], options: options).run()
        for copy in report.placements.map(\.callID) {
            let flows = report.flows.filter { $0.callID == copy }
            let sentBySSRC = Dictionary(
                flows.filter { !$0.isRTCP }.map { ($0.ssrc, $0.packetsSent) }, uniquingKeysWith: +)
            let receivedBySSRC = Dictionary(
                flows.filter { !$0.isRTCP }.map { ($0.ssrc, $0.packetsReceived) }, uniquingKeysWith: +)
            #expect(sentBySSRC == rtp && receivedBySSRC == rtp, "\(copy): \(flows)")
            let rtcpFlows = flows.filter(\.isRTCP)
            // Each direction's RTCP comes from the SSRCs sending RTP that way.
            #expect(
                rtcpFlows.allSatisfy { report in
                    flows.contains { !$0.isRTCP && $0.direction == report.direction && $0.ssrc == report.ssrc }
                }, "\(rtcpFlows)")
            #expect(rtcpFlows.count == 2 && rtcpFlows.map(\.packetsSent).reduce(0, +) == rtcp.count, "\(rtcpFlows)")
            #expect(rtcpFlows.map(\.packetsReceived).reduce(0, +) == rtcp.count, "\(rtcpFlows)")
        }
        #expect(report.lost == 0 && report.corrupted == 0)
        #expect(Set(report.placements.compactMap(\.node)).count == nodes)

        // --rtp-only: each direction's dominant SSRC, as before.
        options.rtpOnly = true
        options.copies = 1
        let dominant = try CaptureReplayer(calls: calls, via: cluster.clients[0], options: options).run()
        #expect(dominant.flows.map(\.packetsSent) == [75, 150] && dominant.lost == 0, "\(dominant.flows)")
        await cluster.stop()
    }

    @Test func theSIPCapturesCallIsNamedAndItsCodecLearntFromTheSDP() throws {
        let analysis = FlowAnalysis(try CaptureFile(path: "\(Self.capturesDirectory)/sip-call.pcapng"))
        #expect(analysis.sipMessages == 6)
        #expect(analysis.calls.count == 1)
        #expect(analysis.calls.first?.name == "sample-call-1@10.0.1.10")
        #expect(analysis.calls.first?.encoding?.name == "PCMA" && analysis.calls.first?.encoding?.clockRate == 8000)
        #expect(analysis.calls.first?.backward?.packets.count == 100)
        #expect(analysis.calls.first?.profile == "RTP/AVP" && analysis.calls.first?.cryptoAttributes == [])
    }

    @Test func emptyTruncatedAndForeignFilesAreRefusedNamingTheFileAndTheProblem() throws {
        let directory = try scratchDirectory("bad-captures")
        let tone = try Data(contentsOf: URL(fileURLWithPath: "\(Self.capturesDirectory)/g711-tone.pcap"))
        let files: [(String, Data?, String)] = [
            ("empty.pcap", Data(), "is empty (0 bytes)"),
            ("notes.txt", Data("not a capture\n".utf8), "not a pcap or pcapng capture"),
            ("truncated.pcap", tone.prefix(24 + 16 + 50), "truncated after 0 whole frames"),
            ("missing.pcap", nil, "no such file"),
        ]
        for (name, contents, problem) in files {
            let path = "\(directory)/\(name)"
            if let contents { try contents.write(to: URL(fileURLWithPath: path)) }
            #expect(throws: CaptureError.self, "\(name)") {
                _ = try CaptureFile(path: path)
            }
            do {
                _ = try CaptureFile(path: path)
            } catch {
                #expect("\(error)".hasPrefix("capture \(path): "), "\(error)")
                #expect("\(error)".contains(problem), "\(name): \(error)")
            }
        }
    }
}

import Capture
import Cluster
import Foundation
import MediaPlane
import SpillwayClient
import SpillwayTestSupport
import Testing

/// The bundled captures replayed through a node and through a three-node cluster: every RTP packet
/// tshark finds in a capture is sent, and every one arrives intact.
@Suite struct ReplayTests {
    static let capturesDirectory = packageDirectory.appendingPathComponent("captures").path
    static let captures = ["g711-tone.pcap", "sip-call.pcapng", "opus.pcap", "h264.pcap", "srtp-pcmu.pcap"]

    /// RTP packets in a capture by tshark's count (heuristic RTP detection for captures without SIP).
    static func tsharkRTPCount(_ capture: String) async throws -> Int {
        try await tsharkFields(
            capture, filter: "rtp", fields: ["rtp.ssrc"], arguments: ["-o", "rtp.heuristic_rtp:TRUE"]
        ).count
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
            #expect(report.flows.map(\.framesDelivered) == [50] && report.flows.map(\.framesSent) == [50])
        }
        await node.stop()
    }

    @Test(arguments: captures)
    func aBundledCaptureReplaysThroughAThreeNodeClusterWithNothingLost(_ name: String) async throws {
        let path = "\(Self.capturesDirectory)/\(name)"
        let expected = try await Self.tsharkRTPCount(path)
        let cluster = try await TestCluster.start(policy: .sequence, maxSessions: 2)
        var options = ReplayOptions()
        options.speed = 4
        options.copies = 4
        let calls = FlowAnalysis(try CaptureFile(path: path)).calls
        let report = try CaptureReplayer(calls: calls, via: cluster.clients[0], options: options).run()
        #expect(report.packetsSent == expected * 4)
        #expect(report.packetsReceived == expected * 4)
        #expect(report.lost == 0 && report.corrupted == 0)
        // Two calls fit on the first node; the others spilled, and their media went to the owner.
        let byNode = Dictionary(grouping: report.placements, by: { $0.node ?? "?" }).mapValues(\.count)
        #expect(byNode == ["n1": 2, "n2": 2])
        #expect(
            report.placements.allSatisfy { $0.relayAddress == TestCluster.ip(cluster.ids.firstIndex(of: $0.node!)!) })
        #expect(report.placements.filter { $0.node != "n1" }.allSatisfy { $0.hops == 1 })
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

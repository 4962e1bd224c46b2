import Bencode
import Cluster
import Foundation
import H323
import H323Edge
import MediaPlane
import SpillwayNode
import SpillwayTestSupport
import Testing

/// RAS requests never loop through a Spillway cluster: a forwarded LRQ carries the nodes it has
/// visited (Spillway's generic data), and a node seeing no peer below its threshold refuses at
/// once. tshark, decoding H.225.0 RAS on its own, counts the LRQs on the wire.
@Suite(.serialized) struct RASVisitedNodesTests {
    /// Three nodes of `maxSessions` at threshold 1.0, answering RAS on ephemeral ports, and a
    /// capture of every datagram to those ports.
    private func capturedCluster(
        policy: SteeringMode, reply: RASReplyMode, maxSessions: Int = 2, drained: Set<Int> = [], label: String
    ) async throws -> (TestCluster, [SocketAddress], LoopbackCapture, String) {
        let cluster = try await TestCluster.start(
            policy: policy, maxSessions: maxSessions,
            configure: { node, configuration in
                configuration.rasAddress = "\(TestCluster.ip(node)):0"
                configuration.callSignalAddress = "\(TestCluster.ip(node)):0"
                configuration.metricsAddress = "\(TestCluster.ip(node)):0"
                configuration.rasReply = reply
                configuration.threshold = drained.contains(node) ? 0 : 1.0
            })
        for node in 0..<3 {
            try cluster.waitForPeers(of: node, cluster.ids.filter { $0 != cluster.ids[node] }, state: "up")
        }
        let ras = cluster.nodes.map { SocketAddress(hostAndPort: $0!.rasAddress!)! }
        let directory = try scratchDirectory(label)
        let capture = try await LoopbackCapture.start(
            filter: "udp and (" + ras.map { "dst port \($0.port)" }.joined(separator: " or ") + ")", file: "ras.pcap",
            in: directory)
        return (cluster, ras, capture, directory)
    }

    /// tshark's reading of the LRQs captured: destination port, then the generic data's raw octets.
    private func locationRequests(in directory: String, ras: [SocketAddress]) async throws -> [(
        port: UInt16, raw: String
    )] {
        try await tsharkFields(
            "\(directory)/ras.pcap", filter: "h225.RasMessage == 18", fields: ["udp.dstport", "h225.raw"],
            arguments: ras.flatMap { ["-d", "udp.port==\($0.port),h225"] }
        ).map { (UInt16($0[0]) ?? 0, $0.count > 1 ? $0[1] : "") }
    }

    private func lrq(_ client: RASTestClient, _ sequenceNumber: UInt16, visited: [String] = []) -> RASMessage {
        var request = LocationRequest(
            requestSeqNum: sequenceNumber, destinationInfo: [.dialledDigits("4930123")],
            replyAddress: client.transportAddress,
            sourceInfo: [.h323ID("gk-client")], hopCount: 10, callIdentifier: .random())
        if !visited.isEmpty { request.genericData = [VisitedNodes(visited).genericData] }
        return .locationRequest(request)
    }

    /// The issue's scenario: every node filled over NG, then an LRQ to the first. Whatever each
    /// node's view of the others, the request visits each node once at most and is refused with
    /// `resourceUnavailable`, not `hopCountExceeded`.
    @Test(arguments: [
        (SteeringMode.delegate, RASReplyMode.reverse), (.delegate, .direct), (.sequence, .reverse),
        (.sequence, .direct),
    ])
    func aFullClusterRefusesAnLRQWithAtMostOneLRQPerNode(policy: SteeringMode, reply: RASReplyMode) async throws {
        let (cluster, ras, capture, directory) = try await capturedCluster(
            policy: policy, reply: reply, label: "ras-full-\(policy.rawValue)-\(reply.rawValue)")
        for node in 0..<3 {
            for call in 0..<2 { #expect(try cluster.offer(at: node, callID: "fill-\(node)-\(call)")["result"] == "ok") }
        }
        let client = try RASTestClient()
        let exchange = try client.request(lrq(client, 70), to: ras[0])
        #expect(
            exchange.answer == .locationReject(LocationReject(requestSeqNum: 70, rejectReason: .resourceUnavailable)))
        await capture.stop()

        let requests = try await locationRequests(in: directory, ras: ras)
        #expect(requests.count >= 1, "tshark saw no LRQ")
        for node in ras {
            #expect(requests.filter { $0.port == node.port }.count <= 1, "LRQs to \(node): \(requests)")
        }
        let hopLimited = (0..<3).compactMap { try? cluster.clusterStatistics($0)?["ras"]?["hop-limit"]?.integerValue }
            .reduce(0, +)
        #expect(hopLimited == 0)
        await cluster.stop()
    }

    /// A forwarded LRQ names the nodes it has been through, and a node never sends a request back
    /// to one of them: n1 (drained) gets an LRQ that has visited n2, so n3 takes it every time,
    /// and the LRQ n1 sends n3 names n2 and n1.
    @Test func anLRQIsNeverForwardedToANodeItHasVisitedAndCarriesTheListOn() async throws {
        let (cluster, ras, capture, directory) = try await capturedCluster(
            policy: .delegate, reply: .reverse, maxSessions: 20, drained: [0], label: "ras-visited")
        let client = try RASTestClient()
        for attempt in 0..<6 {
            let exchange = try client.request(lrq(client, UInt16(80 + attempt), visited: ["n2"]), to: ras[0])
            guard case .locationConfirm(let confirm)? = exchange.answer else {
                Issue.record("no LCF: \(String(describing: exchange.answer))")
                break
            }
            #expect(confirm.callSignalAddress == TransportAddress(hostAndPort: cluster.nodes[2]!.callSignalAddress!))
        }
        await capture.stop()

        let requests = try await locationRequests(in: directory, ras: ras)
        #expect(requests.filter { $0.port == ras[1].port }.isEmpty, "an LRQ went to n2: \(requests)")
        let forwarded = requests.filter { $0.port == ras[2].port }
        #expect(forwarded.count == 6)
        // Every request n1 sent n3 counts as a call there until n3 next reports: n3 has room for all six.
        // One length octet and the id's octets per node: "n2" then "n1".
        let expected = VisitedNodes(["n2", "n1"]).genericData.parameters?.first?.raw ?? []
        let hex = expected.map { String(format: "%02x", $0) }.joined()
        #expect(forwarded.allSatisfy { $0.raw.replacingOccurrences(of: ":", with: "") == hex }, "\(forwarded)")
        // n3 counts each as a RAS call two hops from where it started.
        let metrics = String(
            decoding: try httpGet(try #require(cluster.nodes[2]?.metricsAddress), "/metrics").body, as: UTF8.self)
        #expect(prometheusValue(metrics, #"spillway_call_hops_count{protocol="ras"}"#) == 6)
        #expect(prometheusValue(metrics, #"spillway_call_hops_bucket{protocol="ras",le="1.0"}"#) == 0)
        #expect(prometheusValue(metrics, #"spillway_call_hops_bucket{protocol="ras",le="2.0"}"#) == 6)
        await cluster.stop()
    }
}

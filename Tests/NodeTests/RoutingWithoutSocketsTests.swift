import Bencode
import Cluster
import Logging
import MediaPlane
import NGProtocol
import NIOCore
import NIOEmbedded
import SpillwayTestFixtures
import SpillwayTestSupport
import Testing

@testable import SpillwayNode

/// A node's routing on an in-memory event loop and channels: the time is advanced by hand and every
/// datagram is read off the channels, so forward timeouts, mark-down and the reply on the reverse
/// path are decided in the same order on every run.
@Suite struct RoutingWithoutSocketsTests {
    static let key = Array("0123456789abcdef0123456789abcdef".utf8)
    static let seal = ClusterSeal(keyBytes: key)!
    static let client = try! NIOCore.SocketAddress(ipAddress: "127.0.0.1", port: 5060)
    static func address(_ node: Int) -> NIOCore.SocketAddress {
        try! NIOCore.SocketAddress(ipAddress: "10.0.0.\(node)", port: 2224)
    }

    /// Node n1, drained, with peers n2 and n3 in that priority order, on embedded channels.
    struct Harness {
        let loop = EmbeddedEventLoop()
        let ng: EmbeddedChannel
        let cluster: EmbeddedChannel
        let workers: WorkerPool
        let state: NodeLoopState

        init(policy: SteeringMode, share: ShareMode = .push) throws {
            ng = EmbeddedChannel(loop: loop)
            cluster = EmbeddedChannel(loop: loop)
            var configuration = NodeConfiguration()
            configuration.nodeID = "n1"
            configuration.threshold = 0
            configuration.policy = policy
            configuration.share = share
            if policy == .monitor { configuration.monitorAddress = "10.0.0.9:2224" }
            configuration.portRange = 12_000...12_019
            for node in 2...3 { try configuration.set("peer", to: "n\(node)@10.0.0.\(node):2224") }
            workers = try WorkerPool(workerCount: 1, engine: .epoll, logger: Logger(label: "test"))
            state = try NodeLoopState(
                identity: NodeIdentity(
                    id: "n1", ngAddress: "127.0.0.1:2223", clusterAddress: "10.0.0.1:2224", mediaIP: "127.0.0.1"),
                configuration: configuration, workers: workers, ngChannel: ng, clusterChannel: cluster, rasChannel: nil,
                seal: RoutingWithoutSocketsTests.seal, loop: loop, logger: Logger(label: "test"))
        }

        /// Peer `node` reports itself empty, as a sealed datagram from its cluster address.
        func report(from node: Int) {
            let identity = NodeIdentity(
                id: "n\(node)", ngAddress: "10.0.0.\(node):2223", clusterAddress: "10.0.0.\(node):2224",
                mediaIP: "10.0.0.\(node)")
            let report = WorkloadReport(
                node: identity, load: 0, threshold: 1, usage: ResourceUsage(sessions: 0),
                capacity: ResourceCapacity(sessions: 10),
                boot: 1, sequence: 1, madeAtWallNanos: spw_test_wall_nanos())
            deliver(.report(report), from: node)
        }

        func deliver(_ message: ClusterMessage, from node: Int) {
            let envelope = ClusterEnvelope(sender: "n\(node)", sentAtWallNanos: spw_test_wall_nanos(), message: message)
            state.receiveCluster(
                RoutingWithoutSocketsTests.seal.seal(envelope), from: RoutingWithoutSocketsTests.address(node))
        }

        /// The cluster messages n1 sent since the last look, with where they went.
        func sentToPeers() throws -> [(ClusterMessage, NIOCore.SocketAddress)] {
            var sent: [(ClusterMessage, NIOCore.SocketAddress)] = []
            while let envelope = try cluster.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) {
                let bytes = Array(envelope.data.readableBytesView)
                let opened = try RoutingWithoutSocketsTests.seal.open(bytes, nowWallNanos: spw_test_wall_nanos()).get()
                sent.append((opened.message, envelope.remoteAddress))
            }
            return sent
        }

        /// The NG replies n1 sent its client since the last look.
        func repliesToClient() throws -> [BencodeValue] {
            var replies: [BencodeValue] = []
            while let envelope = try ng.readOutbound(as: AddressedEnvelope<ByteBuffer>.self) {
                #expect(envelope.remoteAddress == RoutingWithoutSocketsTests.client)
                let datagram = Array(envelope.data.readableBytesView)
                let (_, body) = try #require(NGMessage.splitCookie(datagram))
                replies.append(try BencodeDecoder().decode(body))
            }
            return replies
        }

        func stop() {
            state.stop()
            workers.shutdown()
        }
    }

    @Test func underPollOnDemandADecisionWaitsForThePollRoundAndGoesOnWhatArrivedByItsTimeout() throws {
        let node = try Harness(policy: .delegate, share: .poll)
        defer { node.stop() }
        _ = try node.sentToPeers()
        let offer = NGMessage(
            cookie: "c2",
            body: ["command": "offer", "call-id": "polled", "from-tag": "A", "sdp": .string(audioSDP(port: 40000))]
        ).encoded
        node.state.receiveNG(offer, from: Self.client)
        // A poll to each peer, and nothing forwarded before the round ends.
        let polls = try node.sentToPeers()
        #expect(polls.count == 2 && polls.allSatisfy { if case .poll = $0.0 { true } else { false } }, "\(polls)")
        #expect(Set(polls.map { "\($0.1)" }) == Set([Self.address(2), Self.address(3)].map { "\($0)" }))
        // Only n3 answers; n1 waits for n2 until the 0.2 s poll timeout, then sends the call to n3.
        node.report(from: 3)
        node.loop.advanceTime(by: .milliseconds(199))
        #expect(try node.sentToPeers().isEmpty)
        node.loop.advanceTime(by: .milliseconds(1))
        let sent = try node.sentToPeers()
        guard case .forward(let forwarded)? = sent.first?.0 else {
            Issue.record("no forward: \(sent)")
            return
        }
        #expect(sent.count == 1 && sent[0].1 == Self.address(3) && forwarded.visited == ["n1"])
    }

    @Test func aMonitorThatDoesNotAnswerInTimeLeavesTheCallAllBusyAndItsAnswerSendsTheNextOn() throws {
        let node = try Harness(policy: .monitor)
        defer { node.stop() }
        _ = try node.sentToPeers()
        func offer(_ callID: String) -> [UInt8] {
            NGMessage(
                cookie: callID,
                body: [
                    "command": "offer", "call-id": .string(callID), "from-tag": "A",
                    "sdp": .string(audioSDP(port: 40000)),
                ]
            ).encoded
        }
        node.state.receiveNG(offer("unanswered"), from: Self.client)
        var sent = try node.sentToPeers()
        guard case .locate(_, let excluding)? = sent.first?.0 else {
            Issue.record("no locate: \(sent)")
            return
        }
        #expect(sent.count == 1 && "\(sent[0].1)" == "\(Self.address(9))" && excluding == ["n1"])
        node.loop.advanceTime(by: .milliseconds(499))
        #expect(try node.repliesToClient().isEmpty)
        node.loop.advanceTime(by: .milliseconds(1))
        let refused = try node.repliesToClient()
        #expect(refused.count == 1 && refused.first?["result"] == "error")
        #expect(
            refused.first?["error-reason"]?.stringValue?.contains("the load monitor did not answer") == true,
            "\(refused)")

        node.state.receiveNG(offer("answered"), from: Self.client)
        sent = try node.sentToPeers()
        guard case .locate(let id, _)? = sent.first?.0 else {
            Issue.record("no locate: \(sent)")
            return
        }
        let n3 = NodeIdentity(
            id: "n3", ngAddress: "10.0.0.3:2223", clusterAddress: "10.0.0.3:2224", mediaIP: "10.0.0.3")
        node.deliver(.located(id: id, node: n3), from: 9)
        sent = try node.sentToPeers()
        guard case .forward? = sent.first?.0 else {
            Issue.record("no forward: \(sent)")
            return
        }
        #expect(sent.count == 1 && sent[0].1 == Self.address(3))
    }

    @Test func aSilentTargetIsResentOnceThenMarkedDownAndTheCallGoesToTheNextWhoseReplyTravelsBack() throws {
        let node = try Harness(policy: .sequence)
        defer { node.stop() }
        node.report(from: 2)
        node.report(from: 3)
        _ = try node.sentToPeers()

        let offer = NGMessage(
            cookie: "c1",
            body: ["command": "offer", "call-id": "embedded", "from-tag": "A", "sdp": .string(audioSDP(port: 40000))]
        ).encoded
        node.state.receiveNG(offer, from: Self.client)
        var sent = try node.sentToPeers()
        guard case .forward(let first)? = sent.first?.0 else {
            Issue.record("no forward: \(sent)")
            return
        }
        #expect(sent.count == 1 && sent[0].1 == Self.address(2), "the sequence's first peer")
        #expect(first.hopsLeft == 3 && first.visited == ["n1"])

        // Half the 0.5 s forward timeout: the same request again, to the same node.
        node.loop.advanceTime(by: .milliseconds(249))
        #expect(try node.sentToPeers().isEmpty)
        node.loop.advanceTime(by: .milliseconds(1))
        sent = try node.sentToPeers()
        guard case .forward(let resent)? = sent.first?.0 else {
            Issue.record("no resend: \(sent)")
            return
        }
        #expect(sent.count == 1 && sent[0].1 == Self.address(2) && resent == first)

        // The timeout: n2 is marked down, and the call goes on to n3 at once.
        node.loop.advanceTime(by: .milliseconds(250))
        sent = try node.sentToPeers()
        guard case .forward(let second)? = sent.first?.0 else {
            Issue.record("no forward to n3: \(sent)")
            return
        }
        #expect(sent.count == 1 && sent[0].1 == Self.address(3))
        #expect(second.id != first.id && second.visited == ["n1"])
        #expect(node.state.statistics.status().peers.first { $0.id == "n2" }?.state == "down")
        #expect(try node.repliesToClient().isEmpty, "nothing is answered before n3 is")

        // n3 takes it; its reply goes back to the client through n1, naming n3.
        let n3 = NodeIdentity(
            id: "n3", ngAddress: "10.0.0.3:2223", clusterAddress: "10.0.0.3:2224", mediaIP: "10.0.0.3")
        node.deliver(
            .forwardReply(ForwardedReply(id: second.id, owner: n3, reply: ["result": "ok", "sdp": "v=0"])), from: 3)
        let replies = try node.repliesToClient()
        #expect(replies.count == 1 && replies.first?["result"] == "ok", "\(replies)")
        // A late answer from n2 changes nothing.
        node.deliver(.forwardReply(ForwardedReply(id: first.id, owner: nil, reply: ["result": "ok"])), from: 2)
        #expect(try node.repliesToClient().isEmpty)
    }
}

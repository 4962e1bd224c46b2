import Bencode
import Cluster
import Foundation
import H323
import H323Edge
import MediaPlane
import ServiceEdge
import SpillwayClient
import SpillwayMonitor
import SpillwayNode
import SpillwayTestFixtures
import SpillwayTestSupport
import Synchronization
import Testing

/// H.323 Setups at a node over its threshold, on a real three-node cluster on loopback, with a
/// pycrate-built Setup from a TCP caller and a TCP callee the calls are routed to: the call lands
/// on another node, told to the caller (`direct`) or forwarded by the first node (`reverse`), and
/// all busy is ReleaseComplete cause 34.
@Suite struct H323SpillTests {
    private static let nextMonitor = Atomic<Int>(0)

    /// Three nodes taking H.323 calls on ephemeral ports, routing every call to `callee`; in
    /// monitor mode a load monitor too, which the nodes push their reports to and ask.
    private func cluster(
        policy: SteeringMode, reply: H323ReplyMode, drained: Set<Int>, callee: TCPTestListener
    ) async throws -> (TestCluster, LoadMonitor?) {
        // The pycrate Setup dials 5551234.
        #expect(
            try H323UserInformation(perEncoded: PycrateMessages.setup).destinationAddress == [.dialledDigits("5551234")]
        )
        let monitorAddress =
            policy == .monitor
            ? "127.0.0.10:\(19200 + Self.nextMonitor.wrappingAdd(1, ordering: .relaxed).oldValue)" : nil
        let cluster = try await TestCluster.start(
            policy: policy, maxSessions: 10, peers: policy == .monitor ? { _ in [] } : nil, monitor: monitorAddress,
            configure: { node, configuration in
                configuration.callSignalAddress = "\(TestCluster.ip(node)):0"
                configuration.metricsAddress = "\(TestCluster.ip(node)):0"
                configuration.h323Reply = reply
                configuration.h323Routes = [
                    H323Route(prefix: "555", destination: TransportAddress(hostAndPort: callee.address)!)
                ]
                if drained.contains(node) { configuration.threshold = 0 }
            })
        guard let monitorAddress else {
            for node in 0..<3 {
                try cluster.waitForPeers(of: node, cluster.ids.filter { $0 != cluster.ids[node] }, state: "up")
            }
            return (cluster, nil)
        }
        let monitor = try await cluster.startMonitor(listen: monitorAddress, collect: .push)
        let monitorClient = try NGClient(server: SocketAddress(hostAndPort: monitor.listenAddress)!)
        let start = spw_test_seconds()
        while spw_test_seconds() - start < 3 {
            let nodes = try monitorClient.request(["command": "statistics"])["nodes"]
            if cluster.ids.allSatisfy({ nodes?[$0]?["state"] == "up" }) { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        return (cluster, monitor)
    }

    private var setupFrame: [UInt8] {
        CallSignallingRobustnessTests.frame(CallSignallingRobustnessTests.setup(PycrateMessages.setup))
    }

    private func h323(_ cluster: TestCluster, _ node: Int) throws -> BencodeValue? {
        try cluster.clusterStatistics(node)?["h323"]
    }

    private func metrics(_ cluster: TestCluster, _ node: Int) throws -> String {
        String(decoding: try httpGet(try #require(cluster.nodes[node]?.metricsAddress), "/metrics").body, as: UTF8.self)
    }

    /// The callee end of a call: takes the Setup from whichever node relays it, checks it, and
    /// releases the call (cause 16), which must reach the caller. Returns the index of the node
    /// that relayed it.
    private func answerAtCallee(_ callee: TCPTestListener, caller: TCPTestConnection, cluster: TestCluster) throws
        -> Int?
    {
        guard let (connection, peerIP) = callee.accept(timeoutMilliseconds: 3_000) else {
            Issue.record("no node brought the call to the callee")
            return nil
        }
        let received = try CallSignallingRobustnessTests.messages(connection.receive(timeoutMilliseconds: 500).bytes)
        let setup = try #require(received.first)
        #expect(setup.type == .setup)
        #expect(SpillwaySetupElement(in: setup) == nil, "Spillway's element stays between nodes")
        var release = Q931Message(
            type: .releaseComplete, callReference: setup.callReference, fromDestination: true,
            elements: [Q931Message.causeElement(16)])
        release.setUserInformation(H323UserInformation.releaseComplete(callIdentifier: nil, reason: .undefinedReason))
        connection.send(TPKT.frame(release.encoded)!)
        let answer = try CallSignallingRobustnessTests.messages(caller.receive(timeoutMilliseconds: 2_000).bytes)
        #expect(answer.last?.type == .releaseComplete && answer.last?.cause == 16, "caller got \(answer.map(\.type))")
        return (0..<3).first { TestCluster.ip($0) == peerIP }
    }

    @Test(arguments: SteeringMode.allCases)
    func reverseForwardsTheSetupAndTheCallRunsOnTheOtherNode(policy: SteeringMode) async throws {
        let callee = try TCPTestListener(ip: "127.0.0.1")
        let (cluster, monitor) = try await cluster(policy: policy, reply: .reverse, drained: [0], callee: callee)
        let caller = try TCPTestConnection(to: try #require(cluster.nodes[0]?.callSignalAddress))
        caller.send(setupFrame)
        let taker = try answerAtCallee(callee, caller: caller, cluster: cluster)
        #expect(taker == 1 || taker == 2, "the call reached the callee from node \(String(describing: taker))")
        if policy == .sequence { #expect(taker == 1) }
        let first = try h323(cluster, 0)
        #expect(first?["spills"]?["reverse"]?.integerValue == 1)
        #expect(first?["calls-routed"]?.integerValue == 0, "the forwarder anchors nothing")
        if let taker {
            #expect(try h323(cluster, taker)?["calls-routed"]?.integerValue == 1)
            // /metrics, labelled by protocol: n1's spill, and the taker's call one hop away.
            let forwarder = try metrics(cluster, 0)
            #expect(
                prometheusValue(forwarder, #"spillway_spills_total{policy="\#(policy.rawValue)",protocol="h323"}"#) == 1
            )
            let taken = try metrics(cluster, taker)
            #expect(prometheusValue(taken, #"spillway_call_hops_count{protocol="h323"}"#) == 1)
            #expect(prometheusValue(taken, #"spillway_call_hops_bucket{protocol="h323",le="0.0"}"#) == 0)
            #expect(prometheusValue(taken, #"spillway_call_hops_bucket{protocol="h323",le="1.0"}"#) == 1)
        }
        await cluster.stop()
        await monitor?.shutdown()
    }

    @Test(arguments: SteeringMode.allCases)
    func directTellsTheCallerTheOtherNodeWhichThenTakesTheCall(policy: SteeringMode) async throws {
        let callee = try TCPTestListener(ip: "127.0.0.1")
        let (cluster, monitor) = try await cluster(policy: policy, reply: .direct, drained: [0], callee: callee)
        let answer = try CallSignallingRobustnessTests.messages(
            try CallSignallingRobustnessTests.exchange(
                setupFrame, with: try #require(cluster.nodes[0]?.callSignalAddress)))
        #expect(answer.map(\.type) == [.facility, .releaseComplete])
        #expect(answer.last?.cause == 23, "redirection to new destination")
        let facility = try H323UserInformation(perEncoded: try #require(answer.first?.userInformation))
        #expect(facility.body == .facility && facility.facilityReason == 1, "callForwarded")
        let forwardedTo = try #require(facility.alternativeAddress)
        let named = (1..<3).first {
            TransportAddress(hostAndPort: cluster.nodes[$0]!.callSignalAddress!) == forwardedTo
        }
        #expect(named != nil, "Facility names \(forwardedTo)")
        if policy == .sequence { #expect(named == 1) }

        // The caller sends its Setup where it was told; that node takes the call.
        let caller = try TCPTestConnection(to: try #require(forwardedTo.socketAddress?.hostAndPort))
        caller.send(setupFrame)
        #expect(try answerAtCallee(callee, caller: caller, cluster: cluster) == named)
        #expect(try h323(cluster, 0)?["spills"]?["direct"]?.integerValue == 1)
        await cluster.stop()
        await monitor?.shutdown()
    }

    @Test func aNodeThatRefusesTheForwardedSetupIsMarkedDownAndTheCallGoesToTheNext() async throws {
        let callee = try TCPTestListener(ip: "127.0.0.1")
        let (cluster, _) = try await cluster(policy: .sequence, reply: .reverse, drained: [0], callee: callee)
        // n2 stops: n1 still holds its last report, but its call-signalling port refuses the connection.
        await cluster.kill(1)
        let caller = try TCPTestConnection(to: try #require(cluster.nodes[0]?.callSignalAddress))
        caller.send(setupFrame)
        #expect(try answerAtCallee(callee, caller: caller, cluster: cluster) == 2, "the call went on to n3")
        #expect(try cluster.clusterStatistics(0)?["peers"]?["n2"]?["state"] == "down", "n1 marks n2 down at once")
        await cluster.stop()
    }

    /// A caller that adds Spillway's element itself, naming a destination and hops of its choosing:
    /// with a made-up tag, and with one the cluster key made for another call. Neither is believed:
    /// the node takes the call as the caller's own and routes it by its own rules.
    @Test(arguments: [false, true])
    func aSetupClaimingToBeForwardedWithoutAValidTagIsPlacedAsTheCallersOwn(replayed: Bool) async throws {
        let callee = try TCPTestListener(ip: "127.0.0.1")
        let elsewhere = try TCPTestListener(ip: "127.0.0.1")
        let (cluster, _) = try await cluster(policy: .delegate, reply: .reverse, drained: [], callee: callee)
        var element = SpillwaySetupElement(
            hopsLeft: 0, visited: ["n2", "n3"], destination: elsewhere.address, madeAtWallNanos: spw_test_wall_nanos())
        if replayed {
            let key = Array(
                try String(contentsOfFile: TestCluster.keyFile, encoding: .utf8).trimmingCharacters(in: .newlines).utf8)
            let seal = try #require(ClusterSeal(keyBytes: key))
            element.tag = seal.authenticationTag(
                for: element.authenticatedBytes(callIdentifier: [UInt8](repeating: 9, count: 16)))
        } else {
            element.tag = [UInt8](repeating: 0xA5, count: SpillwaySetupElement.tagLength)
        }
        var setup = CallSignallingRobustnessTests.setup(PycrateMessages.setup)
        element.add(to: &setup)
        let caller = try TCPTestConnection(to: try #require(cluster.nodes[0]?.callSignalAddress))
        caller.send(CallSignallingRobustnessTests.frame(setup))
        #expect(try answerAtCallee(callee, caller: caller, cluster: cluster) == 0, "taken and routed by n1's own rules")
        #expect(elsewhere.accept(timeoutMilliseconds: 200) == nil, "the destination the caller named is not called")
        #expect(try h323(cluster, 0)?["dropped"]?["unauthenticated-forward"]?.integerValue == 1)
        await cluster.stop()
    }

    @Test(arguments: SteeringMode.allCases, H323ReplyMode.allCases)
    func everyNodeBusyIsReleaseCompleteCause34(policy: SteeringMode, reply: H323ReplyMode) async throws {
        let callee = try TCPTestListener(ip: "127.0.0.1")
        let (cluster, monitor) = try await cluster(policy: policy, reply: reply, drained: [0, 1, 2], callee: callee)
        let answer = try CallSignallingRobustnessTests.messages(
            try CallSignallingRobustnessTests.exchange(
                setupFrame, with: try #require(cluster.nodes[0]?.callSignalAddress)))
        #expect(answer.map(\.type) == [.releaseComplete] && answer.first?.cause == 34)
        let release = try H323UserInformation(perEncoded: try #require(answer.first?.userInformation))
        #expect(release.releaseReason == H323UserInformation.ReleaseReason.gatewayResources.rawValue)
        #expect(try h323(cluster, 0)?["all-busy"]?.integerValue == 1)
        #expect(
            prometheusValue(try metrics(cluster, 0), #"spillway_refusals_total{protocol="h323",reason="all-busy"}"#)
                == 1)
        #expect(callee.accept(timeoutMilliseconds: 200) == nil)
        await cluster.stop()
        await monitor?.shutdown()
    }
}

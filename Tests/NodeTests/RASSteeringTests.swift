import Bencode
import Cluster
import H323
import H323Edge
import Logging
import MediaPlane
import SpillwayClient
import SpillwayNode
import SpillwayTestFixtures
import SpillwayTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Steering over H.225.0 RAS on a real three-node cluster on loopback: LRQ/ARQ in, LCF/ACF naming
/// the node that takes the call, RIP while forwarding, LRJ/ARJ when every node is busy.
@Suite struct RASSteeringTests {
    /// A cluster whose nodes answer RAS on an ephemeral port; `drained` nodes take no new calls.
    private func rasCluster(
        policy: SteeringMode, reply: RASReplyMode = .direct, drained: Set<Int> = []
    ) async throws -> (TestCluster, [SocketAddress]) {
        let cluster = try await TestCluster.start(
            policy: policy, maxSessions: 10,
            configure: { node, configuration in
                configuration.rasAddress = "\(TestCluster.ip(node)):0"
                // Suites run side by side on the same addresses: the call-signalling port is ephemeral too.
                configuration.callSignalAddress = "\(TestCluster.ip(node)):0"
                configuration.rasReply = reply
                if drained.contains(node) { configuration.threshold = 0 }
            })
        // Peers learn each other's RAS addresses from the workload reports.
        for node in 0..<3 {
            try cluster.waitForPeers(of: node, cluster.ids.filter { $0 != cluster.ids[node] }, state: "up")
        }
        return (cluster, cluster.nodes.map { SocketAddress(hostAndPort: $0!.rasAddress!)! })
    }

    private func locationRequest(_ client: RASTestClient, sequenceNumber: UInt16 = 100, hopCount: UInt8? = nil)
        -> RASMessage
    {
        .locationRequest(
            LocationRequest(
                requestSeqNum: sequenceNumber, destinationInfo: [.dialledDigits("4930123")],
                replyAddress: client.transportAddress,
                sourceInfo: [.h323ID("gk-client")], hopCount: hopCount, callIdentifier: .random()))
    }

    @Test func aNodeBelowItsThresholdAnswersWithItsOwnAddresses() async throws {
        let (cluster, ras) = try await rasCluster(policy: .delegate)
        let client = try RASTestClient()
        let exchange = try client.request(locationRequest(client), to: ras[0])
        guard case .locationConfirm(let confirm)? = exchange.answer else {
            await cluster.stop()
            Issue.record("no LCF: \(String(describing: exchange.answer))")
            return
        }
        #expect(confirm.requestSeqNum == 100)
        #expect(confirm.callSignalAddress == cluster.callSignal(of: 0))
        #expect(confirm.rasAddress == TransportAddress(ipv4: ras[0].ip, port: Int(ras[0].port)))
        #expect(exchange.progress.isEmpty)
        await cluster.stop()
    }

    @Test(arguments: [SteeringMode.delegate, .sequence], RASReplyMode.allCases)
    func aNodeOverItsThresholdNamesAnotherNode(policy: SteeringMode, reply: RASReplyMode) async throws {
        let (cluster, ras) = try await rasCluster(policy: policy, reply: reply, drained: [0])
        let client = try RASTestClient()
        let exchange = try client.request(locationRequest(client, sequenceNumber: 7), to: ras[0])
        guard case .locationConfirm(let confirm)? = exchange.answer else {
            await cluster.stop()
            Issue.record("no LCF: \(String(describing: exchange.answer))")
            return
        }
        // The request keeps its sequence number end to end; RIP came first, from the forwarder.
        #expect(confirm.requestSeqNum == 7)
        #expect(exchange.progress.first?.requestSeqNum == 7 && (exchange.progress.first?.delay ?? 0) > 0)
        let taker = [1, 2].first { confirm.callSignalAddress == cluster.callSignal(of: $0) }
        #expect(taker != nil, "LCF names \(confirm.callSignalAddress)")
        if policy == .sequence { #expect(taker == 1, "sequence: the next node in priority order takes it") }
        if let taker {
            #expect(confirm.rasAddress == TransportAddress(ipv4: ras[taker].ip, port: Int(ras[taker].port)))
            // Direct: the taker answers the requester itself; reverse: the answer comes back through n1.
            #expect(exchange.answeredFrom == (reply == .direct ? ras[taker] : ras[0]))
        }
        let statistics = try cluster.clusterStatistics(0)?["ras"]
        #expect(statistics?["forwarded"]?.integerValue == 1)
        await cluster.stop()
    }

    @Test(arguments: RASReplyMode.allCases)
    func everyNodeBusyGivesResourceUnavailable(reply: RASReplyMode) async throws {
        let (cluster, ras) = try await rasCluster(policy: .sequence, reply: reply, drained: [0, 1, 2])
        let client = try RASTestClient()
        let exchange = try client.request(locationRequest(client, sequenceNumber: 9), to: ras[0])
        #expect(
            exchange.answer == .locationReject(LocationReject(requestSeqNum: 9, rejectReason: .resourceUnavailable)))
        // n1's reports show n2 and n3 drained too: it refuses at once, forwarding nothing.
        let statistics = try cluster.clusterStatistics(0)?["ras"]
        #expect(statistics?["all-busy"]?.integerValue == 1 && statistics?["forwarded"]?.integerValue == 0)
        #expect(exchange.progress.isEmpty)

        let endpoint = try #require(try client.register(alias: "alice", at: ras[0]))
        let admission = try client.request(
            .admissionRequest(
                AdmissionRequest(
                    requestSeqNum: 10, endpointIdentifier: endpoint, destinationInfo: [.dialledDigits("100")],
                    srcInfo: [.h323ID("alice")],
                    bandWidth: 1280, callReferenceValue: 1, conferenceID: RASSamples.conference,
                    callIdentifier: .random())),
            to: ras[0])
        #expect(
            admission.answer == .admissionReject(AdmissionReject(requestSeqNum: 10, rejectReason: .resourceUnavailable))
        )
        await cluster.stop()
    }

    @Test func anAdmissionOverThresholdIsConfirmedWithAnotherNodesCallSignalAddress() async throws {
        let (cluster, ras) = try await rasCluster(policy: .sequence, drained: [0])
        let client = try RASTestClient()
        let unregistered = try client.request(
            .admissionRequest(
                AdmissionRequest(
                    requestSeqNum: 20, endpointIdentifier: "nobody", destinationInfo: nil, srcInfo: [.h323ID("alice")],
                    bandWidth: 640,
                    callReferenceValue: 2, conferenceID: RASSamples.conference)),
            to: ras[0])
        #expect(
            unregistered.answer
                == .admissionReject(AdmissionReject(requestSeqNum: 20, rejectReason: .callerNotRegistered)))

        let endpoint = try #require(try client.register(alias: "alice", at: ras[0], sequenceNumber: 21))
        #expect(endpoint == "alice")
        let exchange = try client.request(
            .admissionRequest(
                AdmissionRequest(
                    requestSeqNum: 22, endpointIdentifier: endpoint, destinationInfo: [.dialledDigits("100")],
                    srcInfo: [.h323ID("alice")],
                    bandWidth: 640, callReferenceValue: 3, conferenceID: RASSamples.conference,
                    callIdentifier: .random())),
            to: ras[0])
        #expect(
            exchange.answer
                == .admissionConfirm(
                    AdmissionConfirm(
                        requestSeqNum: 22, bandWidth: 640, callModel: .gatekeeperRouted,
                        destCallSignalAddress: cluster.callSignal(of: 1))))
        #expect(exchange.progress.count >= 1)
        await cluster.stop()
    }

    @Test func anLRQWithNoHopsLeftIsNotForwarded() async throws {
        let (cluster, ras) = try await rasCluster(policy: .delegate, drained: [0])
        let client = try RASTestClient()
        let exchange = try client.request(locationRequest(client, sequenceNumber: 30, hopCount: 1), to: ras[0])
        #expect(exchange.answer == .locationReject(LocationReject(requestSeqNum: 30, rejectReason: .hopCountExceeded)))
        await cluster.stop()
    }

    @Test func aRetransmittedRequestIsAnsweredFromTheCache() async throws {
        let (cluster, ras) = try await rasCluster(policy: .delegate)
        let client = try RASTestClient()
        let request = locationRequest(client, sequenceNumber: 40)
        let first = try client.request(request, to: ras[0])
        let second = try client.request(request, to: ras[0])
        #expect(first.answer != nil && first.bytes == second.bytes)
        let statistics = try cluster.clusterStatistics(0)?["ras"]
        #expect(statistics?["retransmissions"]?.integerValue == 1 && statistics?["admitted"]?.integerValue == 1)
        await cluster.stop()
    }

    @Test func malformedAndTruncatedPERIsCountedAndTheNodeKeepsAnswering() async throws {
        let (cluster, ras) = try await rasCluster(policy: .delegate)
        let client = try RASTestClient()
        let valid = locationRequest(client, sequenceNumber: 50).perEncoded
        let bad: [[UInt8]] = [
            [], [0xFF], Array(valid.prefix(valid.count / 2)), [0x4C, 0x00],
            (0..<40).map { UInt8(truncatingIfNeeded: $0 &* 37) },
        ]
        for datagram in bad { _ = client.peer.send(datagram, to: ras[0]) }
        let exchange = try client.request(locationRequest(client, sequenceNumber: 51), to: ras[0])
        #expect(exchange.answer.map { if case .locationConfirm = $0 { true } else { false } } == true)
        let statistics = try cluster.clusterStatistics(0)?["ras"]
        // The empty datagram and the others that do not decode are all counted.
        #expect(
            (statistics?["malformed"]?.integerValue ?? 0) + (statistics?["unsupported"]?.integerValue ?? 0)
                == Int64(bad.count))
        await cluster.stop()
    }
}

/// Monitor mode over RAS: the nodes register with the load monitor's RAS port and report in RAI;
/// the monitor answers a client's LRQ or ARQ with the least-loaded node.
@Suite struct RASMonitorTests {
    private static let nextMonitor = Atomic<Int>(0)

    @Test func theMonitorNamesTheLeastLoadedNodeFromRAIReports() async throws {
        let index = Self.nextMonitor.wrappingAdd(1, ordering: .relaxed).oldValue
        let monitorCluster = "127.0.0.10:\(19100 + index)"
        let monitorRAS = "127.0.0.10:\(19150 + index)"
        let cluster = try await TestCluster.start(
            policy: .monitor, maxSessions: 4, peers: { _ in [] }, monitor: monitorCluster,
            configure: { node, configuration in
                configuration.rasAddress = "\(TestCluster.ip(node)):0"
                configuration.callSignalAddress = "\(TestCluster.ip(node)):0"
                configuration.monitorRASAddress = monitorRAS
                if node == 0 { configuration.threshold = 0 }
            })
        let monitor = try await cluster.startMonitor(listen: monitorCluster, collect: .push) {
            $0.rasAddress = monitorRAS
        }
        let gatekeeper = SocketAddress(hostAndPort: monitor.rasAddress!)!

        // n2 carries a call, so with 4 sessions at most it reports 3 calls available, n3 reports 4,
        // and n1 is drained (almostOutOfResources).
        _ = try cluster.offer(at: 1, callID: "ras-monitor-load")
        let client = try RASTestClient()
        var named: TransportAddress?
        // Each attempt is a new request (a repeated sequence number would be answered from the cache).
        var sequenceNumber: UInt16 = 100
        let start = spw_test_seconds()
        while spw_test_seconds() - start < 4 {
            sequenceNumber += 1
            let exchange = try client.request(
                .locationRequest(
                    LocationRequest(
                        requestSeqNum: sequenceNumber, destinationInfo: [.h323ID("anyone")],
                        replyAddress: client.transportAddress)),
                to: gatekeeper)
            if case .locationConfirm(let confirm)? = exchange.answer { named = confirm.callSignalAddress }
            if named == cluster.callSignal(of: 2) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(named == cluster.callSignal(of: 2), "the least-loaded node is n3")

        // An ARQ from a registered endpoint gets the least-loaded node's call signalling address.
        let endpoint = try #require(try client.register(alias: "bob", at: gatekeeper, sequenceNumber: 61))
        let admission = try client.request(
            .admissionRequest(
                AdmissionRequest(
                    requestSeqNum: 62, endpointIdentifier: endpoint, destinationInfo: [.dialledDigits("200")],
                    srcInfo: [.h323ID("bob")],
                    bandWidth: 640, callReferenceValue: 4, conferenceID: RASSamples.conference)),
            to: gatekeeper)
        guard case .admissionConfirm(let confirm)? = admission.answer else {
            await cluster.stop()
            await monitor.shutdown()
            Issue.record("no ACF: \(String(describing: admission.answer))")
            return
        }
        #expect([1, 2].map { cluster.callSignal(of: $0) }.contains(confirm.destCallSignalAddress))
        #expect(confirm.callModel == .gatekeeperRouted, "the node named relays the call's signalling")

        // Every node drained: RAI says almostOutOfResources everywhere, and the monitor refuses.
        for node in 0..<3 { _ = try cluster.request(node, ["command": "workload", "threshold": "0"]) }
        var refused = false
        let drainStart = spw_test_seconds()
        while spw_test_seconds() - drainStart < 4, !refused {
            sequenceNumber += 1
            let exchange = try client.request(
                .locationRequest(
                    LocationRequest(
                        requestSeqNum: sequenceNumber, destinationInfo: [.h323ID("anyone")],
                        replyAddress: client.transportAddress)),
                to: gatekeeper)
            refused =
                exchange.answer
                == .locationReject(LocationReject(requestSeqNum: sequenceNumber, rejectReason: .resourceUnavailable))
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(refused)
        await cluster.stop()
        await monitor.shutdown()
    }
}

extension TestCluster {
    /// The call-signalling address node `node` listens on, as LCF and ACF must name it.
    fileprivate func callSignal(of node: Int) -> TransportAddress {
        TransportAddress(hostAndPort: nodes[node]!.callSignalAddress!)!
    }
}

import Bencode
import Cluster
import MediaPlane
import SpillwayClient
import SpillwayNode
import SpillwayTestFixtures
import SpillwayTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Several real nodes on 127.0.0.11-13: calls beyond a node's threshold land on the others.
@Suite struct ClusterSteeringTests {
    @Test(arguments: ShareMode.allCases)
    func delegateSpillsCallsBeyondTheThresholdToPeers(share: ShareMode) async throws {
        let cluster = try await TestCluster.start(policy: .delegate, share: share, maxSessions: 2)
        if share != .poll { try #require(try cluster.waitForPeers(of: 0, ["n2", "n3"], state: "up") != nil) }

        var landed: [String: Int] = [:]
        for call in 0..<6 {
            let reply = try cluster.offer(at: 0, callID: "d-\(share)-\(call)")
            try #require(reply["result"] == "ok", "call \(call): \(reply)")
            let landing = try TestCluster.landing(reply)
            // The SDP's connection address is the owner's own media address.
            #expect(landing.mediaIP == TestCluster.ip(cluster.ids.firstIndex(of: landing.node!)!))
            if call < 2 { #expect(landing.node == "n1" && landing.hops == 0) } else { #expect(landing.node != "n1") }
            landed[landing.node!, default: 0] += 1
        }
        #expect(landed == ["n1": 2, "n2": 2, "n3": 2])

        let busy = try cluster.offer(at: 0, callID: "d-\(share)-busy", supportsLoadLimit: true)
        #expect(busy["result"] == "load limit")
        #expect(busy["message"]?.stringValue?.contains("all nodes busy") == true)
        let spills = try cluster.clusterStatistics(0)?["counters"]?["spills-delegate"]?.integerValue
        #expect(spills ?? 0 >= 4)
        await cluster.stop()
    }

    @Test(arguments: ShareMode.allCases)
    func sequenceWalksThePriorityOrderThenAnswersAllBusy(share: ShareMode) async throws {
        let cluster = try await TestCluster.start(policy: .sequence, share: share, maxSessions: 1)
        var landings: [(String?, Int64?)] = []
        for call in 0..<3 {
            let landing = try TestCluster.landing(try cluster.offer(at: 0, callID: "s-\(call)"))
            landings.append((landing.node, landing.hops))
        }
        #expect(landings.map(\.0) == ["n1", "n2", "n3"])
        let forwardsBefore = try cluster.clusterStatistics(0)?["counters"]?["forwards-sent"]?.integerValue
        let busy = try cluster.offer(at: 0, callID: "s-busy")
        #expect(busy["result"] == "error")
        let reason = busy["error-reason"]?.stringValue ?? ""
        #expect(reason.contains("all nodes busy"), "\(reason)")
        #expect(reason.contains("past the last node of the sequence"), "\(reason)")
        switch share {
        case .push:
            // Pushed reports keep n1's view current, and n1 counts the call it sent each node: it
            // sends the third call straight past the full n2, and refuses the fourth at once.
            #expect(landings.map(\.1) == [0, 1, 1])
            #expect(try cluster.clusterStatistics(0)?["counters"]?["forwards-sent"]?.integerValue == forwardsBefore)
        case .poll:
            // A sequence polls nobody: n1 knows nothing of the others, and the request walks the order.
            #expect(landings.map(\.1) == [0, 1, 2])
        case .continuous:
            // Streamed reports may be a moment behind the calls: the walk may take the extra hop.
            #expect(landings.map(\.1)[..<2] == [0, 1] && [1, 2].contains(landings[2].1 ?? 0))
        }
        await cluster.stop()
    }

    @Test func laterCommandsReachTheOwnerThroughThePrimaryAndMediaFlowsOnlyThere() async throws {
        let cluster = try await TestCluster.start(policy: .sequence, maxSessions: 1)
        let caller = try UDPPeer()
        let callee = try UDPPeer()
        _ = try cluster.offer(at: 0, callID: "local", port: 40010)
        let offer = try cluster.offer(at: 0, callID: "spilled", port: caller.address.port)
        #expect(try TestCluster.landing(offer).node == "n2")
        let answer = try cluster.request(
            0,
            [
                "command": "answer", "call-id": "spilled", "from-tag": "A", "to-tag": "B",
                "sdp": .string(audioSDP(port: callee.address.port)),
            ])
        #expect(answer["result"] == "ok")
        let answerLanding = try TestCluster.landing(answer)
        #expect(answerLanding.node == "n2" && answerLanding.mediaIP == "127.0.0.12")

        let relayForCaller = try ScriptedCall.mediaAddress(in: answer)
        let relayForCallee = try ScriptedCall.mediaAddress(in: offer)
        for sequence in 0..<10 {
            #expect(caller.send(pcmu(sequence), to: relayForCaller))
            #expect(callee.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(sequence))
            #expect(callee.send(pcmu(sequence, ssrc: 9), to: relayForCallee))
            #expect(caller.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(sequence, ssrc: 9))
        }
        try await Task.sleep(for: .milliseconds(100))
        // The owner counted the media; the primary carried none of it.
        let query = try cluster.request(0, ["command": "query", "call-id": "spilled"])
        #expect(query["spillway-node"] == "n2")
        #expect(query["totals"]?["RTP"]?["packets"] == 20)
        let primary = try cluster.request(0, ["command": "statistics"])
        #expect(primary["totals"]?["RTP"]?["packets"] == 0)
        #expect(primary["statistics"]?["currentstatistics"]?["sessionsforeign"] == 1)
        #expect(try cluster.request(1, ["command": "list"])["calls"] == ["spilled"])

        let deleted = try cluster.request(0, ["command": "delete", "call-id": "spilled"])
        #expect(deleted["result"] == "ok" && deleted["spillway-node"] == "n2")
        #expect(try cluster.request(1, ["command": "list"])["calls"] == [])
        #expect(
            try cluster.request(0, ["command": "statistics"])["statistics"]?["currentstatistics"]?["sessionsforeign"]
                == 0)
        await cluster.stop()
    }

    @Test(arguments: ShareMode.allCases)
    func aKilledNodeStopsBeingChosenWithinTheDetectionTime(share: ShareMode) async throws {
        let cluster = try await TestCluster.start(
            policy: .delegate, share: share, maxSessions: 1,
            configure: { index, configuration in
                if index > 0 { configuration.capacity.sessions = 20 }
            })
        if share != .poll { try #require(try cluster.waitForPeers(of: 0, ["n2", "n3"], state: "up") != nil) }
        _ = try cluster.offer(at: 0, callID: "k-local")
        await cluster.kill(2)
        if share != .poll {
            // Age limit 0.6 s, reports every 0.2 s: n3 is marked down within about 0.8 s.
            let detection = try cluster.waitForPeers(of: 0, ["n3"], state: "down", timeout: 3)
            try #require(detection != nil)
            #expect(detection! < 1.2, "detected after \(detection!) s")
        }
        // Polling: the first decision's poll goes unanswered by n3 within the poll timeout.
        for call in 0..<4 {
            let reply = try cluster.offer(at: 0, callID: "k-\(call)")
            #expect(try TestCluster.landing(reply).node == "n2")
        }
        #expect(try cluster.clusterStatistics(0)?["peers"]?["n3"]?["state"] == "down")
        await cluster.stop()
    }

    @Test func aForwardToADeadNodeTimesOutAndTheCallGoesToTheNextOne() async throws {
        // Nobody pushes reports (poll sharing), so only the forward's timeout can reveal the dead node.
        let cluster = try await TestCluster.start(
            policy: .sequence, share: .poll, maxSessions: 5,
            configure: { index, configuration in
                if index == 0 { configuration.threshold = 0 }
            })
        await cluster.kill(1)
        let start = spw_test_seconds()
        let reply = try cluster.offer(at: 0, callID: "dead-next")
        #expect(try TestCluster.landing(reply).node == "n3")
        #expect(spw_test_seconds() - start < 1.0)
        let statistics = try cluster.clusterStatistics(0)
        #expect(statistics?["counters"]?["forward-timeouts"] == 1)
        #expect(statistics?["peers"]?["n2"]?["state"] == "down")
        // Marked down, it is skipped at once.
        #expect(try TestCluster.landing(try cluster.offer(at: 0, callID: "dead-next-2")).node == "n3")
        #expect(try cluster.clusterStatistics(0)?["counters"]?["forward-timeouts"] == 1)
        await cluster.stop()
    }

    @Test func aDrainedNodeTakesNothingNewWhileItsCallsContinue() async throws {
        let cluster = try await TestCluster.start(policy: .delegate, share: .push, maxSessions: 10)
        try #require(try cluster.waitForPeers(of: 0, ["n2", "n3"], state: "up") != nil)
        let caller = try UDPPeer()
        let callee = try UDPPeer()
        let offer = try cluster.offer(at: 0, callID: "kept", port: caller.address.port)
        #expect(try TestCluster.landing(offer).node == "n1")
        let answer = try cluster.request(
            0,
            [
                "command": "answer", "call-id": "kept", "from-tag": "A", "to-tag": "B",
                "sdp": .string(audioSDP(port: callee.address.port)),
            ])

        let drained = try cluster.request(0, ["command": "workload", "threshold": "0"])
        #expect(drained["result"] == "ok" && drained["admits"] == "no" && drained["threshold"] == "0.000")
        for call in 0..<4 {
            #expect(try TestCluster.landing(try cluster.offer(at: 0, callID: "new-\(call)")).node != "n1")
        }
        // The call anchored before the drain still relays.
        #expect(caller.send(pcmu(1), to: try ScriptedCall.mediaAddress(in: answer)))
        #expect(callee.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(1))
        #expect(try cluster.request(0, ["command": "list"])["calls"] == ["kept"])

        let restored = try cluster.request(0, ["command": "workload", "threshold": "0.9"])
        #expect(restored["admits"] == "yes")
        #expect(try TestCluster.landing(try cluster.offer(at: 0, callID: "after")).node == "n1")
        #expect(
            try cluster.request(0, ["command": "workload", "threshold": "2"])["error-reason"]
                == "setting 'threshold' has value '2.0'; allowed: 0 (drain) to 1")
        await cluster.stop()
    }

    @Test func forgedAndUnsignedClusterMessagesAreIgnoredAndCounted() async throws {
        let cluster = try await TestCluster.start(policy: .delegate, share: .push, maxSessions: 4)
        try #require(try cluster.waitForPeers(of: 0, ["n2", "n3"], state: "up") != nil)
        let target = MediaPlane.SocketAddress(hostAndPort: cluster.nodes[0]!.clusterAddress!)!
        let intruder = try UDPPeer()

        // A report claiming n2 is empty and admitting, sealed with the wrong key.
        var lie = WorkloadReport(
            node: NodeIdentity(
                id: "n2", ngAddress: "127.0.0.99:1", clusterAddress: "127.0.0.99:1", mediaIP: "127.0.0.99"),
            load: 0, threshold: 1, usage: ResourceUsage(sessions: 0), capacity: ResourceCapacity(sessions: 4),
            boot: .max,
            sequence: .max, madeAtWallNanos: 0)
        lie.madeAtWallNanos = wallNanos()
        let wrongKey = ClusterSeal(keyBytes: [UInt8](repeating: 0x42, count: 32))!
        for _ in 0..<3 {
            #expect(
                intruder.send(
                    wrongKey.seal(ClusterEnvelope(sender: "n2", sentAtWallNanos: wallNanos(), message: .report(lie))),
                    to: target))
        }
        var unsigned: [UInt8] = []
        ClusterEnvelope(sender: "n2", sentAtWallNanos: wallNanos(), message: .report(lie)).bencoded.encode(
            into: &unsigned)
        #expect(intruder.send(unsigned, to: target))
        #expect(intruder.send(Array("d4:type4:polle".utf8), to: target))
        try await Task.sleep(for: .milliseconds(200))

        let statistics = try cluster.clusterStatistics(0)
        #expect(statistics?["rejected"]?["forged"] == 3)
        #expect(statistics?["rejected"]?["unsigned"] == 2)
        #expect(statistics?["peers"]?["n2"]?["address"]?.stringValue?.hasPrefix("127.0.0.12") == true)
        #expect(intruder.receive(timeoutMilliseconds: 100) == nil, "an unsigned poll must not be answered")
        await cluster.stop()
    }

    @Test func aNodeOutOfMediaPortsSpillsTheCallInsteadOfRefusingIt() async throws {
        let cluster = try await TestCluster.start(
            count: 2, policy: .sequence, maxSessions: 100,
            configure: { index, configuration in
                if index == 0 {
                    configuration.portRange =
                        configuration.portRange.lowerBound...(configuration.portRange.lowerBound + 3)
                }
            })
        #expect(try TestCluster.landing(try cluster.offer(at: 0, callID: "p-1")).node == "n1")
        #expect(try TestCluster.landing(try cluster.offer(at: 0, callID: "p-2")).node == "n2")
        await cluster.stop()
    }

    @Test func aClientThatDoesNotSupportLoadLimitGetsAnErrorNamingTheCause() async throws {
        let cluster = try await TestCluster.start(count: 2, policy: .delegate, share: .poll, maxSessions: 1)
        _ = try cluster.offer(at: 0, callID: "b-1")
        _ = try cluster.offer(at: 0, callID: "b-2")
        let busy = try cluster.offer(at: 0, callID: "b-3")
        #expect(busy["result"] == "error")
        #expect(
            busy["error-reason"]?.stringValue?.hasPrefix(
                "all nodes busy: every node tried is at or over its load threshold") == true)
        let limited = try cluster.offer(at: 1, callID: "b-4", supportsLoadLimit: true)
        #expect(limited["result"] == "load limit")
        await cluster.stop()
    }

    /// A cluster node below its threshold but out of media ports, with no peer to spill to, says
    /// that it is out of ports, not just its (low) load.
    @Test func aNodeOutOfPortsWithNowhereToSpillSaysSo() async throws {
        let cluster = try await TestCluster.start(count: 1, policy: .delegate, maxSessions: 100)
        // Its 10 port pairs hold five calls (a pair for each leg).
        for call in 0..<5 { try #require(try cluster.offer(at: 0, callID: "p-\(call)")["result"] == "ok") }
        let refused = try cluster.offer(at: 0, callID: "p-more")
        let reason = refused["error-reason"]?.stringValue ?? ""
        #expect(refused["result"] == "error" && reason.contains("all nodes busy"), "\(refused)")
        #expect(reason.contains("this node is out of media ports: no free RTP/RTCP port pair"), "\(reason)")
        #expect(!reason.contains("this node's load"), "\(reason)")
        await cluster.stop()
    }
}

private func wallNanos() -> UInt64 { UInt64(spw_test_wall_seconds() * 1e9) }

private func spw_test_wall_seconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

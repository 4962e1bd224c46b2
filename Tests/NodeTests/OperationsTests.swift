import Bencode
import Foundation
import MediaPlane
import ServiceEdge
import SpillwayClient
import SpillwayNode
import SpillwayTestSupport
import Testing

/// What an operator watches and controls: `/metrics` and `/status`, NG access control, draining.
@Suite struct OperationsTests {
    @Test func metricsAndStatusShowTheNodesMediaCallsAndDrops() async throws {
        let node = try await TestNode.start { $0.metricsAddress = "127.0.0.1:0" }
        let (caller, callee, relay) = try node.audioCall("watched")
        for sequence in 1...5 {
            caller.send(pcmu(sequence), to: relay.forCaller)
            #expect(callee.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(sequence))
        }
        for sequence in 1...3 {
            callee.send(pcmu(sequence, ssrc: 7), to: relay.forCallee)
            #expect(caller.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(sequence, ssrc: 7))
        }
        caller.send([0x40] + [UInt8](repeating: 0, count: 30), to: relay.forCaller)  // RTP version 1: dropped
        _ = try await node.stream(callID: "watched", tag: "A")  // the worker has published its counters

        let address = try #require(node.node.metricsAddress)
        let metrics = try httpGet(address, "/metrics")
        #expect(metrics.status == 200)
        let text = String(decoding: metrics.body, as: UTF8.self)
        #expect(prometheusValue(text, #"spillway_rtp_packets_total{direction="from-caller"}"#) == 5)
        #expect(prometheusValue(text, #"spillway_rtp_packets_total{direction="from-callee"}"#) == 3)
        #expect(
            prometheusValue(text, #"spillway_rtp_bytes_total{direction="from-caller"}"#) == 5 * Double(pcmu(1).count))
        #expect(prometheusValue(text, #"spillway_forwarded_packets_total{direction="from-caller"}"#) == 5)
        #expect(
            prometheusValue(text, #"spillway_dropped_packets_total{direction="from-caller",reason="not-rtp"}"#) == 1)
        #expect(
            prometheusValue(text, #"spillway_dropped_packets_total{direction="from-callee",reason="not-rtp"}"#) == 0)
        #expect(prometheusValue(text, #"spillway_srtp_auth_failures_total{direction="from-caller"}"#) == 0)
        #expect(prometheusValue(text, #"spillway_sessions{anchored="here"}"#) == 1)
        #expect(prometheusValue(text, "spillway_offers_total") == 1)
        #expect(prometheusValue(text, "spillway_answers_total") == 1)
        #expect(prometheusValue(text, #"spillway_call_hops_count{protocol="ng"}"#) == 1)
        #expect(prometheusValue(text, #"spillway_call_hops_bucket{protocol="ng",le="0.0"}"#) == 1)
        #expect(prometheusValue(text, "spillway_threshold") == 1)
        #expect(text.contains("# HELP spillway_rtp_packets_total RTP packets received"))

        // A second scrape adds only what grew.
        caller.send(pcmu(6), to: relay.forCaller)
        #expect(callee.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(6))
        _ = try await node.stream(callID: "watched", tag: "A")
        let again = String(decoding: try httpGet(address, "/metrics").body, as: UTF8.self)
        #expect(prometheusValue(again, #"spillway_rtp_packets_total{direction="from-caller"}"#) == 6)

        let status = try httpGet(address, "/status")
        #expect(status.status == 200)
        let json = try #require(try JSONSerialization.jsonObject(with: status.body) as? [String: Any])
        #expect(json["node"] as? String == node.node.configuration.nodeID)
        #expect((json["calls"] as? [String: Any])?["own"] as? Int == 1)
        #expect(json["admits"] as? Bool == true)
        #expect(json["draining"] as? Bool == false)
        #expect(json["threshold"] as? Double == 1)
        #expect(try httpGet(address, "/nope").status == 404)
        await node.stop()
    }

    @Test func aSpillShowsInBothNodesMetricsWithThePeersWorkload() async throws {
        let cluster = try await TestCluster.start(
            count: 2, policy: .delegate, share: .push, maxSessions: 10,
            configure: { index, configuration in
                configuration.metricsAddress = "\(TestCluster.ip(index)):0"
                if index == 0 { configuration.threshold = 0 }
            })
        try #require(try cluster.waitForPeers(of: 0, ["n2"], state: "up") != nil)
        #expect(try TestCluster.landing(try cluster.offer(at: 0, callID: "spilled")).node == "n2")

        let first = String(decoding: try httpGet(cluster.nodes[0]!.metricsAddress!, "/metrics").body, as: UTF8.self)
        #expect(prometheusValue(first, #"spillway_spills_total{policy="delegate",protocol="ng"}"#) == 1)
        #expect(prometheusValue(first, #"spillway_spills_total{policy="sequence",protocol="ng"}"#) == 0)
        #expect(prometheusValue(first, "spillway_steering_decision_seconds_count") == 1)
        #expect(prometheusValue(first, #"spillway_forwards_total{direction="sent"}"#) == 1)
        #expect(prometheusValue(first, #"spillway_peer_up{peer="n2"}"#) == 1)
        #expect(prometheusValue(first, #"spillway_peer_threshold{peer="n2"}"#) == 1)
        #expect(prometheusValue(first, #"spillway_peer_load{peer="n2"}"#) != nil)
        #expect(prometheusValue(first, #"spillway_sessions{anchored="elsewhere"}"#) == 1)
        #expect(prometheusValue(first, "spillway_admits_new_calls") == 0)

        let second = String(decoding: try httpGet(cluster.nodes[1]!.metricsAddress!, "/metrics").body, as: UTF8.self)
        #expect(prometheusValue(second, #"spillway_call_hops_bucket{protocol="ng",le="0.0"}"#) == 0)
        #expect(prometheusValue(second, #"spillway_call_hops_bucket{protocol="ng",le="1.0"}"#) == 1)
        #expect(prometheusValue(second, #"spillway_forwards_total{direction="received"}"#) == 1)
        #expect(prometheusValue(second, #"spillway_sessions{anchored="here"}"#) == 1)
        await cluster.stop()
    }

    @Test func ngCommandsFromOutsideTheClientNetworksAreDroppedAndCounted() async throws {
        let node = try await TestNode.start {
            $0.metricsAddress = "127.0.0.1:0"
            $0.ngClients = ClientNetworks(parsing: "127.0.0.2/32, 10.0.0.0/8")!
        }
        // From 127.0.0.1: not a client network, no answer.
        #expect(throws: (any Error).self) {
            try node.client.request(["command": "ping"], timeoutMilliseconds: 200, attempts: 2)
        }
        // From 127.0.0.2: answered.
        let allowed = try UDPPeer(bindingTo: "127.0.0.2")
        allowed.send(Array("c1 d7:command4:pinge".utf8), to: node.node.ngAddress)
        #expect(
            allowed.receive(timeoutMilliseconds: 1000).map { String(decoding: $0.bytes, as: UTF8.self) }
                == "c1 d6:result4:ponge")
        let metrics = String(decoding: try httpGet(node.node.metricsAddress!, "/metrics").body, as: UTF8.self)
        #expect(prometheusValue(metrics, #"spillway_ng_dropped_total{reason="client-not-allowed"}"#) == 2)
        await node.stop()
    }

    @Test func aDrainingNodeRefusesNewCallsAndKeepsItsOwnUntilTheyEnd() async throws {
        let node = try await TestNode.start()
        let (caller, callee, relay) = try node.audioCall("kept")
        #expect(await node.node.startDraining() == 1)
        #expect(try node.request(["command": "workload"])["draining"] == "yes")

        let refused = try node.request([
            "command": "offer", "call-id": "new", "from-tag": "A", "sdp": .string(audioSDP(port: 5000)),
        ])
        #expect(refused["result"] == "error")
        #expect(refused["error-reason"]?.stringValue?.contains("draining for shutdown") == true, "\(refused)")
        #expect(try node.request(["command": "workload", "threshold": "0.9"])["result"] == "error")
        caller.send(pcmu(1), to: relay.forCaller)
        #expect(callee.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(1))
        #expect(try node.request(["command": "ping"])["result"] == "pong")

        let started = Date()
        _ = try node.request(["command": "delete", "call-id": "kept", "from-tag": "A"])
        // A long grace, so that a drain that waited it out stands apart from one slowed down by a
        // busy test pool (blocking tests in parallel have held this one up for over 10 s).
        #expect(await node.node.waitForCallsToEnd(grace: 120) == 0)
        #expect(
            Date().timeIntervalSince(started) < 60, "the drain ends when the last call does, not at the 120 s grace")
        await node.stop()
    }

    @Test func theDrainGivesUpAtTheGraceWithTheCallsStillUp() async throws {
        let node = try await TestNode.start()
        _ = try node.request([
            "command": "offer", "call-id": "stays", "from-tag": "A", "sdp": .string(audioSDP(port: 5000)),
        ])
        let started = Date()
        #expect(await node.node.drain(grace: 0.5) == 1)
        let waited = Date().timeIntervalSince(started)
        #expect(waited >= 0.5, "waited \(waited) s")
        await node.stop()
    }
}

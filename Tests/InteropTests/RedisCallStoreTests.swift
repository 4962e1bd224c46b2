import Bencode
import CallStore
import Foundation
import MediaPlane
import SpillwayClient
import SpillwayNode
import SpillwayTestFixtures
import SpillwayTestSupport
import Testing

/// The call store on a real `redis-server`: every call's owner is kept there, so a call outlives
/// the node that first received it, and Redis going away costs no packet and no NG answer.
@Suite(.serialized) struct RedisCallStoreTests {
    /// A primary forwards a call to n2 and dies; the SIP proxy turns to n3, which finds the call's
    /// owner in Redis and carries the answer, a query and the delete there.
    @Test func aCallForwardedByAPrimaryThatDiesIsStillAnsweredQueriedAndDeletedThroughAnotherNode() async throws {
        let redis = try await RedisServer(port: 16390, name: "owners")
        defer { redis.stop() }
        let cluster = try await TestCluster.start(
            policy: .sequence, maxSessions: 10,
            configure: { node, configuration in
                configuration.redis = RedisAddress(parsing: redis.address)
                if node == 0 { configuration.threshold = 0 }
            })
        #expect(try cluster.waitForPeers(of: 0, ["n2", "n3"], state: "up") != nil)
        #expect(await Self.connected(cluster, nodes: 0..<3))

        let caller = try UDPPeer()
        let callee = try UDPPeer()
        let offer = try cluster.request(
            0,
            [
                "command": "offer", "call-id": "spilled", "from-tag": "A",
                "sdp": .string(audioSDP(port: caller.address.port)),
            ])
        #expect(offer["result"] == "ok" && offer["spillway-node"] == "n2", "\(offer)")
        let key = CallStoreKeys().owner(of: "spilled")
        #expect(await ChildProcess.eventually(seconds: 3) { (try? redis.value(key)) != nil })
        let record = try OwnerRecord(decoding: try #require(try redis.value(key)))
        #expect(record.node.id == "n2" && record.node.clusterAddress.hasPrefix("\(TestCluster.ip(1)):"), "\(record)")

        await cluster.kill(0)
        let answer = try cluster.request(
            2,
            [
                "command": "answer", "call-id": "spilled", "from-tag": "A", "to-tag": "B",
                "sdp": .string(audioSDP(port: callee.address.port)),
            ])
        #expect(answer["result"] == "ok" && answer["spillway-node"] == "n2", "\(answer)")
        caller.send(pcmu(1), to: try ScriptedCall.mediaAddress(in: answer))
        #expect(callee.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(1))
        callee.send(pcmu(1, ssrc: 2), to: try ScriptedCall.mediaAddress(in: offer))
        #expect(caller.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(1, ssrc: 2))

        #expect(try cluster.request(2, ["command": "query", "call-id": "spilled"])["spillway-node"] == "n2")
        #expect(try cluster.request(2, ["command": "delete", "call-id": "spilled"])["result"] == "ok")
        #expect(try cluster.request(1, ["command": "list"])["calls"]?.listValue?.isEmpty == true)
        #expect(await ChildProcess.eventually(seconds: 3) { (try? redis.value(key)) == nil })
        #expect(try cluster.clusterStatistics(2)?["redis"]?["owners-found"] == .integer(1))
        // A call no node has is still unknown, answered at once.
        let unknown = try cluster.request(2, ["command": "query", "call-id": "never-offered"])
        #expect(unknown["result"] == "error", "\(unknown)")
        await cluster.stop()
    }

    /// Redis is killed under paced calls: no packet is lost, NG keeps answering (new calls too),
    /// and once Redis is back the node writes every call again, those set up during the outage too.
    @Test func relayingGoesOnWhileRedisIsDownAndEveryCallIsWrittenAgainWhenItReturns() async throws {
        let redis = try await RedisServer(port: 16391, name: "outage")
        defer { redis.stop() }
        let cluster = try await TestCluster.start(
            count: 1, policy: .delegate, maxSessions: 50,
            configure: { _, configuration in
                configuration.redis = RedisAddress(parsing: redis.address)
            })
        #expect(await Self.connected(cluster, nodes: 0..<1))
        // The node's 10 port pairs carry five calls: three before the outage, two during it.
        var calls = try (0..<3).map { index in
            try PacedCall(callID: "before-\(index)", request: { try cluster.request(0, $0) })
        }
        let owners = CallStoreKeys().ownerPattern
        #expect(await ChildProcess.eventually(seconds: 3) { (try? redis.keys(owners).count) == 3 })
        try await Self.pace(calls, rounds: 25)

        await redis.kill()
        try await Self.pace(calls, rounds: 10)
        var slowest = 0.0
        for index in 0..<2 {
            let started = spw_test_seconds()
            #expect(try cluster.request(0, ["command": "ping"])["result"] == "pong")
            calls.append(try PacedCall(callID: "during-\(index)", request: { try cluster.request(0, $0) }))
            slowest = max(slowest, spw_test_seconds() - started)
            try await Self.pace(calls, rounds: 10)
        }
        #expect(slowest < 0.1, "NG took \(slowest) s with Redis down")
        #expect(try cluster.clusterStatistics(0)?["redis"]?["connected"] == "no")

        try await redis.start()
        try await Self.pace(calls, rounds: 25)
        let expected = Set(calls.map { CallStoreKeys().owner(of: $0.callID) })
        #expect(await ChildProcess.eventually(seconds: 5) { (try? redis.keys(owners)) == expected })
        for call in calls {
            call.collect(waitMilliseconds: 200)
            #expect(call.lost == (0, 0), "\(call.callID) lost \(call.lost) of \(call.sent) each way")
        }
        let statistics = try #require(try cluster.clusterStatistics(0)?["redis"])
        #expect(
            statistics["connected"] == "yes" && (statistics["full-writes"]?.integerValue ?? 0) >= 2, "\(statistics)")
        let ng = try #require(cluster.nodes[0]?.ngAddress)
        let status = try ChildProcess(
            "status", try spillwayExecutable(), ["status", "--ng", "\(ng)"], directory: redis.directory)
        #expect(await status.wait(seconds: 10) == 0)
        #expect(status.output.contains("call store: redis \(redis.address), connected yes"), "\(status.output)")
        await cluster.stop()
    }

    /// A Redis that asks for a password: the node with the right one from `--redis-auth-file` writes
    /// there; a node with a wrong one stays unconnected, writes nothing, and still takes calls.
    @Test func aPasswordFromTheAuthFileOpensRedisAndAWrongOneLeavesTheNodeWorkingWithout() async throws {
        let redis = try await RedisServer(port: 16392, name: "auth", password: "s3cret")
        defer { redis.stop() }
        let directory = try scratchDirectory("redis-auth")
        try "s3cret\n".write(toFile: "\(directory)/right", atomically: true, encoding: .utf8)
        try "wrong\n".write(toFile: "\(directory)/wrong", atomically: true, encoding: .utf8)
        let cluster = try await TestCluster.start(
            count: 2, policy: .delegate, maxSessions: 10, peers: { _ in [] },
            configure: { node, configuration in
                configuration.redis = RedisAddress(parsing: redis.address)
                configuration.redisAuthFile = "\(directory)/\(node == 0 ? "right" : "wrong")"
            })
        #expect(await Self.connected(cluster, nodes: 0..<1))
        #expect(try cluster.offer(at: 0, callID: "with-password")["result"] == "ok")
        #expect(try cluster.offer(at: 1, callID: "with-wrong-password", port: 40002)["result"] == "ok")
        let owners = CallStoreKeys().ownerPattern
        let expected: Set = [CallStoreKeys().owner(of: "with-password")]
        #expect(await ChildProcess.eventually(seconds: 3) { (try? redis.keys(owners)) == expected })
        #expect(try cluster.clusterStatistics(1)?["redis"]?["connected"] == "no")
        await cluster.stop()
    }

    /// Whether every node's call store is connected, within 3 seconds.
    private static func connected(_ cluster: TestCluster, nodes: Range<Int>) async -> Bool {
        await ChildProcess.eventually(seconds: 3) {
            nodes.allSatisfy { (try? cluster.clusterStatistics($0)?["redis"]?["connected"]) == "yes" }
        }
    }

    /// Sends `rounds` packets each way on every call, 20 ms apart.
    private static func pace(_ calls: [PacedCall], rounds: Int) async throws {
        for _ in 0..<rounds {
            for call in calls { call.sendNext() }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

import Bencode
import Cluster
import Foundation
import MediaPlane
import SpillwayClient
import SpillwayNode
import SpillwayTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Hostile input and failures: floods of random datagrams on the media and NG ports, and a node
/// of three killed under load. Each is bounded in time; the figures are asserted after it.
@Suite struct RobustnessTests {
    @Test(arguments: DataPlaneEngine.allCases)
    func floodsOfRandomDatagramsLeaveCallsWholeAndTheNodeAnswering(engine: DataPlaneEngine) async throws {
        let node = try await TestNode.start(portPairs: 20) {
            $0.metricsAddress = "127.0.0.1:0"
            $0.dataPlane = engine
        }
        let call = try PacedCall(callID: "under-flood", request: node.request)
        let range = node.node.configuration.portRange
        let ng = node.node.ngAddress
        let targets = call.relayAddresses
        // What goes to the call's ports is never valid RTP: a valid packet arriving before the call's
        // first one would be learned as the peer (the first source is latched, as in rtpengine), so
        // the fully random bytes go to the other ports of the range.
        let callPorts = Set(targets.flatMap { [$0.port, $0.port + 1] })
        // 6,000 hostile datagrams at up to 5,000/s: random bytes that are not RTP to the call's ports,
        // random bytes to the other ports of the range, random NG commands and garbage.
        // On a thread of its own, so that it runs whatever the test pool is doing.
        let flood = FloodThread {
            var generator = SeededGenerator(seed: 99)
            let socket = try! UDPPeer()
            var sent = 0
            while sent < 6_000 {
                for _ in 0..<10 {
                    var datagram = (0..<Int.random(in: 1...300, using: &generator)).map { _ in
                        UInt8.random(in: 0...255, using: &generator)
                    }
                    switch sent % 3 {
                    case 0:
                        datagram[0] &= 0x7F  // version 0 or 1: never a valid RTP/RTCP header
                        _ = socket.send(datagram, to: targets[sent % 2])
                    case 1:
                        let port = UInt16.random(in: range, using: &generator)
                        guard !callPorts.contains(port) else { continue }
                        _ = socket.send(datagram, to: SocketAddress(ip: "127.0.0.1", port: port)!)
                    default:
                        _ = socket.send(Self.randomNGDatagram(sent, using: &generator), to: ng)
                    }
                    sent += 1
                }
                usleep(2_000)
            }
            return sent
        }
        // The call runs on, paced at 50 packets/s each way, through the flood and after it.
        while flood.isRunning || call.sent < 100 {
            call.sendNext()
            try await Task.sleep(for: .milliseconds(20))
        }
        let flooded = flood.join()
        call.collect(waitMilliseconds: 500)
        #expect(call.sent >= 100)
        #expect(call.lost == (0, 0), "sent \(call.sent) each way")
        #expect(try node.request(["command": "ping"])["result"] == "pong")
        let listed = try node.request(["command": "list"])["calls"]?.listValue ?? []
        #expect(listed.contains("under-flood"), "the random commands left the real call alone")

        let metrics = String(decoding: try httpGet(node.node.metricsAddress!, "/metrics").body, as: UTF8.self)
        let dropped = ["from-caller", "from-callee"].compactMap {
            prometheusValue(metrics, "spillway_dropped_packets_total{direction=\"\($0)\",reason=\"not-rtp\"}")
        }
        #expect(flooded >= 6_000)
        #expect(
            dropped.reduce(0, +) > Double(flooded) / 6, "not-rtp drops \(dropped) of \(flooded / 3) aimed at the call")
        await node.stop()
    }

    @Test func aNodeKilledUnderLoadLeavesTheSurvivorsTakingEveryNewCallAndLosingNone() async throws {
        // n1 carries one call and is then full; n2 and n3 have room (10 port pairs: 5 calls). n3 dies mid-run.
        let cluster = try await TestCluster.start(
            policy: .delegate, share: .push, maxSessions: 10,
            configure: { index, configuration in
                if index == 0 { configuration.capacity.sessions = 1 }
            })
        try #require(try cluster.waitForPeers(of: 0, ["n2", "n3"], state: "up") != nil)
        var calls = [
            try PacedCall(callID: "own-n1", request: { try cluster.request(0, $0) }),
            try PacedCall(callID: "own-n2", request: { try cluster.request(1, $0) }),
        ]
        #expect(calls.map(\.node) == ["n1", "n2"])
        var placed: [String] = []
        for tick in 1...100 {
            for call in calls { call.sendNext() }
            if tick == 25 { await cluster.kill(2) }
            if tick > 25, tick % 20 == 0 {
                // A new call at full n1 spills; with n3 dead it must land on n2, never be refused.
                let call = try PacedCall(callID: "new-\(tick)", request: { try cluster.request(0, $0) })
                placed.append(call.node ?? "refused")
                calls.append(call)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        for call in calls { call.collect(waitMilliseconds: 300) }
        #expect(placed.count == 4)
        #expect(placed.allSatisfy { $0 == "n2" }, "new calls landed on \(placed)")
        for call in calls { #expect(call.lost == (0, 0), "\(call.callID) lost \(call.lost) of \(call.sent) each way") }
        #expect(try cluster.clusterStatistics(0)?["peers"]?["n3"]?["state"] == "down")
        await cluster.stop()
    }

    /// A random NG datagram: garbage, bencode without a cookie, or a cookie with a random command
    /// whose fields are random (unknown call-ids, broken SDP).
    static func randomNGDatagram(_ index: Int, using generator: inout SeededGenerator) -> [UInt8] {
        switch Int.random(in: 0..<4, using: &generator) {
        case 0:
            return (0..<Int.random(in: 0...200, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
        case 1:
            return Array("d7:command4:pinge".utf8)
        default:
            let commands = [
                "ping", "offer", "answer", "delete", "query", "list", "statistics", "workload", "start recording",
                "explode",
            ]
            var body: [String: BencodeValue] = ["command": .string(commands.randomElement(using: &generator)!)]
            if Bool.random(using: &generator) {
                body["call-id"] = .string("flood-\(Int.random(in: 0...50, using: &generator))")
            }
            if Bool.random(using: &generator) { body["from-tag"] = "A" }
            if Bool.random(using: &generator) {
                body["sdp"] = .string(
                    ["v=0\r\nm=audio / RTP/AVP 0\r\n", "garbage", audioSDP(port: 9)].randomElement(using: &generator)!)
            }
            if Bool.random(using: &generator) {
                body["threshold"] = .string(["-1", "2", "x", "0.99"].randomElement(using: &generator)!)
            }
            return Array("flood\(index) ".utf8) + BencodeValue.dictionary(body).encoded
        }
    }
}

/// Runs a flood on a thread of its own and hands back how many datagrams it sent.
private final class FloodThread: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let running = Atomic(true)
    private var sent = 0

    init(_ body: @escaping @Sendable () -> Int) {
        Thread.detachNewThread { [self] in
            sent = body()
            running.store(false, ordering: .releasing)
            done.signal()
        }
    }

    var isRunning: Bool { running.load(ordering: .acquiring) }

    func join() -> Int {
        done.wait()
        return sent
    }
}

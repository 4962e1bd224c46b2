import Bencode
import Foundation
import MediaPlane
import SDP
import SpillwayClient
import SpillwayNode
import SpillwayTestSupport
import Testing

/// Several media interfaces on one node: an internal one on 127.0.0.1 and an external one bound on
/// 127.0.0.2 that advertises 203.0.113.7 (as behind 1:1 NAT), plus IPv6 on ::1.
@Suite struct InterfaceTests {
    static let interfaces = ["internal/127.0.0.1", "external/127.0.0.2!203.0.113.7", "v6/::1"]

    static func start(metrics: Bool = false) async throws -> TestNode {
        try await TestNode.start {
            for interface in interfaces { try! $0.set("interface", to: interface) }
            if metrics { $0.metricsAddress = "127.0.0.1:0" }
        }
    }

    /// The c= address and port of a reply's SDP's first m= line.
    static func connection(in reply: BencodeValue) throws -> (address: String, port: UInt16) {
        let description = try SessionDescription(parsing: try #require(reply["sdp"]?.stringValue, "\(reply)"))
        let media = try #require(description.media.first)
        let connection = try #require(media.connection ?? description.connection)
        return (connection.address, UInt16(media.port))
    }

    @Test func directionPicksEachPartysInterfaceAndTheSDPNamesTheAdvertisedAddressWhileTheSocketBindsTheLocalOne()
        async throws
    {
        let node = try await Self.start(metrics: true)
        let caller = try UDPPeer(bindingTo: "127.0.0.1")
        let callee = try UDPPeer(bindingTo: "127.0.0.1")
        let offer = try node.request([
            "command": "offer", "call-id": "two-nets", "from-tag": "A",
            "sdp": .string(audioSDP(port: caller.address.port)),
            "direction": ["internal", "external"],
        ])
        let towardsCallee = try Self.connection(in: offer)
        #expect(towardsCallee.address == "203.0.113.7", "the callee is told the advertised address")
        let answer = try node.request([
            "command": "answer", "call-id": "two-nets", "from-tag": "A", "to-tag": "B",
            "sdp": .string(audioSDP(port: callee.address.port)),
        ])
        let towardsCaller = try Self.connection(in: answer)
        #expect(towardsCaller.address == "127.0.0.1")

        // The external socket is bound on 127.0.0.2 (203.0.113.7 is what the NAT maps to it).
        let relayForCallee = SocketAddress(ip: "127.0.0.2", port: towardsCallee.port)!
        let relayForCaller = SocketAddress(ip: "127.0.0.1", port: towardsCaller.port)!
        caller.send(pcmu(1), to: relayForCaller)
        let atCallee = try #require(callee.receive(timeoutMilliseconds: 1000))
        #expect(atCallee.bytes == pcmu(1))
        #expect(atCallee.source == relayForCallee, "the callee's media leaves the external interface")
        callee.send(pcmu(1, ssrc: 2), to: relayForCallee)
        let atCaller = try #require(caller.receive(timeoutMilliseconds: 1000))
        #expect(atCaller.bytes == pcmu(1, ssrc: 2))
        #expect(atCaller.source == relayForCaller, "the caller's media leaves the internal interface")

        // Operators see the interfaces, the ports each holds, and which faces each party of a call.
        let legs = try node.request(["command": "query", "call-id": "two-nets"])["tags"]
        #expect(legs?["A"]?["medias"]?.listValue?.first?["interface"] == "internal")
        #expect(legs?["B"]?["medias"]?.listValue?.first?["interface"] == "external")
        let statistics = try node.request(["command": "statistics"])
        let listed = try #require(statistics["interfaces"]?.listValue)
        #expect(listed.map { $0["name"] } == ["internal", "external", "v6"])
        #expect(listed.map { $0["ports-used"] } == [2, 2, 0])
        #expect(listed[1]["address"] == "127.0.0.2" && listed[1]["advertised"] == "203.0.113.7")
        let status = try JSONSerialization.jsonObject(
            with: try httpGet(try #require(node.node.metricsAddress), "/status").body)
        let statusInterfaces = try #require((status as? [String: Any])?["interfaces"] as? [[String: Any]])
        #expect(statusInterfaces.compactMap { $0["ports_in_use"] as? Int } == [2, 2, 0])
        let metrics = String(
            decoding: try httpGet(try #require(node.node.metricsAddress), "/metrics").body, as: UTF8.self)
        #expect(
            prometheusValue(metrics, #"spillway_interface_ports_in_use{interface="external",address="127.0.0.2"}"#) == 2
        )
        await node.stop()
    }

    @Test func anIPv4CallerReachesAnIPv6CalleeByAddressFamily() async throws {
        let node = try await Self.start()
        let caller = try UDPPeer(bindingTo: "127.0.0.1")
        let callee = try UDPPeer(bindingTo: "::1")
        let offer = try node.request([
            "command": "offer", "call-id": "bridge-v6", "from-tag": "A",
            "sdp": .string(audioSDP(port: caller.address.port)),
            "address-family": "IP6",
        ])
        #expect(offer["sdp"]?.stringValue?.contains("c=IN IP6 ::1") == true, "\(offer)")
        let towardsCallee = try Self.connection(in: offer)
        let calleeSDP = sdp([("audio", callee.address.port, "0", ["rtpmap:0 PCMU/8000"])], ip: "::1")
            .replacingOccurrences(of: "IN IP4", with: "IN IP6")
        let answer = try node.request([
            "command": "answer", "call-id": "bridge-v6", "from-tag": "A", "to-tag": "B", "sdp": .string(calleeSDP),
        ])
        let towardsCaller = try Self.connection(in: answer)
        #expect(towardsCaller.address == "127.0.0.1")
        for sequence in 1...5 {
            caller.send(pcmu(sequence), to: SocketAddress(ip: "127.0.0.1", port: towardsCaller.port)!)
            #expect(callee.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(sequence))
            callee.send(pcmu(sequence, ssrc: 2), to: SocketAddress(ip: "::1", port: towardsCallee.port)!)
            #expect(caller.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(sequence, ssrc: 2))
        }
        await node.stop()
    }

    @Test func mediaAddressReplacesTheAddressTheSDPNames() async throws {
        let node = try await Self.start()
        let offer = try node.request([
            "command": "offer", "call-id": "media-address", "from-tag": "A", "sdp": .string(audioSDP(port: 40000)),
            "media-address": "198.51.100.9",
        ])
        #expect(try Self.connection(in: offer).address == "198.51.100.9")
        let refused = try node.request([
            "command": "offer", "call-id": "bad-media-address", "from-tag": "A", "sdp": .string(audioSDP(port: 40000)),
            "media-address": "edge.example.net",
        ])
        #expect(refused["result"] == "error")
        #expect(refused["error-reason"]?.stringValue?.contains("media-address") == true, "\(refused)")
        await node.stop()
    }

    @Test(arguments: [
        (
            ["internal", "dmz"] as [String],
            "no media interface is called 'dmz'; this node has: internal, external, v6 (--interface NAME/IP)"
        ),
        (["internal"], "direction names 1 interfaces (internal); it takes two: the offerer's and the recipient's"),
    ])
    func aDirectionNamingNoInterfaceIsRefusedWithTheNamesThereAre(direction: [String], message: String) async throws {
        let node = try await Self.start()
        let reply = try node.request([
            "command": "offer", "call-id": "bad-direction", "from-tag": "A", "sdp": .string(audioSDP(port: 40000)),
            "direction": .list(direction.map { .string($0) }),
        ])
        #expect(reply["result"] == "error")
        #expect(reply["error-reason"]?.stringValue == message)
        #expect(try node.request(["command": "list"])["calls"] == [])
        await node.stop()
    }
}

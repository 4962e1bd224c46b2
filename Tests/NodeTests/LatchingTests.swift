import Bencode
import MediaPlane
import SRTP
import SpillwayClient
import SpillwayTestFixtures
import SpillwayTestSupport
import Testing

/// The latching rules on a real node with loopback peers: a stranger neither speaks into a call nor
/// hears it, and a peer that moves to a new address (NAT rebinding) is followed once it has been
/// silent, at once with `media-handover`, never with `strict-source`.
@Suite struct LatchingTests {
    /// A latched G.711 call: caller A and callee B have each sent `count` packets, all relayed.
    struct LatchedCall {
        let node: TestNode
        let callID: String
        let caller: UDPPeer
        let callee: UDPPeer
        let relay: (forCaller: SocketAddress, forCallee: SocketAddress)
        /// The next sequence number each party sends.
        var callerSequence = 1
        var calleeSequence = 1

        static let callerSSRC: UInt32 = 0xABCD
        static let calleeSSRC: UInt32 = 0x5151

        init(_ node: TestNode, _ callID: String, extraOffer: [String: BencodeValue] = [:], packets count: Int = 50)
            throws
        {
            self.node = node
            self.callID = callID
            (caller, callee, relay) = try node.audioCall(callID, extraOffer: extraOffer)
            for _ in 0..<count {
                try callerTalks()
                try calleeTalks()
            }
        }

        /// A sends its next packet (from `socket`, its own by default), which must reach B.
        mutating func callerTalks(from socket: UDPPeer? = nil) throws {
            let packet = pcmu(callerSequence, ssrc: Self.callerSSRC)
            callerSequence += 1
            (socket ?? caller).send(packet, to: relay.forCaller)
            #expect(
                callee.receive(timeoutMilliseconds: 1000)?.bytes == packet, "B hears A's packet \(callerSequence - 1)")
        }

        /// B sends its next packet; returns it, for the party expected to hear it.
        mutating func calleeTalks(to listener: UDPPeer? = nil) throws {
            let packet = pcmu(calleeSequence, ssrc: Self.calleeSSRC)
            calleeSequence += 1
            callee.send(packet, to: relay.forCallee)
            #expect(
                (listener ?? caller).receive(timeoutMilliseconds: 1000)?.bytes == packet,
                "A hears B's packet \(calleeSequence - 1)")
        }

        /// The figures of what A sends, as `query` reports them.
        func callerStream() async throws -> BencodeValue? { try await node.stream(callID: callID, tag: "A") }
    }

    @Test(arguments: DataPlaneEngine.allCases)
    func aStrangerOnTheCallersPortNeitherSpeaksIntoTheCallNorHearsIt(engine: DataPlaneEngine) async throws {
        let node = try await TestNode.start {
            $0.dataPlane = engine
            $0.metricsAddress = "127.0.0.1:0"
        }
        var call = try LatchedCall(node, "inject")
        let attacker = try UDPPeer()
        var generator = SystemRandomNumberGenerator()
        for sequence in 0..<100 {
            attacker.send(
                pcmu(sequence, ssrc: UInt32.random(in: 1...UInt32.max, using: &generator)), to: call.relay.forCaller)
        }
        // Then A's own SSRC with A's next sequence numbers, interleaved with A still talking.
        for _ in 0..<100 {
            attacker.send(pcmu(call.callerSequence, ssrc: LatchedCall.callerSSRC), to: call.relay.forCaller)
            try call.callerTalks()
            try call.calleeTalks()
        }
        #expect(call.callee.drain(quietMilliseconds: 200).isEmpty, "B heard something that A did not send")
        #expect(attacker.drain(quietMilliseconds: 100).isEmpty, "the attacker heard the call")

        let stream = try #require(try await call.callerStream())
        #expect(stream["drops"] == ["not-latched": 200])
        #expect(stream["latching"] == ["latched": 1, "relatched": 0])
        #expect(stream["forwarded"] == 150)
        #expect(stream["endpoint"]?["port"] == .integer(Int64(call.caller.address.port)))
        let metrics = String(
            decoding: try httpGet(try #require(node.node.metricsAddress), "/metrics").body, as: UTF8.self)
        #expect(
            prometheusValue(metrics, #"spillway_dropped_packets_total{direction="from-caller",reason="not-latched"}"#)
                == 200)
        #expect(
            prometheusValue(metrics, #"spillway_media_latches_total{direction="from-caller",event="latched"}"#) == 1)
        #expect(
            prometheusValue(metrics, #"spillway_media_latches_total{direction="from-caller",event="relatched"}"#) == 0)
        await node.stop()
    }

    @Test(arguments: DataPlaneEngine.allCases)
    func aCallerThatMovesAfterTwoSecondsOfSilenceIsFollowedAtOnce(engine: DataPlaneEngine) async throws {
        let node = try await TestNode.start { $0.dataPlane = engine }
        var call = try LatchedCall(node, "rebind")
        try await Task.sleep(for: .seconds(2))
        let moved = try UDPPeer()
        let firstPacketAt = spw_test_seconds()
        try call.callerTalks(from: moved)
        try call.calleeTalks(to: moved)
        let followedAfter = spw_test_seconds() - firstPacketAt
        #expect(
            followedAfter < 0.1, "B's media reached A's new address \(followedAfter) s after A's first packet from it")
        for _ in 0..<20 {
            try call.callerTalks(from: moved)
            try call.calleeTalks(to: moved)
        }
        #expect(call.caller.drain(quietMilliseconds: 100).isEmpty, "A's old address still hears the call")
        // The old address, silent now, cannot take the call back while A talks from the new one.
        call.caller.send(pcmu(call.callerSequence, ssrc: LatchedCall.callerSSRC), to: call.relay.forCaller)
        try call.callerTalks(from: moved)
        #expect(call.callee.drain(quietMilliseconds: 100).isEmpty)

        let stream = try #require(try await call.callerStream())
        #expect(stream["latching"] == ["latched": 1, "relatched": 1])
        #expect(stream["drops"] == ["not-latched": 1])
        #expect(stream["endpoint"]?["port"] == .integer(Int64(moved.address.port)))
        await node.stop()
    }

    @Test func strictSourceNeverFollowsTheCallerToANewAddress() async throws {
        let node = try await TestNode.start()
        var call = try LatchedCall(node, "strict", extraOffer: ["flags": ["strict-source"]])
        try await Task.sleep(for: .milliseconds(1200))
        let moved = try UDPPeer()
        for sequence in 0..<10 {
            moved.send(pcmu(call.callerSequence + sequence, ssrc: LatchedCall.callerSSRC), to: call.relay.forCaller)
        }
        #expect(call.callee.drain(quietMilliseconds: 200).isEmpty, "B heard the moved caller")
        try call.calleeTalks()  // still to A's latched address
        #expect(moved.drain(quietMilliseconds: 100).isEmpty)

        let stream = try #require(try await call.callerStream())
        #expect(stream["drops"] == ["not-latched": 10])
        #expect(stream["latching"] == ["latched": 1, "relatched": 0])
        let flags = try node.request(["command": "query", "call-id": "strict"])["tags"]?["A"]?["medias"]?.listValue?
            .first?["flags"]
        #expect(flags?.listValue?.contains("strict source") == true)
        await node.stop()
    }

    @Test func mediaHandoverFollowsTheCallerAtOnceButOnlyOnItsOwnStream() async throws {
        let node = try await TestNode.start()
        var call = try LatchedCall(node, "handover", extraOffer: ["flags": ["media-handover"]])
        let moved = try UDPPeer()
        // Another SSRC, or A's SSRC far behind or ahead of where A is, is not A moving.
        moved.send(pcmu(call.callerSequence, ssrc: 0x7777), to: call.relay.forCaller)
        moved.send(pcmu(call.callerSequence - 10, ssrc: LatchedCall.callerSSRC), to: call.relay.forCaller)
        moved.send(pcmu(call.callerSequence + 5000, ssrc: LatchedCall.callerSSRC), to: call.relay.forCaller)
        #expect(call.callee.drain(quietMilliseconds: 200).isEmpty)
        // A's stream carried on from the new address, with A just heard: followed at once.
        try call.callerTalks(from: moved)
        try call.calleeTalks(to: moved)
        #expect(call.caller.drain(quietMilliseconds: 100).isEmpty)

        let stream = try #require(try await call.callerStream())
        #expect(stream["drops"] == ["not-latched": 3])
        #expect(stream["latching"] == ["latched": 1, "relatched": 1])
        await node.stop()
    }

    @Test func asymmetricNeverLatchesAndSendsToTheSDPAddress() async throws {
        let node = try await TestNode.start()
        var call = try LatchedCall(node, "asymmetric", extraOffer: ["flags": ["asymmetric"]], packets: 5)
        let elsewhere = try UDPPeer()
        // A sends from another port: relayed, and B's media still goes to the port A's SDP named.
        try call.callerTalks(from: elsewhere)
        try call.calleeTalks()
        #expect(elsewhere.drain(quietMilliseconds: 100).isEmpty)
        let stream = try #require(try await call.callerStream())
        #expect(stream["latching"] == ["latched": 0, "relatched": 0])
        #expect(stream["drops"] == .dictionary([:]))
        await node.stop()
    }

    @Test(arguments: DataPlaneEngine.allCases)
    func onAnSRTPCallOnlyAPacketThatAuthenticatesCanMoveTheCaller(engine: DataPlaneEngine) async throws {
        let node = try await TestNode.start { $0.dataPlane = engine }
        let caller = try SecureParty()
        let callee = try UDPPeer()
        let offer = try node.request([
            "command": "offer", "call-id": "srtp-latch", "from-tag": "A", "sdp": .string(caller.sdp()),
            "transport-protocol": "RTP/AVP",
        ])
        let answer = try node.request([
            "command": "answer", "call-id": "srtp-latch", "from-tag": "A", "to-tag": "B",
            "sdp": .string(audioSDP(port: callee.address.port)),
        ])
        let relayForCaller = try ScriptedCall.mediaAddress(in: answer)
        let relayForCallee = try ScriptedCall.mediaAddress(in: offer)
        var sequence = 1
        func callerTalks(from socket: UDPPeer) throws {
            socket.send(try caller.encryptor.protect(pcmu(sequence)).get(), to: relayForCaller)
            #expect(callee.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(sequence))
            sequence += 1
        }
        for _ in 0..<20 { try callerTalks(from: caller.rtp) }
        try await Task.sleep(for: .milliseconds(1200))

        // After A's silence, a stranger carries on A's stream in the clear header, with no valid tag.
        let attacker = try UDPPeer()
        var forged = pcmu(sequence) + [UInt8](repeating: 0, count: 10)
        for offset in 0..<10 {
            forged[2] = UInt8(truncatingIfNeeded: (sequence + offset) >> 8)
            forged[3] = UInt8(truncatingIfNeeded: sequence + offset)
            attacker.send(forged, to: relayForCaller)
        }
        callee.send(pcmu(1, ssrc: 0x5151), to: relayForCallee)
        #expect(caller.rtp.receive(timeoutMilliseconds: 1000) != nil, "B's media goes to A's latched address")
        #expect(attacker.drain(quietMilliseconds: 100).isEmpty)
        #expect(callee.drain(quietMilliseconds: 100).isEmpty)

        // A itself, moved, authenticates: followed.
        let moved = try UDPPeer()
        try callerTalks(from: moved)
        callee.send(pcmu(2, ssrc: 0x5151), to: relayForCallee)
        #expect(moved.receive(timeoutMilliseconds: 1000) != nil, "B's media follows A to its new address")

        let stream = try #require(try await node.stream(callID: "srtp-latch", tag: "A"))
        #expect(stream["drops"] == ["srtp-auth-failed": 10])
        #expect(stream["latching"] == ["latched": 1, "relatched": 1])
        await node.stop()
    }
}

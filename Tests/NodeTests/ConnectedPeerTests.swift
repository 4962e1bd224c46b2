import Bencode
import Foundation
import MediaPlane
import SpillwayClient
import SpillwayTestSupport
import Testing

/// A latched RTP peer is served by a sibling socket connected to it (the kernel then keeps the
/// route instead of looking it up per packet); these check what a peer sees does not change.
@Suite struct ConnectedPeerTests {
    @Test(arguments: DataPlaneEngine.allCases)
    func aLatchedPeerIsServedByASocketConnectedToItAndStraySourcesStillArriveToBeRefused(engine: DataPlaneEngine)
        async throws
    {
        let node = try await TestNode.start { $0.dataPlane = engine }
        let (caller, callee, relay) = try node.audioCall("connected")
        let stranger = try UDPPeer()
        #expect(connectedPeers(of: relay.forCallee).isEmpty)

        callee.send(pcmu(1), to: relay.forCallee)
        #expect(caller.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(1))
        caller.send(pcmu(1), to: relay.forCaller)
        #expect(callee.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(1))
        #expect(connectedPeers(of: relay.forCallee) == [callee.address.port])
        #expect(connectedPeers(of: relay.forCaller) == [caller.address.port])

        for sequence in 2...21 {
            caller.send(pcmu(sequence), to: relay.forCaller)
            callee.send(pcmu(sequence, ssrc: 2), to: relay.forCallee)
            #expect(callee.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(sequence))
            #expect(caller.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(sequence, ssrc: 2))
        }
        // Not the latched peer: the kernel hands it to the bound socket, where the latching rules
        // see it and refuse it.
        stranger.send(pcmu(22, ssrc: 3), to: relay.forCallee)
        #expect(caller.receive(timeoutMilliseconds: 300) == nil)
        #expect(try await node.stream(callID: "connected", tag: "A")?["forwarded"] == 21)
        let fromCallee = try #require(try await node.stream(callID: "connected", tag: "B"))
        #expect(fromCallee["forwarded"] == 21)
        #expect(fromCallee["drops"] == ["not-latched": 1])
        await node.stop()
    }

    @Test(arguments: DataPlaneEngine.allCases)
    func aPeerThatMovesIsLatchedAfreshAndTheConnectedSocketFollowsIt(engine: DataPlaneEngine) async throws {
        let node = try await TestNode.start { $0.dataPlane = engine }
        let caller = try UDPPeer()
        let before = try UDPPeer()
        let after = try UDPPeer()
        let relay = try node.connect(
            callID: "moved", caller: audioSDP(port: caller.address.port), callee: audioSDP(port: before.address.port))
        before.send(pcmu(1), to: relay.forCallee)
        #expect(caller.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(1))
        #expect(connectedPeers(of: relay.forCallee) == [before.address.port])

        // The callee's new SDP (a re-INVITE's answer) names another port.
        _ = try node.request([
            "command": "answer", "call-id": "moved", "from-tag": "A", "to-tag": "B",
            "sdp": .string(audioSDP(port: after.address.port)),
        ])
        caller.send(pcmu(2), to: relay.forCaller)
        #expect(after.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(2))
        after.send(pcmu(2, ssrc: 2), to: relay.forCallee)
        #expect(caller.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(2, ssrc: 2))
        caller.send(pcmu(3), to: relay.forCaller)
        #expect(after.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(3))
        #expect(before.receive(timeoutMilliseconds: 200) == nil)
        #expect(connectedPeers(of: relay.forCallee) == [after.address.port])
        await node.stop()
    }

    @Test(arguments: DataPlaneEngine.allCases)
    func aPeerWhosePortWasClosedForAWhileLosesNothingOnceItListensAgain(engine: DataPlaneEngine) async throws {
        let node = try await TestNode.start { $0.dataPlane = engine }
        let caller = try UDPPeer()
        var callee: UDPPeer? = try UDPPeer()
        let calleePort = try #require(callee?.address.port)
        let relay = try node.connect(
            callID: "icmp", caller: audioSDP(port: caller.address.port), callee: audioSDP(port: calleePort))
        callee?.send(pcmu(1), to: relay.forCallee)
        #expect(caller.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(1))

        // While the callee's port is closed, every packet relayed to it draws an ICMP port
        // unreachable, which a connected socket reports on its next send.
        callee = nil
        for sequence in 1...5 { caller.send(pcmu(sequence), to: relay.forCaller) }
        try await Task.sleep(for: .milliseconds(100))
        let reopened = try UDPPeer(port: calleePort)
        for sequence in 6...10 { caller.send(pcmu(sequence), to: relay.forCaller) }
        for sequence in 6...10 {
            #expect(reopened.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(sequence))
        }
        let stream = try await node.stream(callID: "icmp", tag: "A")
        #expect(
            stream?["forwarded"] == 10,
            "every packet leaves the relay, as from an unconnected socket: \(String(describing: stream))")
        #expect(stream?["drops"]?["send-failed"] == nil, "\(String(describing: stream))")
        await node.stop()
    }

    /// The remote ports of the connected IPv4 UDP sockets bound to `local` (/proc/net/udp: local and
    /// remote address as hex IP:port, the IP as the kernel's 32-bit word printed host-endian, state
    /// 01 for a connected socket). The IP matters: nodes of tests running alongside reuse ports on
    /// other loopback addresses.
    func connectedPeers(of local: SocketAddress) -> [UInt16] {
        let localIP = local.withAddressBytes { bytes in
            bytes.reversed().map { String($0, radix: 16, uppercase: true).leftPadded(to: 2) }.joined()
        }
        let localEntry = "\(localIP):\(String(local.port, radix: 16, uppercase: true).leftPadded(to: 4))"
        // Read to the end: procfs hands the table out a page at a time.
        guard let data = FileHandle(forReadingAtPath: "/proc/net/udp")?.readDataToEndOfFile() else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 3, fields[3] == "01", fields[1] == localEntry,
                let remote = fields[2].split(separator: ":").last
            else { return nil }
            return UInt16(remote, radix: 16)
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

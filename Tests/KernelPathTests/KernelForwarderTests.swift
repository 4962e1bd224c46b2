import KernelPath
import PacketIO
import RTP
import SpillwayClient
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The kernel fast path's program on its own, on loopback: a route forwards its peer's RTP with
/// the addresses rewritten and counts it, and leaves everything else to the sockets.
@Suite(.serialized) struct KernelForwarderTests {
    static let loopback = NetworkDevice(named: "lo")!

    static func rtp(sequence: UInt16, ssrc: UInt32 = 0x1234_5678, payload: [UInt8] = Array(repeating: 0xD5, count: 160))
        -> [UInt8]
    {
        let timestamp = UInt32(sequence) &* 160
        return [0x80, 0x08, UInt8(sequence >> 8), UInt8(sequence & 0xFF)]
            + withUnsafeBytes(of: timestamp.bigEndian, Array.init) + withUnsafeBytes(of: ssrc.bigEndian, Array.init)
            + payload
    }

    @Test func aRouteForwardsItsPeersRTPRewrittenAndCountsIt() throws {
        let forwarder = try KernelForwarder(devices: [Self.loopback], capacity: 16, owner: "kernel-test")
        defer { forwarder.stop() }
        #expect(KernelForwarder.attachedProgram(on: Self.loopback, owner: "kernel-test") == "spw_forward")

        let caller = try UDPPeer(bindingTo: "127.0.0.70", port: 24710)
        let callee = try UDPPeer(bindingTo: "127.0.0.70", port: 24711)
        let relayA = try UDPPeer(bindingTo: "127.0.0.70", port: 24700)
        let relayB = try UDPPeer(bindingTo: "127.0.0.70", port: 24702)
        let stranger = try UDPPeer(bindingTo: "127.0.0.70", port: 24712)

        // Before the route: the relay's socket gets the packet.
        #expect(caller.send(Self.rtp(sequence: 1), to: relayA.address))
        #expect(relayA.receive(timeoutMilliseconds: 500)?.source == caller.address)

        var seed = RTPSeed()
        seed.record(Self.rtp(sequence: 1))
        seed.record(Self.rtp(sequence: 2))
        let route = KernelRoute(
            local: relayA.address, peer: caller.address, carriesOnlyRTCP: false, rtcpMux: true, isVideo: false,
            clockRate: 8000, target: .init(source: relayB.address, destination: callee.address), rtcpTarget: nil)
        #expect(route.isForwardable)
        #expect(forwarder.install(route, continuing: seed.statistics.continuation) == nil)

        for sequence in UInt16(3)...102 { #expect(caller.send(Self.rtp(sequence: sequence), to: relayA.address)) }
        let delivered = callee.drain(quietMilliseconds: 200)
        #expect(delivered.count == 100)
        #expect(delivered.allSatisfy { $0.source == relayB.address })
        let intact = delivered.map(\.bytes) == (UInt16(3)...102).map { Self.rtp(sequence: $0) }
        #expect(intact, "a forwarded packet's payload changed")
        #expect(relayA.drain(quietMilliseconds: 50).isEmpty, "the relay's socket saw a forwarded packet")

        // A stranger's packet and a new SSRC go up to the node's socket, untouched.
        #expect(stranger.send(Self.rtp(sequence: 103), to: relayA.address))
        #expect(caller.send(Self.rtp(sequence: 103, ssrc: 0x9999), to: relayA.address))
        let upstairs = relayA.drain(quietMilliseconds: 200)
        #expect(upstairs.map(\.source) == [stranger.address, caller.address])
        #expect(callee.drain(quietMilliseconds: 50).isEmpty)

        // Multiplexed RTCP without an RTCP target is dropped and counted.
        #expect(caller.send([0x80, 200, 0, 6] + Array(repeating: 0, count: 24), to: relayA.address))
        usleep(50_000)

        let counts = try #require(forwarder.counts(at: relayA.address))
        #expect(counts.rtpPackets == 100 && counts.rtpBytes == 100 * 172 && counts.forwarded == 100)
        #expect(counts.received == 100 && counts.rtcpPackets == 1 && counts.noDestination == 1)
        #expect(forwarder.totals().packets == 100)
        let reception = try #require(forwarder.reception(at: relayA.address))
        let carriedOn = reception.continuation(received: seed.statistics.received + counts.received)
        #expect(carriedOn.maxSequence == 102 && carriedOn.ssrc == 0x1234_5678)
        #expect(ReceptionStatistics(continuing: carriedOn).lost == 0)

        // Withdrawn, the route forwards no more; its counts stay until the address is forgotten.
        #expect(forwarder.withdraw(relayA.address) == reception)
        #expect(forwarder.reception(at: relayA.address) == nil)
        #expect(caller.send(Self.rtp(sequence: 104), to: relayA.address))
        #expect(relayA.receive(timeoutMilliseconds: 500)?.source == caller.address, "a withdrawn route still forwards")
        #expect(forwarder.counts(at: relayA.address) == counts)
        forwarder.forget(relayA.address)
        #expect(forwarder.counts(at: relayA.address) == nil)
    }

    @Test func stopDetachesTheProgramAndARestartReplacesALeftOverFilter() throws {
        let first = try KernelForwarder(devices: [Self.loopback], capacity: 4, owner: "kernel-restart")
        // A second start of the same node (as after a crash: the first never detached) replaces
        // the filter rather than stacking another.
        let second = try KernelForwarder(devices: [Self.loopback], capacity: 4, owner: "kernel-restart")
        #expect(KernelForwarder.attachedProgram(on: Self.loopback, owner: "kernel-restart") == "spw_forward")
        second.stop()
        #expect(KernelForwarder.attachedProgram(on: Self.loopback, owner: "kernel-restart") == nil)
        first.stop()
    }
}

/// Reception statistics fed from packet bytes.
struct RTPSeed {
    var statistics = ReceptionStatistics()

    mutating func record(_ packet: [UInt8]) {
        let sequence = UInt16(packet[2]) << 8 | UInt16(packet[3])
        let timestamp = packet[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let ssrc = packet[8..<12].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        statistics.record(ssrc: ssrc, sequenceNumber: sequence, timestamp: timestamp, arrival: 0)
    }
}

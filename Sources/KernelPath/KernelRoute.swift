import CSpillwayKernel
import PacketIO
import RTP

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What one forwarding entry of the kernel fast path says: where packets arrive (the relay's own
/// address, the entry's key), the only source taken from there, and where they are sent on.
public struct KernelRoute: Sendable, Equatable {
    /// The addresses a forwarded packet leaves with.
    public struct Target: Sendable, Equatable {
        /// The relay's address facing the receiver.
        public var source: SocketAddress
        /// The receiver.
        public var destination: SocketAddress

        public init(source: SocketAddress, destination: SocketAddress) {
            self.source = source
            self.destination = destination
        }
    }

    /// The relay's media address packets arrive at.
    public var local: SocketAddress
    /// The latched peer: packets from any other source go up to the node.
    public var peer: SocketAddress
    /// Every packet arriving at `local` is RTCP (a separate RTCP port).
    public var carriesOnlyRTCP: Bool
    /// RTCP may arrive multiplexed at the RTP port.
    public var rtcpMux: Bool
    /// Count marker-bit packets as frames.
    public var isVideo: Bool
    /// The RTP clock rate of what the peer sends, for jitter.
    public var clockRate: UInt32
    /// Where RTP goes (and RTCP, when `carriesOnlyRTCP`).
    public var target: Target
    /// Where multiplexed RTCP goes; nil: it is dropped and counted.
    public var rtcpTarget: Target?

    public init(
        local: SocketAddress, peer: SocketAddress, carriesOnlyRTCP: Bool, rtcpMux: Bool, isVideo: Bool,
        clockRate: UInt32, target: Target, rtcpTarget: Target?
    ) {
        self.local = local
        self.peer = peer
        self.carriesOnlyRTCP = carriesOnlyRTCP
        self.rtcpMux = rtcpMux
        self.isVideo = isVideo
        self.clockRate = clockRate
        self.target = target
        self.rtcpTarget = rtcpTarget
    }

    /// Whether the program can carry this route: every address concrete and of one family.
    public var isForwardable: Bool {
        let addresses =
            [local, peer, target.source, target.destination]
            + (rtcpTarget.map { [$0.source, $0.destination] } ?? [])
        return addresses.allSatisfy { $0.isSet && $0.port != 0 && $0.isIPv6 == local.isIPv6 && !$0.isWildcard }
    }

    var key: spw_forward_key { Self.key(for: local) }

    static func key(for local: SocketAddress) -> spw_forward_key {
        var key = spw_forward_key()
        local.copyAddress(into: &key.address)
        key.port = local.port.bigEndian
        key.family = local.isIPv6 ? UInt16(AF_INET6) : UInt16(AF_INET)
        return key
    }

    /// The map entry, its reception state carried on from `reception` (RTP routes).
    func entry(
        continuing reception: ReceptionStatistics.Continuation?, egress: (SocketAddress) -> EgressDevices.Egress
    ) -> spw_forward_entry {
        var entry = spw_forward_entry()
        entry.flags =
            (carriesOnlyRTCP ? UInt32(SPW_FORWARD_RTCP_PORT) : 0) | (rtcpMux ? UInt32(SPW_FORWARD_RTCP_MUX) : 0)
            | (rtcpTarget != nil || carriesOnlyRTCP ? UInt32(SPW_FORWARD_HAS_RTCP_TARGET) : 0)
            | (isVideo ? UInt32(SPW_FORWARD_VIDEO) : 0)
        peer.copyAddress(into: &entry.peer)
        entry.peer_port = peer.port.bigEndian
        entry.family = local.isIPv6 ? UInt16(AF_INET6) : UInt16(AF_INET)
        entry.clock_rate = clockRate
        entry.rtp = Self.target(target, egress: egress)
        entry.rtcp = Self.target(carriesOnlyRTCP ? target : rtcpTarget ?? target, egress: egress)
        if let reception {
            entry.reception.ssrc = reception.ssrc
            entry.reception.base_sequence = reception.baseSequence
            entry.reception.cycles = reception.cycles
            entry.reception.max_sequence = reception.maxSequence
            entry.reception.bad_sequence = reception.badSequence
            entry.reception.has_transit = reception.lastTransit == nil ? 0 : 1
            entry.reception.last_transit = reception.lastTransit ?? 0
            entry.reception.scaled_jitter = reception.scaledJitter
        }
        return entry
    }

    private static func target(
        _ target: Target, egress: (SocketAddress) -> EgressDevices.Egress
    ) -> spw_forward_target {
        var result = spw_forward_target()
        let way = egress(target.destination)
        result.ifindex = UInt32(bitPattern: way.device)
        result.loopback = way.isLoopback ? 1 : 0
        target.source.copyAddress(into: &result.source)
        target.destination.copyAddress(into: &result.destination)
        result.source_port = target.source.port.bigEndian
        result.destination_port = target.destination.port.bigEndian
        return result
    }
}

/// What the program counted at one relay address since its first route there. The figures only
/// grow while the node keeps the side, whatever happens to its routes, so the node takes what grew
/// since it last looked.
public struct KernelCounts: Sendable, Equatable {
    public var rtpPackets: UInt64 = 0
    public var rtpBytes: UInt64 = 0
    public var rtcpPackets: UInt64 = 0
    public var rtcpBytes: UInt64 = 0
    public var forwarded: UInt64 = 0
    public var frames: UInt64 = 0
    /// RTP packets valid by RFC 3550 A.1, for the reception statistics.
    public var received: UInt64 = 0
    /// CLOCK_MONOTONIC nanoseconds of the last packet, 0 before the first.
    public var lastPacketNanos: UInt64 = 0
    /// RTCP dropped for want of a destination.
    public var noDestination: UInt64 = 0

    public init() {}

    init(_ counts: spw_forward_counters) {
        rtpPackets = counts.rtp_packets
        rtpBytes = counts.rtp_bytes
        rtcpPackets = counts.rtcp_packets
        rtcpBytes = counts.rtcp_bytes
        forwarded = counts.forwarded
        frames = counts.frames
        received = counts.received
        lastPacketNanos = counts.last_packet_nanos
        noDestination = counts.no_destination
    }

    /// What grew since `earlier` (the last packet's time is this one's).
    public func since(_ earlier: KernelCounts) -> KernelCounts {
        var grown = KernelCounts()
        grown.rtpPackets = rtpPackets &- earlier.rtpPackets
        grown.rtpBytes = rtpBytes &- earlier.rtpBytes
        grown.rtcpPackets = rtcpPackets &- earlier.rtcpPackets
        grown.rtcpBytes = rtcpBytes &- earlier.rtcpBytes
        grown.forwarded = forwarded &- earlier.forwarded
        grown.frames = frames &- earlier.frames
        grown.received = received &- earlier.received
        grown.lastPacketNanos = lastPacketNanos
        grown.noDestination = noDestination &- earlier.noDestination
        return grown
    }
}

/// Where an RTP route's sequence and jitter state got to (its valid packets are in `KernelCounts`).
public struct KernelReception: Sendable, Equatable {
    var state: spw_forward_reception

    /// The reception statistics carried on from here, `received` valid packets in all.
    public func continuation(received: UInt64) -> ReceptionStatistics.Continuation {
        ReceptionStatistics.Continuation(
            ssrc: state.ssrc, baseSequence: state.base_sequence, maxSequence: state.max_sequence,
            cycles: state.cycles, received: received, badSequence: state.bad_sequence,
            lastTransit: state.has_transit != 0 ? state.last_transit : nil, scaledJitter: state.scaled_jitter)
    }

    public static func == (lhs: KernelReception, rhs: KernelReception) -> Bool {
        withUnsafeBytes(of: lhs.state) { left in withUnsafeBytes(of: rhs.state) { right in left.elementsEqual(right) } }
    }
}

extension SocketAddress {
    /// Copies the address (network byte order) into the first words of `words`.
    fileprivate func copyAddress(into words: inout (UInt32, UInt32, UInt32, UInt32)) {
        withAddressBytes { bytes in
            withUnsafeMutableBytes(of: &words) { target in
                target.copyMemory(from: bytes)
            }
        }
    }

    /// 0.0.0.0 or ::, which the program cannot put on a packet.
    fileprivate var isWildcard: Bool { withAddressBytes { $0.allSatisfy { $0 == 0 } } }
}

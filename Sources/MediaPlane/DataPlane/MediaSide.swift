import KernelPath
import RTP
import SRTP

/// Where one side of a stream lives: a worker and a slot in that worker's side table.
public struct MediaSlot: Hashable, Sendable, CustomStringConvertible {
    public var worker: Int
    public var index: Int

    public var description: String { "w\(worker)/\(index)" }
}

/// What the control plane tells a worker about one side of a stream: the relay's sockets that face
/// one peer on one m= line, where that peer said it receives, and the side packets go across to.
public struct MediaSideConfiguration: Sendable {
    public var rtpDescriptor: Int32
    /// -1 when the side has no separate RTCP socket.
    public var rtcpDescriptor: Int32
    /// The peer's RTP address from its SDP, or `.unset` while unknown.
    public var advertisedRTP: SocketAddress
    /// The peer's RTCP address from its SDP (a=rtcp, else RTP port + 1), or `.unset`.
    public var advertisedRTCP: SocketAddress
    /// The peer sends and receives RTCP on the RTP port (RFC 5761).
    public var rtcpMux: Bool
    /// How the side learns its peer's address and whether it follows the peer to a new one.
    public var latching: LatchingRule
    /// How long the latched source must have been silent before a new source may take over.
    public var relatchSilenceNanos: UInt64
    /// Count frames by the marker bit (video).
    public var isVideo: Bool
    /// The m= line is SRTP (RTP/SAVP, RTP/SAVPF) relayed without decryption: RTCP is SRTCP, only
    /// its first header can be checked.
    public var isSecured: Bool
    /// Set when the relay terminates SRTP towards this side's peer.
    public var srtp: SRTPTermination?
    /// Set when what this side's peer sends is transcoded before it goes across.
    public var transcoding: TranscodingStage?
    /// The slot of the other side of this stream, on the same worker.
    public var opposite: Int
    public var counters: StreamCounters
    /// The relay's own RTP and RTCP socket addresses for this side (recordings name them).
    public var localRTP: SocketAddress
    public var localRTCP: SocketAddress
    /// Set while the call is being recorded.
    public var recorder: (any PacketRecorder)?
    /// The peer addresses a side restored from the call store starts latched to (RTP, RTCP; either
    /// `.unset` when it had not latched): its first configuration only.
    public var restoredPeers: (rtp: SocketAddress, rtcp: SocketAddress)?

    public init(
        rtpDescriptor: Int32, rtcpDescriptor: Int32, advertisedRTP: SocketAddress, advertisedRTCP: SocketAddress,
        rtcpMux: Bool, latching: LatchingRule = .symmetric, relatchSilenceNanos: UInt64 = 1_000_000_000, isVideo: Bool,
        isSecured: Bool = false, srtp: SRTPTermination? = nil,
        transcoding: TranscodingStage? = nil,
        opposite: Int, counters: StreamCounters, localRTP: SocketAddress = .unset, localRTCP: SocketAddress = .unset,
        recorder: (any PacketRecorder)? = nil
    ) {
        self.rtpDescriptor = rtpDescriptor
        self.rtcpDescriptor = rtcpDescriptor
        self.advertisedRTP = advertisedRTP
        self.advertisedRTCP = advertisedRTCP
        self.rtcpMux = rtcpMux
        self.latching = latching
        self.relatchSilenceNanos = relatchSilenceNanos
        self.isVideo = isVideo
        self.isSecured = isSecured
        self.srtp = srtp
        self.transcoding = transcoding
        self.opposite = opposite
        self.counters = counters
        self.localRTP = localRTP
        self.localRTCP = localRTCP
        self.recorder = recorder
    }
}

/// The SRTP a relay terminates towards one peer: the session that checks and decrypts what the
/// peer sends, and the one that encrypts what the relay sends it. Either is nil until its key is
/// agreed; packets that need it meanwhile are dropped as `awaitingKeys`.
public struct SRTPTermination: Sendable {
    public var decryptor: SRTPSession?
    public var encryptor: SRTPSession?

    public init(decryptor: SRTPSession?, encryptor: SRTPSession?) {
        self.decryptor = decryptor
        self.encryptor = encryptor
    }
}

/// A worker's private state for one side: forwarding addresses, latching, and running tallies that
/// are published to the side's `StreamCounters` after every batch.
struct MediaSideState {
    var active = false
    /// How many sides held this slot before this one. Tokens carry it, so that a completion still in
    /// flight for a removed side is not taken for the side that holds the slot now.
    var generation: UInt16 = 0
    var rtpDescriptor: Int32 = -1
    var rtcpDescriptor: Int32 = -1
    var advertisedRTP = SocketAddress.unset
    var advertisedRTCP = SocketAddress.unset
    /// Where RTP and RTCP for this side's peer are sent: advertised first, then latched.
    var peerRTP = SocketAddress.unset
    var peerRTCP = SocketAddress.unset
    var latchedRTP = false
    var latchedRTCP = false
    /// What lets the latched RTP peer move to a new address.
    var latch = PeerLatch()
    /// Set when RTP moved to a new address and RTCP, on its own port, has not followed yet.
    var rtcpMayFollow = false
    /// The RTP socket's connected sibling (see `UDPSocket`), once a peer has latched; -1 before.
    var connectedRTPDescriptor: Int32 = -1
    /// Whether the sibling is connected to `peerRTP`, so RTP goes out through it.
    var sendsConnected = false
    var rtcpMux = false
    var isVideo = false
    var isSecured = false
    /// Whether SRTP is terminated towards this side's peer; the sessions are kept alive by
    /// `srtpSessions`, the hot path only uses their transforms.
    var terminatesSRTP = false
    var decrypt: SRTPTransform?
    var encrypt: SRTPTransform?
    var srtpSessions: SRTPTermination?
    var transcoding: TranscodingStage?
    var opposite = -1
    var clockRate: UInt32 = 8000
    var reception = ReceptionStatistics()
    /// What a transcoding stage towards this side's peer reports on the peer's stream (RTCP report
    /// blocks): the counts at the last report and the peer's last sender report.
    var reporting = ReceptionReporting()
    var tally = Tally()
    var counters: Unmanaged<StreamCounters>?
    var localRTP = SocketAddress.unset
    var localRTCP = SocketAddress.unset
    var recorder: (any PacketRecorder)?
    /// The kernel fast path's routes for what this side's peer sends, on the RTP port and on the
    /// RTCP port: nil while userspace carries those packets.
    var kernelRTP: KernelRoute?
    var kernelRTCP: KernelRoute?

    struct Tally {
        var rtpPackets: UInt64 = 0
        var rtpBytes: UInt64 = 0
        var rtcpPackets: UInt64 = 0
        var rtcpBytes: UInt64 = 0
        var forwarded: UInt64 = 0
        var frames: UInt64 = 0
        var lastPacketNanos: UInt64 = 0
        /// Sources learned (RTP and RTCP), and moves to a new source.
        var latches: UInt64 = 0
        var relatches: UInt64 = 0
        var drops = InlineArray<13, UInt64>(repeating: 0)
    }

    init() {}

    /// An inactive side for a slot whose previous side was just removed.
    init(generation: UInt16) { self.generation = generation }

    /// The socket of `kind`, -1 when the side has none (or for a send).
    @inline(__always)
    func socket(_ kind: WorkerToken.Kind) -> Int32 {
        switch kind {
        case .rtp: rtpDescriptor
        case .rtcp: rtcpDescriptor
        case .connectedRTP: connectedRTPDescriptor
        case .send: -1
        }
    }

    mutating func apply(_ configuration: MediaSideConfiguration) {
        if !active {
            counters = Unmanaged.passRetained(configuration.counters)
            rtpDescriptor = configuration.rtpDescriptor
            rtcpDescriptor = configuration.rtcpDescriptor
            active = true
        }
        // A new advertised address (re-INVITE, or the answer arriving) starts latching afresh.
        if configuration.advertisedRTP != advertisedRTP {
            advertisedRTP = configuration.advertisedRTP
            peerRTP = advertisedRTP
            latchedRTP = false
            sendsConnected = false
        }
        if configuration.advertisedRTCP != advertisedRTCP {
            advertisedRTCP = configuration.advertisedRTCP
            peerRTCP = advertisedRTCP
            latchedRTCP = false
            rtcpMayFollow = false
        }
        clockRate = configuration.counters.clockRate
        rtcpMux = configuration.rtcpMux
        latch.rule = configuration.latching
        latch.silenceNanos = configuration.relatchSilenceNanos
        isVideo = configuration.isVideo
        isSecured = configuration.isSecured
        terminatesSRTP = configuration.srtp != nil
        srtpSessions = configuration.srtp
        decrypt = configuration.srtp?.decryptor?.transform
        encrypt = configuration.srtp?.encryptor?.transform
        transcoding = configuration.transcoding
        opposite = configuration.opposite
        localRTP = configuration.localRTP
        localRTCP = configuration.localRTCP
        recorder = configuration.recorder
    }

    /// The socket and address a packet for this side's peer leaves by, nil while there is none: RTCP
    /// goes to the RTCP port unless the peer multiplexes it with RTP, and RTP through the connected
    /// sibling once there is one, with no address (the kernel then reuses the route it cached).
    @inline(__always)
    func sendTarget(rtcp: Bool) -> (descriptor: Int32, destination: SocketAddress)? {
        if rtcp && !rtcpMux {
            guard rtcpDescriptor >= 0, peerRTCP.isSet, peerRTCP.port != 0 else { return nil }
            return (rtcpDescriptor, peerRTCP)
        }
        if sendsConnected { return (connectedRTPDescriptor, .unset) }
        guard rtpDescriptor >= 0, peerRTP.isSet, peerRTP.port != 0 else { return nil }
        return (rtpDescriptor, peerRTP)
    }

    /// Adds what the kernel fast path counted for this side since the worker last looked; RTP
    /// packets it found valid count in the reception statistics when those carry on from `route`.
    mutating func absorb(_ counts: KernelCounts, carryingOn route: KernelReception? = nil) {
        tally.rtpPackets &+= counts.rtpPackets
        tally.rtpBytes &+= counts.rtpBytes
        tally.rtcpPackets &+= counts.rtcpPackets
        tally.rtcpBytes &+= counts.rtcpBytes
        tally.forwarded &+= counts.forwarded
        tally.frames &+= counts.frames
        tally.drops[PacketDropReason.noDestination.rawValue] &+= counts.noDestination
        tally.lastPacketNanos = max(tally.lastPacketNanos, counts.lastPacketNanos)
        if let route {
            reception = ReceptionStatistics(
                continuing: route.continuation(received: reception.received &+ counts.received))
        }
    }

    /// Writes the tallies to the shared counters. Single writer: relaxed stores suffice.
    ///
    /// `mutating` although it changes nothing, so that it runs on the side where it lies: called
    /// through the worker's buffer pointer, a non-mutating method first copies the whole side
    /// (536 bytes, a tenth of the worker's userspace instructions per packet).
    mutating func publish() {
        guard let counters else { return }
        counters._withUnsafeGuaranteedRef { shared in
            shared.rtpPackets.store(tally.rtpPackets, ordering: .relaxed)
            shared.rtpBytes.store(tally.rtpBytes, ordering: .relaxed)
            shared.rtcpPackets.store(tally.rtcpPackets, ordering: .relaxed)
            shared.rtcpBytes.store(tally.rtcpBytes, ordering: .relaxed)
            shared.forwarded.store(tally.forwarded, ordering: .relaxed)
            shared.frames.store(tally.frames, ordering: .relaxed)
            shared.lastPacketNanos.store(tally.lastPacketNanos, ordering: .relaxed)
            shared.latches.store(tally.latches, ordering: .relaxed)
            shared.relatches.store(tally.relatches, ordering: .relaxed)
            shared.expected.store(reception.expected, ordering: .relaxed)
            shared.lost.store(reception.lost, ordering: .relaxed)
            shared.jitter.store(reception.jitter, ordering: .relaxed)
            shared.ssrc.store(reception.ssrc, ordering: .relaxed)
            shared.extendedSequence.store(reception.extendedMaxSequence, ordering: .relaxed)
            for reason in 0..<tally.drops.count {
                shared.drops[reason].store(tally.drops[reason], ordering: .relaxed)
            }
        }
    }
}

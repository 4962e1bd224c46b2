import KernelPath
import RTP
import Synchronization

/// The figures of one side of a stream (what the relay received from one peer on one m= line).
///
/// Exactly one data-plane worker writes them, once per received batch, with relaxed atomic stores
/// (plain moves on x86-64, no locked instructions); the control plane reads them at any time for
/// `query`, `statistics` and the media timeout.
public final class StreamCounters: Sendable {
    let rtpPackets = Atomic<UInt64>(0)
    let rtpBytes = Atomic<UInt64>(0)
    let rtcpPackets = Atomic<UInt64>(0)
    let rtcpBytes = Atomic<UInt64>(0)
    let forwarded = Atomic<UInt64>(0)
    let frames = Atomic<UInt64>(0)
    let expected = Atomic<UInt64>(0)
    let lost = Atomic<UInt64>(0)
    let jitter = Atomic<UInt32>(0)
    let ssrc = Atomic<UInt32>(0)
    /// CLOCK_MONOTONIC nanoseconds of the last packet received; 0 before the first.
    let lastPacketNanos = Atomic<UInt64>(0)
    let latches = Atomic<UInt64>(0)
    let relatches = Atomic<UInt64>(0)
    let drops: InlineArray<13, Atomic<UInt64>>
    let latchedSource = Mutex<SocketAddress>(.unset)
    /// Where the peer's RTCP was learned from (its own port), `.unset` before.
    let latchedRTCPSource = Mutex<SocketAddress>(.unset)
    /// The extended highest RTP sequence number received (RFC 3550 A.1: cycles and sequence
    /// number): a stream's SRTP rollover counter is its upper half.
    let extendedSequence = Atomic<UInt32>(0)
    /// The kernel fast path's entries counting this side, if any. The worker holds the lock while
    /// it hands a route between the kernel and itself (taking the entry's figures into its
    /// tallies and publishing them), so a reader holding it counts every packet exactly once.
    let kernelRoutes = Mutex<KernelCounting>(KernelCounting())
    private let currentClockRate: Atomic<UInt32>

    public init(clockRate: UInt32) {
        currentClockRate = Atomic(clockRate)
        self.drops = InlineArray { _ in Atomic<UInt64>(0) }
    }

    /// The RTP clock rate of what the party sends, to measure jitter in and turn it into
    /// milliseconds: the offer's first codec's until the answer settles the codec.
    public var clockRate: UInt32 {
        get { currentClockRate.load(ordering: .relaxed) }
        set { currentClockRate.store(newValue, ordering: .relaxed) }
    }

    /// Stops the kernel fast path forwarding this side at once, without waiting for its worker
    /// (the call ended); what it counted stays in the figures.
    public func closeKernelRoutes() {
        kernelRoutes.withLock { $0.close() }
    }

    /// CLOCK_MONOTONIC nanoseconds of the last packet received, in userspace or in the kernel; 0
    /// before the first.
    public var lastPacketTime: UInt64 {
        let userspace = lastPacketNanos.load(ordering: .relaxed)
        return kernelRoutes.withLock { max(userspace, $0.lastPacketNanos()) }
    }

    /// A consistent-enough copy for reporting, with what the kernel fast path counted.
    public func snapshot() -> StreamStatistics {
        kernelRoutes.withLock { routes in
            var statistics = userspaceSnapshot()
            routes.add(to: &statistics, clockRate: clockRate)
            return statistics
        }
    }

    private func userspaceSnapshot() -> StreamStatistics {
        var dropped: [PacketDropReason: UInt64] = [:]
        for reason in PacketDropReason.allCases {
            let count = drops[reason.rawValue].load(ordering: .relaxed)
            if count > 0 { dropped[reason] = count }
        }
        return StreamStatistics(
            rtpPackets: rtpPackets.load(ordering: .relaxed),
            rtpBytes: rtpBytes.load(ordering: .relaxed),
            rtcpPackets: rtcpPackets.load(ordering: .relaxed),
            rtcpBytes: rtcpBytes.load(ordering: .relaxed),
            forwardedPackets: forwarded.load(ordering: .relaxed),
            frames: frames.load(ordering: .relaxed),
            expected: expected.load(ordering: .relaxed),
            lost: lost.load(ordering: .relaxed),
            jitterMilliseconds: clockRate > 0 ? Double(jitter.load(ordering: .relaxed)) * 1000 / Double(clockRate) : 0,
            ssrc: ssrc.load(ordering: .relaxed),
            lastPacketNanos: lastPacketNanos.load(ordering: .relaxed),
            latches: latches.load(ordering: .relaxed),
            relatches: relatches.load(ordering: .relaxed),
            drops: dropped,
            latchedSource: latchedSource.withLock { $0 }
        )
    }
}

/// The kernel fast path's part in a side's figures: the relay addresses (RTP port, RTCP port) the
/// program counts for it, what of those counts the worker has already taken into its tallies, and
/// whether a route is in the kernel there now.
struct KernelCounting {
    /// One relay address of the side.
    struct Address {
        var local: SocketAddress
        /// The program's counts the worker's tallies already hold.
        var absorbed = KernelCounts()
        /// Whether packets arriving here are forwarded by the program now.
        var isRouted = false
        /// The side's valid RTP packets (RFC 3550 A.1) when the counts were last absorbed.
        var received: UInt64 = 0

        /// Stops the program forwarding here, if it does.
        mutating func withdrawRoute(from forwarder: KernelForwarder) {
            guard isRouted else { return }
            _ = forwarder.withdraw(local)
            isRouted = false
        }
    }

    var forwarder: KernelForwarder?
    var rtp: Address?
    var rtcp: Address?
    /// Set once the control plane removed the side's routes (its call ended): the worker must not
    /// install new ones.
    private(set) var isClosed = false

    /// Adds what the program counted and the worker has not taken yet; while an RTP route is in,
    /// its reception replaces the userspace one (the workers' is where it was at the hand-over).
    func add(to statistics: inout StreamStatistics, clockRate: UInt32) {
        guard let forwarder else { return }
        for address in [rtp, rtcp].compactMap({ $0 }) {
            guard let counts = forwarder.counts(at: address.local) else { continue }
            let grown = counts.since(address.absorbed)
            statistics.add(grown)
            guard address.isRouted, address.local == rtp?.local, let reception = forwarder.reception(at: address.local)
            else { continue }
            statistics.replaceReception(
                ReceptionStatistics(continuing: reception.continuation(received: address.received &+ grown.received)),
                clockRate: clockRate)
        }
    }

    /// The last time the program forwarded a packet of the side, 0 if never.
    func lastPacketNanos() -> UInt64 {
        guard let forwarder else { return 0 }
        return [rtp, rtcp].compactMap { $0.flatMap { forwarder.counts(at: $0.local)?.lastPacketNanos } }.max() ?? 0
    }

    /// Removes the side's routes at once; their counts stay for the worker to take.
    mutating func close() {
        isClosed = true
        guard let forwarder else { return }
        rtp?.withdrawRoute(from: forwarder)
        rtcp?.withdrawRoute(from: forwarder)
    }
}

/// A snapshot of `StreamCounters`.
public struct StreamStatistics: Sendable, Equatable {
    public var rtpPackets: UInt64 = 0
    public var rtpBytes: UInt64 = 0
    public var rtcpPackets: UInt64 = 0
    public var rtcpBytes: UInt64 = 0
    /// RTP and RTCP packets sent on to the other side.
    public var forwardedPackets: UInt64 = 0
    /// RTP packets with the marker bit set: for video, the number of frames.
    public var frames: UInt64 = 0
    /// RFC 3550 A.3 expected and lost packets.
    public var expected: UInt64 = 0
    public var lost: UInt64 = 0
    public var jitterMilliseconds: Double = 0
    public var ssrc: UInt32 = 0
    public var lastPacketNanos: UInt64 = 0
    /// Sources learned from the media (RTP and RTCP), and moves of a learned source to a new
    /// address (NAT rebinding, handover).
    public var latches: UInt64 = 0
    public var relatches: UInt64 = 0
    public var drops: [PacketDropReason: UInt64] = [:]
    public var latchedSource: SocketAddress = .unset

    public init() {}

    init(
        rtpPackets: UInt64, rtpBytes: UInt64, rtcpPackets: UInt64, rtcpBytes: UInt64, forwardedPackets: UInt64,
        frames: UInt64,
        expected: UInt64, lost: UInt64, jitterMilliseconds: Double, ssrc: UInt32, lastPacketNanos: UInt64,
        latches: UInt64, relatches: UInt64, drops: [PacketDropReason: UInt64], latchedSource: SocketAddress
    ) {
        self.rtpPackets = rtpPackets
        self.rtpBytes = rtpBytes
        self.rtcpPackets = rtcpPackets
        self.rtcpBytes = rtcpBytes
        self.forwardedPackets = forwardedPackets
        self.frames = frames
        self.expected = expected
        self.lost = lost
        self.jitterMilliseconds = jitterMilliseconds
        self.ssrc = ssrc
        self.lastPacketNanos = lastPacketNanos
        self.latches = latches
        self.relatches = relatches
        self.drops = drops
        self.latchedSource = latchedSource
    }

    public var droppedPackets: UInt64 { drops.values.reduce(0, +) }

    /// Adds what the kernel fast path counted.
    mutating func add(_ counts: KernelCounts) {
        rtpPackets += counts.rtpPackets
        rtpBytes += counts.rtpBytes
        rtcpPackets += counts.rtcpPackets
        rtcpBytes += counts.rtcpBytes
        forwardedPackets += counts.forwarded
        frames += counts.frames
        lastPacketNanos = max(lastPacketNanos, counts.lastPacketNanos)
        if counts.noDestination > 0 { drops[.noDestination, default: 0] += counts.noDestination }
    }

    /// Takes the reception figures (expected, lost, jitter in units of `clockRate`, SSRC) from
    /// `reception`.
    mutating func replaceReception(_ reception: ReceptionStatistics, clockRate: UInt32) {
        expected = reception.expected
        lost = reception.lost
        ssrc = reception.ssrc
        if clockRate > 0 { jitterMilliseconds = Double(reception.jitter) * 1000 / Double(clockRate) }
    }

    /// Adds another stream's figures (for per-call and node totals); jitter keeps the worst.
    public mutating func accumulate(_ other: StreamStatistics) {
        rtpPackets += other.rtpPackets
        rtpBytes += other.rtpBytes
        rtcpPackets += other.rtcpPackets
        rtcpBytes += other.rtcpBytes
        forwardedPackets += other.forwardedPackets
        frames += other.frames
        expected += other.expected
        lost += other.lost
        jitterMilliseconds = max(jitterMilliseconds, other.jitterMilliseconds)
        lastPacketNanos = max(lastPacketNanos, other.lastPacketNanos)
        latches += other.latches
        relatches += other.relatches
        drops.merge(other.drops, uniquingKeysWith: +)
    }
}

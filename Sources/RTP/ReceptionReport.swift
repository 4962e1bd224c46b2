/// One RTCP reception report block (RFC 3550 6.4.1): how a source's stream arrives at its receiver.
public struct ReceptionReportBlock: Sendable, Equatable {
    /// The source reported on.
    public var ssrc: UInt32
    /// Packets lost since the previous report, as a fraction of those expected, in 1/256.
    public var fractionLost: UInt8
    /// Packets lost since the stream began (24 bits, capped).
    public var cumulativeLost: UInt32
    public var extendedHighestSequence: UInt32
    /// Interarrival jitter in RTP timestamp units.
    public var jitter: UInt32
    /// The middle 32 bits of the NTP timestamp of the source's last sender report (0: none yet).
    public var lastSenderReport: UInt32
    /// Time since that sender report arrived, in 1/65536 s (0: none yet).
    public var delaySinceLastSenderReport: UInt32

    /// The block's length on the wire.
    public static let length = 24

    /// Writes the block at `bytes` (`length` octets).
    public func write(to bytes: UnsafeMutableRawPointer) {
        func put32(_ value: UInt32, _ offset: Int) {
            bytes.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
        }
        put32(ssrc, 0)
        put32(UInt32(fractionLost) << 24 | min(cumulativeLost, 0x7F_FFFF), 4)
        put32(extendedHighestSequence, 8)
        put32(jitter, 12)
        put32(lastSenderReport, 16)
        put32(delaySinceLastSenderReport, 20)
    }
}

/// What a receiver keeps to report on one source (RFC 3550 A.3 and 6.4.1): the counts at its
/// previous report, for the fraction lost in between, and the source's last sender report, for
/// the round-trip fields.
public struct ReceptionReporting: Sendable, Equatable {
    private var priorExpected: UInt64 = 0
    private var priorReceived: UInt64 = 0
    /// The middle 32 bits of the NTP timestamp of the last sender report heard, and when (monotonic ns).
    private var lastSenderReport: (middle: UInt32, arrivalNanos: UInt64)?

    public init() {}

    public static func == (lhs: ReceptionReporting, rhs: ReceptionReporting) -> Bool {
        lhs.priorExpected == rhs.priorExpected && lhs.priorReceived == rhs.priorReceived
            && lhs.lastSenderReport?.middle == rhs.lastSenderReport?.middle
            && lhs.lastSenderReport?.arrivalNanos == rhs.lastSenderReport?.arrivalNanos
    }

    /// Notes a compound RTCP packet from the source: a sender report first gives its NTP time.
    public mutating func heard(_ packet: UnsafeRawBufferPointer, at nowNanos: UInt64) {
        guard packet.count >= 28, packet[1] == RTCPPacketType.senderReport.rawValue else { return }
        let middle = packet.loadUnaligned(fromByteOffset: 10, as: UInt32.self).bigEndian
        lastSenderReport = (middle, nowNanos)
    }

    /// The block reporting on `statistics` now, and the counts kept for the next one; nil before
    /// the source has a validated stream.
    public mutating func block(for statistics: ReceptionStatistics, at nowNanos: UInt64) -> ReceptionReportBlock? {
        let expected = statistics.expected
        guard expected > 0 else { return nil }
        let expectedInterval = expected &- priorExpected
        let receivedInterval = statistics.received &- priorReceived
        priorExpected = expected
        priorReceived = statistics.received
        let lostInterval = expectedInterval > receivedInterval ? expectedInterval - receivedInterval : 0
        let fraction = expectedInterval == 0 ? 0 : min(lostInterval << 8 / expectedInterval, 255)
        let delay = lastSenderReport.map {
            UInt32(truncatingIfNeeded: (nowNanos &- $0.arrivalNanos) << 16 / 1_000_000_000)
        }
        return ReceptionReportBlock(
            ssrc: statistics.ssrc, fractionLost: UInt8(fraction),
            cumulativeLost: UInt32(min(statistics.lost, 0x7F_FFFF)),
            extendedHighestSequence: statistics.extendedMaxSequence, jitter: statistics.jitter,
            lastSenderReport: lastSenderReport?.middle ?? 0, delaySinceLastSenderReport: delay ?? 0)
    }
}

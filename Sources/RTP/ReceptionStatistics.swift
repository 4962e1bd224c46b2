/// Per-source reception statistics of RFC 3550 appendix A: sequence number tracking with
/// probation (A.1), expected and lost packets (A.3), and interarrival jitter (A.8).
///
/// A value type the data plane updates once per RTP packet; arrival times are given in the
/// stream's RTP clock units so the jitter comes out in the same units as RFC 3550 reports it.
public struct ReceptionStatistics: Sendable, Equatable {
    static let maxDropout: UInt16 = 3000
    static let maxMisorder: UInt16 = 100
    static let minSequential: UInt16 = 2
    static let sequenceModulus: UInt32 = 1 << 16

    public private(set) var ssrc: UInt32 = 0
    public private(set) var baseSequence: UInt32 = 0
    public private(set) var maxSequence: UInt16 = 0
    public private(set) var cycles: UInt32 = 0
    public private(set) var received: UInt64 = 0
    private var badSequence: UInt32 = sequenceModulus + 1
    private var probation: UInt16 = 0
    private var started = false
    private var lastTransit: Int64 = 0
    private var hasTransit = false
    /// Jitter scaled by 16, as in RFC 3550 A.8's integer variant.
    private var scaledJitter: UInt64 = 0

    public init() {}

    /// What lets another counter (the kernel fast path) carry on from a validated source exactly
    /// where this one is, and hand back where it got to.
    public struct Continuation: Sendable, Equatable {
        public var ssrc: UInt32
        public var baseSequence: UInt32
        public var maxSequence: UInt16
        public var cycles: UInt32
        public var received: UInt64
        /// RFC 3550 A.1's `bad_seq`: the sequence number a jump must continue with to restart.
        public var badSequence: UInt32
        /// The last packet's transit time, nil before there is one.
        public var lastTransit: Int64?
        /// Jitter scaled by 16.
        public var scaledJitter: UInt64

        public init(
            ssrc: UInt32, baseSequence: UInt32, maxSequence: UInt16, cycles: UInt32, received: UInt64,
            badSequence: UInt32, lastTransit: Int64?, scaledJitter: UInt64
        ) {
            self.ssrc = ssrc
            self.baseSequence = baseSequence
            self.maxSequence = maxSequence
            self.cycles = cycles
            self.received = received
            self.badSequence = badSequence
            self.lastTransit = lastTransit
            self.scaledJitter = scaledJitter
        }
    }

    /// Where the counting stands, nil while the source is not validated yet (no packet, or still
    /// on probation): only a validated source can be carried on elsewhere.
    public var continuation: Continuation? {
        guard started, probation == 0 else { return nil }
        return Continuation(
            ssrc: ssrc, baseSequence: baseSequence, maxSequence: maxSequence, cycles: cycles, received: received,
            badSequence: badSequence, lastTransit: hasTransit ? lastTransit : nil, scaledJitter: scaledJitter)
    }

    /// Statistics that carry on from `continuation`.
    public init(continuing continuation: Continuation) {
        ssrc = continuation.ssrc
        baseSequence = continuation.baseSequence
        maxSequence = continuation.maxSequence
        cycles = continuation.cycles
        received = continuation.received
        badSequence = continuation.badSequence
        started = true
        lastTransit = continuation.lastTransit ?? 0
        hasTransit = continuation.lastTransit != nil
        scaledJitter = continuation.scaledJitter
    }

    /// The source's SSRC and the highest sequence number received from it, nil before its first packet.
    public var latest: (ssrc: UInt32, sequenceNumber: UInt16)? { started ? (ssrc, maxSequence) : nil }

    /// The extended highest sequence number received (cycles plus the 16-bit sequence number).
    public var extendedMaxSequence: UInt32 { cycles &+ UInt32(maxSequence) }

    /// Packets expected since the source was validated.
    public var expected: UInt64 {
        guard started, probation == 0 else { return 0 }
        return UInt64(extendedMaxSequence &- baseSequence) &+ 1
    }

    /// Packets lost: expected minus received, never below zero (duplicates can exceed expected).
    public var lost: UInt64 {
        let expected = self.expected
        return expected > received ? expected - received : 0
    }

    /// Interarrival jitter in RTP timestamp units.
    public var jitter: UInt32 { UInt32(truncatingIfNeeded: scaledJitter >> 4) }

    /// Accounts one packet. `arrival` is the arrival time in the stream's RTP clock units.
    public mutating func record(ssrc: UInt32, sequenceNumber: UInt16, timestamp: UInt32, arrival: UInt32) {
        if !started || ssrc != self.ssrc {
            self = ReceptionStatistics()
            self.ssrc = ssrc
            started = true
            restart(at: sequenceNumber)
            maxSequence = sequenceNumber &- 1
            probation = Self.minSequential
        }
        if updateSequence(sequenceNumber) {
            updateJitter(timestamp: timestamp, arrival: arrival)
        }
    }

    private mutating func restart(at sequence: UInt16) {
        baseSequence = UInt32(sequence)
        maxSequence = sequence
        badSequence = Self.sequenceModulus + 1
        cycles = 0
        received = 0
    }

    /// RFC 3550 A.1 `update_seq`. Returns whether the packet counts as valid.
    private mutating func updateSequence(_ sequence: UInt16) -> Bool {
        let delta = sequence &- maxSequence
        if probation > 0 {
            if sequence == maxSequence &+ 1 {
                probation -= 1
                maxSequence = sequence
                if probation == 0 {
                    restart(at: sequence)
                    received += 1
                    return true
                }
            } else {
                probation = Self.minSequential - 1
                maxSequence = sequence
            }
            return false
        } else if delta < Self.maxDropout {
            if sequence < maxSequence { cycles &+= Self.sequenceModulus }
            maxSequence = sequence
        } else if delta <= UInt16(truncatingIfNeeded: Self.sequenceModulus - UInt32(Self.maxMisorder)) {
            if UInt32(sequence) == badSequence {
                restart(at: sequence)
            } else {
                badSequence = (UInt32(sequence) + 1) & (Self.sequenceModulus - 1)
                return false
            }
        }
        received += 1
        return true
    }

    /// RFC 3550 A.8: J += (|D| - J) / 16, kept scaled by 16.
    private mutating func updateJitter(timestamp: UInt32, arrival: UInt32) {
        let transit = Int64(Int32(bitPattern: arrival &- timestamp))
        if hasTransit {
            let difference = UInt64((transit - lastTransit).magnitude)
            scaledJitter = scaledJitter &+ difference &- ((scaledJitter &+ 8) >> 4)
        }
        lastTransit = transit
        hasTransit = true
    }
}

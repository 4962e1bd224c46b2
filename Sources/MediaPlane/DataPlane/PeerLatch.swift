/// How one side of a stream learns its peer's address from the media and whether it follows the
/// peer to a new one, as rtpengine's NG flags choose per call.
public enum LatchingRule: String, Sendable, CaseIterable {
    /// The default: learn the peer from its first packets, then drop packets from any other source,
    /// except that the stream follows its peer to a new address (a NAT rebinding, a phone changing
    /// networks) when the new source carries on the latched SSRC's sequence numbers and the latched
    /// source has been silent for the relatch silence.
    case symmetric
    /// `strict-source`: never follow the peer to a new address.
    case strict
    /// `media-handover`: follow the peer at once on SSRC continuity, without waiting for silence.
    case handover
    /// `asymmetric`: never latch. Media goes to the address the SDP names, and is taken from any source.
    case asymmetric

    /// Which rule wins when a request names several, as rtpengine reads its flags: `asymmetric`
    /// turns latching off whatever else is said, `strict-source` then outranks `media-handover`,
    /// and `symmetric` only restates the default.
    public var precedence: Int {
        switch self {
        case .symmetric: 0
        case .handover: 1
        case .strict: 2
        case .asymmetric: 3
        }
    }

    /// The rule an NG flag asks for, nil for other flags.
    public init?(flag: String) {
        switch flag.lowercased() {
        case "strict-source", "strict source": self = .strict
        case "media-handover", "media handover": self = .handover
        case "asymmetric": self = .asymmetric
        case "symmetric": self = .symmetric
        default: return nil
        }
    }
}

/// The test a packet from a new source must pass to move a side's latch there: the rule and the
/// silence it asks of the latched source. Pure: what the side heard from that source and the time
/// (monotonic nanoseconds) are passed in.
struct PeerLatch {
    /// Sequence numbers that continue the stream: at most this far ahead of the highest one heard
    /// (RFC 3550 A.1's MAX_DROPOUT), so a sender that lost a few packets still counts.
    static let maximumSequenceGap: UInt16 = 3000

    var rule = LatchingRule.symmetric
    var silenceNanos: UInt64 = 1_000_000_000

    /// Whether RTP with this SSRC and sequence number from a new source is the latched peer at a
    /// new address: it continues `latched` (the SSRC and highest sequence number heard from the
    /// latched source, nil before its first RTP), and the rule allows the move now, the latched
    /// source having last been heard at `lastHeardNanos`.
    func admitsMove(
        to ssrc: UInt32, sequenceNumber: UInt16, continuing latched: (ssrc: UInt32, sequenceNumber: UInt16)?,
        lastHeardNanos: UInt64, now: UInt64
    ) -> Bool {
        guard let latched, latched.ssrc == ssrc else { return false }
        let gap = sequenceNumber &- latched.sequenceNumber
        guard gap >= 1, gap <= Self.maximumSequenceGap else { return false }
        switch rule {
        case .symmetric: return now >= lastHeardNanos && now - lastHeardNanos >= silenceNanos
        case .handover: return true
        case .strict, .asymmetric: return false
        }
    }
}

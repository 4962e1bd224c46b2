/// What a node's H.225.0 call-signalling port has done since it started; read by `statistics`
/// and `/metrics`.
public struct H323Counters: Sendable, Equatable {
    /// Setups relayed to their destination.
    public var callsRouted: UInt64 = 0
    /// Setups the node answered with ReleaseComplete itself (no destination, busy, unreadable).
    public var callsRefused: UInt64 = 0
    /// Setups sent to another node (over the threshold), by reply mode: `direct` (Facility
    /// callForwarded to the caller) or `reverse` (forwarded, its signalling relayed here).
    public var spills: [String: UInt64] = [:]
    /// Setups refused because no node is below its threshold (cause 34).
    public var allBusy: UInt64 = 0
    /// Calls ended, by how: `release-complete`, `connection-dropped`, `media-timeout`, `deleted`,
    /// `unreachable-destination`, `refused`.
    public var callsEnded: [String: UInt64] = [:]
    /// Q.931 messages sent to either side: relayed from the other, or the node's own answers
    /// (Status, OpenLogicalChannelReject, ReleaseComplete).
    public var messagesRelayed: UInt64 = 0
    /// H.245 messages relayed on separate H.245 connections.
    public var h245MessagesRelayed: UInt64 = 0
    /// Messages or connections refused, by reason (`bad-tpkt`, `bad-q931`, `bad-h225`, `too-long`,
    /// `idle-timeout`, `media-not-anchored`, `not-a-setup`, ...).
    public var dropped: [String: UInt64] = [:]

    public init() {}
}

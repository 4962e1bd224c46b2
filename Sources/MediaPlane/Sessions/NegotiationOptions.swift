import SDP

/// How an offer or answer is to be rewritten and relayed: the rtpengine NG flags that act on the
/// SDP and on the media plane, already decoded.
public struct NegotiationOptions: Sendable, Equatable {
    /// RFC 5761 rtcp-mux handling, as rtpengine's `rtcp-mux` list: `offer`, `accept`, `demux`, `reject`.
    public struct RTCPMux: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }

        /// Offer rtcp-mux to the recipient whether or not the offerer did.
        public static let offer = RTCPMux(rawValue: 1)
        /// Accept the offerer's rtcp-mux and offer it on to the recipient.
        public static let accept = RTCPMux(rawValue: 2)
        /// Accept the offerer's rtcp-mux but do not offer it to the recipient.
        public static let demux = RTCPMux(rawValue: 4)
        /// Decline the offerer's rtcp-mux (it is still offered to the recipient).
        public static let reject = RTCPMux(rawValue: 8)
    }

    /// Rewrite the `o=` line's address (`replace: ["origin"]`).
    public var replaceOrigin = false
    /// Rewrite the session-level `c=` line (`replace: ["session-connection"]`).
    public var replaceSessionConnection = false
    /// Remove ICE attributes (`ICE: "remove"`).
    public var removeICE = false
    /// How the media latch onto the parties' addresses (`flags`: `strict-source`, `media-handover`,
    /// `asymmetric`, `symmetric`); nil keeps each side's rule (the default is `symmetric`).
    public var latching: LatchingRule?
    public var rtcpMux: RTCPMux = []
    /// The transport protocol to put in the m= lines sent to the recipient (`transport-protocol`).
    public var transportProtocol: String?
    /// SDES: which suites to offer, whether to terminate SRTP at all (`SDES` list and `SDES-...` flags).
    public var sdes = SDESOptions()
    /// The `codec` dictionary: transcode, strip, mask, accept, set.
    public var codecs = CodecOptions()
    /// Use this address instead of the SDP's (`flags: ["SIP-source-address"]` with `received-from`).
    public var mediaSourceOverride: String?
    /// The interfaces facing the offerer and the recipient, by name (`direction`).
    public var direction: [String] = []
    /// The address family of the recipient's interface (`address-family`: `IP4`, `IP6`).
    public var addressFamily: ConnectionAddress.Family?
    /// The address the SDP the relay writes names instead of its interface's (`media-address`).
    public var mediaAddress: String?

    public init() {}
}

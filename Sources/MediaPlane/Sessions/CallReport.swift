import Codecs
import SDP

/// The figures of one call, per leg and per m= line, as NG `query` and `delete` report them.
public struct CallReport: Sendable {
    public var callID: String
    public var createdWallNanos: UInt64
    public var legs: [LegReport]

    /// One party: its tag and one entry per relayed m= line.
    public struct LegReport: Sendable {
        public var tag: String?
        public var media: [MediaReport]
    }

    /// The relay's side of one m= line towards one party, with what that party sent.
    public struct MediaReport: Sendable {
        /// 1-based m= line index.
        public var index: Int
        public var type: String
        public var proto: String
        public var localPort: UInt16
        public var advertised: SocketAddress
        public var rtcpMux: Bool
        public var latching: LatchingRule
        /// The media interface the relay's sockets for this party are bound on.
        public var interface: String
        /// The SDES suite the relay agreed with this party when it terminates SRTP on this side.
        public var cryptoSuite: String?
        /// The codec this party sends (on a transcoded stream, and where H.245 named it), and on a
        /// transcoded stream the one the relay turns it into.
        public var codec: String?
        public var transcodedTo: String?
        public var statistics: StreamStatistics
    }

    init(_ call: Call, interfaces: MediaInterfaces) {
        callID = call.id
        createdWallNanos = call.createdWallNanos
        legs = call.legs.map { leg in
            LegReport(
                tag: leg.tag,
                media: leg.media.enumerated().compactMap { index, media in
                    media.map {
                        MediaReport(
                            index: index + 1, type: $0.type, proto: $0.proto, localPort: $0.ports.port,
                            advertised: $0.advertisedRTP, rtcpMux: $0.rtcpMux, latching: $0.latching,
                            interface: interfaces.all[$0.interface].name,
                            cryptoSuite: $0.security.sdes?.relayKey?.suite.rawValue,
                            codec: $0.transcoding?.inputs.first?.transcoder.source.rtpmapEncoding ?? $0.signalledCodec,
                            transcodedTo: $0.transcoding?.output.rtpmapEncoding, statistics: $0.counters.snapshot())
                    }
                })
        }
    }

    /// Every stream of the call added up.
    public var totals: StreamStatistics {
        var totals = StreamStatistics()
        for leg in totalsByLeg { totals.accumulate(leg) }
        return totals
    }

    /// What each party sent, added up over its streams: [0] the caller (offerer), [1] the callee.
    public var totalsByLeg: [StreamStatistics] {
        legs.prefix(2).map { leg in
            var totals = StreamStatistics()
            for media in leg.media { totals.accumulate(media.statistics) }
            return totals
        }
    }
}

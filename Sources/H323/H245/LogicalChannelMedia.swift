/// The media transport of one H.245 logical channel as H.225.0 carries it
/// (`H2250LogicalChannelParameters` in an OpenLogicalChannel, `H2250LogicalChannelAckParameters`
/// in its Ack): the RTP session and where its sender wants RTP and RTCP, with the positions of
/// those addresses so a relay can put its own in their place.
public struct LogicalChannelMedia: Sendable, Equatable {
    /// The RTP session (H.245: 1 audio, 2 video, 3 data by convention; 0 = to be assigned).
    public var sessionID: Int?
    /// Where the party that wrote this receives RTP (`mediaChannel`).
    public var rtp: MediaAddress?
    /// Where it receives RTCP (`mediaControlChannel`).
    public var rtcp: MediaAddress?
    var rtpSpan: Range<Int>?
    var rtcpSpan: Range<Int>?

    /// Reads `H2250LogicalChannelParameters` as far as its media control channel; what follows
    /// is carried through unread.
    static func readParameters(_ reader: inout PERReader) throws(PERError) -> LogicalChannelMedia {
        var (_, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 10)
        if optionals.next() { try skipNonStandard(&reader) }
        var media = LogicalChannelMedia()
        media.sessionID = try reader.readConstrainedWholeNumber(in: 0...255)
        if optionals.next() { _ = try reader.readConstrainedWholeNumber(in: 1...255) }
        if optionals.next() { (media.rtp, media.rtpSpan) = try readAddress("mediaChannel", &reader) }
        if optionals.next() { _ = try reader.readBit() }
        if optionals.next() { (media.rtcp, media.rtcpSpan) = try readAddress("mediaControlChannel", &reader) }
        return media
    }

    /// Reads `H2250LogicalChannelAckParameters` as far as its media control channel.
    static func readAckParameters(_ reader: inout PERReader) throws(PERError) -> LogicalChannelMedia {
        var (_, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 5)
        if optionals.next() { try skipNonStandard(&reader) }
        var media = LogicalChannelMedia()
        if optionals.next() { media.sessionID = try reader.readConstrainedWholeNumber(in: 1...255) }
        if optionals.next() { (media.rtp, media.rtpSpan) = try readAddress("mediaChannel", &reader) }
        if optionals.next() { (media.rtcp, media.rtcpSpan) = try readAddress("mediaControlChannel", &reader) }
        return media
    }

    /// A TransportAddress field and the bits it takes.
    private static func readAddress(_ name: String, _ reader: inout PERReader) throws(PERError) -> (
        MediaAddress, Range<Int>
    ) {
        try reader.field(name) { reader throws(PERError) in
            try reader.measuring { reader throws(PERError) in try MediaAddress(from: &reader) }
        }
    }

    private static func skipNonStandard(_ reader: inout PERReader) throws(PERError) {
        _ = try reader.readSequenceOf { reader throws(PERError) in try MediaFormat.skipNonStandardParameter(&reader) }
    }

    /// The patches that put `relay`'s addresses in place of the present ones. An address that was
    /// absent stays absent: the relay's RTCP port is always its RTP port + 1, as H.245 assumes.
    func patches(towards relay: RelayAddresses) throws(PERError) -> [PERPatch] {
        var patches: [PERPatch] = []
        if let rtpSpan {
            patches.append(try PERPatch.sameSize(rtpSpan, field: "mediaChannel") { relay.rtp.encode(to: &$0) })
        }
        if let rtcpSpan {
            patches.append(try PERPatch.sameSize(rtcpSpan, field: "mediaControlChannel") { relay.rtcp.encode(to: &$0) })
        }
        return patches
    }
}

/// The relay's own RTP and RTCP addresses for one logical channel, facing the party a message goes to.
public struct RelayAddresses: Sendable, Equatable {
    public var rtp: MediaAddress
    public var rtcp: MediaAddress

    public init(rtp: MediaAddress, rtcp: MediaAddress) {
        self.rtp = rtp
        self.rtcp = rtcp
    }
}

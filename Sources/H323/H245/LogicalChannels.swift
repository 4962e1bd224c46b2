/// One H.225.0 media transport block of a logical channel, as a relay sees it: whose channel it
/// is, what it carries, and where the party that wrote it wants its RTP and RTCP.
public struct MediaChannel: Sendable, Equatable {
    public enum Block: Sendable, Equatable {
        /// `forwardLogicalChannelParameters` of an OpenLogicalChannel: media the writer sends.
        case forward
        /// `reverseLogicalChannelParameters`: media the writer receives (bidirectional and fastStart channels).
        case reverse
        /// The OpenLogicalChannelAck's parameters: where the acknowledging party receives.
        case acknowledgement
    }

    public var logicalChannelNumber: Int
    public var block: Block
    /// What the channel carries; nil in an Ack, which names only the channel number.
    public var format: MediaFormat?
    public var media: LogicalChannelMedia
}

/// Chooses the relay's addresses for a media channel a message describes: the rewrite of every
/// logical-channel message goes through one of these.
public typealias MediaRelayChooser = (MediaChannel) throws -> RelayAddresses

/// An H.245 OpenLogicalChannel (H.245 §7.5.1 / H.225.0 §8.2), read as far as a relay needs: its
/// channel number, its data types, and the H.225.0 media parameters of each direction.
public struct OpenLogicalChannel: Sendable, Equatable {
    public var number: Int
    public var forwardFormat: MediaFormat
    public var reverseFormat: MediaFormat?
    /// The DataTypes as encoded, to open a channel for the same media (`fastStart(...)`).
    public var forwardDataType: PERFragment
    public var reverseDataType: PERFragment?
    var blocks: [(channel: MediaChannel, span: Range<Int>, contents: [UInt8])] = []

    public static func == (lhs: OpenLogicalChannel, rhs: OpenLogicalChannel) -> Bool {
        lhs.number == rhs.number && lhs.forwardFormat == rhs.forwardFormat && lhs.reverseFormat == rhs.reverseFormat
            && lhs.mediaChannels == rhs.mediaChannels
    }

    /// The media transport blocks present, forward first.
    public var mediaChannels: [MediaChannel] { blocks.map(\.channel) }

    /// Decodes a bare OpenLogicalChannel, as a fastStart element holds one.
    public init(perEncoded bytes: [UInt8]) throws(PERError) {
        var reader = PERReader(bytes)
        try self.init(from: &reader)
    }

    init(from reader: inout PERReader) throws(PERError) {
        var (_, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 1)
        number = try reader.readConstrainedWholeNumber(in: 1...65_535)
        let hasReverse = optionals.next()
        var (forwardExtended, forwardOptionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 1)
        if forwardOptionals.next() { _ = try reader.readConstrainedWholeNumber(in: 0...65_535) }
        (forwardFormat, forwardDataType) = try reader.field("forwardLogicalChannelParameters.dataType") {
            reader throws(PERError) in
            try reader.measuringFragment { reader throws(PERError) in try MediaFormat(from: &reader) }
        }
        try readMultiplexParameters(&reader, block: .forward, format: forwardFormat, rootCount: 3)
        if forwardExtended { _ = try reader.readExtensionAdditions() }
        if hasReverse {
            var (reverseExtended, reverseOptionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 1)
            let (format, dataType) = try reader.field("reverseLogicalChannelParameters.dataType") {
                reader throws(PERError) in
                try reader.measuringFragment { reader throws(PERError) in try MediaFormat(from: &reader) }
            }
            reverseFormat = format
            reverseDataType = dataType
            if reverseOptionals.next() {
                try readMultiplexParameters(&reader, block: .reverse, format: format, rootCount: 2)
            }
            if reverseExtended { _ = try reader.readExtensionAdditions() }
        }
    }

    /// The multiplexParameters CHOICE: H.225.0's parameters are its first extension alternative;
    /// `none` carries nothing; the H.222/H.223/V.76 root alternatives are not H.323's and are refused.
    private mutating func readMultiplexParameters(
        _ reader: inout PERReader, block: MediaChannel.Block, format: MediaFormat, rootCount: Int
    ) throws(PERError) {
        switch try reader.readChoiceIndex(rootCount: rootCount, extensible: true) {
        case .root: throw reader.error(.unsupported("H.222, H.223 or V.76 multiplex parameters in an H.323 channel"))
        case .extension(0):
            let (contents, span) = try reader.readOpenTypeSpan()
            var inner = PERReader(contents)
            let media = try inner.field("h2250LogicalChannelParameters") { reader throws(PERError) in
                try LogicalChannelMedia.readParameters(&reader)
            }
            blocks.append(
                (MediaChannel(logicalChannelNumber: number, block: block, format: format, media: media), span, contents)
            )
        case .extension:
            _ = try reader.readOpenType()
        }
    }

    /// The patches that give every media block the relay's addresses `choose` names for it.
    func patches(choosing choose: MediaRelayChooser) throws -> [PERPatch] {
        try blocks.compactMap { block in
            guard block.channel.media.rtp != nil || block.channel.media.rtcp != nil else { return nil }
            let inner = try block.channel.media.patches(towards: try choose(block.channel))
            return PERPatch.openType(block.span, contents: block.contents.applying(inner))
        }
    }

    /// Which way a fastStart channel carries media for the party that writes it (H.323 §8.1.7).
    public enum FastStartDirection: Sendable {
        /// The writer sends: forward parameters with `dataType`, naming only where it takes RTCP.
        case transmitting
        /// The writer receives: forward `nullData`, reverse parameters with `dataType` and where
        /// it takes RTP and RTCP.
        case receiving
    }

    /// A bare OpenLogicalChannel as a fastStart proposal or answer carries one: channel `number`,
    /// of RTP session `sessionID`, for media of `dataType` (a DataType read from another channel),
    /// with H.225.0 parameters naming `rtp` and `rtcp` and, for a dynamic payload type,
    /// `dynamicPayloadType` (96-127).
    public static func fastStart(
        number: Int, _ direction: FastStartDirection, dataType: PERFragment, sessionID: Int, rtp: MediaAddress?,
        rtcp: MediaAddress?, dynamicPayloadType: Int? = nil
    ) throws(PERError) -> [UInt8] {
        func writeParameters(_ writer: inout PERWriter) {
            writer.writeSequenceHeader(
                extensible: true,
                optionals: [
                    false, false, rtp != nil, false, rtcp != nil, false, false, false, dynamicPayloadType != nil, false,
                ])
            writer.writeConstrainedWholeNumber(sessionID, in: 0...255)
            rtp?.encode(to: &writer)
            rtcp?.encode(to: &writer)
            if let dynamicPayloadType { writer.writeConstrainedWholeNumber(dynamicPayloadType, in: 96...127) }
        }
        var writer = PERWriter()
        writer.writeSequenceHeader(extensible: true, optionals: [direction == .receiving])
        writer.writeConstrainedWholeNumber(number, in: 1...65_535)
        writer.writeSequenceHeader(extensible: true, optionals: [false])
        switch direction {
        case .transmitting:
            try dataType.write(to: &writer, field: "forwardLogicalChannelParameters.dataType")
            writer.writeChoiceIndex(.extension(0), rootCount: 3, extensible: true)
            writer.writeOpenType(writeParameters)
        case .receiving:
            writer.writeChoiceIndex(.root(1), rootCount: 6, extensible: true)  // nullData
            writer.writeChoiceIndex(.extension(1), rootCount: 3, extensible: true)  // none
            writer.writeOpenType { _ in }
            writer.writeSequenceHeader(extensible: true, optionals: [true])
            try dataType.write(to: &writer, field: "reverseLogicalChannelParameters.dataType")
            writer.writeChoiceIndex(.extension(0), rootCount: 2, extensible: true)
            writer.writeOpenType(writeParameters)
        }
        return writer.encoded
    }

    /// A bare OpenLogicalChannel encoding with the relay's addresses in place of the writer's.
    public static func rewriting(_ bytes: [UInt8], choosing choose: MediaRelayChooser) throws -> [UInt8] {
        bytes.applying(try OpenLogicalChannel(perEncoded: bytes).patches(choosing: choose))
    }
}

/// An H.245 OpenLogicalChannelAck, read as far as a relay needs: the channel it acknowledges and
/// where the acknowledging party receives that channel's media.
public struct OpenLogicalChannelAck: Sendable, Equatable {
    public var number: Int
    public var media: LogicalChannelMedia?
    /// The `forwardMultiplexAckParameters` extension addition, and the position of the media
    /// parameters inside it.
    private var ackParameters: (contents: [UInt8], span: Range<Int>)?

    public static func == (lhs: OpenLogicalChannelAck, rhs: OpenLogicalChannelAck) -> Bool {
        lhs.number == rhs.number && lhs.media == rhs.media
    }

    init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 1)
        number = try reader.readConstrainedWholeNumber(in: 1...65_535)
        if optionals.next() {
            // reverseLogicalChannelParameters: a bidirectional channel's reverse number and, rarely,
            // multiplex parameters; carried through.
            var (reverseExtended, reverseOptionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 2)
            _ = try reader.readConstrainedWholeNumber(in: 1...65_535)
            if reverseOptionals.next() { _ = try reader.readConstrainedWholeNumber(in: 0...65_535) }
            if reverseOptionals.next() {
                guard case .extension = try reader.readChoiceIndex(rootCount: 1, extensible: true) else {
                    throw reader.error(.unsupported("H.222 multiplex parameters in an H.323 channel"))
                }
                _ = try reader.readOpenType()
            }
            if reverseExtended { _ = try reader.readExtensionAdditions() }
        }
        guard extended else { return }
        let additions = try reader.readExtensionAdditionSpans()
        // Addition 1: forwardMultiplexAckParameters, a CHOICE whose only alternative is H.225.0's.
        guard let forward = additions[1] else { return }
        var inner = PERReader(forward.contents)
        guard case .root(0) = try inner.readChoiceIndex(rootCount: 1, extensible: true) else { return }
        media = try inner.field("h2250LogicalChannelAckParameters") { reader throws(PERError) in
            try LogicalChannelMedia.readAckParameters(&reader)
        }
        ackParameters = forward
    }

    /// The channel as a relay chooser sees it.
    public var mediaChannel: MediaChannel? {
        media.map { MediaChannel(logicalChannelNumber: number, block: .acknowledgement, format: nil, media: $0) }
    }

    func patches(choosing choose: MediaRelayChooser) throws -> [PERPatch] {
        guard let channel = mediaChannel, let ackParameters, channel.media.rtp != nil || channel.media.rtcp != nil
        else { return [] }
        let inner = try channel.media.patches(towards: try choose(channel))
        return [PERPatch.openType(ackParameters.span, contents: ackParameters.contents.applying(inner))]
    }
}

/// What a logical channel carries, read from its H.245 `DataType`: enough to label the stream in
/// statistics and recordings and to pick its RTP clock. Reading it is also how a relay finds the
/// fields after it, since ALIGNED PER is not self-delimiting.
public enum MediaFormat: Hashable, Sendable, CustomStringConvertible {
    case audio(String)
    case video(String)
    /// `nullData`: the direction of a fastStart proposal that carries nothing.
    case none
    /// A non-standard, encrypted (h235Media), redundant or FEC type: relayed, not named.
    case other(String)

    public var description: String {
        switch self {
        case .audio(let codec): "audio \(codec)"
        case .video(let codec): "video \(codec)"
        case .none: "no data"
        case .other(let kind): kind
        }
    }

    /// The media plane's name for the stream's kind (`audio`, `video`), when the format has one.
    public var mediaType: String? {
        switch self {
        case .audio: "audio"
        case .video: "video"
        case .none, .other: nil
        }
    }

    /// The codec's name, when the format carries media (`G.711 mu-law`, `H.264`, ...).
    public var codec: String? {
        switch self {
        case .audio(let name), .video(let name): name
        case .none, .other: nil
        }
    }

    /// The RTP clock the stream's statistics use.
    public var clockRate: UInt32 {
        if case .video = self { 90_000 } else { 8_000 }
    }

    static let audioRoot = [
        "nonStandard", "G.711 A-law", "G.711 A-law 56k", "G.711 mu-law", "G.711 mu-law 56k", "G.722", "G.722 56k",
        "G.722 48k", "G.723.1", "G.728", "G.729", "G.729 Annex A", "MPEG-1 audio", "MPEG-2 audio",
    ]
    static let audioExtensions = [
        "G.729 Annex B", "G.729 Annex A+B", "G.723.1 Annex C", "GSM full rate", "GSM half rate",
        "GSM enhanced full rate",
        "generic", "G.729 extensions", "VBD", "telephone events", "tones",
    ]
    static let videoRoot = ["nonStandard", "H.261", "H.262", "H.263", "MPEG-1 video"]
    /// The generic capability identifiers (H.241, H.245 Annex) Spillway names.
    static let genericCodecs: [ASN1ObjectIdentifier: String] = [
        ASN1ObjectIdentifier([0, 0, 8, 241, 0, 0, 1]): "H.264"
    ]

    /// Reads an H.245 DataType. Data applications and the pre-H.235 encryptionData cannot be
    /// skipped without their whole ASN.1 and are refused as `unsupported`.
    init(from reader: inout PERReader) throws(PERError) {
        switch try reader.readChoiceIndex(rootCount: 6, extensible: true) {
        case .root(0):
            try Self.skipNonStandardParameter(&reader)
            self = .other("nonStandard")
        case .root(1): self = .none
        case .root(2): self = try reader.field("videoData", Self.readVideo)
        case .root(3): self = try reader.field("audioData", Self.readAudio)
        case .root(let index):
            throw reader.error(.unsupported(index == 4 ? "a data application channel" : "an encryptionData channel"))
        case .extension(let index):
            _ = try reader.readOpenType()
            let names = [
                "h235Control", "h235Media", "multiplexedStream", "redundancyEncoding", "multiplePayloadStream",
                "depFec", "fec",
            ]
            self = .other(index < names.count ? names[index] : "data type \(index)")
        }
    }

    private static func readAudio(_ reader: inout PERReader) throws(PERError) -> MediaFormat {
        let index: Int
        switch try reader.readChoiceIndex(rootCount: 14, extensible: true) {
        case .root(0):
            try skipNonStandardParameter(&reader)
            index = 0
        case .root(8):
            _ = try reader.readConstrainedWholeNumber(in: 1...256)
            _ = try reader.readBit()
            index = 8
        case .root(12):
            try skipBooleanSequence(&reader, booleans: 8, bitRate: 1...448)
            index = 12
        case .root(13):
            try skipBooleanSequence(&reader, booleans: 20, bitRate: 1...1130)
            index = 13
        case .root(let frames):
            // Every other root alternative is a frame count, INTEGER (1..256).
            _ = try reader.readConstrainedWholeNumber(in: 1...256)
            index = frames
        case .extension(let index):
            let contents = try reader.readOpenType()
            if index == 6, let codec = try genericCodecName(contents) { return .audio(codec) }
            return .audio(index < audioExtensions.count ? audioExtensions[index] : "audio capability \(index)")
        }
        return .audio(audioRoot[index])
    }

    private static func readVideo(_ reader: inout PERReader) throws(PERError) -> MediaFormat {
        switch try reader.readChoiceIndex(rootCount: 5, extensible: true) {
        case .root(0):
            try skipNonStandardParameter(&reader)
            return .video("nonStandard")
        case .root(1):
            let (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 2)
            var present = optionals
            for _ in 0..<2 where present.next() { _ = try reader.readConstrainedWholeNumber(in: 1...4) }
            _ = try reader.readBit()
            _ = try reader.readConstrainedWholeNumber(in: 1...19_200)
            _ = try reader.readBit()
            if extended { _ = try reader.readExtensionAdditions() }
            return .video("H.261")
        case .root(3):
            let (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 7)
            var present = optionals
            for _ in 0..<5 where present.next() { _ = try reader.readConstrainedWholeNumber(in: 1...32) }
            _ = try reader.readConstrainedWholeNumber(in: 1...192_400)
            _ = try reader.readBits(5)
            if present.next() { _ = try reader.readConstrainedWholeNumber(in: 0...524_287) }
            if present.next() { _ = try reader.readConstrainedWholeNumber(in: 0...65_535) }
            if extended { _ = try reader.readExtensionAdditions() }
            return .video("H.263")
        case .root(let index):
            throw reader.error(.unsupported("\(videoRoot[index]) video channels"))
        case .extension(let index):
            let contents = try reader.readOpenType()
            if index == 0, let codec = try genericCodecName(contents) { return .video(codec) }
            return .video(index == 0 ? "generic" : "extended video")
        }
    }

    /// The codec a GenericCapability names by a standard object identifier, when Spillway knows it.
    private static func genericCodecName(_ contents: [UInt8]) throws(PERError) -> String? {
        var reader = PERReader(contents)
        _ = try reader.readSequenceHeader(extensible: true, optionalFields: 5)
        guard case .root(0) = try reader.readChoiceIndex(rootCount: 4, extensible: true) else { return nil }
        let identifier = try ASN1ObjectIdentifier(from: &reader)
        return genericCodecs[identifier] ?? "generic \(identifier)"
    }

    /// IS11172AudioCapability and IS13818AudioCapability: BOOLEANs, then a bit rate.
    private static func skipBooleanSequence(_ reader: inout PERReader, booleans: Int, bitRate: ClosedRange<Int>)
        throws(PERError)
    {
        let (extended, _) = try reader.readSequenceHeader(extensible: true, optionalFields: 0)
        _ = try reader.readBits(booleans)
        _ = try reader.readConstrainedWholeNumber(in: bitRate)
        if extended { _ = try reader.readExtensionAdditions() }
    }

    /// H.245 NonStandardParameter (which, unlike H.225.0's, is not extensible).
    static func skipNonStandardParameter(_ reader: inout PERReader) throws(PERError) {
        switch try reader.readChoiceIndex(rootCount: 2, extensible: false) {
        case .root(0): _ = try ASN1ObjectIdentifier(from: &reader)
        default:
            _ = try reader.readConstrainedWholeNumber(in: 0...255)
            _ = try reader.readConstrainedWholeNumber(in: 0...255)
            _ = try reader.readConstrainedWholeNumber(in: 0...65_535)
        }
        _ = try reader.readOctetString()
    }
}

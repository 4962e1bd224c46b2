/// An audio codec the relay can decode and encode.
public enum AudioCodec: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case pcmu = "PCMU"
    case pcma = "PCMA"
    case g722 = "G722"
    case opus = "opus"

    /// Recognises an `a=rtpmap` encoding name (case-insensitive, as RFC 4855 says) and clock rate.
    public init?(encodingName: some StringProtocol, clockRate: Int) {
        switch encodingName.lowercased() {
        case "pcmu" where clockRate == 8000: self = .pcmu
        case "pcma" where clockRate == 8000: self = .pcma
        case "g722" where clockRate == 8000: self = .g722
        case "opus" where clockRate == 48000: self = .opus
        default: return nil
        }
    }

    /// The encoding name as SDP writes it.
    public var encodingName: String { rawValue }

    /// The RTP clock rate (RFC 3551, which gives G.722 8000 though it samples at 16 kHz; RFC 7587
    /// fixes Opus at 48000 whatever it encodes).
    public var clockRate: Int { self == .opus ? 48000 : 8000 }

    /// The rate the codec's samples are coded at (Opus: the highest it takes).
    public var sampleRate: Int {
        switch self {
        case .pcmu, .pcma: 8000
        case .g722: 16000
        case .opus: 48000
        }
    }

    /// The `a=rtpmap` value after the payload type: RFC 7587 always declares Opus as two channels.
    public var rtpmapEncoding: String { self == .opus ? "opus/48000/2" : "\(rawValue)/8000" }

    /// The static payload type (RFC 3551), if the codec has one.
    public var staticPayloadType: UInt8? {
        switch self {
        case .pcmu: 0
        case .pcma: 8
        case .g722: 9
        case .opus: nil
        }
    }

    public var description: String { rtpmapEncoding }

    var g711Law: G711Law? {
        switch self {
        case .pcmu: .muLaw
        case .pcma: .aLaw
        case .g722, .opus: nil
        }
    }
}

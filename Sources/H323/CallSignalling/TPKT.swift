/// TPKT framing (RFC 1006 §6, as H.225.0 §7 uses it on TCP): a 4-octet header (version 3, a
/// reserved octet, the frame's whole length in 16 bits) before each Q.931 or H.245 message.
public enum TPKT {
    public static let headerLength = 4
    /// The largest frame the 16-bit length can describe: no message can be longer (64 KiB less one
    /// octet, header included). Octets a peer sends past a frame start the next one, whose header is
    /// checked in turn.
    public static let maximumFrameLength = 65_535

    /// `payload` framed, or nil when it does not fit in one frame.
    public static func frame(_ payload: [UInt8]) -> [UInt8]? {
        let length = payload.count + headerLength
        guard length <= maximumFrameLength else { return nil }
        return [3, 0, UInt8(length >> 8), UInt8(length & 0xFF)] + payload
    }

    /// The length of the frame starting at `header` (its first four octets), header included.
    public static func frameLength(header: some Collection<UInt8>) throws(CallSignallingError) -> Int {
        let octets = Array(header.prefix(headerLength))
        precondition(octets.count == headerLength, "a TPKT header has four octets")
        guard octets[0] == 3 else { throw .badTPKT("version \(octets[0]), expected 3") }
        let length = Int(octets[2]) << 8 | Int(octets[3])
        guard length > headerLength else { throw .badTPKT("frame length \(length) leaves no payload") }
        return length
    }
}

/// Why call-signalling bytes were refused: each is logged with the peer's address and counted.
public enum CallSignallingError: Error, Equatable, Sendable, CustomStringConvertible {
    case badTPKT(String)
    case badQ931(String)

    /// A short label for the metrics counter of refused messages.
    public var reason: String {
        switch self {
        case .badTPKT: "bad-tpkt"
        case .badQ931: "bad-q931"
        }
    }

    public var description: String {
        switch self {
        case .badTPKT(let what): "malformed TPKT header: \(what)"
        case .badQ931(let what): "malformed Q.931 message: \(what)"
        }
    }
}

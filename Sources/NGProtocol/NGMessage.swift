import Bencode

/// The NG framing: `<cookie> <bencoded dictionary>` in one UDP datagram. The reply carries the
/// request's cookie, so clients can match replies and retransmit safely.
public struct NGMessage: Sendable, Equatable {
    public var cookie: String
    public var body: BencodeValue

    public init(cookie: String, body: BencodeValue) {
        self.cookie = cookie
        self.body = body
    }

    /// The longest cookie accepted; rtpengine clients use a few dozen characters.
    public static let maximumCookieLength = 256

    /// Splits off the cookie. Returns nil when the datagram has no `<cookie> ` prefix (no reply is
    /// possible then, since the client could not match it).
    public static func splitCookie(_ datagram: [UInt8]) -> (cookie: String, body: ArraySlice<UInt8>)? {
        guard let space = datagram.firstIndex(of: UInt8(ascii: " ")), space > 0,
            space <= maximumCookieLength
        else { return nil }
        let cookieBytes = datagram[..<space]
        guard cookieBytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        return (String(decoding: cookieBytes, as: UTF8.self), datagram[(space + 1)...])
    }

    /// The datagram for this message.
    public var encoded: [UInt8] {
        var output = Array(cookie.utf8)
        output.append(UInt8(ascii: " "))
        body.encode(into: &output)
        return output
    }
}

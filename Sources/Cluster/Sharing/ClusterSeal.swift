import Bencode
import Crypto

/// Seals cluster messages with HMAC-SHA256 under the cluster's shared key, and opens them again,
/// refusing anything unsigned, forged, unreadable or outside the accepted time window.
///
/// A sealed datagram is `"SPW" 0x01`, the 32-byte tag, then the bencoded envelope; the tag covers
/// everything after it. The fourth magic byte is not printable, so a sealed datagram can never be
/// mistaken for an NG request (whose cookie is printable text followed by a space).
public struct ClusterSeal: Sendable {
    public static let magic: [UInt8] = [0x53, 0x50, 0x57, 0x01]
    static let tagLength = 32
    /// The shortest key accepted, in bytes.
    public static let minimumKeyLength = 16

    /// Kept as bytes: swift-crypto's `SymmetricKey` is not `Sendable`; a key is made per message
    /// (cluster traffic is a few messages per second per peer).
    private let keyBytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }
    /// How far a message's send time may be from the receiver's clock: older messages are replays
    /// or hopelessly late, and are refused.
    public let acceptedSkewNanos: UInt64

    /// - Parameter keyBytes: the shared secret, at least `minimumKeyLength` bytes.
    public init?(keyBytes: [UInt8], acceptedSkewNanos: UInt64 = 10_000_000_000) {
        guard keyBytes.count >= Self.minimumKeyLength else { return nil }
        self.keyBytes = keyBytes
        self.acceptedSkewNanos = acceptedSkewNanos
    }

    /// Whether a datagram claims to be a cluster message (starts with the magic bytes).
    public static func looksSealed(_ datagram: some Collection<UInt8>) -> Bool {
        datagram.starts(with: magic)
    }

    /// The datagram carrying `envelope`.
    public func seal(_ envelope: ClusterEnvelope) -> [UInt8] {
        var body: [UInt8] = []
        envelope.bencoded.encode(into: &body)
        let tag = HMAC<SHA256>.authenticationCode(for: body, using: key)
        var datagram = Self.magic
        datagram.reserveCapacity(Self.magic.count + Self.tagLength + body.count)
        datagram.append(contentsOf: tag)
        datagram.append(contentsOf: body)
        return datagram
    }

    /// The length of `authenticationTag(for:)`: HMAC-SHA256 truncated to 128 bits (RFC 4868's
    /// HMAC-SHA-256-128), for cluster data carried in other protocols' size-limited fields.
    public static let shortTagLength = 16

    /// A short tag over `message` under the cluster key, for cluster data that travels inside
    /// another protocol (a forwarded H.323 Setup) rather than as a sealed datagram.
    public func authenticationTag(for message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: key).prefix(Self.shortTagLength))
    }

    /// Whether `tag` is `authenticationTag(for: message)`, compared in constant time.
    public func authenticates(_ tag: [UInt8], for message: [UInt8]) -> Bool {
        let expected = authenticationTag(for: message)
        guard tag.count == expected.count else { return false }
        return zip(tag, expected).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// Whether a time a peer stamped is within the accepted skew of `nowWallNanos`.
    public func isFresh(madeAtWallNanos: UInt64, nowWallNanos: UInt64) -> Bool {
        max(madeAtWallNanos, nowWallNanos) - min(madeAtWallNanos, nowWallNanos) <= acceptedSkewNanos
    }

    /// The envelope a datagram carries, or why it is refused.
    public func open(_ datagram: [UInt8], nowWallNanos: UInt64) -> Result<ClusterEnvelope, ClusterRejection> {
        let headerLength = Self.magic.count + Self.tagLength
        guard datagram.count > headerLength, Self.looksSealed(datagram) else { return .failure(.unsigned) }
        let tag = datagram[Self.magic.count..<headerLength]
        let body = datagram[headerLength...]
        guard HMAC<SHA256>.isValidAuthenticationCode(Array(tag), authenticating: body, using: key) else {
            return .failure(.forged)
        }
        let envelope: ClusterEnvelope
        do {
            envelope = try ClusterEnvelope(bencoded: try BencodeDecoder().decode(body))
        } catch {
            return .failure(.malformed)
        }
        guard isFresh(madeAtWallNanos: envelope.sentAtWallNanos, nowWallNanos: nowWallNanos) else {
            return .failure(.stale)
        }
        return .success(envelope)
    }
}

/// Why a cluster datagram was ignored; each is counted.
public enum ClusterRejection: String, Error, CaseIterable, Sendable {
    /// No magic bytes or no room for a tag: not a sealed cluster message at all.
    case unsigned
    /// The tag does not match: a different key, or tampered contents.
    case forged
    /// Correctly signed but unreadable (a newer or broken sender).
    case malformed
    /// Sent too long ago, or from a clock too far off: a replay or a badly synchronised peer.
    case stale
    /// Signed by the cluster key but from a node id that is not configured here.
    case unknownSender = "unknown-sender"
}

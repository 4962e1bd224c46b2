import Bencode
import CSpillwayShims
import MediaPlane
import NGProtocol

/// A client of the NG control protocol, as Kamailio's rtpengine module behaves: one request per
/// datagram with a fresh cookie, retransmitted with the same cookie until a reply arrives.
public final class NGClient {
    public let server: SocketAddress
    private let peer: UDPPeer
    private var sequence = 0
    private let cookiePrefix: String

    public init(server: SocketAddress) throws(UDPPeerError) {
        self.server = server
        self.peer = try UDPPeer(bindingTo: server.isIPv6 ? "::1" : "127.0.0.1")
        self.cookiePrefix = String(spw_wall_nanos() & 0xFFFFFF, radix: 16)
    }

    /// Sends a request dictionary and returns the reply dictionary.
    public func request(
        _ body: BencodeValue, timeoutMilliseconds: Int32 = 1000, attempts: Int = 3
    ) throws(NGClientError) -> BencodeValue {
        sequence += 1
        let message = NGMessage(cookie: "\(cookiePrefix)_\(sequence)", body: body)
        for _ in 0..<attempts {
            guard let reply = exchange(message.encoded, timeoutMilliseconds: timeoutMilliseconds) else { continue }
            guard let (cookie, replyBody) = NGMessage.splitCookie(reply), cookie == message.cookie else { continue }
            do {
                return try BencodeDecoder().decode(replyBody)
            } catch {
                throw .malformedReply("\(error)")
            }
        }
        throw .noReply(server: "\(server)", attempts: attempts)
    }

    /// Sends raw bytes once and returns whatever comes back (for hostile-input tests).
    public func exchange(_ datagram: [UInt8], timeoutMilliseconds: Int32) -> [UInt8]? {
        peer.send(datagram, to: server)
        return peer.receive(timeoutMilliseconds: timeoutMilliseconds)?.bytes
    }
}

/// Why an NG request got no usable reply.
public enum NGClientError: Error, CustomStringConvertible {
    case noReply(server: String, attempts: Int)
    case malformedReply(String)

    public var description: String {
        switch self {
        case .noReply(let server, let attempts): "no NG reply from \(server) after \(attempts) attempts"
        case .malformedReply(let reason): "NG reply could not be decoded: \(reason)"
        }
    }
}

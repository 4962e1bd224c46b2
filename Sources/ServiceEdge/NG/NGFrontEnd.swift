import Bencode
import CSpillwayShims
import Logging
import NGProtocol
import NIOCore

/// The NG port's framing, for a node and the load monitor alike.
///
/// It serves only the clients `ng-clients` allows, splits each datagram into its cookie and its
/// bencoded body, answers a retransmitted request from its reply cache (and does not start a
/// request still being worked on twice), and sends each reply with its cookie. What a command
/// means is its owner's business: the owner gets every new, well-formed command with the
/// `Request` to answer. Used on the event loop only.
package final class NGFrontEnd {
    /// A client's request waiting for its reply: the client's address and the request's cookie.
    package struct Request: Hashable, CustomStringConvertible {
        package let client: NIOCore.SocketAddress
        package let cookie: String

        package var description: String { "\(client)" }
    }

    /// Datagrams the front end dropped or answered from its cache.
    package struct Counters {
        /// From outside `ng-clients`.
        package var refusedClients: UInt64 = 0
        /// Without a cookie.
        package var unframed: UInt64 = 0
        /// Whose body is not bencode.
        package var malformed: UInt64 = 0
        /// A request received again: answered from the cache, or dropped while it is worked on.
        package var retransmissions: UInt64 = 0
    }

    /// Where commands are taken from; a reloaded config file may change it.
    package var clients: ClientNetworks
    package private(set) var counters = Counters()
    private let channel: any Channel
    private let logger: Logger
    private var replies = ReplyCache<[UInt8]>()
    private var inFlight: Set<Request> = []

    package init(clients: ClientNetworks, channel: any Channel, logger: Logger) {
        self.clients = clients
        self.channel = channel
        self.logger = logger
    }

    /// Takes one datagram from the NG port. A new request with a well-formed body goes to `handle`,
    /// which must answer it, now or later, with `answer(_:with:)`.
    package func receive(
        _ datagram: [UInt8], from client: NIOCore.SocketAddress, handle: (BencodeValue, Request) -> Void
    ) {
        guard clients.allows(client) else {
            counters.refusedClients += 1
            if counters.refusedClients % 1000 == 1 {
                logger.warning(
                    "NG datagram from outside ng-clients dropped; add the client's network to ng-clients if it should be served",
                    metadata: [
                        "client": "\(client)", "ng-clients": "\(clients)", "dropped": "\(counters.refusedClients)",
                    ])
            }
            return
        }
        guard let (cookie, body) = NGMessage.splitCookie(datagram) else {
            counters.unframed += 1
            logger.warning(
                "NG datagram without a cookie dropped", metadata: ["client": "\(client)", "bytes": "\(datagram.count)"])
            return
        }
        let request = Request(client: client, cookie: cookie)
        if let cached = replies.reply(client: request.description, cookie: cookie) {
            counters.retransmissions += 1
            return send(cached, to: client)
        }
        guard inFlight.insert(request).inserted else {
            counters.retransmissions += 1
            return
        }
        do {
            handle(try BencodeDecoder().decode(body), request)
        } catch {
            counters.malformed += 1
            answer(request, with: NGReply.error("\(NGError.malformedBencode(error))"))
        }
    }

    /// Sends `reply` to the request's client and keeps it for the client's retransmissions.
    package func answer(_ request: Request, with reply: BencodeValue) {
        inFlight.remove(request)
        let datagram = NGMessage(cookie: request.cookie, body: reply).encoded
        replies.store(datagram, client: request.description, cookie: request.cookie, now: spw_monotonic_nanos())
        send(datagram, to: request.client)
    }

    private func send(_ datagram: [UInt8], to address: NIOCore.SocketAddress) {
        channel.writeAndFlush(
            AddressedEnvelope(remoteAddress: address, data: channel.allocator.buffer(bytes: datagram)), promise: nil)
    }
}

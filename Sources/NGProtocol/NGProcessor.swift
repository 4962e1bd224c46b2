import Bencode
import CSpillwayShims
import Logging
import MediaPlane

/// The NG control protocol of one node, without I/O: a request datagram in, a reply datagram out.
///
/// It decodes the request, answers retransmissions from its cache, runs the command against the
/// node's `CallRegistry`, and encodes the reply. The NG server feeds it datagrams from one thread.
public final class NGProcessor {
    public let registry: CallRegistry
    private var cache = ReplyCache()
    private let logger: Logger
    public private(set) var counters = NGCounters()

    public init(registry: CallRegistry, logger: Logger) {
        self.registry = registry
        self.logger = logger
    }

    /// Handles one datagram from `client` (an address string, used to key retransmissions).
    /// Returns nil when nothing can be replied (no cookie to echo).
    public func handle(_ datagram: [UInt8], from client: String, now: UInt64 = spw_monotonic_nanos()) -> [UInt8]? {
        guard let (cookie, body) = NGMessage.splitCookie(datagram) else {
            counters.unframed += 1
            logger.warning("NG datagram without a cookie dropped", metadata: ["client": "\(client)", "bytes": "\(datagram.count)"])
            return nil
        }
        if let cached = cache.reply(client: client, cookie: cookie) {
            counters.retransmissions += 1
            return cached
        }
        let reply = NGMessage(cookie: cookie, body: execute(body, client: client)).encoded
        cache.store(reply, client: client, cookie: cookie, now: now)
        return reply
    }

    private func execute(_ body: ArraySlice<UInt8>, client: String) -> BencodeValue {
        let request: NGRequest
        do {
            request = try NGRequest(try decode(body))
        } catch {
            counters.errors += 1
            logger.warning("NG request refused", metadata: ["client": "\(client)", "reason": "\(error)"])
            return NGReply.error("\(error)")
        }
        do throws(CallError) {
            return try run(request)
        } catch {
            counters.errors += 1
            logger.warning(
                "NG command failed",
                metadata: ["client": "\(client)", "call-id": "\(request.callID ?? "")", "reason": "\(error)"])
            return NGReply.error("\(error)")
        }
    }

    private func decode(_ body: ArraySlice<UInt8>) throws(NGError) -> BencodeValue {
        do {
            return try BencodeDecoder().decode(body)
        } catch {
            throw .malformedBencode(error)
        }
    }

    private func run(_ request: NGRequest) throws(CallError) -> BencodeValue {
        counters.commands += 1
        switch request {
        case .ping:
            return NGReply.pong
        case .offer(let offer):
            let sdp = try registry.offer(callID: offer.callID, fromTag: offer.fromTag, sdp: offer.sdp, options: offer.options)
            return NGReply.sdp(sdp, ignoredFlags: offer.ignoredFlags)
        case .answer(let answer):
            let sdp = try registry.answer(
                callID: answer.callID, fromTag: answer.fromTag, toTag: answer.toTag ?? "", sdp: answer.sdp,
                options: answer.options)
            return NGReply.sdp(sdp, ignoredFlags: answer.ignoredFlags)
        case .delete(let selector):
            return NGReply.call(try registry.delete(callID: selector.callID), clock: .now())
        case .query(let selector):
            return NGReply.call(try registry.report(callID: selector.callID), clock: .now())
        case .list(let limit):
            return NGReply.list(registry.callIDs, limit: limit)
        case .statistics:
            return NGReply.statistics(
                activeCalls: registry.activeCallCount, totals: registry.nodeTotals(), events: registry.events,
                portPairsInUse: registry.portPairsInUse, portPairCapacity: registry.portPairCapacity)
        }
    }
}

/// Counts of NG traffic since the node started.
public struct NGCounters: Sendable, Equatable {
    /// Requests decoded and run.
    public var commands: UInt64 = 0
    /// Requests answered with `result: error`.
    public var errors: UInt64 = 0
    /// Retransmitted requests answered from the cache.
    public var retransmissions: UInt64 = 0
    /// Datagrams dropped for having no cookie.
    public var unframed: UInt64 = 0
}

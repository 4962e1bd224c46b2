import Bencode
import Logging
import MediaPlane

/// Runs NG commands against the node's `CallRegistry`, without I/O: a decoded request in, a reply
/// dictionary out. Framing, retransmissions and deciding which node runs a command happen around it
/// (in the node's request router); this is what runs once a command is this node's to run.
public final class NGProcessor {
    public let registry: CallRegistry
    private let logger: Logger
    public private(set) var counters = NGCounters()

    public init(registry: CallRegistry, logger: Logger) {
        self.registry = registry
        self.logger = logger
    }

    /// Decodes a request body, counting and logging what cannot be read.
    public func decode(_ body: BencodeValue, client: String) -> Result<NGCommand, NGError> {
        do throws(NGError) {
            return .success(try NGCommand(body))
        } catch {
            counters.errors += 1
            logger.warning("NG request refused", metadata: ["client": "\(client)", "reason": "\(error)"])
            return .failure(error)
        }
    }

    /// Runs a request here; failures become `result: error` replies naming the reason.
    public func reply(to request: NGRequest, client: String) -> BencodeValue {
        do throws(CallError) {
            return try run(request)
        } catch {
            return reply(to: error, of: request, client: client)
        }
    }

    /// The `result: error` reply for a command that failed here (counted and logged).
    public func reply(to error: CallError, of request: NGRequest, client: String) -> BencodeValue {
        counters.errors += 1
        logger.warning(
            "NG command failed",
            metadata: ["client": "\(client)", "call-id": "\(request.callID ?? "")", "reason": "\(error)"])
        return NGReply.error("\(error)")
    }

    /// Runs a request here, throwing what went wrong.
    public func run(_ request: NGRequest) throws(CallError) -> BencodeValue {
        counters.commands += 1
        switch request {
        case .ping:
            return NGReply.pong
        case .offer(let offer):
            let sdp = try registry.offer(
                callID: offer.callID, fromTag: offer.fromTag, sdp: offer.sdp, options: offer.options)
            if offer.recordCall { try registry.startRecording(callID: offer.callID) }
            return NGReply.sdp(sdp, ignoredFlags: offer.ignoredFlags)
        case .answer(let answer):
            let sdp = try registry.answer(
                callID: answer.callID, fromTag: answer.fromTag, toTag: answer.toTag ?? "", sdp: answer.sdp,
                options: answer.options)
            if answer.recordCall { try registry.startRecording(callID: answer.callID) }
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
                portPairsInUse: registry.portPairsInUse, portPairCapacity: registry.portPairCapacity,
                interfaces: registry.portPairsInUseByInterface)
        case .startRecording(let selector):
            try registry.startRecording(callID: selector.callID)
            return ["result": "ok"]
        case .stopRecording(let selector):
            try registry.stopRecording(callID: selector.callID)
            return ["result": "ok"]
        }
    }
}

/// Counts of NG commands this node ran since it started.
public struct NGCounters: Sendable, Equatable {
    /// Requests run here.
    public var commands: UInt64 = 0
    /// Requests refused or answered with `result: error`.
    public var errors: UInt64 = 0
}

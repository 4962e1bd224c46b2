import Bencode
import CSpillwayShims
import Cluster
import Logging
import NGProtocol
import NIOCore
import ServiceEdge

/// NG commands carried between nodes on the cluster port, both ways.
///
/// Outgoing: a command sent to another node is resent once halfway to the forward timeout and
/// given up at the timeout; its sender hears either the reply or the timeout. Incoming: a command
/// another node forwarded here is taken once, however often it is resent, and its reply is kept
/// for the resends. Used on the event loop only.
final class ForwardedCommands {
    /// How a command sent to another node ended.
    enum Outcome {
        case replied(ForwardedReply)
        /// No reply within the forward timeout (the request was sent twice).
        case timedOut
    }

    /// A command another node forwarded here, waiting for this node's reply.
    struct Incoming: Hashable, CustomStringConvertible {
        let sender: NIOCore.SocketAddress
        let id: UInt64

        var description: String { "\(sender) (forwarded request \(id))" }
    }

    /// Forwards sent and received, and how the sent ones ended.
    struct Counters {
        var sent: UInt64 = 0
        var received: UInt64 = 0
        var timeouts: UInt64 = 0
        /// Replies to forwards that had already timed out.
        var lateReplies: UInt64 = 0
    }

    private struct Pending {
        var target: SpillPlanner.Target
        var retransmissions: LoopTimer
        var then: (Outcome) -> Void
    }

    private(set) var counters = Counters()
    private let link: ClusterLink
    private let timeout: TimeAmount
    private let loop: any EventLoop
    private let logger: Logger
    private var pending: [UInt64: Pending] = [:]
    private var nextID = UInt64.random(in: 1...UInt64.max / 2)
    private var answered = ReplyCache<ForwardedReply>()
    private var inFlight: Set<Incoming> = []

    /// - Parameter timeoutNanos: how long a forwarded command waits for its reply (`forward-timeout`).
    init(link: ClusterLink, timeoutNanos: UInt64, loop: any EventLoop, logger: Logger) {
        self.link = link
        timeout = .nanoseconds(Int64(timeoutNanos))
        self.loop = loop
        self.logger = logger
    }

    // MARK: - Sent to other nodes

    /// Sends `command` to `target`; `then` hears the reply, or the timeout.
    func send(
        _ command: BencodeValue, hopsLeft: Int, visited: [String], to target: SpillPlanner.Target,
        then: @escaping (Outcome) -> Void
    ) {
        let message = ForwardedRequest(id: nextID, hopsLeft: hopsLeft, visited: visited, command: command)
        nextID &+= 1
        counters.sent += 1
        link.send(.forward(message), to: target.address)
        var attempts = 0
        let halfTimeout = TimeAmount.nanoseconds(timeout.nanoseconds / 2)
        let retransmissions = LoopTimer(on: loop, initialDelay: halfTimeout, every: halfTimeout) { [unowned self] in
            attempts += 1
            guard attempts >= 2 else { return link.send(.forward(message), to: target.address) }
            timedOut(message.id)
        }
        pending[message.id] = Pending(target: target, retransmissions: retransmissions, then: then)
    }

    /// A reply from a node this node forwarded to.
    func receiveReply(_ reply: ForwardedReply) {
        guard let forward = pending.removeValue(forKey: reply.id) else {
            counters.lateReplies += 1
            return
        }
        forward.retransmissions.cancel()
        forward.then(.replied(reply))
    }

    private func timedOut(_ id: UInt64) {
        guard let forward = pending.removeValue(forKey: id) else { return }
        forward.retransmissions.cancel()
        counters.timeouts += 1
        logger.warning(
            "node did not answer a forwarded request; marked down",
            metadata: [
                "peer": "\(forward.target.id)", "address": "\(forward.target.address)",
                "timeout-ms": "\(timeout.nanoseconds / 1_000_000)",
            ])
        forward.then(.timedOut)
    }

    // MARK: - Received from other nodes

    /// A command another node forwarded here: the `Incoming` to answer, or nil for a resend (answered
    /// again from the kept reply, or dropped while the first is being worked on).
    func receive(_ request: ForwardedRequest, from sender: NIOCore.SocketAddress) -> Incoming? {
        let incoming = Incoming(sender: sender, id: request.id)
        if let kept = answered.reply(client: "\(sender)", cookie: "\(request.id)") {
            link.send(.forwardReply(kept), to: sender)
            return nil
        }
        guard inFlight.insert(incoming).inserted else { return nil }
        counters.received += 1
        return incoming
    }

    /// Answers a forwarded command, naming the node that ran it (nil when none did).
    func answer(_ incoming: Incoming, with reply: BencodeValue, owner: NodeIdentity?) {
        inFlight.remove(incoming)
        let message = ForwardedReply(id: incoming.id, owner: owner, reply: reply)
        answered.store(message, client: "\(incoming.sender)", cookie: "\(incoming.id)", now: spw_monotonic_nanos())
        link.send(.forwardReply(message), to: incoming.sender)
    }
}

/// A new call on its way through the cluster, as every protocol carries it between nodes: how many
/// more times it may be forwarded, and the nodes it has been through.
public struct CallPlacement: Sendable, Equatable {
    /// How many more times the request may be forwarded from the node holding it.
    public var hopsLeft: Int
    /// The nodes the request has been through before the node holding it, in order.
    public var visited: [String]
    /// Nodes the holding node forwarded it to that did not answer; known only to that node.
    public var unanswered: [String]

    public init(hopsLeft: Int, visited: [String] = [], unanswered: [String] = []) {
        self.hopsLeft = hopsLeft
        self.visited = visited
        self.unanswered = unanswered
    }

    /// How many nodes passed the request on before the one holding it.
    public var hops: Int { visited.count }
}

/// Why no node takes a new call.
public enum AllBusyReason: Sendable, Equatable, CustomStringConvertible {
    /// This node is over its threshold and has no peers to spill to.
    case noPeers
    /// The request may not be forwarded again.
    case hopLimitReached
    /// No peer outside the visited ones is below its threshold by this node's data.
    case noPeerBelowThreshold
    /// Every node after this one in the priority order has been visited or is full or down.
    case endOfSequence
    /// The load monitor knows no node below its threshold.
    case monitorFoundNone
    /// No load monitor is configured, or it did not answer in time.
    case monitorUnavailable

    public var description: String {
        switch self {
        case .noPeers: "no peers are configured"
        case .hopLimitReached: "hop limit reached"
        case .noPeerBelowThreshold: "no other node is below its threshold"
        case .endOfSequence: "past the last node of the sequence"
        case .monitorFoundNone: "the load monitor knows no node below its threshold"
        case .monitorUnavailable: "the load monitor did not answer"
        }
    }
}

/// What a node does with a new call.
public enum SteeringDecision: Sendable, Equatable {
    /// This node admits it.
    case takeHere
    /// Send it to `node`, carrying `placement` (one hop fewer, this node added to the visited ones).
    case forward(to: String, placement: CallPlacement)
    /// Ask the load monitor for a node outside `excluding`, then hand its answer to
    /// `SteeringCore.monitorAnswered`.
    case askMonitor(excluding: [String])
    /// No node takes it: answer the client "all busy".
    case allBusy(AllBusyReason)
}

/// The one steering decision of a node, whatever protocol a new call arrives in (NG offer, RAS
/// LRQ/ARQ, H.323 Setup). Pure: the node's admission, its view of the peers and the clock are
/// passed in, and the protocol edges carry out the decision (answer, forward, ask the monitor,
/// refuse) in their own messages.
///
/// The rules, in order: a node below its threshold takes the call; a request that may not be
/// forwarded again is refused; otherwise the deployment's policy names a peer outside the nodes the
/// request has visited (this one included) and those that did not answer. A node that sees no
/// such peer below its threshold answers "all busy" at once rather than forwarding on a guess, so
/// a request visits each node at most once and stops where the data says the cluster is full.
public struct SteeringCore: Sendable {
    /// This node's id, added to the visited list of what it forwards.
    public let nodeID: String
    public let mode: SteeringMode

    public init(nodeID: String, mode: SteeringMode) {
        self.nodeID = nodeID
        self.mode = mode
    }

    /// Decides where a new call goes. A peer chosen is counted in `peers` as having one more call
    /// until it next reports, so decisions made on the same report spread.
    public func decide(
        _ placement: CallPlacement, admitsHere: Bool, peers: inout PeerTable, now: UInt64,
        using generator: inout some RandomNumberGenerator
    ) -> SteeringDecision {
        if admitsHere { return .takeHere }
        if mode != .monitor, peers.peers.isEmpty { return .allBusy(.noPeers) }
        guard placement.hopsLeft > 0 else { return .allBusy(.hopLimitReached) }
        let context = SteeringContext(visited: excluded(for: placement), now: now)
        switch mode {
        case .delegate:
            guard let peer = DelegatePolicy().choose(from: peers, context: context, using: &generator) else {
                return .allBusy(.noPeerBelowThreshold)
            }
            return forward(placement, to: peer, peers: &peers)
        case .sequence:
            guard let peer = SequencePolicy().next(in: peers, context: context) else { return .allBusy(.endOfSequence) }
            return forward(placement, to: peer, peers: &peers)
        case .monitor:
            return .askMonitor(excluding: context.visited)
        }
    }

    /// Goes on from `askMonitor` with the monitor's answer: the node it named (nil when it knows
    /// none below its threshold), or `unavailable` when it did not answer.
    public func monitorAnswered(
        _ node: String?, unavailable: Bool = false, for placement: CallPlacement, peers: inout PeerTable
    ) -> SteeringDecision {
        if unavailable { return .allBusy(.monitorUnavailable) }
        guard let node, !excluded(for: placement).contains(node) else { return .allBusy(.monitorFoundNone) }
        return forward(placement, to: node, peers: &peers)
    }

    /// The placement a forwarded request carries, and the spill counted against the peer.
    private func forward(_ placement: CallPlacement, to peer: String, peers: inout PeerTable) -> SteeringDecision {
        peers.noteSpill(to: peer)
        return .forward(
            to: peer, placement: CallPlacement(hopsLeft: placement.hopsLeft - 1, visited: placement.visited + [nodeID]))
    }

    private func excluded(for placement: CallPlacement) -> [String] {
        placement.visited + [nodeID] + placement.unanswered
    }
}

/// How a node over its threshold finds another node for a new call; chosen per deployment.
public enum SteeringMode: String, CaseIterable, Sendable {
    /// Peer to peer: forward to a peer the shared workload data shows below its threshold.
    case delegate
    /// Walk the configured priority order of peers.
    case sequence
    /// Ask the load monitor which node has the lowest workload.
    case monitor
}

/// What a steering decision needs to know about the request being placed.
public struct SteeringContext: Sendable {
    /// Nodes the request has already been through (this node included), or that did not answer:
    /// never chosen again. A handful at most (bounded by the hop limit), so a list.
    public var visited: [String]
    /// Monotonic now, nanoseconds.
    public var now: UInt64

    public init(visited: [String], now: UInt64) {
        self.visited = visited
        self.now = now
    }
}

/// The `delegate` choice: a peer whose fresh report (plus the calls steered to it since) puts it
/// below its threshold, picked at random with probability proportional to its headroom; nil when
/// no peer shows headroom (the steering core then answers "all busy" rather than guessing).
///
/// Random weighting is what keeps many primaries holding the same stale view from all choosing the
/// same "least loaded" peer and overloading it together; counting the calls each primary has steered
/// since the last report shrinks a peer's weight as it fills. A peer below its own threshold while
/// this node is at or over its own has, for equal thresholds, a lower workload by definition.
public struct DelegatePolicy: Sendable {
    public init() {}

    public func choose(
        from peers: PeerTable, context: SteeringContext, using generator: inout some RandomNumberGenerator
    ) -> String? {
        // Two passes over plain numbers (the total headroom, then the peer where one random point
        // falls), so no candidate list is built and one random number is drawn.
        var total = 0.0
        var last: Int?
        peers.forEachUsable(now: context.now, excluding: context.visited) { position, _, headroom in
            guard headroom > 0 else { return }
            total += headroom
            last = position
        }
        guard let last else { return nil }
        var point = Double.random(in: 0..<total, using: &generator)
        var chosen = last
        peers.forEachUsable(now: context.now, excluding: context.visited) { position, _, headroom in
            guard headroom > 0, point >= 0 else { return }
            if point < headroom { chosen = position }
            point -= headroom
        }
        return peers.peers[chosen].id
    }
}

/// The `sequence` choice: the first peer in the configured priority order that the request has not
/// visited, that is not known to be down, and whose fresh report (if any) does not show it at or over
/// its threshold. Each node repeats its own admission test, so the request walks the order until a
/// node is below its threshold; past the last node, all are busy.
public struct SequencePolicy: Sendable {
    public init() {}

    public func next(in peers: PeerTable, context: SteeringContext) -> String? {
        peers.peers.first { peer in
            guard !context.visited.contains(peer.id), !peer.isDown else { return false }
            guard peers.isFresh(peer, now: context.now), let headroom = peers.headroom(of: peer, now: context.now)
            else { return true }
            return headroom > 0
        }?.id
    }
}

/// The monitor's choice: the node with the lowest estimated workload among those that are up and
/// fresh; ties go to the earlier configured node. Whether it admits is part of the answer: a client
/// or a node asking is told "all busy" when it does not.
public struct LeastLoadedPolicy: Sendable {
    public struct Choice: Sendable, Equatable {
        public var id: String
        public var estimatedLoad: Double
        /// Whether the node is below its threshold by the monitor's estimate.
        public var admits: Bool

        public init(id: String, estimatedLoad: Double, admits: Bool) {
            self.id = id
            self.estimatedLoad = estimatedLoad
            self.admits = admits
        }
    }

    public init() {}

    public func choose(from peers: PeerTable, context: SteeringContext) -> Choice? {
        var best: (position: Int, load: Double, headroom: Double)?
        peers.forEachUsable(now: context.now, excluding: context.visited) { position, load, headroom in
            // Among nodes that admit, the lowest load; a node that admits beats one that does not.
            if let current = best,
                (current.headroom > 0) == (headroom > 0) ? load >= current.load : current.headroom > 0
            {
                return
            }
            best = (position, load, headroom)
        }
        return best.map { Choice(id: peers.peers[$0.position].id, estimatedLoad: $0.load, admits: $0.headroom > 0) }
    }
}

extension PeerTable {
    /// The monitor's answer for a new call: the least-loaded node (`LeastLoadedPolicy`) outside
    /// `excluding` that admits it, counted as having one more call until it next reports, with the
    /// identity it reports; nil when no node admits.
    public mutating func claimLeastLoaded(
        excluding: [String], now: UInt64
    ) -> (choice: LeastLoadedPolicy.Choice, node: NodeIdentity)? {
        let context = SteeringContext(visited: excluding, now: now)
        guard let choice = LeastLoadedPolicy().choose(from: self, context: context), choice.admits,
            let node = peer(choice.id)?.report?.node
        else { return nil }
        noteSpill(to: choice.id)
        return (choice, node)
    }
}

import CSpillwayShims
import Cluster
import Logging
import NIOCore

/// Carries out the node's `SteeringCore` for every protocol's new calls: it gives the core the
/// node's admission and its view of the peers (polled first under poll-on-demand sharing), asks
/// the load monitor when the core says to, and resolves the chosen node to its addresses. The NG
/// router, the RAS endpoint and the call-signalling port act on the outcome in their own messages;
/// none of them decides anything about steering. Runs on the event loop.
final class SpillPlanner {
    /// A node to forward a new call to, with the addresses each protocol forwards to.
    struct Target {
        var id: String
        /// Its cluster address (NG forwards).
        var address: NIOCore.SocketAddress
        /// Its RAS address (HOST:PORT), when it answers RAS.
        var rasAddress: String?
        /// Its H.225.0 call-signalling address (HOST:PORT), when it takes H.323 calls.
        var callSignalAddress: String?

        /// - Parameter node: what the node last reported of itself, when it has reported.
        init(id: String, address: NIOCore.SocketAddress, reported node: NodeIdentity?) {
            self.id = id
            self.address = address
            rasAddress = node?.rasAddress
            callSignalAddress = node?.callSignalAddress
        }
    }

    /// What to do with a new call.
    enum Outcome {
        case takeHere
        /// Forward it to `target`, the forwarded request carrying `placement`.
        case forward(Target, placement: CallPlacement)
        case allBusy(AllBusyReason)
    }

    let core: SteeringCore
    var mode: SteeringMode { core.mode }
    private let cluster: (collector: WorkloadCollector, link: ClusterLink)?
    private var emptyTable = PeerTable(peers: [], ageLimitNanos: 0)
    private let monitor: NIOCore.SocketAddress?
    private let loop: any EventLoop
    private let monitorTimeout: TimeAmount
    private let metrics: NodeMetrics
    private let logger: Logger
    private var generator = SystemRandomNumberGenerator()
    private var locates: [UInt64: (timeout: Scheduled<Void>, then: (NodeIdentity?, _ answered: Bool) -> Void)] = [:]
    private var nextLocateID = UInt64.random(in: 1...UInt64.max / 2)

    /// - Parameter cluster: the node's peers and cluster port; nil for a node without peers, whose
    ///   new calls over its threshold are refused.
    init(
        core: SteeringCore, cluster: (collector: WorkloadCollector, link: ClusterLink)?, monitor: NIOCore.SocketAddress?,
        monitorTimeoutNanos: UInt64, metrics: NodeMetrics, loop: any EventLoop, logger: Logger
    ) {
        self.core = core
        self.cluster = cluster
        self.monitor = monitor
        self.monitorTimeout = .nanoseconds(Int64(monitorTimeoutNanos))
        self.metrics = metrics
        self.loop = loop
        self.logger = logger
    }

    /// Decides where a new call goes. `body` runs at once, or after a poll round or the monitor's
    /// answer.
    func place(_ placement: CallPlacement, admitsHere: Bool, then body: @escaping (Outcome) -> Void) {
        if admitsHere { return body(.takeHere) }
        let started = ContinuousClock.now
        let finish = { [metrics] (outcome: Outcome) in
            metrics.steeringDecision.record(ContinuousClock.now - started)
            body(outcome)
        }
        // Delegate decides on workload, polled first under poll-on-demand sharing; a sequence walk
        // is its own test at each node, and the monitor collects for itself.
        guard let collector = cluster?.collector, mode == .delegate else { return carryOut(placement, then: finish) }
        collector.withFreshView { [self] _ in carryOut(placement, then: finish) }
    }

    /// Places a call again after `target`, to which it was forwarded, did not answer: the target is
    /// marked down and left out. `placement` is the one given to `place`, not the forwarded one.
    func retry(_ placement: CallPlacement, after target: Target, then body: @escaping (Outcome) -> Void) {
        cluster?.collector.markDown(target.id)
        var placement = placement
        placement.unanswered.append(target.id)
        place(placement, admitsHere: false, then: body)
    }

    /// The monitor's answer to a `locate`.
    func receiveLocated(id: UInt64, node: NodeIdentity?) {
        guard let pending = locates.removeValue(forKey: id) else { return }
        pending.timeout.cancel()
        pending.then(node, true)
    }

    private func carryOut(_ placement: CallPlacement, then body: @escaping (Outcome) -> Void) {
        let decision = withTable { [self] table in
            core.decide(placement, admitsHere: false, peers: &table, now: spw_monotonic_nanos(), using: &generator)
        }
        switch decision {
        case .takeHere:
            body(.takeHere)
        case .allBusy(let reason):
            body(.allBusy(reason))
        case .forward(let id, let carried):
            guard let collector = cluster?.collector, let address = collector.address(of: id) else {
                return retryWithout(id, placement, then: body)
            }
            body(.forward(Target(id: id, address: address, reported: collector.table.peer(id)?.report?.node), placement: carried))
        case .askMonitor(let excluding):
            askMonitor(excluding: excluding) { [self] node, answered in
                let decision = withTable { core.monitorAnswered(node?.id, unavailable: !answered, for: placement, peers: &$0) }
                switch decision {
                case .forward(_, let carried):
                    guard let node, let address = try? NIOCore.SocketAddress(hostAndPort: node.clusterAddress) else {
                        return body(.allBusy(.monitorFoundNone))
                    }
                    body(.forward(Target(id: node.id, address: address, reported: node), placement: carried))
                case .allBusy(let reason):
                    body(.allBusy(reason))
                case .takeHere, .askMonitor:
                    body(.allBusy(.monitorFoundNone))
                }
            }
        }
    }

    /// A peer this node has no address for: left out, and the call placed again.
    private func retryWithout(_ id: String, _ placement: CallPlacement, then body: @escaping (Outcome) -> Void) {
        var placement = placement
        placement.unanswered.append(id)
        carryOut(placement, then: body)
    }

    private func withTable<Result>(_ body: (inout PeerTable) -> Result) -> Result {
        if let collector = cluster?.collector { return collector.updateTable(body) }
        return body(&emptyTable)
    }

    private func askMonitor(excluding visited: [String], then body: @escaping (NodeIdentity?, _ answered: Bool) -> Void) {
        guard let monitor, let link = cluster?.link else { return body(nil, false) }
        let id = nextLocateID
        nextLocateID &+= 1
        let timeout = loop.assumeIsolated().scheduleTask(in: monitorTimeout) { [self] in
            guard locates.removeValue(forKey: id) != nil else { return }
            logger.warning(
                "load monitor did not answer where to spill; treating every node as busy",
                metadata: ["monitor": "\(monitor)"])
            body(nil, false)
        }
        locates[id] = (timeout, body)
        link.send(.locate(id: id, excluding: visited), to: monitor)
    }
}

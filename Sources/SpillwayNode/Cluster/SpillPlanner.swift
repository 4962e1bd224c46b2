import CSpillwayShims
import Cluster
import Logging
import NIOCore
import ServiceEdge

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
        /// Forward it to `target` at `address` (the port the protocol asked for), the forwarded
        /// request carrying `placement`.
        case forward(Target, at: NIOCore.SocketAddress, placement: CallPlacement)
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
        core: SteeringCore, cluster: (collector: WorkloadCollector, link: ClusterLink)?,
        monitor: NIOCore.SocketAddress?,
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

    /// The port of a node a protocol forwards new calls to. A chosen node whose reports name no
    /// usable address for it is left out, and the call placed again.
    enum Port {
        /// The cluster port (NG forwards): every peer has one.
        case cluster
        /// The RAS port (`--ras`).
        case ras
        /// The H.225.0 call-signalling port (`--call-signal`).
        case callSignal

        func address(of target: Target) -> NIOCore.SocketAddress? {
            switch self {
            case .cluster: target.address
            case .ras: target.rasAddress.flatMap { try? NIOCore.SocketAddress(hostAndPort: $0) }
            case .callSignal: target.callSignalAddress.flatMap { try? NIOCore.SocketAddress(hostAndPort: $0) }
            }
        }

        /// The protocol new calls arrive in when they are forwarded to this port, as metrics label it.
        var protocolName: String {
            switch self {
            case .cluster: "ng"
            case .ras: "ras"
            case .callSignal: "h323"
            }
        }

        /// The setting that gives a node this port, for the operator's warning.
        var setting: String {
            switch self {
            case .cluster: "cluster"
            case .ras: "ras"
            case .callSignal: "call-signal"
            }
        }
    }

    /// Decides where a new call goes; a node chosen is reached on `port`. `body` runs at once, or
    /// after a poll round or the monitor's answer.
    func place(
        _ placement: CallPlacement, admitsHere: Bool, reachedOn port: Port, then body: @escaping (Outcome) -> Void
    ) {
        let started = ContinuousClock.now
        let finish = { [metrics] (outcome: Outcome) in
            if !admitsHere { metrics.steeringDecision.record(ContinuousClock.now - started) }
            body(outcome)
        }
        let request = Request(placement: placement, admitsHere: admitsHere, port: port)
        // Delegate decides on workload, polled first under poll-on-demand sharing; a sequence walk
        // is its own test at each node, and the monitor collects for itself.
        guard !admitsHere, let collector = cluster?.collector, mode == .delegate else {
            return carryOut(request, then: finish)
        }
        collector.withFreshView { [self] _ in carryOut(request, then: finish) }
    }

    /// Places a call again after node `unanswered`, to which it was forwarded, did not answer: the
    /// node is marked down and left out. `placement` is the one given to `place`, not the forwarded one.
    func retry(
        _ placement: CallPlacement, after unanswered: String, reachedOn port: Port,
        then body: @escaping (Outcome) -> Void
    ) {
        cluster?.collector.markDown(unanswered)
        var placement = placement
        placement.unanswered.append(unanswered)
        place(placement, admitsHere: false, reachedOn: port, then: body)
    }

    /// One placement being decided.
    private struct Request {
        var placement: CallPlacement
        var admitsHere: Bool
        var port: Port
    }

    /// The monitor's answer to a `locate`.
    func receiveLocated(id: UInt64, node: NodeIdentity?) {
        guard let pending = locates.removeValue(forKey: id) else { return }
        pending.timeout.cancel()
        pending.then(node, true)
    }

    private func carryOut(_ request: Request, then body: @escaping (Outcome) -> Void) {
        let decision = withTable { [self] table in
            core.decide(
                request.placement, admitsHere: request.admitsHere, peers: &table, now: spw_monotonic_nanos(),
                using: &generator)
        }
        switch decision {
        case .takeHere:
            metrics.recordCallHops(request.placement.hops, protocol: request.port.protocolName)
            body(.takeHere)
        case .allBusy(let reason):
            body(.allBusy(reason))
        case .forward(let id, let carried):
            let collector = cluster?.collector
            let target = collector?.address(of: id).map {
                Target(id: id, address: $0, reported: collector?.table.peer(id)?.report?.node)
            }
            deliver(target, named: id, carrying: carried, for: request, then: body)
        case .askMonitor(let excluding):
            askMonitor(excluding: excluding) { [self] node, answered in
                let decision = withTable {
                    core.monitorAnswered(node?.id, unavailable: !answered, for: request.placement, peers: &$0)
                }
                guard case .forward(let id, let carried) = decision else {
                    if case .allBusy(let reason) = decision { return body(.allBusy(reason)) }
                    return body(.allBusy(.monitorFoundNone))
                }
                let target = node.flatMap { node in
                    (try? NIOCore.SocketAddress(hostAndPort: node.clusterAddress)).map {
                        Target(id: id, address: $0, reported: node)
                    }
                }
                deliver(target, named: id, carrying: carried, for: request, then: body)
            }
        }
    }

    /// Hands the chosen node on, or, when this node cannot reach it on the request's port (no
    /// address known), leaves it out and places the call again.
    private func deliver(
        _ target: Target?, named id: String, carrying carried: CallPlacement, for request: Request,
        then body: @escaping (Outcome) -> Void
    ) {
        if let target, let address = request.port.address(of: target) {
            return body(.forward(target, at: address, placement: carried))
        }
        if target != nil {
            let setting = request.port.setting
            logger.warning(
                "cannot send a new call to a node whose reports carry no \(setting) address; start it with --\(setting)",
                metadata: ["peer": "\(id)"])
        }
        var next = request
        next.placement.unanswered.append(id)
        carryOut(next, then: body)
    }

    private func withTable<Result>(_ body: (inout PeerTable) -> Result) -> Result {
        if let collector = cluster?.collector { return collector.updateTable(body) }
        return body(&emptyTable)
    }

    private func askMonitor(excluding visited: [String], then body: @escaping (NodeIdentity?, _ answered: Bool) -> Void)
    {
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

import CSpillwayShims
import Cluster
import Logging
import NIOCore

/// Where a new call goes when this node is over its threshold: runs the deployment's steering
/// policy on the collected workload (delegate), the configured order (sequence), or the load
/// monitor's answer (monitor). Runs on the event loop.
final class SpillPlanner {
    /// A node to forward a request to.
    struct Target {
        var id: String
        /// Its cluster address.
        var address: NIOCore.SocketAddress
        /// Its RAS address (HOST:PORT) as its reports give it, when it answers RAS.
        var rasAddress: String?
    }

    let mode: SteeringMode
    private let collector: WorkloadCollector
    private let link: ClusterLink
    private let monitor: NIOCore.SocketAddress?
    private let loop: any EventLoop
    private let monitorTimeout: TimeAmount
    private let logger: Logger
    private var generator = SystemRandomNumberGenerator()
    private var locates: [UInt64: (timeout: Scheduled<Void>, then: (Target?) -> Void)] = [:]
    private var nextLocateID = UInt64.random(in: 1...UInt64.max / 2)

    init(
        mode: SteeringMode, collector: WorkloadCollector, link: ClusterLink, monitor: NIOCore.SocketAddress?,
        monitorTimeoutNanos: UInt64, loop: any EventLoop, logger: Logger
    ) {
        self.mode = mode
        self.collector = collector
        self.link = link
        self.monitor = monitor
        self.monitorTimeout = .nanoseconds(Int64(monitorTimeoutNanos))
        self.loop = loop
        self.logger = logger
    }

    /// Finds a node for a new call that has been through `visited`; nil when none is available.
    func chooseTarget(avoiding visited: [String], then body: @escaping (Target?) -> Void) {
        switch mode {
        case .delegate:
            collector.withFreshView { [self] table in
                let context = SteeringContext(visited: visited, now: spw_monotonic_nanos())
                body(target(DelegatePolicy().choose(from: table, context: context, using: &generator)))
            }
        case .sequence:
            let context = SteeringContext(visited: visited, now: spw_monotonic_nanos())
            body(target(SequencePolicy().next(in: collector.table, context: context)))
        case .monitor:
            askMonitor(excluding: visited, then: body)
        }
    }

    /// The monitor's answer to a `locate`.
    func receiveLocated(id: UInt64, node: NodeIdentity?) {
        guard let pending = locates.removeValue(forKey: id) else { return }
        pending.timeout.cancel()
        guard let node, let address = try? NIOCore.SocketAddress(hostAndPort: node.clusterAddress) else {
            return pending.then(nil)
        }
        pending.then(Target(id: node.id, address: address, rasAddress: node.rasAddress))
    }

    /// Marks a target that did not answer as down, so it is not chosen again until it reports.
    func targetDidNotAnswer(_ target: Target) {
        collector.markDown(target.id)
    }

    private func target(_ id: String?) -> Target? {
        guard let id, let address = collector.address(of: id) else { return nil }
        collector.noteSpill(to: id)
        return Target(id: id, address: address, rasAddress: collector.table.peer(id)?.report?.node.rasAddress)
    }

    private func askMonitor(excluding visited: [String], then body: @escaping (Target?) -> Void) {
        guard let monitor else { return body(nil) }
        let id = nextLocateID
        nextLocateID &+= 1
        let timeout = loop.assumeIsolated().scheduleTask(in: monitorTimeout) { [self] in
            guard locates.removeValue(forKey: id) != nil else { return }
            logger.warning(
                "load monitor did not answer where to spill; treating every node as busy",
                metadata: ["monitor": "\(monitor)"])
            body(nil)
        }
        locates[id] = (timeout, body)
        link.send(.locate(id: id, excluding: visited), to: monitor)
    }
}

import Bencode
import CSpillwayShims
import CallStore
import Cluster
import H323
import H323Edge
import Logging
import MediaPlane
import NGProtocol
import NIOCore
import ServiceEdge

/// The parts of a node that make it a cluster member: its cluster port, what it knows of its peers,
/// what it tells them, and the NG commands it forwards to them and takes from them.
struct ClusterMembership {
    let link: ClusterLink
    let collector: WorkloadCollector
    let reporter: WorkloadReporter
    let forwards: ForwardedCommands
}

/// Everything of a node that lives on its event loop: its ports' handlers, the router, and the
/// periodic work. It wires the parts together and hands each received datagram to its part.
final class NodeLoopState: LoopConfinedState {
    let registry: CallRegistry
    let router: RequestRouter
    let ras: RASEndpoint?
    /// The H.225.0 call-signalling port, when the node takes H.323 calls.
    let callSignalling: CallSignallingPort?
    let statistics: NodeStatistics
    let metrics: NodeMetrics
    private let frontEnd: NGFrontEnd
    private let workload: WorkloadControl
    private let planner: SpillPlanner
    private let cluster: ClusterMembership?
    /// The call store, when the node has one.
    let replication: CallReplication?
    /// What carries on the calls of the peers this node stands by for.
    private let standby: Standby?
    private var timers: [LoopTimer] = []

    init(
        identity: NodeIdentity, configuration: NodeConfiguration, workers: WorkerPool, ngChannel: any Channel,
        clusterChannel: (any Channel)?, rasChannel: (any Channel)?, seal: ClusterSeal?, redisPassword: String? = nil,
        loop: any EventLoop, logger: Logger
    ) throws {
        let registry = CallRegistry(
            interfaces: MediaInterfaces(configuration.mediaInterfaces), portRange: configuration.portRange,
            workers: workers,
            logger: logger, relatchSilence: .milliseconds(Int64((configuration.relatchSilence * 1000).rounded())),
            opusDefaults: configuration.opusDefaults,
            makeRecorder: configuration.recordingDirectory.map(CallRecordings.init)?.open)
        self.registry = registry
        let meter = WorkloadMeter(
            workers: workers, registry: registry, capacity: configuration.capacity, threshold: configuration.threshold)
        let cluster = try clusterChannel.map { channel in
            try Self.membership(
                identity: identity, configuration: configuration, meter: meter, channel: channel, seal: seal!,
                loop: loop,
                logger: logger)
        }
        self.cluster = cluster
        metrics = NodeMetrics()
        let planner = SpillPlanner(
            core: SteeringCore(nodeID: identity.id, mode: configuration.policy),
            cluster: cluster.map { ($0.collector, $0.link) },
            monitor: try configuration.monitorAddress.map { try NIOCore.SocketAddress(hostAndPort: $0) },
            monitorTimeoutNanos: UInt64(configuration.forwardTimeout * 1e9), metrics: metrics, loop: loop,
            logger: logger)
        self.planner = planner
        let frontEnd = NGFrontEnd(clients: configuration.ngClients, channel: ngChannel, logger: logger)
        self.frontEnd = frontEnd
        let workload = WorkloadControl(
            identity: identity, meter: meter, registry: registry, configuration: configuration,
            reporter: cluster?.reporter,
            logger: logger)
        self.workload = workload
        let ras = try Self.rasEndpoint(
            identity: identity, configuration: configuration, meter: meter, planner: planner, channel: rasChannel,
            loop: loop,
            logger: logger)
        self.ras = ras
        let callSignalling = identity.callSignalAddress.map { _ in
            Self.callSignallingPort(
                configuration: configuration, registry: registry, meter: meter, planner: planner, seal: seal, ras: ras,
                loop: loop,
                logger: logger)
        }
        self.callSignalling = callSignalling
        let replication = try configuration.redis.map { redis in
            try Self.replication(
                redis, password: redisPassword, identity: identity, registry: registry, loop: loop, logger: logger)
        }
        self.replication = replication
        standby = replication.flatMap { replication in
            cluster.flatMap { cluster in
                configuration.standbyFor.isEmpty
                    ? nil
                    : Standby(
                        watching: configuration.standbyFor, takeoverAfter: configuration.takeoverAfter,
                        replication: replication, registry: registry, collector: cluster.collector, loop: loop,
                        logger: logger)
            }
        }
        let owners = OwnerProxy(
            identity: identity, forwards: cluster?.forwards, collector: cluster?.collector,
            timeoutNanos: UInt64(configuration.forwardTimeout * 1e9))
        let statistics = NodeStatistics(
            identity: identity, configuration: configuration, workload: workload, registry: registry, cluster: cluster,
            frontEnd: frontEnd, owners: owners, ras: ras, callSignalling: callSignalling, replication: replication,
            standby: standby)
        self.statistics = statistics
        router = RequestRouter(
            identity: identity, processor: NGProcessor(registry: registry, logger: logger), frontEnd: frontEnd,
            forwards: cluster?.forwards, owners: owners, planner: planner, workload: workload, statistics: statistics,
            reporter: cluster?.reporter, replication: replication, maxHops: configuration.maxHops, loop: loop,
            logger: logger)
        startTimers(configuration: configuration, meter: meter, loop: loop)
        replication?.link.start()
    }

    // MARK: - Received datagrams

    /// A datagram on the NG port.
    func receiveNG(_ datagram: [UInt8], from address: NIOCore.SocketAddress) {
        frontEnd.receive(datagram, from: address) { command, request in router.receive(command, from: request) }
    }

    /// A datagram on the cluster port.
    func receiveCluster(_ datagram: [UInt8], from address: NIOCore.SocketAddress) {
        guard let cluster, let envelope = cluster.link.open(datagram, from: address) else { return }
        switch envelope.message {
        case .report(let report):
            cluster.collector.receive(report, sender: envelope.sender, from: address)
        case .poll:
            cluster.reporter.answerPoll(from: address)
        case .subscribe(let interval, let lease):
            cluster.reporter.subscribe(address, intervalMillis: interval, leaseMillis: lease)
        case .forward(let request):
            router.receive(request, from: address)
        case .forwardReply(let reply):
            cluster.forwards.receiveReply(reply)
        case .located(let id, let node):
            planner.receiveLocated(id: id, node: node)
        case .locate:
            // Only the load monitor answers `locate`.
            cluster.link.refuse(.malformed, from: address)
        }
    }

    // MARK: - Operations

    /// The metrics exposition, read now.
    func metricsExposition() -> [UInt8] {
        metrics.exposition(of: statistics.snapshot(placements: router.placements))
    }

    /// Refuses new calls from now on and tells the peers at once; returns the calls still up.
    func startDraining() -> Int {
        workload.meter.drain()
        cluster?.reporter.workloadChanged()
        return registry.activeCallCount
    }

    /// Takes the run-time settings of a reloaded configuration.
    func apply(_ reloaded: NodeConfiguration) {
        workload.setLimits(capacity: reloaded.capacity, threshold: reloaded.threshold)
        frontEnd.clients = reloaded.ngClients
    }

    func stop() {
        for timer in timers { timer.cancel() }
        timers = []
        cluster?.reporter.stop()
        standby?.stop()
        replication?.stop()
    }

    // MARK: - Wiring

    private func startTimers(configuration: NodeConfiguration, meter: WorkloadMeter, loop: any EventLoop) {
        let interval = TimeAmount.nanoseconds(Int64(configuration.shareInterval * 1e9))
        timers.append(
            LoopTimer(on: loop, initialDelay: interval, every: interval) { [cluster, ras] in
                meter.sample()
                cluster?.collector.tick()
                cluster?.reporter.tick()
                ras?.tick()
            })
        let mediaTimeoutNanos = UInt64(configuration.mediaTimeout) * 1_000_000_000
        timers.append(
            LoopTimer(on: loop, initialDelay: .seconds(1), every: .seconds(1)) { [cluster, registry] in
                for callID in registry.idleCallIDs(timeoutNanos: mediaTimeoutNanos) { registry.expire(callID: callID) }
                cluster?.reporter.workloadChanged()
            })
        // Peers and the monitor learn of a new node at once rather than one interval later.
        cluster?.collector.tick()
        cluster?.reporter.tick()
        ras?.tick()
    }

    private static func membership(
        identity: NodeIdentity, configuration: NodeConfiguration, meter: WorkloadMeter, channel: any Channel,
        seal: ClusterSeal, loop: any EventLoop, logger: Logger
    ) throws -> ClusterMembership {
        let link = ClusterLink(sender: identity.id, seal: seal, channel: channel, logger: logger)
        let peers = try configuration.peers.map { ($0.id, try NIOCore.SocketAddress(hostAndPort: $0.address)) }
        let monitor = try configuration.monitorAddress.map { try NIOCore.SocketAddress(hostAndPort: $0) }
        let strategy: WorkloadCollector.Strategy =
            switch configuration.share {
            case .push: .passive
            case .poll: .onDemand
            case .continuous: .subscribe
            }
        let collector = WorkloadCollector(
            nodes: peers, strategy: strategy, intervalNanos: UInt64(configuration.shareInterval * 1e9),
            ageLimitNanos: UInt64(configuration.effectiveReportAgeLimit * 1e9),
            pollTimeoutNanos: UInt64(configuration.pollTimeout * 1e9), link: link, loop: loop, logger: logger)
        let pushTargets = configuration.share == .push ? peers.map(\.1) + (monitor.map { [$0] } ?? []) : []
        let reporter = WorkloadReporter(
            identity: identity, meter: meter, pushTargets: pushTargets, link: link, loop: loop)
        let forwards = ForwardedCommands(
            link: link, timeoutNanos: UInt64(configuration.forwardTimeout * 1e9), loop: loop, logger: logger)
        return ClusterMembership(link: link, collector: collector, reporter: reporter, forwards: forwards)
    }

    private static func replication(
        _ redis: RedisAddress, password: String?, identity: NodeIdentity, registry: CallRegistry, loop: any EventLoop,
        logger: Logger
    ) throws -> CallReplication {
        let link = RedisLink(
            address: try NIOCore.SocketAddress(hostAndPort: redis.hostAndPort), database: redis.database,
            password: password, queueLimit: CallReplication.queueLimit, loop: loop, logger: logger)
        let replication = CallReplication(
            link: link, keys: CallStoreKeys(), identity: identity, registry: registry, refreshInterval: .hours(1),
            loop: loop, logger: logger)
        registry.whenCallEnds { callID, _ in replication.ended(callID) }
        return replication
    }

    private static func rasEndpoint(
        identity: NodeIdentity, configuration: NodeConfiguration, meter: WorkloadMeter, planner: SpillPlanner,
        channel: (any Channel)?, loop: any EventLoop, logger: Logger
    ) throws -> RASEndpoint? {
        guard let channel else { return nil }
        guard let rasAddress = identity.rasAddress.flatMap(TransportAddress.init(hostAndPort:)),
            let callSignal = identity.callSignalAddress.flatMap(TransportAddress.init(hostAndPort:))
        else {
            throw StartError.bindFailed(
                setting: "ras", address: identity.rasAddress ?? "", underlying: "not an IP address")
        }
        return try RASEndpoint(
            identity: identity, rasAddress: rasAddress, callSignalAddress: callSignal, meter: meter,
            planner: planner, configuration: configuration, channel: channel, loop: loop, logger: logger)
    }

    private static func callSignallingPort(
        configuration: NodeConfiguration, registry: CallRegistry, meter: WorkloadMeter, planner: SpillPlanner,
        seal: ClusterSeal?,
        ras: RASEndpoint?, loop: any EventLoop, logger: Logger
    ) -> CallSignallingPort {
        CallSignallingPort(
            registry: registry, mediaIP: configuration.mediaInterfaces[0].advertisedIP,
            routes: configuration.h323Routes,
            steer: { placement, unanswered, then in
                let finish = { (outcome: SpillPlanner.Outcome) in
                    switch outcome {
                    case .takeHere: then(.takeHere)
                    case .forward(let target, let address, let carried):
                        then(.forward(node: target.id, callSignalAddress: address, placement: carried))
                    case .allBusy(let reason): then(.allBusy(reason))
                    }
                }
                if let unanswered {
                    planner.retry(placement, after: unanswered, reachedOn: .callSignal, then: finish)
                } else {
                    planner.place(placement, admitsHere: meter.admitsNewCall, reachedOn: .callSignal, then: finish)
                }
            },
            replyMode: configuration.h323Reply, maxHops: configuration.maxHops,
            elementSeal: seal.map { SetupElementSeal(seal: $0, wallNanos: { spw_wall_nanos() }) },
            registered: { [ras] aliases in ras?.registration(matchingAnyOf: aliases) }, loop: loop, logger: logger)
    }
}

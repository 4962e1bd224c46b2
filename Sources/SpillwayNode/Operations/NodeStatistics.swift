import Bencode
import CSpillwayShims
import Cluster
import H323Edge
import MediaPlane
import ServiceEdge

/// What a node tells operators about itself, read from every part that keeps counts: the
/// `spillway` part of NG `statistics`, `/status`, and the snapshot `/metrics` exports.
/// Used on the event loop only.
final class NodeStatistics {
    private let identity: NodeIdentity
    private let configuration: NodeConfiguration
    private let workload: WorkloadControl
    private let registry: CallRegistry
    private let cluster: ClusterMembership?
    private let frontEnd: NGFrontEnd
    private let owners: OwnerProxy
    private let ras: RASEndpoint?
    private let callSignalling: CallSignallingPort?
    private let replication: CallReplication?
    private let standby: Standby?

    init(
        identity: NodeIdentity, configuration: NodeConfiguration, workload: WorkloadControl, registry: CallRegistry,
        cluster: ClusterMembership?, frontEnd: NGFrontEnd, owners: OwnerProxy, ras: RASEndpoint?,
        callSignalling: CallSignallingPort?, replication: CallReplication?, standby: Standby?
    ) {
        self.identity = identity
        self.configuration = configuration
        self.workload = workload
        self.registry = registry
        self.cluster = cluster
        self.frontEnd = frontEnd
        self.owners = owners
        self.ras = ras
        self.callSignalling = callSignalling
        self.replication = replication
        self.standby = standby
    }

    /// Everything the NG port and the cluster routing have counted.
    func routing(_ placements: PlacementCounters) -> RoutingCounters {
        RoutingCounters(
            ng: frontEnd.counters, forwards: cluster?.forwards.counters ?? ForwardedCommands.Counters(),
            proxied: owners.proxied,
            placements: placements)
    }

    /// NG `statistics` as the call registry answered it, with the calls anchored elsewhere counted
    /// and a `spillway` part: the workload, the routing counters and what the node knows of its peers.
    func extending(_ fields: [String: BencodeValue], placements: PlacementCounters) -> [String: BencodeValue] {
        var fields = fields
        if var statistics = fields["statistics"]?.dictionaryValue,
            var current = statistics["currentstatistics"]?.dictionaryValue
        {
            current["sessionsforeign"] = .integer(Int64(owners.count))
            current["sessionstotal"] = .integer(Int64(registry.activeCallCount + owners.count))
            statistics["currentstatistics"] = .dictionary(current)
            fields["statistics"] = .dictionary(statistics)
        }
        var spillway = workload.summary
        spillway["policy"] = .string(configuration.policy.rawValue)
        spillway["share"] = .string(configuration.share.rawValue)
        spillway["counters"] = routing(placements).bencoded
        spillway["data-plane"] = NodeStatus.DataPlane(registry.workers).bencoded
        if let cluster {
            spillway["rejected"] = .dictionary(
                Dictionary(
                    uniqueKeysWithValues: ClusterRejection.allCases.map {
                        ($0.rawValue, .integer(Int64(cluster.link.rejected[$0] ?? 0)))
                    }))
            spillway["reports-sent"] = .integer(Int64(cluster.reporter.reportsSent))
            spillway["reports-received"] = .integer(Int64(cluster.collector.outcomes[.recorded] ?? 0))
            spillway["subscribers"] = .integer(Int64(cluster.reporter.subscriberCount))
            spillway["peers"] = PeerStatus.bencoded(cluster.collector.table)
        }
        if let ras { spillway["ras"] = ras.counters.bencoded }
        if let redis = callStore {
            spillway["redis"] = [
                "address": .string(redis.address), "connected": .string(redis.connected ? "yes" : "no"),
                "queue-depth": .integer(Int64(redis.queueDepth)), "full-writes": .integer(Int64(redis.fullWrites)),
                "dropped": .integer(Int64(redis.dropped)), "owners-found": .integer(Int64(redis.ownersFound)),
                "records-written": .integer(Int64(redis.recordsWritten)), "released": .integer(Int64(redis.released)),
                "standby-for": .list(redis.standbyFor.map { .string($0) }),
                "takeovers": .integer(Int64(redis.takeovers)), "calls-restored": .integer(Int64(redis.callsRestored)),
                "restore-failures": .integer(Int64(redis.restoreFailures)),
            ]
        }
        if let callSignalling {
            spillway["h323"] = callSignalling.counters.bencoded(activeCalls: callSignalling.activeCalls)
        }
        fields["spillway"] = .dictionary(spillway)
        return fields
    }

    /// What the node is doing now, for `/status`.
    func status(now: UInt64 = spw_monotonic_nanos()) -> NodeStatus {
        let meter = workload.meter
        let load = meter.workload
        return NodeStatus(
            node: identity.id, load: load.load, threshold: meter.threshold.value, admits: meter.admitsNewCall,
            draining: meter.isDraining, bottleneck: load.bottleneck?.rawValue,
            calls: NodeStatus.Calls(
                own: registry.activeCallCount, foreign: owners.count,
                transcodingStreams: registry.transcodingStreamCount,
                portPairsInUse: registry.portPairsInUse, portPairCapacity: registry.portPairCapacity),
            capacity: NodeStatus.Capacity(
                sessions: meter.capacity.sessions, packetsPerSecond: meter.capacity.packetsPerSecond,
                bitsPerSecond: meter.capacity.bitsPerSecond, cpu: meter.capacity.cpu),
            interfaces: registry.portPairsInUseByInterface.map {
                NodeStatus.Interface(
                    name: $0.interface.name, address: $0.interface.localIP, advertised: $0.interface.advertisedIP,
                    portsInUse: 2 * $0.portPairs)
            },
            peers: cluster.map { PeerStatus.all(in: $0.collector.table, now: now) } ?? [],
            redis: callStore, dataPlane: NodeStatus.DataPlane(registry.workers))
    }

    private var callStore: NodeStatus.CallStore? {
        guard let replication else { return nil }
        let link = replication.link
        let standby = self.standby?.counters ?? Standby.Counters()
        return NodeStatus.CallStore(
            address: link.address.hostAndPort, connected: link.isConnected, queueDepth: link.queueDepth,
            fullWrites: replication.counters.fullWrites,
            lastFullWrite: replication.lastFullWriteWallNanos.map { Double($0) / 1e9 },
            answered: link.counters.answered, refused: link.counters.refused, dropped: link.counters.dropped,
            reconnections: link.counters.reconnections, ownersFound: replication.counters.ownersFound,
            recordsWritten: replication.counters.recordsWritten, released: replication.counters.released,
            standbyFor: self.standby?.watched ?? [], takeovers: standby.takeovers,
            callsRestored: standby.callsRestored, restoreFailures: standby.restoreFailures)
    }

    /// Everything `/metrics` exports.
    func snapshot(placements: PlacementCounters) -> NodeSnapshot {
        let usage = workload.meter.workload.usage
        return NodeSnapshot(
            status: status(), totalsByDirection: registry.nodeTotalsByDirection(), events: registry.events,
            routing: routing(placements), policy: configuration.policy, ras: ras?.counters,
            h323: callSignalling?.counters,
            packetRate: usage.packetsPerSecond, bitRate: usage.bitsPerSecond, cpu: usage.cpu)
    }
}

/// What the NG router decided about new calls since the node started.
struct PlacementCounters {
    /// New calls sent elsewhere, by policy.
    var spills: [SteeringMode: UInt64] = [:]
    /// New calls refused because every node tried was busy.
    var allBusy: UInt64 = 0
}

/// What the NG port and the cluster routing have done since the node started.
struct RoutingCounters {
    var ng: NGFrontEnd.Counters
    var forwards: ForwardedCommands.Counters
    /// Commands for calls anchored elsewhere, passed to their node.
    var proxied: UInt64
    var placements: PlacementCounters

    var bencoded: BencodeValue {
        var fields: [String: BencodeValue] = [
            "unframed": .integer(Int64(ng.unframed)), "malformed": .integer(Int64(ng.malformed)),
            "retransmissions": .integer(Int64(ng.retransmissions)),
            "refused-clients": .integer(Int64(ng.refusedClients)),
            "forwards-sent": .integer(Int64(forwards.sent)), "forwards-received": .integer(Int64(forwards.received)),
            "forward-timeouts": .integer(Int64(forwards.timeouts)),
            "late-replies": .integer(Int64(forwards.lateReplies)),
            "proxied": .integer(Int64(proxied)), "all-busy": .integer(Int64(placements.allBusy)),
        ]
        for mode in SteeringMode.allCases {
            fields["spills-\(mode.rawValue)"] = .integer(Int64(placements.spills[mode] ?? 0))
        }
        return .dictionary(fields)
    }
}

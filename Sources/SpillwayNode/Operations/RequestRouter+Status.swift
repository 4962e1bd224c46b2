import CSpillwayShims
import H323Edge
import MediaPlane

extension RequestRouter {
    /// What the node is doing now, for `/status`.
    func status(now: UInt64 = spw_monotonic_nanos()) -> NodeStatus {
        let workload = meter.workload
        return NodeStatus(
            node: identity.id, load: workload.load, threshold: meter.threshold.value, admits: meter.admitsNewCall,
            draining: meter.isDraining, bottleneck: workload.bottleneck?.rawValue,
            calls: NodeStatus.Calls(
                own: registry.activeCallCount, foreign: foreignCallCount, transcodingStreams: registry.transcodingStreamCount,
                portPairsInUse: registry.portPairsInUse, portPairCapacity: registry.portPairCapacity),
            capacity: NodeStatus.Capacity(
                sessions: meter.capacity.sessions, packetsPerSecond: meter.capacity.packetsPerSecond,
                bitsPerSecond: meter.capacity.bitsPerSecond, cpu: meter.capacity.cpu),
            interfaces: registry.portPairsInUseByInterface.map {
                NodeStatus.Interface(
                    name: $0.interface.name, address: $0.interface.localIP, advertised: $0.interface.advertisedIP,
                    portsInUse: 2 * $0.portPairs)
            },
            peers: cluster.map { PeerStatus.all(in: $0.collector.table, now: now) } ?? [])
    }

    /// Everything `/metrics` exports.
    func snapshot(ras: RASCounters?, h323: H323Counters?) -> NodeSnapshot {
        let usage = meter.workload.usage
        return NodeSnapshot(
            status: status(), totalsByDirection: registry.nodeTotalsByDirection(), events: registry.events, routing: counters,
            policy: steeringMode, ras: ras, h323: h323, packetRate: usage.packetsPerSecond, bitRate: usage.bitsPerSecond, cpu: usage.cpu)
    }
}

import Cluster

let second: UInt64 = 1_000_000_000

/// A report from `id` with `sessions` of `maxSessions` in use and the given threshold.
func report(
    _ id: String, sessions: Int, maxSessions: Int = 100, threshold: Double = 0.8, boot: UInt64 = 1,
    sequence: UInt64 = 1,
    madeAt: UInt64 = 1_700_000_000 * second
) -> WorkloadReport {
    let capacity = ResourceCapacity(sessions: maxSessions)
    let usage = ResourceUsage(sessions: sessions)
    return WorkloadReport(
        node: NodeIdentity(id: id, ngAddress: "127.0.0.1:2223", clusterAddress: "127.0.0.1:2224", mediaIP: "127.0.0.1"),
        load: Workload(usage: usage, capacity: capacity).load, threshold: threshold, usage: usage, capacity: capacity,
        boot: boot, sequence: sequence, madeAtWallNanos: madeAt)
}

/// A table of `ids` (cluster addresses made up), each with the given sessions reported at time 0.
func table(_ loads: [(String, Int)], ageLimit: UInt64 = 3 * second) -> PeerTable {
    var table = PeerTable(peers: loads.map { ($0.0, "127.0.0.1:1") }, ageLimitNanos: ageLimit)
    for (id, sessions) in loads {
        _ = table.record(report(id, sessions: sessions), now: 10 * second, ageAtArrivalNanos: 0)
    }
    return table
}

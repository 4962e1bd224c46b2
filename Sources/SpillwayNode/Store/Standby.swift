import CSpillwayShims
import CallStore
import Cluster
import KernelPath
import Logging
import MediaPlane
import NIOCore
import ServiceEdge

/// Carries on the calls of the nodes this one stands by for (`--standby-for`), when they die.
///
/// A watched node counts as dead when both signs agree: it has sent no workload report for
/// `takeoverAfter`, and its heartbeat key in Redis has expired. A node that is silent on the
/// cluster but still renews its heartbeat is cut off from its peers, not dead, and is left alone
/// (taking its calls over would have two nodes answer for them). Of several standbys of one node,
/// the first to claim the takeover in Redis (`SET NX`) does it.
///
/// The takeover reads the node's set of calls and each call's record, rebuilds each call here
/// (`CallRegistry.restore`: the same media IP and ports, SRTP keys and rollover counters,
/// transcoding, latched peers), and records this node as their owner, at a revision past the dead
/// node's. Used on the event loop only.
final class Standby {
    /// What the standby has done since the node started.
    struct Counters {
        /// Nodes whose calls this one took over.
        var takeovers: UInt64 = 0
        /// Calls carried on here from their records.
        var callsRestored: UInt64 = 0
        /// Calls whose record could not be read or rebuilt here.
        var restoreFailures: UInt64 = 0
    }

    /// How often the watched nodes are checked.
    static let checkInterval = TimeAmount.milliseconds(250)
    /// How long the records of a dead node's calls may take to arrive (many, pipelined).
    static let readTimeout = TimeAmount.seconds(5)
    /// How long a takeover claim keeps other standbys off the node's calls.
    static let claimLifetimeMilliseconds = 30_000

    let watched: [String]
    private(set) var counters = Counters()
    private let takeoverAfterNanos: UInt64
    private let replication: CallReplication
    private let registry: CallRegistry
    private let collector: WorkloadCollector
    private let logger: Logger
    private let startedAt = spw_monotonic_nanos()
    /// The nodes taken over, and the report time they had then: a later report means it is back.
    private var takenOver: [String: UInt64] = [:]
    private var checking: Set<String> = []
    private var toldAlive: Set<String> = []
    private var timer: LoopTimer?

    init(
        watching watched: [String], takeoverAfter: Double, replication: CallReplication, registry: CallRegistry,
        collector: WorkloadCollector, loop: any EventLoop, logger: Logger
    ) {
        self.watched = watched
        takeoverAfterNanos = UInt64(takeoverAfter * 1e9)
        self.replication = replication
        self.registry = registry
        self.collector = collector
        self.logger = logger
        timer = LoopTimer(on: loop, initialDelay: Self.checkInterval, every: Self.checkInterval) { [unowned self] in
            check()
        }
    }

    /// Stops watching.
    func stop() { timer?.cancel() }

    private func check(now: UInt64 = spw_monotonic_nanos()) {
        for node in watched where !checking.contains(node) {
            let reportedAt = collector.table.peer(node)?.reportedAt ?? 0
            if let takenAt = takenOver[node] {
                guard reportedAt > takenAt else { continue }
                takenOver[node] = nil
                logger.notice(
                    "a node whose calls were taken over here is back; its new calls are its own",
                    metadata: ["node": "\(node)"])
            }
            let lastHeard = max(reportedAt, startedAt)
            guard now > lastHeard, now - lastHeard >= takeoverAfterNanos, replication.link.isConnected else { continue }
            checking.insert(node)
            replication.link.send(["EXISTS", replication.keys.heartbeat(of: node)]) { [self] result in
                guard case .success(.integer(0)) = result else {
                    checking.remove(node)
                    if case .success(.integer) = result, toldAlive.insert(node).inserted {
                        logger.warning(
                            "a watched node is silent on the cluster but alive in Redis (cut off from its peers?); its calls are left to it",
                            metadata: ["node": "\(node)"])
                    }
                    return
                }
                toldAlive.remove(node)
                claim(node, reportedAt: reportedAt)
            }
        }
    }

    /// Claims the takeover of `node` in Redis; the first standby to claim it takes it over.
    private func claim(_ node: String, reportedAt: UInt64) {
        replication.link.send([
            "SET", replication.keys.takeover(of: node), replication.identity.id, "NX", "PX",
            String(Self.claimLifetimeMilliseconds),
        ]) { [self] result in
            switch result {
            case .success(.simpleString):
                takenOver[node] = reportedAt
                takeOver(node)
            case .success:
                takenOver[node] = reportedAt
                checking.remove(node)
                logger.notice("another standby is taking the calls of a dead node", metadata: ["node": "\(node)"])
            case .failure(let error):
                // Tried again at the next check.
                checking.remove(node)
                logger.error(
                    "could not claim a dead node's calls in Redis", metadata: ["node": "\(node)", "error": "\(error)"])
            }
        }
    }

    private func takeOver(_ node: String) {
        logger.warning(
            "a watched node is down (no report, no heartbeat); taking over its calls", metadata: ["node": "\(node)"])
        counters.takeovers += 1
        // On a shared host the dead node's kernel fast path would go on forwarding its calls' ports
        // with routes nobody counts any more.
        if registry.workers.kernel != nil, case let removed = KernelForwarder.removeOrphans(), removed > 0 {
            logger.notice("removed the kernel fast path filters of \(removed) Spillway node(s) that are gone")
        }
        replication.link.send(["SMEMBERS", replication.keys.calls(of: node)]) { [self] result in
            guard case .success(.array(let members?)) = result else {
                checking.remove(node)
                logger.error(
                    "could not read a dead node's calls from Redis; they are not taken over",
                    metadata: ["node": "\(node)", "reply": "\(result)"])
                return
            }
            let callIDs = members.compactMap { member -> String? in
                guard case .bulkString(let bytes?) = member else { return nil }
                return String(decoding: bytes, as: UTF8.self)
            }
            var pending = callIDs.count
            if pending == 0 { checking.remove(node) }
            for callID in callIDs {
                replication.get(
                    replication.keys.call(callID), decoding: CallRecord.init(decoding:), waiting: Self.readTimeout
                ) { [self] record in
                    restore(callID, record, from: node)
                    pending -= 1
                    if pending == 0 {
                        checking.remove(node)
                        logger.notice(
                            "took over a dead node's calls",
                            metadata: ["node": "\(node)", "calls": "\(callIDs.count)"])
                    }
                }
            }
        }
    }

    private func restore(_ callID: String, _ record: CallRecord?, from node: String) {
        guard let record else {
            counters.restoreFailures += 1
            logger.error("a dead node's call has no readable record; it is lost", metadata: ["call-id": "\(callID)"])
            return
        }
        guard record.owner.node.id == node else {
            // Another node owns it now (it moved before the death): not ours to take.
            return
        }
        do throws(CallError) {
            try registry.restore(record)
            counters.callsRestored += 1
            replication.tookOver(record)
        } catch {
            counters.restoreFailures += 1
            logger.error(
                "could not carry on a dead node's call here", metadata: ["call-id": "\(callID)", "error": "\(error)"])
        }
    }
}

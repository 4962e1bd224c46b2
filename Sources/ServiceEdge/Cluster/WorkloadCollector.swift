import CSpillwayShims
import Cluster
import Logging
import NIOCore

/// Keeps a `PeerTable` of other nodes' workload up to date, by whichever way the deployment chose:
/// receiving pushed reports, polling at each interval, subscribing to streams, or polling on demand
/// when a decision needs fresh data. Used by nodes (about their peers) and by the load monitor
/// (about the nodes). Runs on the event loop.
package final class WorkloadCollector {
    package enum Strategy: Equatable {
        /// Nodes push; nothing to ask.
        case passive
        /// Poll every node at each interval.
        case periodicPoll
        /// Subscribe to every node's stream and renew the subscription.
        case subscribe
        /// Poll every node when fresh data is needed, and wait up to the poll timeout.
        case onDemand
    }

    package private(set) var table: PeerTable
    package let strategy: Strategy
    private let addresses: [String: NIOCore.SocketAddress]
    private let link: ClusterLink
    private let loop: any EventLoop
    private let intervalNanos: UInt64
    private let pollTimeout: TimeAmount
    private let logger: Logger
    private var round: PollRound?
    private var subscriptionRenewedAt: UInt64?
    /// What became of every report received, by outcome.
    package private(set) var outcomes: [PeerTable.ReportOutcome: UInt64] = [:]
    package private(set) var pollsSent: UInt64 = 0

    /// Decisions waiting for one poll round's replies.
    private struct PollRound {
        package var outstanding: Set<String>
        package var waiting: [(PeerTable) -> Void]
        package var timeout: Scheduled<Void>?
    }

    package init(
        nodes: [(id: String, address: NIOCore.SocketAddress)], strategy: Strategy, intervalNanos: UInt64,
        ageLimitNanos: UInt64, pollTimeoutNanos: UInt64, link: ClusterLink, loop: any EventLoop, logger: Logger
    ) {
        table = PeerTable(peers: nodes.map { ($0.id, $0.address.hostAndPort) }, ageLimitNanos: ageLimitNanos)
        addresses = Dictionary(nodes.map { ($0.id, $0.address) }, uniquingKeysWith: { first, _ in first })
        self.strategy = strategy
        self.intervalNanos = intervalNanos
        self.pollTimeout = .nanoseconds(Int64(pollTimeoutNanos))
        self.link = link
        self.loop = loop
        self.logger = logger
    }

    package func address(of id: String) -> NIOCore.SocketAddress? { addresses[id] }

    /// Runs once per interval: polls or renews subscriptions as the strategy says, and marks down
    /// nodes whose reports stopped.
    package func tick(now: UInt64 = spw_monotonic_nanos()) {
        switch strategy {
        case .periodicPoll:
            pollAll()
        case .subscribe:
            // The lease covers three renewals, so one lost subscribe does not stop the stream.
            let lease = 3 * table.ageLimitNanos
            if subscriptionRenewedAt.map({ now - $0 >= lease / 3 }) ?? true {
                subscriptionRenewedAt = now
                let message = ClusterMessage.subscribe(
                    intervalMillis: Int(intervalNanos / 1_000_000), leaseMillis: Int(lease / 1_000_000))
                for address in addresses.values { link.send(message, to: address) }
            }
        case .passive, .onDemand:
            break
        }
        for id in table.markSilentNodesDown(now: now) {
            logger.warning(
                "node stopped reporting its workload; not choosing it until it reports again",
                metadata: ["peer": "\(id)", "age-limit-ms": "\(table.ageLimitNanos / 1_000_000)"])
        }
    }

    /// Records a report received from `sender`.
    package func receive(
        _ report: WorkloadReport, sender: String, from address: NIOCore.SocketAddress,
        now: UInt64 = spw_monotonic_nanos()
    ) {
        guard report.node.id == sender else {
            link.refuse(.unknownSender, from: address)
            return
        }
        let wallNow = spw_wall_nanos()
        let age = wallNow > report.madeAtWallNanos ? wallNow - report.madeAtWallNanos : 0
        let outcome = table.record(report, now: now, ageAtArrivalNanos: age)
        outcomes[outcome, default: 0] += 1
        if outcome == .unknownNode { link.refuse(.unknownSender, from: address) }
        if outcome == .recorded, var current = round {
            current.outstanding.remove(report.node.id)
            round = current
            if current.outstanding.isEmpty { finishRound() }
        }
    }

    /// Calls `body` with a view fresh enough to decide on: at once, or (on-demand strategy) after a
    /// poll round has been answered by every node or timed out (silent nodes are then marked down).
    package func withFreshView(_ body: @escaping (PeerTable) -> Void) {
        guard strategy == .onDemand, !addresses.isEmpty else { return body(table) }
        if round != nil {
            round!.waiting.append(body)
            return
        }
        round = PollRound(outstanding: Set(addresses.keys), waiting: [body])
        round!.timeout = loop.assumeIsolated().scheduleTask(in: pollTimeout) { [self] in
            for id in round?.outstanding ?? [] {
                table.markDown(id)
                logger.warning("node did not answer a workload poll; marked down", metadata: ["peer": "\(id)"])
            }
            finishRound()
        }
        pollAll()
    }

    package func markDown(_ id: String) { table.markDown(id) }

    /// Runs `body` on the table itself (a steering decision counts the spill it makes there).
    package func updateTable<Result>(_ body: (inout PeerTable) -> Result) -> Result { body(&table) }

    /// The least-loaded node for a new call, claimed in this collector's table (see `PeerTable.claimLeastLoaded`).
    package func claimLeastLoaded(excluding: [String]) -> (choice: LeastLoadedPolicy.Choice, node: NodeIdentity)? {
        table.claimLeastLoaded(excluding: excluding, now: spw_monotonic_nanos())
    }

    private func pollAll() {
        for address in addresses.values { link.send(.poll, to: address) }
        pollsSent += UInt64(addresses.count)
    }

    private func finishRound() {
        guard let finished = round else { return }
        round = nil
        finished.timeout?.cancel()
        for body in finished.waiting { body(table) }
    }
}

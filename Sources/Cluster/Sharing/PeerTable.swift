/// What a node (or the monitor) knows of other nodes: their latest workload reports, how fresh
/// those are, and which nodes are down. Pure state: times are passed in (monotonic nanoseconds).
public struct PeerTable: Sendable {
    /// One configured node.
    public struct Peer: Sendable, Equatable {
        public let id: String
        /// Where its cluster messages go (HOST:PORT).
        public let clusterAddress: String
        /// Its latest report, if it ever sent one.
        public internal(set) var report: WorkloadReport?
        /// When that report was made, on this node's monotonic clock.
        public internal(set) var reportedAt: UInt64 = 0
        /// Set when it stopped reporting or did not answer; cleared by its next report.
        public internal(set) var isDown = false
        /// Calls steered its way since its latest report: an estimate its next report replaces.
        public internal(set) var spillsSinceReport = 0
        /// The latest report's figures the policies read, kept apart from the report so that a scan
        /// over many peers touches plain numbers only.
        var figures = Figures()
    }

    /// What a steering decision needs of a report.
    struct Figures: Equatable {
        var hasReport = false
        var load = 0.0
        var threshold = 0.0
        var sessions = 0
        var maxSessions = 0
        var callsEndedPerSecond = 0.0
        var announcesThresholdCrossings = false
    }

    /// What became of a report offered to the table.
    public enum ReportOutcome: Hashable, Sendable {
        case recorded
        /// Older than the age limit when it arrived: not trusted.
        case stale
        /// The table already holds a newer report from that node (reordered or replayed).
        case superseded
        /// From a node that is not configured.
        case unknownNode
    }

    public private(set) var peers: [Peer]
    private var positions: [String: Int]
    /// A report older than this is not trusted, and a node whose latest report is older is down.
    public let ageLimitNanos: UInt64

    /// - Parameter peers: the configured nodes, in configuration order (the sequence order).
    public init(peers: [(id: String, clusterAddress: String)], ageLimitNanos: UInt64) {
        self.peers = peers.map { Peer(id: $0.id, clusterAddress: $0.clusterAddress) }
        positions = Dictionary(
            peers.enumerated().map { ($0.element.id, $0.offset) }, uniquingKeysWith: { first, _ in first })
        self.ageLimitNanos = ageLimitNanos
    }

    public func peer(_ id: String) -> Peer? {
        positions[id].map { peers[$0] }
    }

    /// Offers a report that arrived at `now`, `ageAtArrivalNanos` after it was made.
    public mutating func record(_ report: WorkloadReport, now: UInt64, ageAtArrivalNanos: UInt64) -> ReportOutcome {
        guard let position = positions[report.node.id] else { return .unknownNode }
        guard ageAtArrivalNanos < ageLimitNanos else { return .stale }
        if let current = peers[position].report, !report.supersedes(current) { return .superseded }
        peers[position].report = report
        peers[position].figures = Figures(
            hasReport: true, load: report.load, threshold: report.threshold, sessions: report.usage.sessions,
            maxSessions: report.capacity.sessions, callsEndedPerSecond: report.callsEndedPerSecond,
            announcesThresholdCrossings: report.announcesThresholdCrossings)
        peers[position].reportedAt = now - min(now, ageAtArrivalNanos)
        peers[position].isDown = false
        peers[position].spillsSinceReport = 0
        return .recorded
    }

    /// Marks a node down (it did not answer); it stays down until it reports again.
    public mutating func markDown(_ id: String) {
        guard let position = positions[id] else { return }
        peers[position].isDown = true
    }

    /// Marks down every node whose latest report has passed the age limit; returns their ids.
    public mutating func markSilentNodesDown(now: UInt64) -> [String] {
        var newlyDown: [String] = []
        for position in peers.indices where !peers[position].isDown && peers[position].report != nil {
            if !isFresh(peers[position], now: now) {
                peers[position].isDown = true
                newlyDown.append(peers[position].id)
            }
        }
        return newlyDown
    }

    /// Whether a node's latest report is younger than the age limit.
    public func isFresh(_ peer: Peer, now: UInt64) -> Bool {
        peer.report != nil && now >= peer.reportedAt && now - peer.reportedAt < ageLimitNanos
    }

    /// What is known of a node: `down` (marked down), `up` (a fresh report) or `unknown`.
    public func state(of peer: Peer, now: UInt64) -> String {
        peer.isDown ? "down" : isFresh(peer, now: now) ? "up" : "unknown"
    }

    /// Whether a node can be chosen on its workload: up, with a fresh report.
    public func isUsable(_ peer: Peer, now: UInt64) -> Bool {
        !peer.isDown && isFresh(peer, now: now)
    }

    /// Counts a call steered to `id`, so later decisions made on the same report see it.
    public mutating func noteSpill(to id: String) {
        guard let position = positions[id] else { return }
        peers[position].spillsSinceReport += 1
    }

    /// The node's load as last reported, raised by the calls steered to it since and, at `now`,
    /// lowered by the calls its reported end rate says have ended since it reported.
    public func estimatedLoad(of peer: Peer, now: UInt64) -> Double? {
        peer.figures.hasReport
            ? Self.estimatedLoad(peer.figures, spills: peer.spillsSinceReport, age: now - min(now, peer.reportedAt))
            : nil
    }

    /// The node's free room under its threshold by the estimate (negative when over), or nil without a report.
    public func headroom(of peer: Peer, now: UInt64) -> Double? {
        estimatedLoad(of: peer, now: now).map { peer.figures.threshold - $0 }
    }

    /// The reported load, plus the spills since, less the calls ended since (never more than the
    /// sessions reported), each counted as one session's share of the capacity. A node that said it
    /// was full and would say at once when it is not is taken at its word: no calls ended since.
    private static func estimatedLoad(_ figures: Figures, spills: Int, age: UInt64) -> Double {
        guard figures.maxSessions > 0 else { return figures.load }
        let saidFull =
            figures.announcesThresholdCrossings && !AdmissionThreshold(figures.threshold).admits(load: figures.load)
        let ended = saidFull ? 0 : min(Double(figures.sessions), figures.callsEndedPerSecond * Double(age) / 1e9)
        let sessions = (Double(figures.sessions + spills) - ended) / Double(figures.maxSessions)
        return max(figures.load - ended / Double(figures.maxSessions), sessions)
    }

    /// Calls `body` with the position, estimated load and headroom of every node that is up, has a
    /// fresh report and is not in `excluded`, in configuration order. Reads in place: a scan over a
    /// thousand nodes copies no reports and hashes no strings.
    func forEachUsable(now: UInt64, excluding excluded: [String], _ body: (Int, Double, Double) -> Void) {
        peers.withUnsafeBufferPointer { peers in
            for position in peers.indices {
                let figures = peers[position].figures
                guard figures.hasReport, !peers[position].isDown, now >= peers[position].reportedAt,
                    now - peers[position].reportedAt < ageLimitNanos
                else { continue }
                if !excluded.isEmpty, excluded.contains(peers[position].id) { continue }
                let load = Self.estimatedLoad(
                    figures, spills: peers[position].spillsSinceReport, age: now - peers[position].reportedAt)
                body(position, load, figures.threshold - load)
            }
        }
    }
}

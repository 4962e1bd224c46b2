/// How a node shares its workload with its peers.
public enum ShareMode: String, CaseIterable, Sendable {
    /// Send a report to every peer (and the monitor) at each interval, and at once on a large change.
    case push
    /// Report only when asked; a node that needs fresh data for a decision polls its peers.
    case poll
    /// Subscribe to every peer, which then streams reports at the set interval.
    case continuous
}

/// How the load monitor collects the nodes' workload.
public enum CollectMode: String, CaseIterable, Sendable {
    /// The monitor polls every node at each interval.
    case poll
    /// The nodes push reports to the monitor on their own.
    case push
    /// The monitor subscribes to every node, which streams reports at the set interval.
    case continuous
    /// The monitor polls every node when a client asks, and answers from those replies.
    case onQuery = "on-query"
}

/// When a pushing node should report at once instead of waiting for its next interval: its load
/// moved by at least `loadStep` since the last report, or it crossed its threshold either way.
public struct SignificantChange: Sendable {
    public var loadStep: Double

    public init(loadStep: Double = 0.1) { self.loadStep = loadStep }

    public func isSignificant(from previous: (load: Double, admits: Bool), to current: (load: Double, admits: Bool))
        -> Bool
    {
        previous.admits != current.admits || abs(current.load - previous.load) >= loadStep
    }
}

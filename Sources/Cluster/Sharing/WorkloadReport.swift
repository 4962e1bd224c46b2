/// One node's workload as it tells its peers and the monitor: who it is, where to reach it, how
/// loaded it is per resource, and when it said so.
public struct WorkloadReport: Sendable, Equatable {
    /// How the node is reached: its id and its NG, cluster and media addresses.
    public var node: NodeIdentity
    public var load: Double
    public var threshold: Double
    public var usage: ResourceUsage
    public var capacity: ResourceCapacity
    /// Calls that ended per second, lately: lets a peer estimate how many sessions a report that
    /// has aged since has freed (0 when the node does not say).
    public var callsEndedPerSecond: Double
    /// Whether the node reports again at once when it crosses its threshold (push mode): until it
    /// does, a node that said it is full stays full, whatever its call end rate suggests.
    public var announcesThresholdCrossings: Bool
    /// When the reporting node started (wall nanoseconds): a restarted node's sequence numbers start
    /// again, and its reports still supersede the old ones.
    public var boot: UInt64
    /// Increases with every report the node sends.
    public var sequence: UInt64
    /// When the report was made (wall nanoseconds).
    public var madeAtWallNanos: UInt64

    public init(
        node: NodeIdentity, load: Double, threshold: Double, usage: ResourceUsage, capacity: ResourceCapacity,
        callsEndedPerSecond: Double = 0, announcesThresholdCrossings: Bool = false, boot: UInt64, sequence: UInt64,
        madeAtWallNanos: UInt64
    ) {
        self.node = node
        self.load = load
        self.threshold = threshold
        self.usage = usage
        self.capacity = capacity
        self.callsEndedPerSecond = callsEndedPerSecond
        self.announcesThresholdCrossings = announcesThresholdCrossings
        self.boot = boot
        self.sequence = sequence
        self.madeAtWallNanos = madeAtWallNanos
    }

    /// Whether the node said it takes new calls.
    public var admitsNewCalls: Bool { AdmissionThreshold(threshold).admits(load: load) }

    /// Whether this report was made after `other` by the same node.
    public func supersedes(_ other: WorkloadReport) -> Bool {
        (boot, sequence) > (other.boot, other.sequence)
    }
}

/// The identity of a node that the cluster hands around: what a client or a peer needs to reach it.
public struct NodeIdentity: Sendable, Equatable, Hashable {
    public var id: String
    /// Its NG control address (HOST:PORT).
    public var ngAddress: String
    /// Its cluster address (HOST:PORT), where peers send workload messages and forwarded requests.
    public var clusterAddress: String
    /// The address its media sockets bind to and its SDP advertises.
    public var mediaIP: String
    /// Its H.225.0 RAS address (HOST:PORT), when it answers RAS: where LRQs are forwarded to it.
    public var rasAddress: String?
    /// The H.225.0 call signalling address (HOST:PORT) that LCF and ACF name for it.
    public var callSignalAddress: String?

    public init(
        id: String, ngAddress: String, clusterAddress: String, mediaIP: String, rasAddress: String? = nil,
        callSignalAddress: String? = nil
    ) {
        self.id = id
        self.ngAddress = ngAddress
        self.clusterAddress = clusterAddress
        self.mediaIP = mediaIP
        self.rasAddress = rasAddress
        self.callSignalAddress = callSignalAddress
    }
}

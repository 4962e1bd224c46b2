import CSpillwayShims
import Cluster
import MediaPlane
import ServiceEdge

/// Measures a node's workload: calls anchored now, and media rates and data-plane CPU share over
/// the last sampling interval; and holds what it is measured against (capacity and threshold,
/// both changeable at run time).
final class WorkloadMeter {
    private let workers: WorkerPool
    private let registry: CallRegistry
    var capacity: ResourceCapacity
    /// The threshold in force: the configured one, or `.drain` once the node drains for shutdown.
    var threshold: AdmissionThreshold {
        get { isDraining ? .drain : configuredThreshold }
        set { configuredThreshold = newValue }
    }
    /// The threshold set by configuration or at run time, which a drain overrides.
    private(set) var configuredThreshold: AdmissionThreshold
    /// Set for good when the node starts to drain: it takes no new call from then on.
    private(set) var isDraining = false
    private var previous: (sample: DataPlaneSample, at: UInt64)
    private var rates = ResourceUsage()
    /// Calls ended per second lately, smoothed over ten seconds: peers estimate from it how many
    /// sessions have freed since a report.
    private var endRate = CallEndRate(windowNanos: 10_000_000_000)

    init(workers: WorkerPool, registry: CallRegistry, capacity: ResourceCapacity, threshold: Double) {
        self.workers = workers
        self.registry = registry
        self.capacity = capacity
        self.configuredThreshold = AdmissionThreshold(threshold)
        previous = (workers.trafficSample(), spw_monotonic_nanos())
        endRate.sample(ended: registry.events.callsEnded, now: previous.at)
    }

    /// Takes a new data-plane sample; rates are over the time since the previous one.
    func sample(now: UInt64 = spw_monotonic_nanos()) {
        let current = workers.trafficSample()
        let seconds = Double(now - previous.at) / 1e9
        guard seconds > 0 else { return }
        rates.packetsPerSecond = Double(current.packets &- previous.sample.packets) / seconds
        rates.bitsPerSecond = Double(current.bytes &- previous.sample.bytes) * 8 / seconds
        rates.cpu = Double(current.cpuNanos &- previous.sample.cpuNanos) / 1e9 / seconds / Double(current.workers)
        endRate.sample(ended: registry.events.callsEnded, now: now)
        previous = (current, now)
    }

    /// Calls ended per second lately.
    var callsEndedPerSecond: Double { endRate.perSecond }

    /// The workload now: the live session count with the latest sampled rates.
    var workload: Workload {
        var usage = rates
        usage.sessions = registry.activeCallCount
        return Workload(usage: usage, capacity: capacity)
    }

    /// Refuses new calls from now on, whatever the threshold is set to later.
    func drain() { isDraining = true }

    /// Whether the node takes a new call now.
    var admitsNewCall: Bool { threshold.admits(load: workload.load) }
}

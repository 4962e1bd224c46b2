import Bencode
import Cluster
import Logging
import MediaPlane
import NGProtocol
import ServiceEdge

/// The node's workload limits as an operator reads and changes them while it runs: NG `workload`
/// and a reloaded config file. A change reaches the peers at once. Used on the event loop only.
final class WorkloadControl {
    let meter: WorkloadMeter
    private let identity: NodeIdentity
    private let registry: CallRegistry
    private let configuration: NodeConfiguration
    private let reporter: WorkloadReporter?
    private let logger: Logger

    init(
        identity: NodeIdentity, meter: WorkloadMeter, registry: CallRegistry, configuration: NodeConfiguration,
        reporter: WorkloadReporter?, logger: Logger
    ) {
        self.identity = identity
        self.meter = meter
        self.registry = registry
        self.configuration = configuration
        self.reporter = reporter
        self.logger = logger
    }

    /// `workload`: reads, and optionally changes, the threshold and capacities.
    func apply(_ change: WorkloadChange) -> BencodeValue {
        var changed = configuration
        changed.capacity = meter.capacity
        changed.threshold = meter.configuredThreshold.value
        do throws(ConfigurationError) {
            for setting in change.settings { try changed.set(setting.name, to: setting.value) }
            try changed.validate()
        } catch {
            return NGReply.error("\(error)")
        }
        if meter.isDraining, change.settings.contains(where: { $0.name == "threshold" }) {
            return NGReply.error(
                "node '\(identity.id)' is draining for shutdown and takes no new calls; its threshold stays 0")
        }
        setLimits(capacity: changed.capacity, threshold: changed.threshold)
        var reply = summary
        reply["result"] = "ok"
        return .dictionary(reply)
    }

    /// Sets the limits and, when they change, tells the peers at once.
    func setLimits(capacity: ResourceCapacity, threshold: Double) {
        guard capacity != meter.capacity || threshold != meter.configuredThreshold.value else { return }
        logger.notice(
            "workload limits changed", metadata: ["threshold": "\(threshold)", "max-sessions": "\(capacity.sessions)"])
        meter.capacity = capacity
        meter.threshold = AdmissionThreshold(threshold)
        reporter?.workloadChanged()
    }

    /// The node's workload against its limits, as NG `workload` and `statistics` give it.
    var summary: [String: BencodeValue] {
        let workload = meter.workload
        return [
            "draining": .string(meter.isDraining ? "yes" : "no"),
            "node": .string(identity.id),
            "load": .string(ratioText(workload.load)),
            "threshold": .string(ratioText(meter.threshold.value)),
            "admits": .string(meter.admitsNewCall ? "yes" : "no"),
            "bottleneck": .string(workload.bottleneck?.rawValue ?? "none"),
            "sessions": .integer(Int64(workload.usage.sessions)),
            "max-sessions": .integer(Int64(workload.capacity.sessions)),
            "packet-rate": .integer(Int64(workload.usage.packetsPerSecond.rounded())),
            "bit-rate": .integer(Int64(workload.usage.bitsPerSecond.rounded())),
            "cpu": .string(ratioText(workload.usage.cpu)),
            "calls-ended-per-second": .string(ratioText(meter.callsEndedPerSecond)),
            "port-pairs-in-use": .integer(Int64(registry.portPairsInUse)),
        ]
    }
}

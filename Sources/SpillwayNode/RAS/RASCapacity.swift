import H323
import ServiceEdge

/// A node's workload as H.225.0 call capacity: the calls it carries at most (`max-sessions`) and
/// the calls it can still take before its load reaches its threshold, estimated from the headroom
/// left. Without a session limit there are no call figures, and RAI's almostOutOfResources alone
/// says whether the node takes calls.
struct RASCapacity {
    var maximumCalls: Int
    var availableCalls: Int
    var almostOutOfResources: Bool

    init(meter: WorkloadMeter) {
        let workload = meter.workload
        maximumCalls = meter.capacity.sessions
        let headroom = max(0, meter.threshold.value - workload.load)
        availableCalls = Int((headroom * Double(maximumCalls)).rounded(.down))
        almostOutOfResources = !meter.admitsNewCall
    }

    var callCapacity: CallCapacity? {
        guard maximumCalls > 0 else { return nil }
        return CallCapacity(
            maximum: CallCapacityInfo([.terminal: [CallsAvailable(calls: UInt32(clamping: maximumCalls))]]),
            current: CallCapacityInfo([.terminal: [CallsAvailable(calls: UInt32(clamping: availableCalls))]]))
    }
}

import CSpillwayShims
import Cluster
import NIOCore
import ServiceEdge

/// Tells others this node's workload: answers polls, streams reports to subscribers, and (in push
/// mode) sends a report to every peer and the monitor at each interval and at once on a large
/// change. Runs on the event loop.
final class WorkloadReporter {
    private let identity: NodeIdentity
    private let meter: WorkloadMeter
    private let link: ClusterLink
    private let loop: any EventLoop
    /// Where pushed reports go (empty unless the node pushes).
    private let pushTargets: [NIOCore.SocketAddress]
    private let change = SignificantChange()
    private let boot = spw_wall_nanos()
    private var sequence: UInt64 = 0
    private var lastPushed: (load: Double, admits: Bool) = (0, true)
    private var subscribers: [NIOCore.SocketAddress: Subscription] = [:]
    private(set) var reportsSent: UInt64 = 0

    /// The most subscribers served at once; more are refused (each costs a timer).
    static let subscriberLimit = 256

    private struct Subscription {
        var stream: LoopTimer
        var expiresAt: UInt64
        var intervalMillis: Int
    }

    init(
        identity: NodeIdentity, meter: WorkloadMeter, pushTargets: [NIOCore.SocketAddress], link: ClusterLink,
        loop: any EventLoop
    ) {
        self.identity = identity
        self.meter = meter
        self.pushTargets = pushTargets
        self.link = link
        self.loop = loop
    }

    /// A report of the workload now. A pushed report says that the next one comes at once when
    /// the node crosses its threshold.
    func makeReport(pushed: Bool = false) -> WorkloadReport {
        sequence += 1
        let workload = meter.workload
        return WorkloadReport(
            node: identity, load: workload.load, threshold: meter.threshold.value, usage: workload.usage,
            capacity: workload.capacity, callsEndedPerSecond: meter.callsEndedPerSecond,
            announcesThresholdCrossings: pushed, boot: boot, sequence: sequence, madeAtWallNanos: spw_wall_nanos())
    }

    /// Runs once per interval: pushes to every target.
    func tick() { push() }

    /// Pushes at once when the workload moved a lot or crossed the threshold since the last push.
    func workloadChanged() {
        guard !pushTargets.isEmpty else { return }
        let workload = meter.workload
        if change.isSignificant(from: lastPushed, to: (workload.load, meter.threshold.admits(load: workload.load))) {
            push()
        }
    }

    func answerPoll(from address: NIOCore.SocketAddress) {
        send(makeReport(), to: address)
    }

    /// Starts (or renews) streaming reports to `address`.
    func subscribe(_ address: NIOCore.SocketAddress, intervalMillis: Int, leaseMillis: Int) {
        let interval = min(max(intervalMillis, 10), 60_000)
        let expiresAt = spw_monotonic_nanos() + UInt64(min(max(leaseMillis, interval), 600_000)) * 1_000_000
        if var current = subscribers[address], current.intervalMillis == interval {
            current.expiresAt = expiresAt
            subscribers[address] = current
            return
        }
        subscribers[address]?.stream.cancel()
        guard subscribers.count < Self.subscriberLimit || subscribers[address] != nil else { return }
        let stream = LoopTimer(on: loop, initialDelay: .zero, every: .milliseconds(Int64(interval))) { [unowned self] in
            guard let subscription = subscribers[address], spw_monotonic_nanos() < subscription.expiresAt else {
                subscribers.removeValue(forKey: address)?.stream.cancel()
                return
            }
            send(makeReport(), to: address)
        }
        subscribers[address] = Subscription(stream: stream, expiresAt: expiresAt, intervalMillis: interval)
    }

    var subscriberCount: Int { subscribers.count }

    func stop() {
        for subscription in subscribers.values { subscription.stream.cancel() }
        subscribers = [:]
    }

    private func push() {
        guard !pushTargets.isEmpty else { return }
        let report = makeReport(pushed: true)
        lastPushed = (report.load, report.admitsNewCalls)
        for target in pushTargets { send(report, to: target) }
    }

    private func send(_ report: WorkloadReport, to address: NIOCore.SocketAddress) {
        link.send(.report(report), to: address)
        reportsSent += 1
    }
}

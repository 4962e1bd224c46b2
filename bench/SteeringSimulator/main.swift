// Drives Spillway's real steering core (Cluster module: SteeringCore and its policies) with simulated nodes: Poisson call
// arrivals at random primaries, exponential holding times, workload reports published every
// `interval` seconds (so decisions see stale data) and, as a node in push mode does, at once on a
// significant change (`SignificantChange`: the threshold crossed, or the load moved by a step), each
// arriving after a network delay. Compares the blocking probability with the Erlang-B bound of the
// pooled capacity, and with a pooled twin: one trunk group of all the nodes' sessions offered the
// same calls with the same holding times, so that both see the same bursts. Run by hand; see
// bench/README.md.

import Cluster

#if canImport(Glibc)
import Glibc
#endif

struct Options {
    var nodeCounts = [3, 30, 1000]
    var intervals = [0.1, 1, 10]
    var policies: [SteeringMode] = [.delegate, .sequence, .monitor]
    var capacity = 100
    var offeredFraction = 0.9
    var holdingSeconds = 60.0
    var maxHops = 4
    var arrivals = 200_000
    var seed: UInt64 = 1
    var jsonPath: String?
    /// Whether reports carry the node's call end rate (`--end-rate off` compares without it).
    var reportEndRate = true
    /// Whether a node also reports at once on a significant change, as push mode does
    /// (`--push-on-change off`: only every interval).
    var pushOnChange = true
    /// Seconds from a report's making to its arrival at the peers and the monitor.
    var reportDelay = 0.001

    init(_ arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let flag = iterator.next() {
            guard let value = iterator.next() else { fatalError("\(flag) needs a value") }
            switch flag {
            case "--nodes": nodeCounts = value.split(separator: ",").map { Int($0)! }
            case "--intervals": intervals = value.split(separator: ",").map { Double($0)! }
            case "--policies": policies = value.split(separator: ",").map { SteeringMode(rawValue: String($0))! }
            case "--capacity": capacity = Int(value)!
            case "--load": offeredFraction = Double(value)!
            case "--holding": holdingSeconds = Double(value)!
            case "--max-hops": maxHops = Int(value)!
            case "--arrivals": arrivals = Int(value)!
            case "--seed": seed = UInt64(value)!
            case "--json": jsonPath = value
            case "--end-rate": reportEndRate = value != "off"
            case "--push-on-change": pushOnChange = value != "off"
            case "--report-delay": reportDelay = Double(value)!
            default: fatalError("unknown flag \(flag); see bench/README.md")
            }
        }
    }
}

/// Erlang-B blocking probability for `erlangs` offered to `servers`.
func erlangB(erlangs: Double, servers: Int) -> Double {
    var blocking = 1.0
    for k in 1...max(1, servers) { blocking = erlangs * blocking / (Double(k) + erlangs * blocking) }
    return blocking
}

/// A binary min-heap of timed events.
struct EventQueue {
    enum Kind {
        case departure(node: Int)
        case pooledDeparture
        case publish(node: Int)
        case deliver(WorkloadReport, node: Int)
    }
    private var times: [Double] = []
    private var kinds: [Kind] = []

    var isEmpty: Bool { times.isEmpty }
    var nextTime: Double { times[0] }

    mutating func push(_ time: Double, _ kind: Kind) {
        times.append(time)
        kinds.append(kind)
        var child = times.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard times[child] < times[parent] else { break }
            times.swapAt(child, parent)
            kinds.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (Double, Kind) {
        let top = (times[0], kinds[0])
        let lastTime = times.removeLast()
        let lastKind = kinds.removeLast()
        if !times.isEmpty {
            times[0] = lastTime
            kinds[0] = lastKind
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < times.count, times[left] < times[smallest] { smallest = left }
                if right < times.count, times[right] < times[smallest] { smallest = right }
                guard smallest != parent else { break }
                times.swapAt(parent, smallest)
                kinds.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
    }
}

struct Result {
    var nodes: Int
    var interval: Double
    var policy: SteeringMode
    var offered = 0
    var blocked = 0
    var totalHops = 0
    var maxHops = 0
    /// How many placed calls took each number of hops.
    var hopCounts: [Int: Int] = [:]
    /// Blocked calls by why the last node refused.
    var blockedBy: [String: Int] = [:]
    var decisionNanos: [UInt64] = []
    var erlangB = 0.0
    /// Calls the pooled twin blocked.
    var pooledBlocked = 0
    /// Reports each node made per simulated second (periodic and on change), while counting.
    var reportsPerNodeSecond = 0.0

    var blocking: Double { Double(blocked) / Double(max(1, offered)) }
    var pooledBlocking: Double { Double(pooledBlocked) / Double(max(1, offered)) }
    var meanHops: Double { Double(totalHops) / Double(max(1, offered - blocked)) }
    /// The hops at or under which 99% of the placed calls landed.
    var p99Hops: Int {
        var remaining = Int((Double(offered - blocked) * 0.99).rounded(.up))
        for hops in hopCounts.keys.sorted() {
            remaining -= hopCounts[hops]!
            if remaining <= 0 { return hops }
        }
        return maxHops
    }
    func decisionMicros(_ quantile: Double) -> Double {
        guard !decisionNanos.isEmpty else { return 0 }
        let sorted = decisionNanos.sorted()
        return Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * quantile))]) / 1000
    }
}

func monotonicNanos() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// One simulated cluster under one policy and report interval.
final class Simulation {
    let options: Options
    let nodeCount: Int
    let interval: Double
    let policy: SteeringMode
    var generator: SeededGenerator
    /// Draws arrivals and holding times only, so that the policy's random choices leave the
    /// offered calls the same for the policy and the pooled twin.
    var traffic: SeededGenerator
    var sessions: [Int]
    /// Busy sessions of the pooled twin.
    var pooledSessions = 0
    /// Calls each node has ended so far, and its smoothed end rate as its reports carry it.
    var ended: [UInt64]
    var endRates: [CallEndRate]
    /// The latest report of each node that has reached its peers.
    var published: [WorkloadReport]
    /// The load and admission each node last reported, for `SignificantChange`.
    var lastReported: [(load: Double, admits: Bool)]
    var sequences: [UInt64]
    var reportsMade = 0
    /// What each node (or, for `monitor`, the monitor at index 0) knows of the others, refreshed lazily.
    var views: [PeerTable?]
    /// The nodes whose reports arrived, in order, and how far into it each view has read.
    var deliveries: [Int] = []
    var viewRead: [Int]
    var events = EventQueue()
    var result: Result

    static let nanos = 1e9

    init(options: Options, nodes: Int, interval: Double, policy: SteeringMode) {
        self.options = options
        nodeCount = nodes
        self.interval = interval
        self.policy = policy
        generator = SeededGenerator(seed: options.seed &+ UInt64(nodes) &* 31 &+ UInt64(interval * 1000))
        traffic = SeededGenerator(seed: ~(options.seed &+ UInt64(nodes) &* 31 &+ UInt64(interval * 1000)))
        sessions = Array(repeating: 0, count: nodes)
        ended = Array(repeating: 0, count: nodes)
        endRates = Array(repeating: CallEndRate(windowNanos: UInt64(10 * Self.nanos)), count: nodes)
        published = (0..<nodes).map {
            Self.report(node: $0, sessions: 0, capacity: options.capacity, sequence: 0, at: 0)
        }
        lastReported = Array(repeating: (0, true), count: nodes)
        sequences = Array(repeating: 0, count: nodes)
        views = Array(repeating: nil, count: policy == .monitor ? 1 : nodes)
        viewRead = Array(repeating: 0, count: views.count)
        result = Result(nodes: nodes, interval: interval, policy: policy)
        result.erlangB = erlangB(erlangs: offeredErlangs, servers: nodes * options.capacity)
    }

    var offeredErlangs: Double { options.offeredFraction * Double(nodeCount * options.capacity) }

    static func id(_ node: Int) -> String { "n\(node)" }

    static func report(
        node: Int, sessions: Int, capacity: Int, callsEndedPerSecond: Double = 0,
        announcesThresholdCrossings: Bool = false,
        sequence: UInt64, at time: Double
    ) -> WorkloadReport {
        let capacity = ResourceCapacity(sessions: capacity)
        let usage = ResourceUsage(sessions: sessions)
        return WorkloadReport(
            node: NodeIdentity(id: id(node), ngAddress: "", clusterAddress: "", mediaIP: ""),
            load: Workload(usage: usage, capacity: capacity).load, threshold: 1, usage: usage, capacity: capacity,
            callsEndedPerSecond: callsEndedPerSecond, announcesThresholdCrossings: announcesThresholdCrossings, boot: 1,
            sequence: sequence, madeAtWallNanos: UInt64(time * nanos))
    }

    func run() -> Result {
        let arrivalRate = offeredErlangs / options.holdingSeconds
        // Warm up for five holding times before counting, so the cluster starts near steady state.
        let warmUp = 5 * options.holdingSeconds
        for node in 0..<nodeCount {
            events.push(Double.random(in: 0..<interval, using: &generator), .publish(node: node))
        }
        var now = 0.0
        var counted = 0
        while counted < options.arrivals {
            let nextArrival = now + exponential(mean: 1 / arrivalRate, using: &traffic)
            while !events.isEmpty, events.nextTime <= nextArrival {
                let (time, kind) = events.pop()
                switch kind {
                case .departure(let node):
                    sessions[node] -= 1
                    ended[node] += 1
                    workloadChanged(at: node, now: time)
                case .pooledDeparture:
                    pooledSessions -= 1
                case .publish(let node):
                    publish(node, at: time)
                    events.push(time + interval, .publish(node: node))
                case .deliver(let report, let node):
                    if report.sequence > published[node].sequence {
                        published[node] = report
                        deliveries.append(node)
                    }
                }
            }
            now = nextArrival
            if now >= warmUp, result.offered == 0 { reportsMade = 0 }
            let primary = Int.random(in: 0..<nodeCount, using: &traffic)
            let holding = exponential(mean: options.holdingSeconds, using: &traffic)
            let placed = place(at: primary, holding: holding, now: now)
            let pooledPlaced = pooledSessions < nodeCount * options.capacity
            if pooledPlaced {
                pooledSessions += 1
                events.push(now + holding, .pooledDeparture)
            }
            if now >= warmUp {
                counted += 1
                result.offered += 1
                if !pooledPlaced { result.pooledBlocked += 1 }
                switch placed {
                case .success(let hops):
                    result.totalHops += hops
                    result.maxHops = max(result.maxHops, hops)
                    result.hopCounts[hops, default: 0] += 1
                case .failure(let refusal):
                    result.blocked += 1
                    result.blockedBy["\(refusal.reason)", default: 0] += 1
                }
            }
        }
        result.reportsPerNodeSecond = Double(reportsMade) / (now - warmUp) / Double(nodeCount)
        return result
    }

    /// Makes `node`'s report now; it reaches the others after the report delay.
    func publish(_ node: Int, at time: Double) {
        endRates[node].sample(ended: ended[node], now: UInt64(time * Self.nanos))
        sequences[node] += 1
        reportsMade += 1
        let report = Self.report(
            node: node, sessions: sessions[node], capacity: options.capacity,
            callsEndedPerSecond: options.reportEndRate ? endRates[node].perSecond : 0,
            announcesThresholdCrossings: options.pushOnChange, sequence: sequences[node], at: time)
        lastReported[node] = (report.load, report.admitsNewCalls)
        events.push(time + options.reportDelay, .deliver(report, node: node))
    }

    /// A node in push mode reports at once when its workload changed significantly.
    func workloadChanged(at node: Int, now: Double) {
        guard options.pushOnChange else { return }
        let load = Double(sessions[node]) / Double(options.capacity)
        if SignificantChange().isSignificant(
            from: lastReported[node], to: (load, AdmissionThreshold(1).admits(load: load)))
        {
            publish(node, at: now)
        }
    }

    /// Why a call was blocked.
    struct Refusal: Error {
        var reason: AllBusyReason
    }

    /// Places one call arriving at `primary` by the nodes' steering cores: the hops it took, or
    /// why it was blocked.
    func place(at primary: Int, holding: Double, now: Double) -> Swift.Result<Int, Refusal> {
        var node = primary
        var placement = CallPlacement(hopsLeft: options.maxHops)
        while true {
            if sessions[node] < options.capacity {
                sessions[node] += 1
                events.push(now + holding, .departure(node: node))
                workloadChanged(at: node, now: now)
                return .success(placement.hops)
            }
            switch decide(at: node, placement, now: now) {
            case .forward(let next, let carried):
                node = Int(next.dropFirst())!
                placement = carried
            case .allBusy(let reason):
                return .failure(Refusal(reason: reason))
            case .takeHere, .askMonitor:
                fatalError("a node over its threshold was told to take the call, or to ask the monitor twice")
            }
        }
    }

    /// The steering decision of `node` (timed), on its view refreshed with the reports published
    /// so far; in monitor mode, with the monitor's answer from its own view.
    func decide(at node: Int, _ placement: CallPlacement, now: Double) -> SteeringDecision {
        let viewIndex = policy == .monitor ? 0 : node
        var view =
            views[viewIndex]
            ?? PeerTable(
                peers: (0..<nodeCount).filter { policy == .monitor || $0 != node }.map { (Self.id($0), "") },
                ageLimitNanos: UInt64(3 * interval * Self.nanos))
        let nowNanos = UInt64(now * Self.nanos)
        let unread = deliveries[viewRead[viewIndex]...]
        let peersToRead = unread.count < nodeCount ? Array(unread) : Array(0..<nodeCount)
        viewRead[viewIndex] = deliveries.count
        for peer in peersToRead where peer != node || policy == .monitor {
            let report = published[peer]
            _ = view.record(report, now: nowNanos, ageAtArrivalNanos: nowNanos - min(nowNanos, report.madeAtWallNanos))
        }
        let core = SteeringCore(nodeID: Self.id(node), mode: policy)
        let start = monotonicNanos()
        var decision: SteeringDecision
        if policy == .monitor {
            var nodeView = PeerTable(peers: [], ageLimitNanos: 0)
            decision = core.decide(placement, admitsHere: false, peers: &nodeView, now: nowNanos, using: &generator)
            if case .askMonitor(let excluding) = decision {
                let answer = view.claimLeastLoaded(excluding: excluding, now: nowNanos)?.choice.id
                decision = core.monitorAnswered(answer, for: placement, peers: &nodeView)
            }
        } else {
            decision = core.decide(placement, admitsHere: false, peers: &view, now: nowNanos, using: &generator)
        }
        result.decisionNanos.append(monotonicNanos() - start)
        views[viewIndex] = view
        return decision
    }

    func exponential(mean: Double, using generator: inout SeededGenerator) -> Double {
        -mean * log(1 - Double.random(in: 0..<1, using: &generator))
    }
}

let options = Options(CommandLine.arguments)
print(
    "nodes  interval  policy    offered   blocked   blocking   erlang-B   ratio   pooled    ratio   mean-hops p99-hops  max-hops  reports/s decision-us(mean/p99)  blocked-by"
)
var json: [String] = []
for nodes in options.nodeCounts {
    for interval in options.intervals {
        for policy in options.policies {
            let result = Simulation(options: options, nodes: nodes, interval: interval, policy: policy).run()
            let meanDecision =
                result.decisionNanos.isEmpty
                ? 0 : Double(result.decisionNanos.reduce(0, +)) / Double(result.decisionNanos.count) / 1000
            let ratio = result.erlangB > 0 ? result.blocking / result.erlangB : .infinity
            func fixed(_ value: Double, _ digits: Int) -> String {
                let scale = pow(10, Double(digits))
                return String((value * scale).rounded() / scale)
            }
            print(
                [
                    "\(nodes)", "\(interval)", policy.rawValue, "\(result.offered)", "\(result.blocked)",
                    fixed(result.blocking * 100, 4) + "%", fixed(result.erlangB * 100, 4) + "%",
                    result.blocked == 0 ? "-" : result.erlangB < 1e-9 ? "bound~0" : fixed(ratio, 2),
                    fixed(result.pooledBlocking * 100, 4) + "%",
                    result.pooledBlocked == 0 ? "-" : fixed(Double(result.blocked) / Double(result.pooledBlocked), 2),
                    fixed(result.meanHops, 3),
                    "\(result.p99Hops)", "\(result.maxHops)", fixed(result.reportsPerNodeSecond, 2),
                    fixed(meanDecision, 2) + "/" + fixed(result.decisionMicros(0.99), 2) + "            ",
                    result.blockedBy.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(
                        separator: "; "),
                ].map { $0 + String(repeating: " ", count: max(1, 10 - $0.count)) }.joined())
            fflush(nil)
            json.append(
                "{\"nodes\":\(nodes),\"interval_s\":\(interval),\"policy\":\"\(policy.rawValue)\",\"offered\":\(result.offered),"
                    + "\"blocked\":\(result.blocked),\"blocking\":\(result.blocking),\"erlang_b\":\(result.erlangB),\"pooled_blocking\":\(result.pooledBlocking),"
                    + "\"mean_hops\":\(result.meanHops),\"p99_hops\":\(result.p99Hops),\"max_hops\":\(result.maxHops),"
                    + "\"reports_per_node_s\":\(result.reportsPerNodeSecond),\"decision_us_mean\":\(meanDecision),"
                    + "\"decision_us_p99\":\(result.decisionMicros(0.99))}")
        }
    }
}
if let path = options.jsonPath, let file = fopen(path, "w") {
    fputs("[\n" + json.joined(separator: ",\n") + "\n]\n", file)
    fclose(file)
}

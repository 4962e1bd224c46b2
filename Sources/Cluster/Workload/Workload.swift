/// The resources a node's workload is measured on.
public enum Resource: String, CaseIterable, Sendable {
    case sessions
    case packetRate = "packet-rate"
    case bitRate = "bit-rate"
    case cpu
}

/// An amount of each resource a node is measured on: what it uses now (`ResourceUsage`) or what it
/// may use (`ResourceCapacity`, where zero leaves a resource out of the load).
public struct ResourceAmounts: Sendable, Equatable {
    /// Calls anchored on the node.
    public var sessions: Int
    /// Media packets received per second.
    public var packetsPerSecond: Double
    /// Media bits received per second.
    public var bitsPerSecond: Double
    /// Busy share of the data-plane threads (0...1, averaged over workers).
    public var cpu: Double

    public init(sessions: Int = 0, packetsPerSecond: Double = 0, bitsPerSecond: Double = 0, cpu: Double = 0) {
        self.sessions = sessions
        self.packetsPerSecond = packetsPerSecond
        self.bitsPerSecond = bitsPerSecond
        self.cpu = cpu
    }

    func amount(of resource: Resource) -> Double {
        switch resource {
        case .sessions: Double(sessions)
        case .packetRate: packetsPerSecond
        case .bitRate: bitsPerSecond
        case .cpu: cpu
        }
    }
}

/// What a node uses now; rates are over the last sampling interval.
public typealias ResourceUsage = ResourceAmounts

/// How much of each resource a node may use; zero leaves that resource out of the load.
public typealias ResourceCapacity = ResourceAmounts

/// A node's usage against its capacity. The load is the highest usage-to-capacity ratio: the node
/// is as loaded as its most loaded resource.
public struct Workload: Sendable, Equatable {
    public var usage: ResourceUsage
    public var capacity: ResourceCapacity

    public init(usage: ResourceUsage, capacity: ResourceCapacity) {
        self.usage = usage
        self.capacity = capacity
    }

    /// Usage over capacity for each resource that has a capacity.
    public var ratios: [Resource: Double] {
        var ratios: [Resource: Double] = [:]
        for resource in Resource.allCases {
            let capacity = capacity.amount(of: resource)
            guard capacity > 0 else { continue }
            ratios[resource] = usage.amount(of: resource) / capacity
        }
        return ratios
    }

    /// The highest ratio; 0 when no resource has a capacity.
    public var load: Double { ratios.values.max() ?? 0 }

    /// The resource that sets the load, if any.
    public var bottleneck: Resource? { ratios.max { $0.value < $1.value }?.key }
}

/// The admission test every steering way starts with: a node takes a new call when its load is
/// below its threshold. A threshold of 0 drains the node (it takes nothing new).
public struct AdmissionThreshold: Sendable, Equatable {
    public var value: Double

    public init(_ value: Double) { self.value = value }

    public static let drain = AdmissionThreshold(0)

    public func admits(load: Double) -> Bool { load < value }
}

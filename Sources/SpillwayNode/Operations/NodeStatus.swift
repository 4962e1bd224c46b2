import Bencode
import CSpillwayShims
import Cluster
import H323Edge
import MediaPlane
import ServiceEdge

/// What a node is doing now, as `/status` serves it in JSON: its load against its threshold,
/// its calls, and the peers it knows with their load and how fresh their reports are.
struct NodeStatus: Codable, Equatable {
    var node: String
    var load: Double
    var threshold: Double
    /// Whether a new call would be taken here now.
    var admits: Bool
    /// Set while the node drains for shutdown: it refuses new calls and keeps its own.
    var draining: Bool
    var bottleneck: String?
    var calls: Calls
    var capacity: Capacity
    var interfaces: [Interface]
    var peers: [PeerStatus]
    /// The call store, when the node has one.
    var redis: CallStore?
    var dataPlane: DataPlane

    enum CodingKeys: String, CodingKey {
        case node, load, threshold, admits, draining, bottleneck, calls, capacity, interfaces, peers, redis
        case dataPlane = "data_plane"
    }

    /// Where media packets are handled: the workers' engine, and the kernel fast path.
    struct DataPlane: Codable, Equatable {
        var engine: String
        /// The devices the kernel fast path is attached to; empty when it is off.
        var kernelDevices: [String]
        /// Media packets received since start: by the workers, and forwarded by the kernel fast
        /// path without the workers seeing them.
        var workerPackets: UInt64
        var kernelPackets: UInt64

        enum CodingKeys: String, CodingKey {
            case engine
            case kernelDevices = "kernel_devices"
            case workerPackets = "worker_packets"
            case kernelPackets = "kernel_packets"
        }

        var bencoded: BencodeValue {
            [
                "engine": .string(engine), "kernel-devices": .list(kernelDevices.map { .string($0) }),
                "worker-packets": .integer(Int64(workerPackets)), "kernel-packets": .integer(Int64(kernelPackets)),
            ]
        }

        init(_ workers: WorkerPool) {
            let sample = workers.trafficSample()
            engine = "\(workers.engine)"
            kernelDevices = workers.kernel?.devices.map(\.name) ?? []
            workerPackets = sample.packets - sample.kernelPackets
            kernelPackets = sample.kernelPackets
        }
    }

    /// The Redis call store as the node sees it.
    struct CallStore: Codable, Equatable {
        var address: String
        var connected: Bool
        /// Writes waiting for a connection, and sent but not yet answered.
        var queueDepth: Int
        /// Full writes of every call (after each connection, and hourly).
        var fullWrites: UInt64
        /// When the last full write was sent, in seconds since the epoch.
        var lastFullWrite: Double?
        var answered: UInt64
        var refused: UInt64
        /// Writes dropped because the queue was full, or lost with a connection.
        var dropped: UInt64
        var reconnections: UInt64
        /// Calls this node had not heard of whose owner the store named.
        var ownersFound: UInt64
        /// Call records written (NG changes, media changes, full writes).
        var recordsWritten: UInt64
        /// Calls released here because another node took them over while this one was cut off.
        var released: UInt64
        /// The peers this node stands by for, the takeovers it made, and the calls it carried on
        /// or could not.
        var standbyFor: [String]
        var takeovers: UInt64
        var callsRestored: UInt64
        var restoreFailures: UInt64

        enum CodingKeys: String, CodingKey {
            case address, connected, answered, refused, dropped, reconnections, released, takeovers
            case queueDepth = "queue_depth"
            case fullWrites = "full_writes"
            case lastFullWrite = "last_full_write"
            case ownersFound = "owners_found"
            case recordsWritten = "records_written"
            case standbyFor = "standby_for"
            case callsRestored = "calls_restored"
            case restoreFailures = "restore_failures"
        }
    }

    /// A media interface and the ports its calls hold (the port range is shared).
    struct Interface: Codable, Equatable {
        var name: String
        var address: String
        var advertised: String
        var portsInUse: Int

        enum CodingKeys: String, CodingKey {
            case name, address, advertised
            case portsInUse = "ports_in_use"
        }
    }

    struct Calls: Codable, Equatable {
        /// Calls anchored on this node.
        var own: Int
        /// Calls first received here and anchored on another node.
        var foreign: Int
        var transcodingStreams: Int
        var portPairsInUse: Int
        var portPairCapacity: Int

        enum CodingKeys: String, CodingKey {
            case own, foreign
            case transcodingStreams = "transcoding_streams"
            case portPairsInUse = "port_pairs_in_use"
            case portPairCapacity = "port_pair_capacity"
        }
    }

    /// The configured limits; 0 is no limit.
    struct Capacity: Codable, Equatable {
        var sessions: Int
        var packetsPerSecond: Double
        var bitsPerSecond: Double
        var cpu: Double

        enum CodingKeys: String, CodingKey {
            case sessions, cpu
            case packetsPerSecond = "packets_per_second"
            case bitsPerSecond = "bits_per_second"
        }
    }
}

/// Everything `/metrics` exports, read on the node's event loop at each scrape.
struct NodeSnapshot {
    var status: NodeStatus
    /// What callers [0] and callees [1] sent, over the node's lifetime.
    var totalsByDirection: [StreamStatistics]
    var events: CallEventCounters
    var routing: RoutingCounters
    /// The node's steering policy, which labels its spills.
    var policy: SteeringMode
    var ras: RASCounters?
    var h323: H323Counters?
    var packetRate: Double
    var bitRate: Double
    var cpu: Double
}

import Bencode
import CSpillwayShims
import Cluster
import H323Edge
import MediaPlane

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

/// A peer as this node (or the monitor) sees it, for `/status` and the monitor's `/nodes`.
struct PeerStatus: Codable, Equatable {
    var id: String
    var address: String
    /// `up` (a fresh report), `unknown` (no fresh report) or `down` (marked down).
    var state: String
    var load: Double?
    var threshold: Double?
    var sessions: Int?
    var reportAgeMilliseconds: UInt64?

    enum CodingKeys: String, CodingKey {
        case id, address, state, load, threshold, sessions
        case reportAgeMilliseconds = "report_age_ms"
    }

    /// Every node of `table` as NG `statistics` gives them: by id, ratios as text.
    static func bencoded(_ table: PeerTable, now: UInt64 = spw_monotonic_nanos()) -> BencodeValue {
        .dictionary(
            Dictionary(
                uniqueKeysWithValues: all(in: table, now: now).map { peer in
                    var entry: [String: BencodeValue] = ["address": .string(peer.address), "state": .string(peer.state)]
                    if let load = peer.load, let threshold = peer.threshold, let sessions = peer.sessions, let age = peer.reportAgeMilliseconds {
                        entry["load"] = .string(ratioText(load))
                        entry["threshold"] = .string(ratioText(threshold))
                        entry["sessions"] = .integer(Int64(sessions))
                        entry["report-age-ms"] = .integer(Int64(age))
                    }
                    return (peer.id, .dictionary(entry))
                }))
    }

    /// Every node of `table`, judged at `now`.
    static func all(in table: PeerTable, now: UInt64) -> [PeerStatus] {
        table.peers.map { peer in
            PeerStatus(
                id: peer.id, address: peer.clusterAddress, state: table.state(of: peer, now: now),
                load: peer.report?.load, threshold: peer.report?.threshold, sessions: peer.report?.usage.sessions,
                reportAgeMilliseconds: peer.report.map { _ in (now - min(now, peer.reportedAt)) / 1_000_000 })
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

/// A ratio with three decimals, as NG reply strings carry it (bencode has no fractions).
func ratioText(_ value: Double) -> String {
    let thousandths = Int((value * 1000).rounded())
    let fraction = String(abs(thousandths) % 1000)
    return "\(thousandths < 0 ? "-" : "")\(abs(thousandths) / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
}

import CSpillwayShims
import Cluster
import NIOCore
import ServiceEdge

/// The monitor's HTTP JSON queries:
/// - `GET /least-loaded`: the node with the lowest workload (200), or 503 when every node is busy;
/// - `GET /nodes`: every node with its state, load, threshold, sessions and report age.
enum MonitorHTTPQueries {
    struct LeastLoaded: Codable {
        var node: String
        var ng: String
        var cluster: String
        var mediaIP: String
        var load: Double

        enum CodingKeys: String, CodingKey {
            case node, ng, cluster, load
            case mediaIP = "media_ip"
        }
    }

    static func answer(_ path: String?, monitor: MonitorLoopState?, then respond: @escaping (HTTPReply) -> Void) {
        guard let monitor else { return respond(.failure(.serviceUnavailable, "the monitor is stopping")) }
        switch path {
        case "/least-loaded":
            monitor.leastLoaded(excluding: []) { node, load in
                guard let node else {
                    return respond(
                        .failure(.serviceUnavailable, "all nodes busy: no node reports a load below its threshold"))
                }
                respond(
                    .json(
                        LeastLoaded(
                            node: node.id, ng: node.ngAddress, cluster: node.clusterAddress, mediaIP: node.mediaIP,
                            load: load ?? 0)))
            }
        case "/nodes":
            let nodes = PeerStatus.all(in: monitor.table, now: spw_monotonic_nanos())
            respond(.json(["nodes": nodes]))
        default:
            respond(.failure(.notFound, "unknown path \(path ?? "(not a GET)"); use GET /least-loaded or GET /nodes"))
        }
    }
}

import CSpillwayShims
import Cluster
import Foundation
import NIOCore
import NIOHTTP1

/// The monitor's HTTP JSON interface:
/// - `GET /least-loaded`: the node with the lowest workload (200), or 503 when every node is busy;
/// - `GET /nodes`: every node with its state, load, threshold, sessions and report age.
final class MonitorHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let state: NIOLoopBoundBox<MonitorLoopState?>
    private var path: String?

    init(state: NIOLoopBoundBox<MonitorLoopState?>) {
        self.state = state
    }

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

    struct NodeState: Codable {
        var id: String
        var address: String
        var state: String
        var load: Double?
        var threshold: Double?
        var sessions: Int?
        var reportAgeMilliseconds: UInt64?

        enum CodingKeys: String, CodingKey {
            case id, address, state, load, threshold, sessions
            case reportAgeMilliseconds = "report_age_ms"
        }
    }

    struct Failure: Codable {
        var error: String
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            path = head.method == .GET ? head.uri : nil
        case .body:
            break
        case .end:
            let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            answer(path) { status, body in Self.respond(loopContext.value, status: status, body: body) }
        }
    }

    private func answer(_ path: String?, then respond: @escaping (HTTPResponseStatus, Data) -> Void) {
        guard let monitor = state.value else {
            return respond(.serviceUnavailable, Self.json(Failure(error: "the monitor is stopping")))
        }
        switch path {
        case "/least-loaded":
            monitor.leastLoaded(excluding: []) { node, load in
                guard let node else {
                    return respond(.serviceUnavailable, Self.json(Failure(error: "all nodes busy: no node reports a load below its threshold")))
                }
                respond(
                    .ok,
                    Self.json(LeastLoaded(node: node.id, ng: node.ngAddress, cluster: node.clusterAddress, mediaIP: node.mediaIP, load: load ?? 0)))
            }
        case "/nodes":
            let table = monitor.table
            let now = spw_monotonic_nanos()
            let nodes = table.peers.map { peer in
                NodeState(
                    id: peer.id, address: peer.clusterAddress,
                    state: table.state(of: peer, now: now),
                    load: peer.report?.load, threshold: peer.report?.threshold, sessions: peer.report?.usage.sessions,
                    reportAgeMilliseconds: peer.report.map { _ in (now - min(now, peer.reportedAt)) / 1_000_000 })
            }
            respond(.ok, Self.json(["nodes": nodes]))
        default:
            respond(.notFound, Self.json(Failure(error: "unknown path \(path ?? "(not a GET)"); use GET /least-loaded or GET /nodes")))
        }
    }

    private static func json(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    private static func respond(_ context: ChannelHandlerContext, status: HTTPResponseStatus, body: Data) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: "\(body.count)")
        headers.add(name: "Connection", value: "close")
        context.write(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}

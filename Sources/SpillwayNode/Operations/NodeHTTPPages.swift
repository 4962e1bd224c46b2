import ServiceEdge

/// A node's HTTP pages: `GET /metrics` (Prometheus text format) and `GET /status` (JSON).
enum NodeHTTPPages {
    static func answer(_ path: String?, node: NodeLoopState?) -> HTTPReply {
        guard let node else { return .failure(.serviceUnavailable, "the node is stopping") }
        switch path {
        case "/metrics":
            let body = node.metricsExposition()
            return HTTPReply(status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: body)
        case "/status":
            return .json(node.statistics.status())
        default:
            return .failure(.notFound, "unknown path \(path ?? "(not a GET)"); use GET /metrics or GET /status")
        }
    }
}

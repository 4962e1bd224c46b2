import Logging
import ServiceEdge

#if canImport(Glibc)
import Glibc
#endif

/// Every media port is a socket: a node whose port range is wider than its descriptor limit would
/// refuse calls with "no free port pair" long before the range is used. At start the soft limit is
/// raised as far as the hard limit allows, and a shortfall is logged with what to do.
enum DescriptorLimit {
    /// Descriptors beyond the media sockets: NG, cluster, epoll, eventfds, logs.
    static let headroom: rlim_t = 256

    static func raise(forPortRange range: ClosedRange<UInt16>, logger: Logger) {
        let needed = rlim_t(range.count) + headroom
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < needed else { return }
        var raised = limit
        raised.rlim_cur = min(needed, limit.rlim_max)
        if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        guard limit.rlim_cur < needed else { return }
        logger.warning(
            "the descriptor limit is lower than the media port range needs: calls will be refused before the range is used",
            metadata: [
                "port-range": "\(range.lowerBound)-\(range.upperBound)", "needed": "\(needed)",
                "limit": "\(limit.rlim_cur)",
                "hint": "raise LimitNOFILE (systemd) or ulimit -n, or narrow --port-range",
            ])
    }
}

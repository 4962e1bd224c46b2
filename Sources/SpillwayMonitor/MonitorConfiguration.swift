import Cluster
import Logging
import MediaPlane
import ServiceEdge

/// The settings of `spillway monitor`, the load monitor that collects the nodes' workload and tells
/// clients (and nodes in monitor mode) which node has the lowest.
public struct MonitorConfiguration: Sendable, Equatable {
    /// The monitor's id in cluster messages.
    public var id = "monitor"
    /// UDP address for cluster messages from the nodes and NG queries from clients.
    public var listenAddress = "127.0.0.1:2230"
    /// HTTP address for JSON queries (nil: no HTTP).
    public var httpAddress: String?
    /// H.225.0 RAS address where nodes register and report (RRQ, RAI) and clients ask (LRQ, ARQ); nil: no RAS.
    public var rasAddress: String?
    /// Where NG queries are taken from; datagrams from elsewhere are dropped and counted.
    public var ngClients = ClientNetworks.loopback
    /// The nodes, by their cluster addresses.
    public var nodes: [PeerAddress] = []
    public var collect = CollectMode.poll
    public var clusterKeyFile = ""
    /// Seconds between polls or streamed reports.
    public var interval = 1.0
    /// Seconds after which a report is not trusted (default 3 intervals).
    public var reportAgeLimit: Double?
    /// Seconds to wait for poll replies in on-query collection.
    public var pollTimeout = 0.2
    public var logLevel = Logger.Level.info

    public init() {}

    public var effectiveReportAgeLimit: Double { reportAgeLimit ?? 3 * interval }

    public func validate() throws(ConfigurationError) {
        guard SocketAddress(hostAndPort: listenAddress) != nil else {
            throw .invalid(
                setting: "listen", value: listenAddress, allowed: "a numeric HOST:PORT such as 127.0.0.1:2230")
        }
        if let httpAddress, SocketAddress(hostAndPort: httpAddress) == nil {
            throw .invalid(setting: "http", value: httpAddress, allowed: "a numeric HOST:PORT such as 127.0.0.1:8080")
        }
        if let rasAddress, SocketAddress(hostAndPort: rasAddress) == nil {
            throw .invalid(setting: "ras", value: rasAddress, allowed: "a numeric HOST:PORT such as 127.0.0.1:1719")
        }
        guard !nodes.isEmpty else {
            throw .invalid(
                setting: "node", value: "(none)", allowed: "one --node ID@HOST:PORT per node (its cluster address)")
        }
        for node in nodes where SocketAddress(hostAndPort: node.address) == nil {
            throw .invalid(setting: "node", value: node.description, allowed: "ID@HOST:PORT with a numeric HOST:PORT")
        }
        guard !clusterKeyFile.isEmpty else {
            throw .invalid(
                setting: "cluster-key-file", value: "(not set)",
                allowed: "the file holding the nodes' shared cluster key")
        }
        guard (0.01...60).contains(interval) else {
            throw .invalid(setting: "interval", value: "\(interval)", allowed: "0.01 to 60 seconds")
        }
        if let reportAgeLimit, !(reportAgeLimit > interval && reportAgeLimit <= 3600) {
            throw .invalid(
                setting: "report-age-limit", value: "\(reportAgeLimit)",
                allowed: "more than interval and at most 3600 seconds")
        }
        guard (0.01...10).contains(pollTimeout) else {
            throw .invalid(setting: "poll-timeout", value: "\(pollTimeout)", allowed: "0.01 to 10 seconds")
        }
    }
}

import ArgumentParser
import Cluster
import Logging
import ServiceEdge
import SpillwayMonitor
import SpillwayNode

/// `spillway monitor`: run the load monitor.
struct Monitor: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the load monitor: collect the nodes' workload and name the least-loaded node.",
        discussion: """
            Nodes in monitor mode (serve --policy monitor --monitor HOST:PORT) ask it where to spill; clients ask \
            over NG ({"command": "query"} on --listen) or HTTP (GET /least-loaded, GET /nodes on --http).
            """)

    @Option(help: "UDP address for the nodes' cluster messages and NG queries (HOST:PORT).")
    var listen: String

    @Option(help: "HTTP address for JSON queries (HOST:PORT); off when not given.")
    var http: String?

    @Option(
        name: .customLong("ng-clients"),
        help: "Networks NG queries are taken from, comma-separated prefixes (127.0.0.0/8,::1/128 by default).")
    var ngClients: String = "127.0.0.0/8,::1/128"

    @Option(help: "A node ID@HOST:PORT (its cluster address); repeat for every node.")
    var node: [String] = []

    @Option(help: "How workload is collected: poll, push, continuous or on-query.")
    var collect: String = "poll"

    @Option(name: .customLong("cluster-key-file"), help: "File holding the cluster's shared HMAC key.")
    var clusterKeyFile: String

    @Option(help: "Seconds between polls or streamed reports.")
    var interval: Double = 1

    @Option(
        name: .customLong("report-age-limit"), help: "Seconds after which a report is not trusted. Default 3 intervals."
    )
    var reportAgeLimit: Double?

    @Option(
        help: "H.225.0 RAS address (HOST:PORT): nodes register and send RAI here; LRQ/ARQ get the least-loaded node.")
    var ras: String?

    @Option(name: .customLong("monitor-id"), help: "The monitor's id in cluster messages.")
    var monitorID: String = "monitor"

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    func run() async throws {
        var configuration = MonitorConfiguration()
        configuration.id = monitorID
        configuration.listenAddress = listen
        configuration.httpAddress = http
        guard let networks = ClientNetworks(parsing: ngClients) else {
            throw ValidationError(
                "--ng-clients '\(ngClients)' is not a list of address prefixes such as 127.0.0.0/8,10.0.0.0/8")
        }
        configuration.ngClients = networks
        configuration.rasAddress = ras
        configuration.nodes = try node.map { text in
            guard let peer = PeerAddress(parsing: text) else {
                throw ValidationError("--node '\(text)' is not ID@HOST:PORT, e.g. node-2@127.0.0.12:2224")
            }
            return peer
        }
        guard let mode = CollectMode(rawValue: collect) else {
            throw ValidationError("--collect '\(collect)' is not one of poll, push, continuous, on-query")
        }
        configuration.collect = mode
        configuration.clusterKeyFile = clusterKeyFile
        configuration.interval = interval
        configuration.reportAgeLimit = reportAgeLimit
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError(
                "--log-level '\(logLevel)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        configuration.logLevel = level
        try configuration.validate()
        bootstrapLogging(configuration.logLevel)
        let monitor = try await LoadMonitor.start(configuration, logger: Logger(label: "spillway-monitor"))
        try await monitor.waitUntilClosed()
    }
}

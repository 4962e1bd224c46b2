import ArgumentParser
import Logging
import SpillwayNode

/// `spillway serve`: run one relay node.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a relay node: the NG control protocol, the media plane, and cluster steering.")

    @Option(name: .customLong("node-id"), help: "This node's identity, reported to clients and peers.")
    var nodeID: String?

    @Option(help: "NG control protocol address (HOST:PORT). Default 127.0.0.1:2223.")
    var ng: String?

    @Option(name: .customLong("media-ip"), help: "Address media sockets bind to and SDP advertises: the shorthand for one --interface.")
    var mediaIP: String?

    @Option(name: .customLong("port-range"), help: "Media ports MIN-MAX: RTP on even ports, RTCP on the next.")
    var portRange: String?

    @Option(help: "Number of media worker threads.")
    var workers: String?

    @Option(name: .customLong("media-timeout"), help: "Seconds without media before a call is torn down.")
    var mediaTimeout: String?

    @Option(
        name: .customLong("interface"),
        help: "A media interface NAME/IP[!ADVERTISED] (bind IP, write ADVERTISED in SDP); repeat it; the first is the default. Replaces --media-ip.")
    var interface: [String] = []

    @Option(
        name: .customLong("relatch-silence"),
        help: "Seconds a latched media source must be silent before its stream may move to a new address (default 1).")
    var relatchSilence: String?

    @Option(name: .customLong("pin-cpus"), help: "Comma-separated CPUs to pin the media workers to.")
    var pinCPUs: String?

    @Option(name: .customLong("data-plane"), help: "What the media workers run on: io_uring (default; epoll where it is unavailable) or epoll.")
    var dataPlane: String?

    @Option(name: .customLong("max-sessions"), help: "Session capacity: calls the node may carry (0: no limit).")
    var maxSessions: String?

    @Option(name: .customLong("max-packet-rate"), help: "Media packets/s the node may receive (0: no limit).")
    var maxPacketRate: String?

    @Option(name: .customLong("max-bit-rate"), help: "Media bits/s the node may receive (0: no limit).")
    var maxBitRate: String?

    @Option(name: .customLong("max-cpu"), help: "Busy share of the media workers allowed, 0-1 (0: no limit).")
    var maxCPU: String?

    @Option(help: "Take new calls while load (highest usage/capacity ratio) is below this, 0-1; 0 drains.")
    var threshold: String?

    @Option(help: "Cluster address (HOST:PORT) for workload sharing and forwarded requests.")
    var cluster: String?

    @Option(help: "A peer node ID@HOST:PORT (its cluster address); repeat it; the order is the sequence priority.")
    var peer: [String] = []

    @Option(help: "Where calls spill over the threshold: delegate, sequence or monitor.")
    var policy: String?

    @Option(help: "How workload is shared with peers: push, poll or continuous.")
    var share: String?

    @Option(help: "The load monitor's address (HOST:PORT).")
    var monitor: String?

    @Option(name: .customLong("cluster-key-file"), help: "File holding the cluster's shared HMAC key (>= 16 bytes).")
    var clusterKeyFile: String?

    @Option(name: .customLong("share-interval"), help: "Seconds between workload reports. Default 1.")
    var shareInterval: String?

    @Option(name: .customLong("report-age-limit"), help: "Seconds after which a peer's report is not trusted and the peer is down. Default 3 intervals.")
    var reportAgeLimit: String?

    @Option(name: .customLong("max-hops"), help: "How many times a new call's request may be forwarded. Default 4.")
    var maxHops: String?

    @Option(name: .customLong("forward-timeout"), help: "Seconds to wait for a forwarded request's reply. Default 0.5.")
    var forwardTimeout: String?

    @Option(name: .customLong("poll-timeout"), help: "Seconds to wait for poll replies. Default 0.2.")
    var pollTimeout: String?

    @Option(name: .customLong("recording-dir"), help: "Directory for call recordings (pcap); recording is off without it.")
    var recordingDir: String?

    @Option(help: "H.225.0 RAS address (HOST:PORT) where the node answers LRQ/ARQ/RRQ; off when not given.")
    var ras: String?

    @Option(name: .customLong("ras-reply"), help: "Where the LCF of a forwarded LRQ goes: direct (to the requester) or reverse (back through the forwarders). Default direct.")
    var rasReply: String?

    @Option(name: .customLong("h323-reply"), help: "How a Setup over the threshold reaches the chosen node: direct (Facility callForwarded to the caller) or reverse (forwarded, signalling relayed here). Default direct.")
    var h323Reply: String?

    @Option(name: .customLong("call-signal"), help: "Where the node takes H.323 call signalling (TCP HOST:PORT), the address LCF/ACF name. Default the RAS host, port 1720, when --ras is given.")
    var callSignal: String?

    @Option(name: .customLong("h323-route"), help: "A static route for H.323 calls, PREFIX=HOST:PORT: dialled digits or H.323-IDs starting with PREFIX go there (longest prefix wins); repeat it.")
    var h323Route: [String] = []

    @Option(name: .customLong("monitor-ras"), help: "The load monitor's RAS address: register there and report workload in RAI.")
    var monitorRAS: String?

    @Option(name: .customLong("ng-clients"), help: "Networks NG commands are taken from, e.g. 127.0.0.0/8,10.20.0.0/16; others are dropped and counted. Default loopback.")
    var ngClients: String?

    @Option(help: "HTTP address (HOST:PORT) serving /metrics (Prometheus) and /status (JSON); off when not given.")
    var metrics: String?

    @Option(name: .customLong("drain-grace"), help: "Seconds SIGTERM waits for calls to end while refusing new ones. Default 30.")
    var drainGrace: String?

    @Option(help: "A TOML file with the same settings (keys are the flag names); flags override it. SIGHUP reloads it.")
    var config: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?

    func run() async throws {
        let configuration = try resolvedConfiguration()
        bootstrapLogging(configuration.logLevel)
        let logger = Logger(label: "spillway")
        let node = try await RelayNode.start(configuration, logger: logger)
        let signals = NodeSignals(node: node, configuration: configuration, logger: logger, reload: resolvedConfiguration)
        try await node.waitUntilClosed()
        withExtendedLifetime(signals) {}
    }

    /// The file's settings, overridden by flags, validated.
    func resolvedConfiguration() throws -> NodeConfiguration {
        var configuration = NodeConfiguration()
        if let config { try configuration.apply(tomlFile: config) }
        let flags: [(String, String?)] = [
            ("node-id", nodeID), ("ng", ng), ("media-ip", mediaIP), ("port-range", portRange), ("workers", workers),
            ("media-timeout", mediaTimeout), ("relatch-silence", relatchSilence), ("pin-cpus", pinCPUs), ("data-plane", dataPlane), ("max-sessions", maxSessions),
            ("max-packet-rate", maxPacketRate), ("max-bit-rate", maxBitRate), ("max-cpu", maxCPU),
            ("threshold", threshold), ("cluster", cluster), ("policy", policy), ("share", share), ("monitor", monitor),
            ("cluster-key-file", clusterKeyFile), ("share-interval", shareInterval),
            ("report-age-limit", reportAgeLimit), ("max-hops", maxHops), ("forward-timeout", forwardTimeout),
            ("poll-timeout", pollTimeout), ("recording-dir", recordingDir), ("log-level", logLevel), ("ras", ras),
            ("ras-reply", rasReply), ("call-signal", callSignal), ("h323-reply", h323Reply), ("monitor-ras", monitorRAS), ("ng-clients", ngClients),
            ("metrics", metrics), ("drain-grace", drainGrace),
        ]
        for case (let name, let value?) in flags { try configuration.set(name, to: value) }
        if !interface.isEmpty {
            configuration.interfaces = []
            for text in interface { try configuration.set("interface", to: text) }
        }
        if !peer.isEmpty {
            configuration.peers = []
            for text in peer { try configuration.set("peer", to: text) }
        }
        if !h323Route.isEmpty {
            configuration.h323Routes = []
            for text in h323Route { try configuration.set("h323-route", to: text) }
        }
        try configuration.validate(settingsFrom: config)
        return configuration
    }
}

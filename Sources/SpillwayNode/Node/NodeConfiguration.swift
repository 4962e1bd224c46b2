import Cluster
import Codecs
import H323
import H323Edge
import KernelPath
import Logging
import MediaPlane
import ServiceEdge

/// The settings of one relay node, from `spillway serve` flags and/or a TOML file whose keys are the
/// flag names. Every setting is read from text by `set(_:to:)`, so flags and the file accept the
/// same values and fail with the same messages.
public struct NodeConfiguration: Sendable, Equatable {
    public var nodeID = "spillway-1"
    /// Where the NG control protocol listens.
    public var ngAddress = "127.0.0.1:2223"
    /// The media address of a node with one interface (`--media-ip`, the shorthand for `--interface default/IP`).
    public var mediaIP = "127.0.0.1"
    /// The media interfaces (`--interface NAME/IP[!ADVERTISED]`, repeated); when given, `mediaIP` is not used.
    public var interfaces: [MediaInterface] = []
    public var portRange: ClosedRange<UInt16> = 30000...39999
    public var workers = 1
    /// Seconds without media before a call is torn down.
    public var mediaTimeout = 60
    /// Seconds a latched media source must be silent before its stream may move to a new address.
    public var relatchSilence = 1.0
    /// The Opus encoder's bit rate (bits per second) for transcoded calls, unless a call's NG
    /// options or its receiver's fmtp say otherwise.
    public var opusBitRate = OpusEncoderSettings.defaultBitRate
    /// The Opus encoder's complexity (0-10) for transcoded calls, unless a call's NG options say otherwise.
    public var opusComplexity = OpusEncoderSettings.defaultComplexity
    public var logLevel = Logger.Level.info
    /// CPUs to pin the media workers to, in order (empty: no pinning).
    public var pinCPUs: [Int] = []
    /// What the media workers run on (io_uring, falling back to epoll where it is unavailable).
    public var dataPlane = DataPlaneEngine.ioUring
    /// Whether latched plain streams are forwarded by the kernel fast path (eBPF).
    public var kernelForwarding = KernelForwardingMode.auto
    /// The network devices the kernel fast path attaches to (empty: those holding the media addresses).
    public var kernelDevices: [String] = []

    // Workload and steering.

    /// What the node may carry; a resource with capacity 0 does not count towards the load.
    public var capacity = ResourceCapacity()
    /// The node takes a new call while its load is below this (0 drains it).
    public var threshold = 1.0
    /// Where this node's cluster messages are received (workload sharing, forwarded requests).
    public var clusterAddress: String?
    /// Other nodes, in priority order (the `sequence` order).
    public var peers: [PeerAddress] = []
    public var policy = SteeringMode.delegate
    public var share = ShareMode.push
    /// The load monitor's address, for `policy = monitor` and for pushing reports to it.
    public var monitorAddress: String?
    /// A file holding the cluster's shared HMAC key (at least 16 bytes).
    public var clusterKeyFile: String?
    /// Seconds between workload reports (pushed or streamed) and samples.
    public var shareInterval = 1.0
    /// Seconds after which a report is not trusted and its node counts as down (default 3 intervals).
    public var reportAgeLimit: Double?
    /// How many times a new call's request may be forwarded.
    public var maxHops = 4
    /// Seconds to wait for a node a request was forwarded to before marking it down.
    public var forwardTimeout = 0.5
    /// Seconds to wait for poll replies before deciding on what has arrived.
    public var pollTimeout = 0.2
    /// Where call recordings (pcap files) are written; nil: this node does not record.
    public var recordingDirectory: String?

    // Operations.

    /// The networks NG commands are taken from; datagrams from elsewhere are dropped and counted.
    public var ngClients = ClientNetworks.loopback
    /// Where `/metrics` (Prometheus) and `/status` (JSON) are served over HTTP; nil: not served.
    public var metricsAddress: String?
    /// Seconds a draining node (SIGTERM) waits for its calls to end before it exits.
    public var drainGrace = 30.0

    // H.323 RAS.

    /// Where this node answers H.225.0 RAS (LRQ, ARQ, RRQ, ...); nil: no RAS.
    public var rasAddress: String?
    /// Whether an LCF for a forwarded LRQ goes straight to the requester or back through the forwarders.
    public var rasReply = RASReplyMode.direct
    /// Where the node takes H.225.0 call signalling (TCP), the address LCF and ACF name for it
    /// (default: the RAS host, port 1720, when RAS is on).
    public var callSignalAddress: String?
    /// How a Setup over the threshold goes to the node steering chose: the caller is told it
    /// (Facility callForwarded), or this node forwards the Setup and relays the signalling.
    public var h323Reply = H323ReplyMode.direct
    /// Static routes for H.323 calls, `PREFIX=HOST:PORT` (`--h323-route`, repeatable).
    public var h323Routes: [H323Route] = []
    /// The load monitor's RAS address: the node registers there and reports its workload in RAI.
    public var monitorRASAddress: String?
    /// The call store: the Redis server where calls' owners are kept (nil: none).
    public var redis: RedisAddress?
    /// A file holding the Redis password (AUTH), when Redis asks for one.
    public var redisAuthFile: String?
    /// The peers whose calls this node carries on when they die (`--standby-for`, repeatable).
    public var standbyFor: [String] = []
    /// Seconds a watched peer must be silent (no report, no heartbeat) before its calls are taken over.
    public var takeoverAfter = 2.0

    public init() {}

    /// The call signalling address in force: `call-signal`, else the RAS host's port 1720 when RAS is on.
    public var effectiveCallSignalAddress: String? {
        if let callSignalAddress { return callSignalAddress }
        guard let rasAddress, let colon = rasAddress.lastIndex(of: ":") else { return nil }
        return "\(rasAddress[..<colon]):1720"
    }

    /// The interfaces in force: those configured, or one called `default` on `mediaIP`.
    public var mediaInterfaces: [MediaInterface] {
        interfaces.isEmpty ? [MediaInterface(name: "default", localIP: mediaIP)] : interfaces
    }

    /// The age limit in force.
    public var effectiveReportAgeLimit: Double { reportAgeLimit ?? 3 * shareInterval }

    /// Checks every setting; the error names the setting, its value and what is allowed.
    public func validate() throws(ConfigurationError) {
        guard !nodeID.isEmpty, nodeID.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw .invalid(setting: "node-id", value: nodeID, allowed: "letters, digits, '-', '_' and '.'")
        }
        try Self.requireAddress("ng", ngAddress)
        guard SocketAddress(ip: mediaIP, port: 0) != nil else {
            throw .invalid(setting: "media-ip", value: mediaIP, allowed: "a numeric IPv4 or IPv6 address")
        }
        if let duplicate = Dictionary(grouping: interfaces, by: \.name).first(where: { $0.value.count > 1 })?.key {
            throw .invalid(setting: "interface", value: duplicate, allowed: "each interface name once")
        }
        guard PortAllocator(range: portRange).capacity >= 1, portRange.lowerBound >= 1024 else {
            throw .invalid(
                setting: "port-range", value: "\(portRange.lowerBound)-\(portRange.upperBound)",
                allowed: "MIN-MAX within 1024-65535 holding at least one even/odd port pair")
        }
        try Self.require("workers", workers, in: 1...64, allowed: "1 to 64")
        try Self.require("media-timeout", mediaTimeout, in: 1...86400, allowed: "1 to 86400 seconds")
        try Self.require("relatch-silence", relatchSilence, in: 0...60, allowed: "0 to 60 seconds")
        try Self.require(
            "opus-bitrate", opusBitRate, in: OpusEncoderSettings.bitRates, allowed: "6000 to 510000 bits per second")
        try Self.require("opus-complexity", opusComplexity, in: OpusEncoderSettings.complexities, allowed: "0 to 10")
        try Self.require("max-sessions", capacity.sessions, in: 0...10_000_000, allowed: "0 to 10000000 calls")
        try Self.require(
            "max-packet-rate", capacity.packetsPerSecond, in: 0...1e9, allowed: "0 to 1e9 packets per second")
        try Self.require("max-bit-rate", capacity.bitsPerSecond, in: 0...1e12, allowed: "0 to 1e12 bits per second")
        try Self.require("max-cpu", capacity.cpu, in: 0...1, allowed: "0 to 1")
        try Self.require("threshold", threshold, in: 0...1, allowed: "0 (drain) to 1")
        try Self.require("share-interval", shareInterval, in: 0.01...60, allowed: "0.01 to 60 seconds")
        if let reportAgeLimit, !(reportAgeLimit > shareInterval && reportAgeLimit <= 3600) {
            throw .invalid(
                setting: "report-age-limit", value: "\(reportAgeLimit)",
                allowed: "more than share-interval (\(shareInterval)) and at most 3600 seconds")
        }
        try Self.require("max-hops", maxHops, in: 1...32, allowed: "1 to 32")
        try Self.require("forward-timeout", forwardTimeout, in: 0.01...10, allowed: "0.01 to 10 seconds")
        try Self.require("poll-timeout", pollTimeout, in: 0.01...10, allowed: "0.01 to 10 seconds")
        try Self.require("drain-grace", drainGrace, in: 0...86400, allowed: "0 to 86400 seconds")
        if let metricsAddress { try Self.requireAddress("metrics", metricsAddress) }
        try validateCluster()
        try validateRAS()
        if redisAuthFile != nil, redis == nil {
            throw .invalid(
                setting: "redis-auth-file", value: redisAuthFile ?? "",
                allowed: "only with --redis, which names the server")
        }
        if redis != nil, clusterAddress == nil {
            throw .invalid(
                setting: "redis", value: redis?.description ?? "",
                allowed: "only on a node with --cluster: other nodes reach a call's owner on its cluster port")
        }
        try validateStandby()
    }

    private func validateStandby() throws(ConfigurationError) {
        try Self.require("takeover-after", takeoverAfter, in: 0.5...60, allowed: "0.5 to 60 seconds")
        for node in standbyFor {
            guard redis != nil else {
                throw .invalid(
                    setting: "standby-for", value: node,
                    allowed: "only with --redis, where the calls to carry on are kept")
            }
            guard peers.contains(where: { $0.id == node }) else {
                throw .invalid(
                    setting: "standby-for", value: node,
                    allowed:
                        "a peer's node ID (--peer ID@HOST:PORT): its workload reports tell whether it is alive; peers: "
                        + (peers.isEmpty ? "none" : peers.map(\.id).joined(separator: ", ")))
            }
        }
    }

    private func validateRAS() throws(ConfigurationError) {
        if let rasAddress { try Self.requireAddress("ras", rasAddress) }
        if let callSignalAddress { try Self.requireAddress("call-signal", callSignalAddress) }
        if let monitorRASAddress { try Self.requireAddress("monitor-ras", monitorRASAddress) }
        if rasAddress == nil, let monitorRASAddress {
            throw .invalid(
                setting: "monitor-ras", value: monitorRASAddress,
                allowed: "only together with ras HOST:PORT, the node's RAS port")
        }
        if effectiveCallSignalAddress == nil, let route = h323Routes.first {
            throw .invalid(
                setting: "h323-route", value: route.description,
                allowed: "only together with call-signal or ras, where H.323 calls arrive")
        }
    }

    private func validateCluster() throws(ConfigurationError) {
        if let clusterAddress { try Self.requireAddress("cluster", clusterAddress) }
        if let monitorAddress { try Self.requireAddress("monitor", monitorAddress) }
        for peer in peers {
            try Self.requireAddress("peer", peer.address)
            guard peer.id != nodeID else {
                throw .invalid(
                    setting: "peer", value: peer.description, allowed: "another node's id (this node is '\(nodeID)')")
            }
        }
        if let duplicate = Dictionary(grouping: peers, by: \.id).first(where: { $0.value.count > 1 })?.key {
            throw .invalid(setting: "peer", value: duplicate, allowed: "each peer id once")
        }
        let needsCluster = !peers.isEmpty || monitorAddress != nil
        if needsCluster, clusterAddress == nil {
            throw .invalid(
                setting: "cluster", value: "(not set)",
                allowed: "a HOST:PORT for cluster messages whenever peer or monitor is set")
        }
        if clusterAddress != nil, clusterKeyFile == nil {
            throw .invalid(
                setting: "cluster-key-file", value: "(not set)",
                allowed: "a file holding the cluster's shared key (16 bytes or more) whenever cluster is set")
        }
        if policy == .monitor, monitorAddress == nil {
            throw .invalid(
                setting: "monitor", value: "(not set)", allowed: "the load monitor's HOST:PORT when policy is monitor")
        }
    }

    /// The Opus encoder settings transcoded calls start from.
    var opusDefaults: OpusEncoderSettings {
        var settings = OpusEncoderSettings()
        settings.bitRate = opusBitRate
        settings.complexity = opusComplexity
        return settings
    }

    private static func requireAddress(_ setting: String, _ text: String) throws(ConfigurationError) {
        guard SocketAddress(hostAndPort: text) != nil else {
            throw .invalid(setting: setting, value: text, allowed: "a numeric HOST:PORT such as 127.0.0.1:2223")
        }
    }

    private static func require<Value: Comparable>(
        _ setting: String, _ value: Value, in range: ClosedRange<Value>, allowed: String
    ) throws(ConfigurationError) {
        guard range.contains(value) else { throw .invalid(setting: setting, value: "\(value)", allowed: allowed) }
    }

    /// Parses `MIN-MAX`.
    public static func parsePortRange(_ text: String) -> ClosedRange<UInt16>? {
        let bounds = text.split(separator: "-")
        guard bounds.count == 2, let low = UInt16(bounds[0]), let high = UInt16(bounds[1]), low <= high else {
            return nil
        }
        return low...high
    }
}

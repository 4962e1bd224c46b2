import Cluster
import H323
import H323Edge
import Logging
import MediaPlane
import ServiceEdge

/// One setting of a node, described once: its name (the `spillway serve` flag and the TOML key),
/// its help text, whether a reload (SIGHUP) applies it, how a flag's text and a config file's
/// typed value set it, and how a change is told. The command line, the TOML reader, the reload and
/// restart lists and the README's settings table all come from `NodeConfiguration.settings`.
public struct NodeSetting: Sendable {
    public let name: String
    public let help: String
    /// Taken from a reloaded config file by a running node; the others need a restart.
    public let isReloadable: Bool
    /// Each use adds to a list (`peer`, `interface`, `h323-route`); the others replace.
    public let isRepeatable: Bool
    fileprivate let apply: @Sendable (inout NodeConfiguration, String) throws(ConfigurationError) -> Void
    /// Sets it from a config file's value, in the file's own type: numbers as numbers, the rest as strings.
    fileprivate let applyFileValue: @Sendable (inout NodeConfiguration, FileValue) throws(ConfigurationError) -> Void
    fileprivate let reset: @Sendable (inout NodeConfiguration) -> Void
    /// Whether two configurations hold different values of it, to tell what a reload changed.
    fileprivate let differs: @Sendable (NodeConfiguration, NodeConfiguration) -> Bool

    private init(
        name: String, help: String, isReloadable: Bool, isRepeatable: Bool,
        apply: @escaping @Sendable (inout NodeConfiguration, String) throws(ConfigurationError) -> Void,
        applyFileValue: (@Sendable (inout NodeConfiguration, FileValue) throws(ConfigurationError) -> Void)? = nil,
        reset: @escaping @Sendable (inout NodeConfiguration) -> Void,
        differs: @escaping @Sendable (NodeConfiguration, NodeConfiguration) -> Bool
    ) {
        self.name = name
        self.help = help
        self.isReloadable = isReloadable
        self.isRepeatable = isRepeatable
        self.apply = apply
        self.applyFileValue = applyFileValue ?? Self.quoted(name, apply)
        self.reset = reset
        self.differs = differs
    }

    /// Applies a config file's string as a flag's text; any other type is refused.
    private static func quoted(
        _ name: String,
        _ apply: @escaping @Sendable (inout NodeConfiguration, String) throws(ConfigurationError) -> Void
    ) -> @Sendable (inout NodeConfiguration, FileValue) throws(ConfigurationError) -> Void {
        { configuration, value throws(ConfigurationError) in
            guard case .text(let text) = value else {
                throw .invalid(setting: name, value: "\(value)", allowed: "a string in quotes, e.g. \(name) = \"...\"")
            }
            try apply(&configuration, text)
        }
    }

    /// A setting whose text is parsed by `parse` into the value at `keyPath`; `allowed` tells an
    /// operator what a refused text should have been.
    static func value<Value: Equatable & Sendable>(
        _ name: String, _ keyPath: WritableKeyPath<NodeConfiguration, Value> & Sendable, reloadable: Bool = false,
        allowed: String, help: String, parse: @escaping @Sendable (String) -> Value?
    ) -> NodeSetting {
        NodeSetting(
            name: name, help: help, isReloadable: reloadable, isRepeatable: false,
            apply: { configuration, text throws(ConfigurationError) in
                guard let value = parse(text) else { throw .invalid(setting: name, value: text, allowed: allowed) }
                configuration[keyPath: keyPath] = value
            },
            reset: { _ in }, differs: { $0[keyPath: keyPath] != $1[keyPath: keyPath] })
    }

    /// A number at `keyPath`: a flag's text, or a TOML integer or float (a quoted number is refused).
    static func number<Value: SettingNumber>(
        _ name: String, _ keyPath: WritableKeyPath<NodeConfiguration, Value> & Sendable, reloadable: Bool = false,
        allowed: String, help: String
    ) -> NodeSetting {
        numeric(name, keyPath, reloadable: reloadable, allowed: allowed, help: help) { (value: Value) in value }
    }

    /// An optional number at `keyPath` (unset until given).
    static func number<Value: SettingNumber>(
        _ name: String, _ keyPath: WritableKeyPath<NodeConfiguration, Value?> & Sendable, allowed: String, help: String
    ) -> NodeSetting {
        numeric(name, keyPath, reloadable: false, allowed: allowed, help: help) { (value: Value) in .some(value) }
    }

    /// A number stored at `keyPath` as `store` makes it.
    private static func numeric<Value: SettingNumber, Stored: Equatable & Sendable>(
        _ name: String, _ keyPath: WritableKeyPath<NodeConfiguration, Stored> & Sendable, reloadable: Bool,
        allowed: String,
        help: String, store: @escaping @Sendable (Value) -> Stored
    ) -> NodeSetting {
        NodeSetting(
            name: name, help: help, isReloadable: reloadable, isRepeatable: false,
            apply: { configuration, text throws(ConfigurationError) in
                guard let value = Value(text.trimmingSpaces) else {
                    throw .invalid(setting: name, value: text, allowed: allowed)
                }
                configuration[keyPath: keyPath] = store(value)
            },
            applyFileValue: { configuration, fileValue throws(ConfigurationError) in
                guard let value = Value(fileValue) else {
                    throw .invalid(
                        setting: name, value: "\(fileValue)", allowed: "\(allowed), as a TOML \(Value.fileTypeName)")
                }
                configuration[keyPath: keyPath] = store(value)
            },
            reset: { _ in }, differs: { $0[keyPath: keyPath] != $1[keyPath: keyPath] })
    }

    /// Text taken as it is (an address checked when the configuration is validated).
    static func text(_ name: String, _ keyPath: WritableKeyPath<NodeConfiguration, String> & Sendable, help: String)
        -> NodeSetting
    {
        value(name, keyPath, allowed: "", help: help) { $0 }
    }

    /// Optional text taken as it is.
    static func text(_ name: String, _ keyPath: WritableKeyPath<NodeConfiguration, String?> & Sendable, help: String)
        -> NodeSetting
    {
        value(name, keyPath, allowed: "", help: help) { .some($0) }
    }

    /// One of an enumeration's raw values.
    static func choice<Value: RawRepresentable & CaseIterable & Equatable & Sendable>(
        _ name: String, _ keyPath: WritableKeyPath<NodeConfiguration, Value> & Sendable, help: String
    ) -> NodeSetting where Value.RawValue == String {
        let names = Value.allCases.map(\.rawValue)
        let allowed =
            names.count == 2
            ? names.joined(separator: " or ") : names.dropLast().joined(separator: ", ") + " or " + names.last!
        return value(name, keyPath, allowed: allowed, help: help) { Value(rawValue: $0) }
    }

    /// A list that each use adds one parsed element to.
    static func list<Element: Equatable & Sendable>(
        _ name: String, _ keyPath: WritableKeyPath<NodeConfiguration, [Element]> & Sendable, allowed: String,
        help: String,
        parse: @escaping @Sendable (String) -> Element?
    ) -> NodeSetting {
        NodeSetting(
            name: name, help: help, isReloadable: false, isRepeatable: true,
            apply: { configuration, text throws(ConfigurationError) in
                guard let element = parse(text) else { throw .invalid(setting: name, value: text, allowed: allowed) }
                configuration[keyPath: keyPath].append(element)
            },
            reset: { $0[keyPath: keyPath] = [] }, differs: { $0[keyPath: keyPath] != $1[keyPath: keyPath] })
    }
}

extension NodeConfiguration {
    /// Every setting, in the order `spillway serve --help` and the README list them.
    public static let settings: [NodeSetting] = [
        .text("node-id", \.nodeID, help: "This node's identity, reported to clients and peers."),
        .text("ng", \.ngAddress, help: "NG control protocol address (HOST:PORT). Default 127.0.0.1:2223."),
        .value(
            "ng-clients", \.ngClients, reloadable: true,
            allowed: "comma-separated addresses or prefixes, e.g. 127.0.0.0/8,10.20.0.0/16,2001:db8::/32",
            help:
                "Networks NG commands are taken from, e.g. 127.0.0.0/8,10.20.0.0/16; others are dropped and counted. Default loopback.",
            parse: ClientNetworks.init(parsing:)),
        .text(
            "media-ip", \.mediaIP,
            help: "Address media sockets bind to and SDP advertises: the shorthand for one --interface."),
        .list(
            "interface", \.interfaces,
            allowed:
                "NAME/IP or NAME/IP!ADVERTISED with numeric addresses of one family, e.g. external/10.0.0.5!203.0.113.5",
            help:
                "A media interface NAME/IP[!ADVERTISED] (bind IP, write ADVERTISED in SDP); repeat it; the first is the default. Replaces --media-ip.",
            parse: MediaInterface.init(parsing:)),
        .value(
            "port-range", \.portRange, allowed: "MIN-MAX, e.g. 30000-39999",
            help: "Media ports MIN-MAX, shared by all interfaces: RTP on even ports, RTCP on the next.",
            parse: NodeConfiguration.parsePortRange),
        .number("workers", \.workers, allowed: "an integer from 1 to 64", help: "Number of media worker threads."),
        .value(
            "pin-cpus", \.pinCPUs, allowed: "a comma-separated list of CPU numbers, e.g. 0,1",
            help: "Comma-separated CPUs to pin the media workers to.",
            parse: { text in
                let cpus = text.split(separator: ",").map { Int($0.trimmingSpaces) }
                return cpus.isEmpty || cpus.contains(nil) ? nil : cpus.compactMap { $0 }
            }),
        .choice(
            "data-plane", \.dataPlane,
            help: "What the media workers run on: io_uring (default; epoll where it is unavailable) or epoll."),
        .choice(
            "kernel-forwarding", \.kernelForwarding,
            help:
                "Forward latched plain RTP/RTCP in the kernel (eBPF): on (required), off, or auto (default: where the program loads, else userspace)."
        ),
        .list(
            "kernel-device", \.kernelDevices, allowed: "a network device name, e.g. eth0",
            help:
                "A network device the kernel fast path attaches to; repeat it. Default: the devices holding the media addresses.",
            parse: { $0.isEmpty ? nil : $0 }),
        .number(
            "media-timeout", \.mediaTimeout, allowed: "an integer from 1 to 86400 seconds",
            help: "Seconds without media before a call is torn down."),
        .number(
            "relatch-silence", \.relatchSilence, allowed: "seconds from 0 to 60",
            help:
                "Seconds a latched media source must be silent before its stream may move to a new address (default 1)."
        ),
        .number(
            "opus-bitrate", \.opusBitRate, allowed: "an integer from 6000 to 510000 bits per second",
            help:
                "The Opus encoder's bit rate for transcoded calls (default 32000); a call's NG codec options or its receiver's maxaveragebitrate override it."
        ),
        .number(
            "opus-complexity", \.opusComplexity, allowed: "an integer from 0 (fastest) to 10 (best)",
            help:
                "The Opus encoder's complexity for transcoded calls (default 5); a call's NG codec options (complexity=N) override it."
        ),
        .text(
            "recording-dir", \.recordingDirectory,
            help: "Directory for call recordings (pcap); recording is off without it."),
        .value(
            "log-level", \.logLevel, allowed: Logger.Level.allCases.map(\.rawValue).joined(separator: ", "),
            help: "trace, debug, info, notice, warning, error or critical.", parse: Logger.Level.init(rawValue:)),
        .text(
            "metrics", \.metricsAddress,
            help: "HTTP address (HOST:PORT) serving /metrics (Prometheus) and /status (JSON); off when not given."),
        .number(
            "drain-grace", \.drainGrace, reloadable: true, allowed: "seconds from 0 to 86400",
            help: "Seconds SIGTERM waits for calls to end while refusing new ones. Default 30."),
        .number(
            "max-sessions", \.capacity.sessions, reloadable: true,
            allowed: "a whole number of calls, 0 for no session limit",
            help: "Session capacity: calls the node may carry (0: no limit)."),
        .number(
            "max-packet-rate", \.capacity.packetsPerSecond, reloadable: true,
            allowed: "packets per second, 0 for no limit",
            help: "Media packets/s the node may receive (0: no limit)."),
        .number(
            "max-bit-rate", \.capacity.bitsPerSecond, reloadable: true, allowed: "bits per second, 0 for no limit",
            help: "Media bits/s the node may receive (0: no limit)."),
        .number(
            "max-cpu", \.capacity.cpu, reloadable: true,
            allowed: "a share of the media workers' time from 0 to 1, 0 for no limit",
            help: "Busy share of the media workers allowed, 0-1 (0: no limit)."),
        .number(
            "threshold", \.threshold, reloadable: true, allowed: "a number from 0 (drain) to 1",
            help: "Take new calls while load (highest usage/capacity ratio) is below this, 0-1; 0 drains."),
        .text(
            "cluster", \.clusterAddress,
            help: "Cluster address (HOST:PORT) for workload sharing and forwarded requests."),
        .text("cluster-key-file", \.clusterKeyFile, help: "File holding the cluster's shared HMAC key (>= 16 bytes)."),
        .list(
            "peer", \.peers, allowed: "ID@HOST:PORT, e.g. node-2@127.0.0.12:2224",
            help: "A peer node ID@HOST:PORT (its cluster address); repeat it; the order is the sequence priority.",
            parse: PeerAddress.init(parsing:)),
        .choice("policy", \.policy, help: "Where calls spill over the threshold: delegate, sequence or monitor."),
        .choice("share", \.share, help: "How workload is shared with peers: push, poll or continuous."),
        .number(
            "share-interval", \.shareInterval, allowed: "seconds from 0.01 to 60",
            help: "Seconds between workload reports. Default 1."),
        .number(
            "report-age-limit", \.reportAgeLimit, allowed: "seconds, more than the share interval",
            help: "Seconds after which a peer's report is not trusted and the peer is down. Default 3 intervals."),
        .number(
            "max-hops", \.maxHops, allowed: "an integer from 1 to 32",
            help: "How many times a new call's request may be forwarded. Default 4."),
        .number(
            "forward-timeout", \.forwardTimeout, allowed: "seconds from 0.01 to 10",
            help: "Seconds to wait for a forwarded request's reply. Default 0.5."),
        .number(
            "poll-timeout", \.pollTimeout, allowed: "seconds from 0.01 to 10",
            help: "Seconds to wait for poll replies. Default 0.2."),
        .text("monitor", \.monitorAddress, help: "The load monitor's address (HOST:PORT)."),
        .text(
            "ras", \.rasAddress,
            help: "H.225.0 RAS address (HOST:PORT) where the node answers LRQ/ARQ/RRQ; off when not given."),
        .choice(
            "ras-reply", \.rasReply,
            help:
                "Where the LCF of a forwarded LRQ goes: direct (to the requester) or reverse (back through the forwarders). Default direct."
        ),
        .text(
            "call-signal", \.callSignalAddress,
            help:
                "Where the node takes H.323 call signalling (TCP HOST:PORT), the address LCF/ACF name. Default the RAS host, port 1720, when --ras is given."
        ),
        .choice(
            "h323-reply", \.h323Reply,
            help:
                "How a Setup over the threshold reaches the chosen node: direct (Facility callForwarded to the caller) or reverse (forwarded, signalling relayed here). Default direct."
        ),
        .list(
            "h323-route", \.h323Routes, allowed: "PREFIX=HOST:PORT with a numeric host, e.g. 4930=192.0.2.10:1720",
            help:
                "A static route for H.323 calls, PREFIX=HOST:PORT: dialled digits or H.323-IDs starting with PREFIX go there (longest prefix wins); repeat it.",
            parse: H323Route.init(parsing:)),
        .text(
            "monitor-ras", \.monitorRASAddress,
            help: "The load monitor's RAS address: register there and report workload in RAI."),
        .value(
            "redis", \.redis, allowed: "HOST:PORT or HOST:PORT/DB with a numeric host, e.g. 127.0.0.1:6379/2",
            help:
                "The call store, Redis at HOST:PORT[/DB]: each call's owner and state are kept there, so any node can reach it and a standby can carry it on.",
            parse: { RedisAddress(parsing: $0).map { .some($0) } }),
        .text("redis-auth-file", \.redisAuthFile, help: "File holding the Redis password (AUTH); none when not given."),
        .list(
            "standby-for", \.standbyFor, allowed: "a peer's node ID, e.g. node-2",
            help:
                "A peer whose calls this node carries on when it dies (no report and no Redis heartbeat for --takeover-after); repeat it.",
            parse: { $0.isEmpty ? nil : $0 }),
        .number(
            "takeover-after", \.takeoverAfter, allowed: "seconds from 0.5 to 60",
            help: "Seconds a watched peer must be silent before this node takes over its calls. Default 2."),
    ]

    /// The names `set(_:to:)` accepts: the flag names of `spillway serve`.
    public static var settingNames: [String] { settings.map(\.name) }

    /// The settings a running node takes from a reloaded config file (SIGHUP); the others need a restart.
    public static var reloadableSettings: [String] { settings.filter(\.isReloadable).map(\.name) }

    /// The setting called `name`, or an error naming the ones there are.
    public static func setting(named name: String) throws(ConfigurationError) -> NodeSetting {
        guard let setting = settings.first(where: { $0.name == name }) else {
            throw .unknownSetting(name, known: settingNames)
        }
        return setting
    }

    /// Sets one setting from its text form. Repeatable settings add to their lists; the others replace.
    public mutating func set(_ setting: String, to text: String) throws(ConfigurationError) {
        try Self.setting(named: setting).apply(&self, text)
    }

    /// Empties a repeatable setting's list, so that values given later replace the earlier ones
    /// (flags given for `peer` replace the config file's peers).
    public mutating func clear(_ setting: String) throws(ConfigurationError) {
        try Self.setting(named: setting).reset(&self)
    }

    /// The settings that differ in `reloaded` and cannot change while the node runs.
    public func settingsNeedingRestart(toBecome reloaded: NodeConfiguration) -> [String] {
        Self.settings.filter { !$0.isReloadable && $0.differs(self, reloaded) }.map(\.name)
    }

    /// Sets one setting from a config file's typed value. Repeatable settings add to their lists.
    mutating func set(_ setting: String, toFileValue value: FileValue) throws(ConfigurationError) {
        try Self.setting(named: setting).applyFileValue(&self, value)
    }
}

/// A setting's value as a config file holds it, in TOML's own types.
enum FileValue: Sendable, CustomStringConvertible {
    case text(String)
    case integer(Int)
    case number(Double)
    case flag(Bool)

    var description: String {
        switch self {
        case .text(let text): "\"\(text)\""
        case .integer(let number): "\(number)"
        case .number(let number): "\(number)"
        case .flag(let flag): "\(flag)"
        }
    }
}

/// A numeric setting's type: read from a flag's text, or from a config file's integer or float.
protocol SettingNumber: LosslessStringConvertible, Equatable, Sendable {
    /// The value of a config file's number; nil for a string, or a float where an integer is wanted.
    init?(_ fileValue: FileValue)
    /// The TOML type it is written as, for errors.
    static var fileTypeName: String { get }
}

extension Int: SettingNumber {
    init?(_ fileValue: FileValue) {
        guard case .integer(let number) = fileValue else { return nil }
        self = number
    }

    static var fileTypeName: String { "integer" }
}

extension Double: SettingNumber {
    init?(_ fileValue: FileValue) {
        switch fileValue {
        case .integer(let number): self = Double(number)
        case .number(let number): self = number
        case .text, .flag: return nil
        }
    }

    static var fileTypeName: String { "number" }
}

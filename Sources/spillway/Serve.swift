import ArgumentParser
import Logging
import SpillwayNode

/// `spillway serve`: run one relay node.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a relay node: the NG control protocol plus the media plane.")

    @Option(name: .customLong("node-id"), help: "This node's identity, reported to clients and peers.")
    var nodeID: String?

    @Option(help: "NG control protocol address (HOST:PORT). Default 127.0.0.1:2223.")
    var ng: String?

    @Option(name: .customLong("media-ip"), help: "Address media sockets bind to and SDP advertises.")
    var mediaIP: String?

    @Option(name: .customLong("port-range"), help: "Media ports MIN-MAX: RTP on even ports, RTCP on the next.")
    var portRange: String?

    @Option(help: "Number of media worker threads.")
    var workers: Int?

    @Option(name: .customLong("media-timeout"), help: "Seconds without media before a call is torn down.")
    var mediaTimeout: Int?

    @Option(name: .customLong("pin-cpus"), help: "Comma-separated CPUs to pin the media workers to.")
    var pinCPUs: String?

    @Option(help: "A TOML file with the same settings (keys are the flag names); flags override it.")
    var config: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String?

    func run() async throws {
        let configuration = try resolvedConfiguration()
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let node = try await RelayNode.start(configuration, logger: Logger(label: "spillway"))
        try await node.waitUntilClosed()
    }

    /// The file's settings, overridden by flags, validated.
    func resolvedConfiguration() throws -> NodeConfiguration {
        var configuration = NodeConfiguration()
        if let config { try configuration.apply(tomlFile: config) }
        if let nodeID { configuration.nodeID = nodeID }
        if let ng { configuration.ngAddress = ng }
        if let mediaIP { configuration.mediaIP = mediaIP }
        if let portRange {
            guard let range = NodeConfiguration.parsePortRange(portRange) else {
                throw ValidationError("--port-range '\(portRange)' is not MIN-MAX, e.g. 30000-39999")
            }
            configuration.portRange = range
        }
        if let workers { configuration.workers = workers }
        if let mediaTimeout { configuration.mediaTimeout = mediaTimeout }
        if let pinCPUs {
            let cpus = pinCPUs.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !cpus.contains(nil) else { throw ValidationError("--pin-cpus '\(pinCPUs)' is not a list like 0,1") }
            configuration.pinCPUs = cpus.compactMap { $0 }
        }
        if let logLevel {
            guard let level = Logger.Level(rawValue: logLevel) else {
                throw ValidationError("--log-level '\(logLevel)' is not one of trace, debug, info, notice, warning, error, critical")
            }
            configuration.logLevel = level
        }
        try configuration.validate()
        return configuration
    }
}

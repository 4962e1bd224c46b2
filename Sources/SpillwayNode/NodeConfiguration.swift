import Logging
import MediaPlane

/// The settings of one relay node, from `spillway serve` flags and/or a TOML file whose keys are the
/// flag names (`node-id`, `ng`, `media-ip`, `port-range`, `workers`, `media-timeout`, `log-level`).
public struct NodeConfiguration: Sendable, Equatable {
    public var nodeID = "spillway-1"
    /// Where the NG control protocol listens.
    public var ngAddress = "127.0.0.1:2223"
    /// The address media sockets bind to and SDP advertises.
    public var mediaIP = "127.0.0.1"
    public var portRange: ClosedRange<UInt16> = 30000...39999
    public var workers = 1
    /// Seconds without media before a call is torn down.
    public var mediaTimeout = 60
    public var logLevel = Logger.Level.info
    /// CPUs to pin the media workers to, in order (empty: no pinning).
    public var pinCPUs: [Int] = []

    public init() {}

    /// Checks every setting; the error names the setting, its value and what is allowed.
    public func validate() throws(ConfigurationError) {
        guard !nodeID.isEmpty, nodeID.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }) else {
            throw .invalid(setting: "node-id", value: nodeID, allowed: "letters, digits, '-', '_' and '.'")
        }
        guard SocketAddress(hostAndPort: ngAddress) != nil else {
            throw .invalid(setting: "ng", value: ngAddress, allowed: "a numeric HOST:PORT such as 127.0.0.1:2223")
        }
        guard SocketAddress(ip: mediaIP, port: 0) != nil else {
            throw .invalid(setting: "media-ip", value: mediaIP, allowed: "a numeric IPv4 or IPv6 address")
        }
        guard PortAllocator(range: portRange).capacity >= 1, portRange.lowerBound >= 1024 else {
            throw .invalid(
                setting: "port-range", value: "\(portRange.lowerBound)-\(portRange.upperBound)",
                allowed: "MIN-MAX within 1024-65535 holding at least one even/odd port pair")
        }
        guard (1...64).contains(workers) else {
            throw .invalid(setting: "workers", value: "\(workers)", allowed: "1 to 64")
        }
        guard (1...86400).contains(mediaTimeout) else {
            throw .invalid(setting: "media-timeout", value: "\(mediaTimeout)", allowed: "1 to 86400 seconds")
        }
    }

    /// Parses `MIN-MAX`.
    public static func parsePortRange(_ text: String) -> ClosedRange<UInt16>? {
        let bounds = text.split(separator: "-")
        guard bounds.count == 2, let low = UInt16(bounds[0]), let high = UInt16(bounds[1]), low <= high else { return nil }
        return low...high
    }
}

/// A setting that cannot be used, in words an operator can act on.
public enum ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalid(setting: String, value: String, allowed: String)
    case file(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalid(let setting, let value, let allowed):
            "setting '\(setting)' has value '\(value)'; allowed: \(allowed)"
        case .file(let path, let reason):
            "config file \(path): \(reason)"
        }
    }
}

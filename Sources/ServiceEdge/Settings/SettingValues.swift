/// A peer node as configured: `ID@HOST:PORT`, the port being its cluster port.
public struct PeerAddress: Sendable, Equatable, CustomStringConvertible {
    public var id: String
    public var address: String

    public init(id: String, address: String) {
        self.id = id
        self.address = address
    }

    public init?(parsing text: String) {
        guard let at = text.firstIndex(of: "@"), at != text.startIndex else { return nil }
        id = String(text[..<at])
        address = String(text[text.index(after: at)...])
        guard !address.isEmpty else { return nil }
    }

    public var description: String { "\(id)@\(address)" }
}

/// A setting that cannot be used, in words an operator can act on.
public enum ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalid(setting: String, value: String, allowed: String)
    case unknownSetting(String, known: [String])
    case file(path: String, reason: String)

    public var description: String {
        switch self {
        case .invalid(let setting, let value, let allowed):
            "setting '\(setting)' has value '\(value)'; allowed: \(allowed)"
        case .unknownSetting(let setting, let known):
            "unknown setting '\(setting)'; known: \(known.joined(separator: ", "))"
        case .file(let path, let reason):
            "config file \(path): \(reason)"
        }
    }
}

package extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

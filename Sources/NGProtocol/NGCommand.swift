import Bencode

/// A command as an NG client sends it: one the call registry carries out (`NGRequest`), or
/// Spillway's own `workload`, which the node answers itself.
public enum NGCommand: Sendable, Equatable {
    case call(NGRequest)
    case workload(WorkloadChange)

    /// Decodes a request body.
    public init(_ body: BencodeValue) throws(NGError) {
        if body["command"]?.stringValue == "workload" {
            self = .workload(try WorkloadChange(body))
        } else {
            self = .call(try NGRequest(body))
        }
    }
}

/// `workload`: reads the node's threshold and capacities, and changes those it names.
public struct WorkloadChange: Sendable, Equatable {
    /// One setting to change, by its name (as `spillway serve` spells it), as text.
    public struct Setting: Sendable, Equatable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// The settings `workload` may change, in the order they are applied.
    public static let settingNames = ["threshold", "max-sessions", "max-packet-rate", "max-bit-rate", "max-cpu"]

    /// What to change; empty to only read.
    public var settings: [Setting]

    public init(settings: [Setting]) {
        self.settings = settings
    }

    init(_ body: BencodeValue) throws(NGError) {
        settings = []
        for name in Self.settingNames {
            guard let value = body[name] else { continue }
            if let text = value.stringValue {
                settings.append(Setting(name: name, value: text))
            } else if let number = value.integerValue {
                settings.append(Setting(name: name, value: String(number)))
            } else {
                throw .invalidValue(key: name, value: "\(value)", expected: "a number, as an integer or a string")
            }
        }
    }
}

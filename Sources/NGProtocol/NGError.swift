import Bencode

/// Why an NG request was refused. The text goes to the client as `error-reason` and to the log.
public enum NGError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformedBencode(BencodeError)
    case notADictionary
    case missingKey(String)
    case invalidValue(key: String, value: String, expected: String)
    case unknownCommand(String)
    case unsupported(key: String, value: String, reason: String)

    public var description: String {
        switch self {
        case .malformedBencode(let error):
            "Failed to decode bencode: \(error)"
        case .notADictionary:
            "The message body is not a bencode dictionary"
        case .missingKey(let key):
            "No \(key) in message"
        case .invalidValue(let key, let value, let expected):
            "Invalid value '\(value)' for key '\(key)': expected \(expected)"
        case .unknownCommand(let command):
            "Unrecognized command '\(command)'; supported: ping, offer, answer, delete, query, list, statistics, start recording, stop recording, workload"
        case .unsupported(let key, let value, let reason):
            "'\(key)' = '\(value)' is not supported: \(reason)"
        }
    }
}

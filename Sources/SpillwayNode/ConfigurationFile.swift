import Logging
import TOMLKit

#if canImport(Glibc)
import Glibc
#endif

extension NodeConfiguration {
    /// Reads a TOML file over these settings. Unknown keys and wrongly typed values are errors that
    /// name the key; TOML syntax errors name the line.
    public mutating func apply(tomlFile path: String) throws(ConfigurationError) {
        guard let text = Self.readFile(path) else {
            throw .file(path: path, reason: "cannot be read (\(String(cString: strerror(errno))))")
        }
        try apply(toml: text, source: path)
    }

    /// Applies TOML text; `source` names it in errors.
    public mutating func apply(toml text: String, source: String) throws(ConfigurationError) {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw .file(path: source, reason: "line \(error.source.begin.line): \(error.description)")
        } catch {
            throw .file(path: source, reason: "\(error)")
        }
        for (key, value) in table {
            func string() throws(ConfigurationError) -> String {
                guard let text = value.string else {
                    throw .file(path: source, reason: "'\(key)' must be a string, not \(value)")
                }
                return text
            }
            func integer() throws(ConfigurationError) -> Int {
                guard let number = value.int else {
                    throw .file(path: source, reason: "'\(key)' must be an integer, not \(value)")
                }
                return number
            }
            switch key {
            case "node-id": nodeID = try string()
            case "ng": ngAddress = try string()
            case "media-ip": mediaIP = try string()
            case "port-range":
                let text = try string()
                guard let range = Self.parsePortRange(text) else {
                    throw .invalid(setting: "port-range", value: text, allowed: "MIN-MAX, e.g. \"30000-39999\"")
                }
                portRange = range
            case "workers": workers = try integer()
            case "media-timeout": mediaTimeout = try integer()
            case "log-level":
                let text = try string()
                guard let level = Logger.Level(rawValue: text) else {
                    throw .invalid(setting: "log-level", value: text, allowed: Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))
                }
                logLevel = level
            default:
                throw .file(
                    path: source,
                    reason: "unknown setting '\(key)'; known: node-id, ng, media-ip, port-range, workers, media-timeout, log-level")
            }
        }
    }

    private static func readFile(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&chunk, 1, chunk.count, file)
            if count <= 0 { break }
            bytes.append(contentsOf: chunk[..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

import ServiceEdge
import TOMLKit

#if canImport(Glibc)
import Glibc
#endif

extension NodeConfiguration {
    /// Reads a TOML file over these settings. Unknown keys and wrongly typed values are errors that
    /// name the key; TOML syntax errors name the line.
    public mutating func apply(tomlFile path: String) throws(ConfigurationError) {
        guard let text = readFileContents(path).map({ String(decoding: $0, as: UTF8.self) }) else {
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
            do {
                if let array = value.array {
                    for element in array { try set(key, toFileValue: try Self.fileValue(element, key: key)) }
                } else {
                    try set(key, toFileValue: try Self.fileValue(value, key: key))
                }
            } catch {
                throw Self.located(error, in: text, source: source) ?? error
            }
        }
    }

    /// Validates the settings; an error about a setting the file at `path` sets names that line.
    public func validate(settingsFrom path: String?) throws(ConfigurationError) {
        do {
            try validate()
        } catch {
            guard let path, let bytes = readFileContents(path) else { throw error }
            throw Self.located(error, in: String(decoding: bytes, as: UTF8.self), source: path) ?? error
        }
    }

    /// `error` told as about line N of the file, when the setting it names is set there.
    private static func located(_ error: ConfigurationError, in text: String, source: String) -> ConfigurationError? {
        let setting: String
        switch error {
        case .invalid(let name, _, _), .unknownSetting(let name, _): setting = name
        case .file: return nil
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard
            let index = lines.firstIndex(where: { line in
                let key = line.split(separator: "=", maxSplits: 1).first.map {
                    String($0.filter { !" \t\"".contains($0) })
                }
                return line.contains("=") && key == setting
            })
        else { return nil }
        return .file(path: source, reason: "line \(index + 1): \(error)")
    }

    /// A TOML string, integer, float or boolean as the setting takes it.
    private static func fileValue(_ value: any TOMLValueConvertible, key: String) throws(ConfigurationError)
        -> FileValue
    {
        if let text = value.string { return .text(text) }
        if let number = value.int { return .integer(number) }
        if let number = value.double { return .number(number) }
        if let flag = value.bool { return .flag(flag) }
        throw .invalid(setting: key, value: "\(value)", allowed: "a string or a number")
    }
}

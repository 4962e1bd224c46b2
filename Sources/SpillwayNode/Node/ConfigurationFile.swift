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
                    for element in array { try set(key, to: try Self.text(of: element, key: key)) }
                } else {
                    try set(key, to: try Self.text(of: value, key: key))
                }
            } catch .unknownSetting(let name, let known) {
                throw .file(path: source, reason: ConfigurationError.unknownSetting(name, known: known).description)
            }
        }
    }

    /// A TOML string, integer, float or boolean as the text `set(_:to:)` reads.
    private static func text(of value: any TOMLValueConvertible, key: String) throws(ConfigurationError) -> String {
        if let text = value.string { return text }
        if let number = value.int { return String(number) }
        if let number = value.double { return String(number) }
        if let flag = value.bool { return String(flag) }
        throw .invalid(setting: key, value: "\(value)", allowed: "a string or a number")
    }
}

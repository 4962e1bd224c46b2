import ArgumentParser
import Logging
import SpillwayNode

/// `spillway serve`: run one relay node. Its settings come from `NodeConfiguration.settings`: each
/// is a flag `--NAME VALUE` (or `--NAME=VALUE`) and a key of the `--config` TOML file.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a relay node: the NG control protocol, the media plane, and cluster steering.",
        usage: "spillway serve [--config <file>] [--<setting> <value> ...]",
        discussion: settingsHelp)

    @Option(
        help: "A TOML file with the same settings (keys are the setting names); flags override it. SIGHUP reloads it.")
    var config: String?

    @Argument(
        parsing: .allUnrecognized,
        help: ArgumentHelp("The settings listed above, as --NAME VALUE.", valueName: "settings"))
    var settings: [String] = []

    /// Every setting with its help, for `--help`.
    static var settingsHelp: String {
        "SETTINGS (flags, or keys of the --config file; repeat the ones that say so):\n"
            + NodeConfiguration.settings.map { setting in
                let flag = "  --\(setting.name) <value>"
                return flag + "\n" + wrapped(setting.help, indent: 8, width: 80)
                    + (setting.isReloadable ? " Reloaded on SIGHUP." : "")
            }.joined(separator: "\n")
    }

    static func wrapped(_ text: String, indent: Int, width: Int) -> String {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, indent + line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += (line.isEmpty ? "" : " ") + word
        }
        lines.append(line)
        return lines.map { String(repeating: " ", count: indent) + $0 }.joined(separator: "\n")
    }

    /// The `--NAME VALUE` and `--NAME=VALUE` pairs of the command line, in order.
    static func settingPairs(_ arguments: [String]) throws -> [(name: String, value: String)] {
        var pairs: [(String, String)] = []
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw ValidationError("'\(argument)' is not a setting; settings are given as --NAME VALUE (see --help)")
            }
            let flag = argument.dropFirst(2)
            if let equals = flag.firstIndex(of: "=") {
                pairs.append((String(flag[..<equals]), String(flag[flag.index(after: equals)...])))
            } else if let value = remaining.popFirst() {
                pairs.append((String(flag), value))
            } else {
                throw ValidationError("setting '--\(flag)' has no value")
            }
        }
        return pairs
    }

    func run() async throws {
        let configuration = try resolvedConfiguration()
        bootstrapLogging(configuration.logLevel)
        let logger = Logger(label: "spillway")
        let node = try await RelayNode.start(configuration, logger: logger)
        let signals = NodeSignals(
            node: node, configuration: configuration, logger: logger, reload: resolvedConfiguration)
        try await node.waitUntilClosed()
        withExtendedLifetime(signals) {}
    }

    /// The file's settings, overridden by flags, validated. A repeatable setting given as flags
    /// replaces the file's list.
    func resolvedConfiguration() throws -> NodeConfiguration {
        var configuration = NodeConfiguration()
        if let config { try configuration.apply(tomlFile: config) }
        var replacedLists: Set<String> = []
        for (name, value) in try Self.settingPairs(settings) {
            if try NodeConfiguration.setting(named: name).isRepeatable, replacedLists.insert(name).inserted {
                try configuration.clear(name)
            }
            try configuration.set(name, to: value)
        }
        try configuration.validate(settingsFrom: config)
        return configuration
    }
}

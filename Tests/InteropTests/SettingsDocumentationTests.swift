import Foundation
import SpillwayNode
import Testing

/// Every setting the node reads is a flag of `spillway serve`, a TOML key, and a row of the README's
/// settings table, which says truly whether SIGHUP reloads it.
@Suite struct SettingsDocumentationTests {
    /// The README table's rows: setting name and its "on SIGHUP" column.
    static func readmeRows() throws -> [String: String] {
        let readme = try String(contentsOf: packageDirectory.appendingPathComponent("README.md"), encoding: .utf8)
        let table = try #require(readme.components(separatedBy: "<!-- settings-table -->").dropFirst().first)
        var rows: [String: String] = [:]
        for line in table.split(separator: "\n").dropFirst(2) {
            guard line.hasPrefix("| `") else { break }
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            rows[cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))] = cells[2]
        }
        return rows
    }

    @Test func everySettingIsAFlagATOMLKeyAndARowOfTheREADMETable() async throws {
        let rows = try Self.readmeRows()
        #expect(Set(rows.keys) == Set(NodeConfiguration.settingNames), "README table vs settingNames")
        for name in NodeConfiguration.settingNames {
            #expect(
                rows[name] == (NodeConfiguration.reloadableSettings.contains(name) ? "reload" : "restart"), "\(name)")
            // A TOML key the node knows: a wrong value is refused as such, never as an unknown setting.
            var configuration = NodeConfiguration()
            do {
                try configuration.apply(toml: "\(name) = \"?\"", source: "check.toml")
            } catch {
                #expect(!"\(error)".contains("unknown setting"), "\(name): \(error)")
            }
        }
        let help = try ChildProcess(
            "help", try spillwayExecutable(), ["serve", "--help"], directory: NSTemporaryDirectory())
        #expect(await help.wait(seconds: 30) == 0)
        for name in NodeConfiguration.settingNames {
            #expect(help.output.contains("--\(name) <"), "spillway serve --help lacks --\(name)")
        }
    }
}

import SpillwayNode
import Testing

@Suite struct ConfigurationTests {
    @Test func aTOMLFileSetsEverySetting() throws {
        var configuration = NodeConfiguration()
        try configuration.apply(
            toml: """
                node-id = "edge-7"
                ng = "127.0.0.1:2300"
                media-ip = "127.0.0.7"
                port-range = "31000-31999"
                workers = 2
                media-timeout = 30
                log-level = "debug"
                """, source: "spillway.toml")
        try configuration.validate()
        #expect(configuration.nodeID == "edge-7")
        #expect(configuration.ngAddress == "127.0.0.1:2300")
        #expect(configuration.mediaIP == "127.0.0.7")
        #expect(configuration.portRange == 31000...31999)
        #expect(configuration.workers == 2)
        #expect(configuration.mediaTimeout == 30)
        #expect(configuration.logLevel == .debug)
    }

    @Test(arguments: [
        ("workers = \"two\"", "config file spillway.toml: 'workers' must be an integer, not \"two\""),
        ("port-range = \"9-1\"", "setting 'port-range' has value '9-1'; allowed: MIN-MAX, e.g. \"30000-39999\""),
        ("threads = 4", "config file spillway.toml: unknown setting 'threads'; known: node-id, ng, media-ip, port-range, workers, media-timeout, log-level"),
        ("log-level = \"loud\"", "setting 'log-level' has value 'loud'; allowed: trace, debug, info, notice, warning, error, critical"),
    ])
    func badFileSettingsAreNamed(toml: String, message: String) {
        var configuration = NodeConfiguration()
        #expect { try configuration.apply(toml: toml, source: "spillway.toml") } throws: { "\($0)" == message }
    }

    @Test func aTOMLSyntaxErrorNamesTheLine() {
        var configuration = NodeConfiguration()
        #expect {
            try configuration.apply(toml: "node-id = \"a\"\nworkers = = 2\n", source: "spillway.toml")
        } throws: { "\($0)".hasPrefix("config file spillway.toml: line 2:") }
    }

    @Test(arguments: [
        ("media-ip = \"media.example\"", "setting 'media-ip' has value 'media.example'; allowed: a numeric IPv4 or IPv6 address"),
        ("ng = \"127.0.0.1\"", "setting 'ng' has value '127.0.0.1'; allowed: a numeric HOST:PORT such as 127.0.0.1:2223"),
        ("workers = 0", "setting 'workers' has value '0'; allowed: 1 to 64"),
        ("port-range = \"30001-30001\"", "setting 'port-range' has value '30001-30001'; allowed: MIN-MAX within 1024-65535 holding at least one even/odd port pair"),
        ("media-timeout = 0", "setting 'media-timeout' has value '0'; allowed: 1 to 86400 seconds"),
        ("node-id = \"a b\"", "setting 'node-id' has value 'a b'; allowed: letters, digits, '-', '_' and '.'"),
    ])
    func invalidSettingsAreRejectedWithWhatIsAllowed(toml: String, message: String) throws {
        var configuration = NodeConfiguration()
        try configuration.apply(toml: toml, source: "spillway.toml")
        #expect { try configuration.validate() } throws: { "\($0)" == message }
    }
}

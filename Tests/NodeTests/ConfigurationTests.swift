import Cluster
import MediaPlane
import NIOCore
import ServiceEdge
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
                relatch-silence = 0.5
                opus-bitrate = 32000
                opus-complexity = 9
                threshold = 1
                max-cpu = 0.75
                log-level = "debug"
                data-plane = "epoll"
                """, source: "spillway.toml")
        try configuration.validate()
        #expect(configuration.nodeID == "edge-7")
        #expect(configuration.ngAddress == "127.0.0.1:2300")
        #expect(configuration.mediaIP == "127.0.0.7")
        #expect(configuration.portRange == 31000...31999)
        #expect(configuration.workers == 2)
        #expect(configuration.mediaTimeout == 30)
        #expect(configuration.relatchSilence == 0.5)
        #expect(configuration.opusBitRate == 32000 && configuration.opusComplexity == 9)
        configuration.opusComplexity = 11
        #expect { try configuration.validate() } throws: {
            "\($0)" == "setting 'opus-complexity' has value '11'; allowed: 0 to 10"
        }
        configuration.opusComplexity = 9
        configuration.opusBitRate = 5000
        #expect { try configuration.validate() } throws: {
            "\($0)" == "setting 'opus-bitrate' has value '5000'; allowed: 6000 to 510000 bits per second"
        }
        #expect(configuration.threshold == 1 && configuration.capacity.cpu == 0.75)
        #expect(configuration.logLevel == .debug)
        #expect(configuration.dataPlane == .epoll)
    }

    @Test func interfacesComeAsAListAndMediaIPIsTheShorthandForOne() throws {
        var configuration = NodeConfiguration()
        configuration.mediaIP = "127.0.0.9"
        #expect(configuration.mediaInterfaces == [MediaInterface(name: "default", localIP: "127.0.0.9")])
        try configuration.apply(
            toml: #"interface = ["internal/10.0.0.5", "external/10.1.0.5!203.0.113.5", "v6/2001:db8::5"]"#,
            source: "spillway.toml")
        try configuration.validate()
        #expect(
            configuration.mediaInterfaces.map(\.description) == [
                "internal/10.0.0.5", "external/10.1.0.5!203.0.113.5", "v6/2001:db8::5",
            ])
        #expect(configuration.mediaInterfaces[1].connection.address == "203.0.113.5")
        #expect(configuration.mediaInterfaces[2].isIPv6)
        try configuration.set("interface", to: "internal/10.0.0.6")
        #expect { try configuration.validate() } throws: {
            "\($0)" == "setting 'interface' has value 'internal'; allowed: each interface name once"
        }
    }

    @Test(arguments: [
        (
            "workers = \"two\"",
            "config file spillway.toml: line 1: setting 'workers' has value '\"two\"'; allowed: an integer from 1 to 64, as a TOML integer"
        ),
        (
            "workers = 2.5",
            "config file spillway.toml: line 1: setting 'workers' has value '2.5'; allowed: an integer from 1 to 64, as a TOML integer"
        ),
        (
            "threshold = \"0.8\"",
            "config file spillway.toml: line 1: setting 'threshold' has value '\"0.8\"'; allowed: a number from 0 (drain) to 1, as a TOML number"
        ),
        (
            "policy = 3",
            "config file spillway.toml: line 1: setting 'policy' has value '3'; allowed: a string in quotes, e.g. policy = \"...\""
        ),
        (
            "port-range = \"9-1\"",
            "config file spillway.toml: line 1: setting 'port-range' has value '9-1'; allowed: MIN-MAX, e.g. 30000-39999"
        ),
        (
            "threshold = true",
            "config file spillway.toml: line 1: setting 'threshold' has value 'true'; allowed: a number from 0 (drain) to 1, as a TOML number"
        ),
        (
            "peer = [\"node-2\"]",
            "config file spillway.toml: line 1: setting 'peer' has value 'node-2'; allowed: ID@HOST:PORT, e.g. node-2@127.0.0.12:2224"
        ),
        (
            "policy = \"random\"",
            "config file spillway.toml: line 1: setting 'policy' has value 'random'; allowed: delegate, sequence or monitor"
        ),
        (
            "threads = 4",
            "config file spillway.toml: line 1: unknown setting 'threads'; known: "
                + NodeConfiguration.settingNames.joined(separator: ", ")
        ),
        (
            "ng-clients = \"10.0.0.0/33\"",
            "config file spillway.toml: line 1: setting 'ng-clients' has value '10.0.0.0/33'; allowed: comma-separated addresses or prefixes, e.g. 127.0.0.0/8,10.20.0.0/16,2001:db8::/32"
        ),
        (
            "drain-grace = \"soon\"",
            "config file spillway.toml: line 1: setting 'drain-grace' has value '\"soon\"'; allowed: seconds from 0 to 86400, as a TOML number"
        ),
        (
            "interface = \"external/10.0.0.5!2001:db8::5\"",
            "config file spillway.toml: line 1: setting 'interface' has value 'external/10.0.0.5!2001:db8::5'; allowed: NAME/IP or NAME/IP!ADVERTISED with numeric addresses of one family, e.g. external/10.0.0.5!203.0.113.5"
        ),
        (
            "relatch-silence = \"brief\"",
            "config file spillway.toml: line 1: setting 'relatch-silence' has value '\"brief\"'; allowed: seconds from 0 to 60, as a TOML number"
        ),
        (
            "data-plane = \"uring\"",
            "config file spillway.toml: line 1: setting 'data-plane' has value 'uring'; allowed: io_uring or epoll"
        ),
        (
            "log-level = \"loud\"",
            "config file spillway.toml: line 1: setting 'log-level' has value 'loud'; allowed: trace, debug, info, notice, warning, error, critical"
        ),
    ])
    func badFileSettingsAreNamed(toml: String, message: String) {
        var configuration = NodeConfiguration()
        #expect { try configuration.apply(toml: toml, source: "spillway.toml") } throws: { "\($0)" == message }
    }

    @Test func aTOMLFileSetsTheClusterSettings() throws {
        var configuration = NodeConfiguration()
        try configuration.apply(
            toml: """
                node-id = "a"
                max-sessions = 200
                max-cpu = 0.8
                threshold = 0.75
                cluster = "127.0.0.11:2224"
                peer = ["b@127.0.0.12:2224", "c@127.0.0.13:2224"]
                policy = "sequence"
                share = "continuous"
                cluster-key-file = "/etc/spillway/cluster.key"
                share-interval = 0.5
                max-hops = 2
                """, source: "spillway.toml")
        try configuration.validate()
        #expect(configuration.capacity == ResourceCapacity(sessions: 200, cpu: 0.8))
        #expect(configuration.threshold == 0.75)
        #expect(
            configuration.peers == [
                PeerAddress(id: "b", address: "127.0.0.12:2224"), PeerAddress(id: "c", address: "127.0.0.13:2224"),
            ])
        #expect(configuration.policy == .sequence)
        #expect(configuration.share == .continuous)
        #expect(configuration.effectiveReportAgeLimit == 1.5)
        #expect(configuration.maxHops == 2)
    }

    @Test(arguments: [
        (
            "peer = [\"b@127.0.0.12:2224\"]",
            "setting 'cluster' has value '(not set)'; allowed: a HOST:PORT for cluster messages whenever peer or monitor is set"
        ),
        (
            "cluster = \"127.0.0.11:2224\"",
            "setting 'cluster-key-file' has value '(not set)'; allowed: a file holding the cluster's shared key (16 bytes or more) whenever cluster is set"
        ),
        (
            "policy = \"monitor\"",
            "setting 'monitor' has value '(not set)'; allowed: the load monitor's HOST:PORT when policy is monitor"
        ),
        (
            "cluster = \"127.0.0.11:2224\"\ncluster-key-file = \"k\"\npeer = [\"spillway-1@127.0.0.12:2224\"]",
            "setting 'peer' has value 'spillway-1@127.0.0.12:2224'; allowed: another node's id (this node is 'spillway-1')"
        ),
        (
            "cluster = \"127.0.0.11:2224\"\ncluster-key-file = \"k\"\npeer = [\"b@x:1\"]",
            "setting 'peer' has value 'x:1'; allowed: a numeric HOST:PORT such as 127.0.0.1:2223"
        ),
        ("threshold = 1.5", "setting 'threshold' has value '1.5'; allowed: 0 (drain) to 1"),
        (
            "share-interval = 1\nreport-age-limit = 0.5",
            "setting 'report-age-limit' has value '0.5'; allowed: more than share-interval (1.0) and at most 3600 seconds"
        ),
    ])
    func inconsistentClusterSettingsAreRejected(toml: String, message: String) throws {
        var configuration = NodeConfiguration()
        try configuration.apply(toml: toml, source: "spillway.toml")
        #expect { try configuration.validate() } throws: { "\($0)" == message }
    }

    @Test func theRASSettingsAreReadAndTheCallSignalAddressDefaultsToPort1720() throws {
        var configuration = NodeConfiguration()
        try configuration.apply(
            toml: "ras = \"127.0.0.11:1719\"\nras-reply = \"reverse\"\nmonitor-ras = \"127.0.0.10:1719\"\n",
            source: "spillway.toml")
        try configuration.validate()
        #expect(configuration.rasReply == .reverse && configuration.monitorRASAddress == "127.0.0.10:1719")
        #expect(configuration.effectiveCallSignalAddress == "127.0.0.11:1720")
    }

    @Test(arguments: [
        (
            "ras-reply = \"sideways\"",
            "config file spillway.toml: line 1: setting 'ras-reply' has value 'sideways'; allowed: direct or reverse"
        ),
        (
            "ras = \"localhost\"",
            "setting 'ras' has value 'localhost'; allowed: a numeric HOST:PORT such as 127.0.0.1:2223"
        ),
        (
            "monitor-ras = \"127.0.0.10:1719\"",
            "setting 'monitor-ras' has value '127.0.0.10:1719'; allowed: only together with ras HOST:PORT, the node's RAS port"
        ),
    ])
    func invalidRASSettingsAreRejected(toml: String, message: String) throws {
        var configuration = NodeConfiguration()
        #expect {
            try configuration.apply(toml: toml, source: "spillway.toml")
            try configuration.validate()
        } throws: { "\($0)" == message }
    }

    @Test func aTOMLSyntaxErrorNamesTheLine() {
        var configuration = NodeConfiguration()
        #expect {
            try configuration.apply(toml: "node-id = \"a\"\nworkers = = 2\n", source: "spillway.toml")
        } throws: { "\($0)".hasPrefix("config file spillway.toml: line 2:") }
    }

    @Test(arguments: [
        (
            "media-ip = \"media.example\"",
            "setting 'media-ip' has value 'media.example'; allowed: a numeric IPv4 or IPv6 address"
        ),
        (
            "ng = \"127.0.0.1\"",
            "setting 'ng' has value '127.0.0.1'; allowed: a numeric HOST:PORT such as 127.0.0.1:2223"
        ),
        ("workers = 0", "setting 'workers' has value '0'; allowed: 1 to 64"),
        (
            "port-range = \"30001-30001\"",
            "setting 'port-range' has value '30001-30001'; allowed: MIN-MAX within 1024-65535 holding at least one even/odd port pair"
        ),
        ("media-timeout = 0", "setting 'media-timeout' has value '0'; allowed: 1 to 86400 seconds"),
        ("node-id = \"a b\"", "setting 'node-id' has value 'a b'; allowed: letters, digits, '-', '_' and '.'"),
    ])
    func invalidSettingsAreRejectedWithWhatIsAllowed(toml: String, message: String) throws {
        var configuration = NodeConfiguration()
        try configuration.apply(toml: toml, source: "spillway.toml")
        #expect { try configuration.validate() } throws: { "\($0)" == message }
    }

    @Test func aSettingFoundWrongOnValidationIsNamedWithItsLineInTheFile() throws {
        let path = "/tmp/spillway-config-test-\(UInt32.random(in: 0...UInt32.max)).toml"
        let text = "node-id = \"a\"\n# limits\nmax-sessions = 10\nthreshold = 1.5\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        var configuration = NodeConfiguration()
        try configuration.apply(tomlFile: path)
        #expect { try configuration.validate(settingsFrom: path) } throws: {
            "\($0)" == "config file \(path): line 4: setting 'threshold' has value '1.5'; allowed: 0 (drain) to 1"
        }
        // Not in the file (a flag's value): the error names the setting alone.
        configuration.threshold = 1
        configuration.metricsAddress = "localhost:9"
        #expect { try configuration.validate(settingsFrom: path) } throws: {
            "\($0)" == "setting 'metrics' has value 'localhost:9'; allowed: a numeric HOST:PORT such as 127.0.0.1:2223"
        }
    }

    @Test func aReloadTellsWhichChangedSettingsWaitForARestart() {
        let running = NodeConfiguration()
        var reloaded = running
        reloaded.threshold = 0.5
        reloaded.capacity.sessions = 100
        reloaded.ngClients = ClientNetworks(parsing: "10.0.0.0/8")!
        #expect(running.settingsNeedingRestart(toBecome: reloaded).isEmpty)
        reloaded.portRange = 40000...40999
        reloaded.ngAddress = "127.0.0.1:9999"
        #expect(running.settingsNeedingRestart(toBecome: reloaded) == ["ng", "port-range"])
    }

    @Test(arguments: [
        ("127.0.0.0/8,::1", "127.0.0.200", true), ("127.0.0.0/8,::1", "10.0.0.1", false),
        ("127.0.0.0/8,::1", "::1", true),
        ("10.20.0.0/16", "10.20.255.1", true), ("10.20.0.0/16", "10.21.0.1", false),
        ("10.20.0.0/16", "::ffff:10.20.0.9", true),
        ("2001:db8::/32", "2001:db8:1::5", true), ("2001:db8::/32", "2001:db9::5", false),
        ("0.0.0.0/0", "192.0.2.1", true),
        ("192.0.2.7", "192.0.2.7", true), ("192.0.2.7", "192.0.2.8", false), ("10.0.0.0/9", "10.127.0.1", true),
        ("10.0.0.0/9", "10.128.0.1", false),
    ])
    func clientNetworksMatchByPrefix(networks: String, client: String, allowed: Bool) throws {
        let parsed = try #require(ClientNetworks(parsing: networks))
        #expect(parsed.allows(try NIOCore.SocketAddress(ipAddress: client, port: 5060)) == allowed)
    }
}

import Bencode
import Cluster
import Logging
import MediaPlane
import SDP
import ServiceEdge
import SpillwayClient
import SpillwayMonitor
import SpillwayNode
import SpillwayTestFixtures
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Three (or more) relay nodes on 127.0.0.11, .12, .13..., each with its own media address, NG port
/// and cluster port, sharing a cluster key: a real cluster on loopback for one test.
public final class TestCluster {
    public private(set) var nodes: [RelayNode?]
    public let clients: [NGClient]
    public let ids: [String]

    private static let nextCluster = Atomic<Int>(0)

    /// The cluster key file every test cluster uses.
    public static let keyFile: String = {
        let path = "/tmp/spillway-test-\(getpid()).key"
        let file = fopen(path, "w")!
        fputs("test cluster key: 0123456789abcdef0123456789abcdef\n", file)
        fclose(file)
        return path
    }()

    public static func ip(_ index: Int) -> String { "127.0.0.\(11 + index)" }

    /// Starts `count` nodes named n1, n2...; node i's peers are the other nodes in index order unless
    /// `peers` says otherwise. Share interval 0.2 s, report age limit 0.6 s, forward timeout 0.3 s.
    public static func start(
        count: Int = 3, policy: SteeringMode, share: ShareMode = .push, maxSessions: Int,
        peers: ((Int) -> [Int])? = nil, monitor: String? = nil,
        configure: (Int, inout NodeConfiguration) -> Void = { _, _ in }
    ) async throws -> TestCluster {
        let index = nextCluster.wrappingAdd(1, ordering: .relaxed).oldValue
        let clusterPort = { (node: Int) in 18000 + index * 10 + node }
        var nodes: [RelayNode?] = []
        for node in 0..<count {
            var configuration = NodeConfiguration()
            configuration.nodeID = "n\(node + 1)"
            configuration.ngAddress = "\(ip(node)):0"
            configuration.mediaIP = ip(node)
            let low = UInt16(26000 + index * 100 + node * 20)
            configuration.portRange = low...(low + 19)
            configuration.capacity.sessions = maxSessions
            configuration.clusterAddress = "\(ip(node)):\(clusterPort(node))"
            configuration.clusterKeyFile = keyFile
            configuration.policy = policy
            configuration.share = share
            configuration.monitorAddress = monitor
            configuration.shareInterval = 0.2
            configuration.reportAgeLimit = 0.6
            configuration.forwardTimeout = 0.3
            let peerIndices = peers?(node) ?? (0..<count).filter { $0 != node }
            configuration.peers = peerIndices.map {
                PeerAddress(id: "n\($0 + 1)", address: "\(ip($0)):\(clusterPort($0))")
            }
            configure(node, &configuration)
            var logger = Logger(label: "test")
            logger.logLevel = .critical
            nodes.append(try await RelayNode.start(configuration, logger: logger))
        }
        return TestCluster(nodes: nodes)
    }

    private init(nodes: [RelayNode?]) {
        self.nodes = nodes
        clients = nodes.map { try! NGClient(server: $0!.ngAddress) }
        ids = nodes.map { $0!.configuration.nodeID }
    }

    public func stop() async {
        for node in nodes { await node?.shutdown() }
    }

    /// Stops one node, as if it had died.
    public func kill(_ index: Int) async {
        await nodes[index]?.shutdown()
        nodes[index] = nil
    }

    public func request(_ node: Int, _ body: BencodeValue) throws -> BencodeValue {
        try clients[node].request(body)
    }

    /// An offer for a new call at `node`, from a caller whose media is at 127.0.0.1:`port`.
    public func offer(at node: Int, callID: String, port: UInt16 = 40000, supportsLoadLimit: Bool = false) throws
        -> BencodeValue
    {
        var body: [String: BencodeValue] = [
            "command": "offer", "call-id": .string(callID), "from-tag": "A", "sdp": .string(audioSDP(port: port)),
        ]
        if supportsLoadLimit { body["supports"] = ["load limit"] }
        return try request(node, .dictionary(body))
    }

    /// The `spillway` section of a node's `statistics` reply.
    public func clusterStatistics(_ node: Int) throws -> BencodeValue? {
        try request(node, ["command": "statistics"])["spillway"]
    }

    /// Waits until `node` sees every peer in `state` ("up" or "down"); returns the seconds it took, or nil.
    @discardableResult
    public func waitForPeers(of node: Int, _ peers: [String], state: String, timeout: Double = 3) throws -> Double? {
        let start = spw_test_seconds()
        while spw_test_seconds() - start < timeout {
            let known = try clusterStatistics(node)?["peers"]
            if peers.allSatisfy({ known?[$0]?["state"]?.stringValue == state }) { return spw_test_seconds() - start }
            usleep(20_000)
        }
        return nil
    }

    /// Starts a load monitor for this cluster's nodes at `listen` (cluster messages and NG), with
    /// the cluster's interval and age limit; `configure` sets the rest (HTTP, RAS).
    public func startMonitor(
        listen: String, collect: CollectMode, configure: (inout MonitorConfiguration) -> Void = { _ in }
    ) async throws -> LoadMonitor {
        var configuration = MonitorConfiguration()
        configuration.listenAddress = listen
        configuration.nodes = nodes.indices.map { PeerAddress(id: ids[$0], address: nodes[$0]!.clusterAddress!) }
        configuration.collect = collect
        configuration.clusterKeyFile = Self.keyFile
        configuration.interval = 0.2
        configuration.reportAgeLimit = 0.6
        configure(&configuration)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return try await LoadMonitor.start(configuration, logger: logger)
    }

    /// The node id and media address a reply's SDP names.
    public static func landing(_ reply: BencodeValue) throws -> (node: String?, mediaIP: String, hops: Int64?) {
        let address = try ScriptedCall.mediaAddress(in: reply)
        return (reply["spillway-node"]?.stringValue, address.ip, reply["spillway-hops"]?.integerValue)
    }
}

/// A PCMU packet with the given sequence number.
public func pcmu(_ sequence: Int, ssrc: UInt32 = 0xABCD, marker: Bool = false, payloadType: UInt8 = 0) -> [UInt8] {
    ScriptedCall.rtp(
        sequence: sequence, timestamp: UInt32(sequence * 160), ssrc: ssrc, payloadType: payloadType, marker: marker,
        payload: [UInt8](repeating: UInt8(truncatingIfNeeded: sequence), count: 160))
}

/// An SDP with one line per (media, port, proto, payload type, extra attributes) for a party on loopback.
public func sdp(
    _ sections: [(media: String, port: UInt16, formats: String, attributes: [String])], ip: String = "127.0.0.1"
) -> String {
    var text = "v=0\r\no=- 1 1 IN IP4 \(ip)\r\ns=-\r\nc=IN IP4 \(ip)\r\nt=0 0\r\n"
    for section in sections {
        text += "m=\(section.media) \(section.port) RTP/AVP \(section.formats)\r\n"
        for attribute in section.attributes { text += "a=\(attribute)\r\n" }
    }
    return text
}

public func audioSDP(port: UInt16, _ attributes: [String] = []) -> String {
    sdp([("audio", port, "0", ["rtpmap:0 PCMU/8000"] + attributes)])
}

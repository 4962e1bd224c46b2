import Bencode
import Cluster
import Foundation
import Logging
import MediaPlane
import SpillwayClient
import SpillwayTestSupport
import SpillwayNode
import Synchronization
import Testing

/// Nodes in monitor mode, steered by a real `LoadMonitor` under each collection mode.
@Suite struct MonitorSteeringTests {
    private static let nextMonitor = Atomic<Int>(0)

    @Test(arguments: CollectMode.allCases)
    func nodesSpillToTheNodeTheMonitorNames(collect: CollectMode) async throws {
        let index = Self.nextMonitor.wrappingAdd(1, ordering: .relaxed).oldValue
        let monitorAddress = "127.0.0.10:\(18900 + index)"
        // Nodes push only when the monitor collects pushed reports; otherwise it polls or subscribes.
        let cluster = try await TestCluster.start(
            policy: .monitor, share: collect == .push ? .push : .poll, maxSessions: 2, peers: { _ in [] },
            monitor: monitorAddress)
        let monitor = try await cluster.startMonitor(listen: monitorAddress, collect: collect) {
            $0.httpAddress = "127.0.0.10:\(18950 + index)"
        }
        let monitorClient = try NGClient(server: SocketAddress(hostAndPort: monitor.listenAddress)!)
        if collect != .onQuery {
            let start = spw_test_seconds()
            while spw_test_seconds() - start < 3 {
                let nodes = try monitorClient.request(["command": "statistics"])["nodes"]
                if cluster.ids.allSatisfy({ nodes?[$0]?["state"] == "up" }) { break }
                usleep(20_000)
            }
        }

        // Asked before any call: every node is empty, and the first configured one is named.
        let query = try monitorClient.request(["command": "query"])
        #expect(query["node"] == "n1" && query["media-ip"] == "127.0.0.11" && query["load"] == "0.000")
        let http = try httpGet(monitor.httpAddress!, "/least-loaded")
        #expect(http.status == 200)
        let answer = try JSONDecoder().decode(MonitorAnswer.self, from: http.body)
        #expect(["n1", "n2", "n3"].contains(answer.node) && answer.media_ip.hasPrefix("127.0.0.1"))

        // The monitor counts each node it names as one call busier until that node reports again;
        // these two answers placed no call, so let a fresh report through.
        if collect != .onQuery { usleep(300_000) }

        var landed: [String: Int] = [:]
        var spilledCall: (id: String, node: String)?
        for call in 0..<6 {
            let reply = try cluster.offer(at: 0, callID: "m-\(collect)-\(call)")
            let landing = try TestCluster.landing(reply)
            if landing.node != "n1" { spilledCall = ("m-\(collect)-\(call)", landing.node!) }
            #expect(landing.mediaIP == TestCluster.ip(cluster.ids.firstIndex(of: landing.node!)!))
            landed[landing.node!, default: 0] += 1
            // Give pushed or streamed reports a moment, as calls arrive over time in real use.
            usleep(collect == .onQuery || collect == .poll ? 0 : 50_000)
        }
        #expect(landed == ["n1": 2, "n2": 2, "n3": 2])
        let busy = try cluster.offer(at: 0, callID: "m-\(collect)-busy", supportsLoadLimit: true)
        #expect(busy["result"] == "load limit")


        if collect == .onQuery || collect == .poll {
            // Fresh data says every node is full.
            usleep(300_000)
            let full = try httpGet(monitor.httpAddress!, "/least-loaded")
            #expect(full.status == 503)
        }
        // Later commands for a spilled call go through the primary to its owner.
        let spilled = try #require(spilledCall)
        #expect(try cluster.request(0, ["command": "query", "call-id": .string(spilled.id)])["spillway-node"] == .string(spilled.node))
        #expect(try cluster.request(0, ["command": "delete", "call-id": .string(spilled.id)])["result"] == "ok")
        let ownerIndex = cluster.ids.firstIndex(of: spilled.node)!
        #expect(try cluster.request(ownerIndex, ["command": "list"])["calls"]?.listValue?.count == 1)
        let nodes = try httpGet(monitor.httpAddress!, "/nodes")
        #expect(nodes.status == 200 && String(decoding: nodes.body, as: UTF8.self).contains("\"id\":\"n3\""))
        #expect(try httpGet(monitor.httpAddress!, "/nope").status == 404)
        await monitor.shutdown()
        await cluster.stop()
    }
}

private struct MonitorAnswer: Decodable {
    var node: String
    var media_ip: String
    var load: Double
}

/// A one-shot HTTP/1.1 GET over a plain socket: the status code and the body.
private func httpGet(_ hostAndPort: String, _ path: String) throws -> (status: Int, body: Data) {
    let address = SocketAddress(hostAndPort: hostAndPort)!
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var target = sockaddr_in()
    target.sin_family = sa_family_t(AF_INET)
    target.sin_port = address.port.bigEndian
    inet_pton(AF_INET, address.ip, &target.sin_addr)
    let connected = withUnsafePointer(to: &target) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw UDPPeerError.system("connect to \(hostAndPort)", errno) }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: \(hostAndPort)\r\n\r\n".utf8)
    _ = request.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
    var response: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = recv(descriptor, &chunk, chunk.count, 0)
        if count <= 0 { break }
        response.append(contentsOf: chunk[..<count])
    }
    let text = String(decoding: response, as: UTF8.self)
    let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
    let bodyStart = text.range(of: "\r\n\r\n").map { text.utf8.distance(from: text.startIndex, to: $0.upperBound) } ?? response.count
    return (status, Data(response[bodyStart...]))
}

import Bencode
import Foundation
import MediaPlane
import SpillwayClient
import SpillwayNode
import SpillwayTestSupport
import Testing

/// A short run of the benchmarks' own tools (`bench/callgen.c`, `bench/floor.c`, `forwarding-cost`),
/// so they keep building and measuring what they claim: every packet of a paced many-call load comes
/// back on the right side, through the floor forwarder and through a node set up over NG, and every
/// packet of forwarding-cost's rounds comes through its worker. Serialized: the callgen tests use
/// the generator's two ports. Every port is below Linux's ephemeral range
/// (32768-60999), so no other test's client socket can take one first.
@Suite(.serialized) struct BenchToolsSmokeTests {
    static let callerPort: UInt16 = 12_590
    static let calleePort: UInt16 = 12_592
    static let floorPorts: UInt16 = 12_500
    static let calls = 4
    /// forwarding-cost's relay sockets: 4 calls x 2 sides x an RTP/RTCP pair.
    static let forwardingCostPorts: UInt16 = 12_540

    @Test func h323BenchmarkPlacesCallsAndCarriesTheirMedia() async throws {
        // bench/h323.py --smoke: 40 fastStart calls through a node and straight to the callee, then
        // callgen's load over 10 NG calls and 10 H.323 calls; it fails on lost media. Its fixed ports
        // (NG 15400, media 15410-15479, callgen 15480/15482, signalling on 127.0.0.40-41) are its own.
        let directory = try scratchDirectory("bench-h323")
        let bench = try ChildProcess(
            "h323-bench", try ExternalTool.path("python3", package: "python3"),
            [
                packageDirectory.appendingPathComponent("bench/h323.py").path, "--smoke", "--binary",
                try spillwayExecutable(),
            ],
            directory: directory)
        #expect(await bench.wait(seconds: 120) == 0, "\(bench.output.suffix(2000))")
        #expect(
            bench.output.contains("| setup rate |") && bench.output.contains("loss: at most 0.0000%"),
            "\(bench.output.suffix(2000))")
    }

    @Test func callgenThroughTheFloorGetsEveryPacketBack() async throws {
        let directory = try scratchDirectory("bench-floor")
        let floor = try ChildProcess(
            "floor", try await compileBenchTool("floor", into: directory),
            ["\(Self.floorPorts)", "\(Self.calls)", "\(Self.callerPort)", "\(Self.calleePort)"], directory: directory)
        defer { floor.stop() }
        let callerFacing = (0..<Self.calls).map { Self.floorPorts + UInt16(4 * $0) }
        let pairs = callerFacing.map { ($0, $0 + 2) }
        let lastPort = pairs[pairs.count - 1].1
        #expect(await ChildProcess.eventually(seconds: 5) { udpPortIsBound(lastPort) }, "\(floor.output)")
        try #require(floor.isRunning, "the floor must hold its ports: \(floor.output)")
        try await expectEveryPacketBack(through: pairs, directory: directory)
    }

    @Test func callgenThroughANodeGetsEveryPacketBackAndTheNodeCountsIt() async throws {
        let directory = try scratchDirectory("bench-node")
        let (node, client) = try await startLoopbackNode(mediaPorts: 12_600...12_699, label: "bench-smoke")
        var pairs: [(UInt16, UInt16)] = []
        for call in 0..<Self.calls {
            let offer = try client.request([
                "command": "offer", "call-id": .string("smoke-\(call)"), "from-tag": "a",
                "sdp": .string(audioSDP(port: Self.callerPort)),
            ])
            let answer = try client.request([
                "command": "answer", "call-id": .string("smoke-\(call)"), "from-tag": "a", "to-tag": "b",
                "sdp": .string(audioSDP(port: Self.calleePort)),
            ])
            pairs.append(
                (try ScriptedCall.mediaAddress(in: answer).port, try ScriptedCall.mediaAddress(in: offer).port))
        }
        let received = try await expectEveryPacketBack(through: pairs, directory: directory)
        let statistics = try client.request(["command": "statistics"])
        let forwarded = statistics["totals"]?["forwarded"]?.integerValue
        #expect(forwarded == Int64(received), "the node must count the \(received) packets it forwarded: \(statistics)")
        await node.shutdown()
    }

    /// forwarding-cost, the load `bench/instructions.py` counts under callgrind, run natively on
    /// each engine: 4 calls x 50 rounds, every packet both ways.
    @Test(arguments: DataPlaneEngine.allCases)
    func forwardingCostGetsEveryPacketThroughTheWorker(engine: DataPlaneEngine) async throws {
        let run = try ChildProcess(
            "forwarding-cost-\(engine)", try builtExecutable("forwarding-cost"),
            [engine.rawValue, "4", "50", "\(Self.forwardingCostPorts)"],
            directory: try scratchDirectory("bench-forwarding-cost"))
        #expect(await run.wait(seconds: 30) == 0, "\(run.output)")
        let lastLine = run.output.split(separator: "\n").last.map(String.init) ?? ""
        let report = try #require(
            JSONSerialization.jsonObject(with: Data(lastLine.utf8)) as? [String: Any], "\(run.output)")
        #expect(report["engine"] as? String == engine.rawValue, "\(report)")
        #expect(report["forwarded"] as? Int == 400 && report["expected"] as? Int == 400, "\(report)")
    }

    /// Runs callgen for half a second over `pairs` (the relay port each call's caller and callee
    /// send to) and checks its report; returns how many packets came back.
    @discardableResult
    func expectEveryPacketBack(through pairs: [(UInt16, UInt16)], directory: String) async throws -> Int {
        let ports = "\(directory)/ports"
        try pairs.map { "\($0.0) \($0.1)\n" }.joined().write(toFile: ports, atomically: true, encoding: .utf8)
        let callgen = try ChildProcess(
            "callgen", try await compileBenchTool("callgen", into: directory),
            ["\(Self.callerPort)", "\(Self.calleePort)", "127.0.0.1", ports, "\(pairs.count)", "0.5", "50"],
            directory: directory)
        #expect(await callgen.wait(seconds: 10) == 0, "\(callgen.output)")
        let report = try #require(
            JSONSerialization.jsonObject(with: Data(callgen.output.utf8)) as? [String: Any], "\(callgen.output)")
        let sent = try #require(report["sent"] as? Int)
        let received = try #require(report["received"] as? Int)
        // 4 calls x 2 directions x 50 packets/s x 0.5 s.
        #expect((190...210).contains(sent), "\(report)")
        #expect(received == sent, "\(report)")
        #expect(report["misrouted"] as? Int == 0 && report["untimed"] as? Int == 0, "\(report)")
        #expect((report["p50_us"] as? Double ?? 0) > 0, "latency must come from kernel timestamps: \(report)")
        return received
    }
}

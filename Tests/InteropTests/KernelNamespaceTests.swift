import Bencode
import Foundation
import Logging
import MediaPlane
import SpillwayClient
import SpillwayNode
import SpillwayTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The kernel fast path where packets arrive on one device and leave by another: the caller in one
/// network namespace, the callee in another, each behind a veth pair whose other end holds one of
/// the node's two media interfaces. IP forwarding stays off, so only the relay carries media
/// between them, and after the first packets only its eBPF program does.
@Suite(.serialized) struct KernelNamespaceTests {
    /// A namespace with one end of a veth pair, the other end (and its address) in this one.
    struct Namespace {
        var name: String
        var hostDevice: String
        var hostAddress: String
        var address: String
    }

    static let suffix = "\(getpid() % 100_000)"
    static let caller = Namespace(
        name: "spw-kernel-a-\(suffix)", hostDevice: "spwka\(suffix)", hostAddress: "10.231.1.1",
        address: "10.231.1.2")
    static let callee = Namespace(
        name: "spw-kernel-b-\(suffix)", hostDevice: "spwkb\(suffix)", hostAddress: "10.231.2.1",
        address: "10.231.2.2")

    /// Runs `ip` with `arguments`; a failure is a test failure unless `mayFail`.
    static func ip(_ arguments: [String], directory: String, mayFail: Bool = false) async throws {
        let tool = try ExternalTool.path("ip", package: "iproute2")
        let run = try ChildProcess("ip", tool, arguments, directory: directory)
        let status = await run.wait(seconds: 10)
        #expect(mayFail || status == 0, "ip \(arguments.joined(separator: " ")): \(run.output)")
    }

    static func create(_ namespace: Namespace, directory: String) async throws {
        let inside = "spwx" + namespace.hostDevice.dropFirst(4)
        try await ip(["netns", "add", namespace.name], directory: directory)
        try await ip(
            ["link", "add", namespace.hostDevice, "type", "veth", "peer", "name", inside, "netns", namespace.name],
            directory: directory)
        try await ip(["addr", "add", "\(namespace.hostAddress)/24", "dev", namespace.hostDevice], directory: directory)
        try await ip(["link", "set", namespace.hostDevice, "up"], directory: directory)
        for command in [
            ["addr", "add", "\(namespace.address)/24", "dev", inside], ["link", "set", inside, "up"],
            ["link", "set", "lo", "up"], ["route", "add", "default", "via", namespace.hostAddress],
        ] {
            try await ip(["netns", "exec", namespace.name, "ip"] + command, directory: directory)
        }
    }

    static func remove(_ namespace: Namespace, directory: String) async {
        // Deleting the namespace deletes its end of the pair, and with it the host's end.
        try? await ip(["netns", "delete", namespace.name], directory: directory, mayFail: true)
    }

    @Test func aCallBetweenTwoNamespacesIsForwardedByTheKernelOutOfTheOtherDevice() async throws {
        let directory = try scratchDirectory("kernel-netns")
        await Self.remove(Self.caller, directory: directory)
        await Self.remove(Self.callee, directory: directory)
        try await Self.create(Self.caller, directory: directory)
        try await Self.create(Self.callee, directory: directory)

        var logger = Logger(label: "kernel-netns")
        logger.logLevel = .warning
        var configuration = NodeConfiguration()
        configuration.ngAddress = "127.0.0.1:0"
        configuration.portRange = 14500...14519
        configuration.kernelForwarding = .on
        for interface in ["a/\(Self.caller.hostAddress)", "b/\(Self.callee.hostAddress)"] {
            try configuration.set("interface", to: interface)
        }
        let node = try await RelayNode.start(configuration, logger: logger)
        let ng = try NGClient(server: node.ngAddress)
        let offer = try ng.request([
            "command": "offer", "call-id": "netns", "from-tag": "A", "direction": ["a", "b"],
            "sdp": .string(sdp([("audio", 5000, "0", ["rtpmap:0 PCMU/8000"])], ip: Self.caller.address)),
        ])
        let answer = try ng.request([
            "command": "answer", "call-id": "netns", "from-tag": "A", "to-tag": "B",
            "sdp": .string(sdp([("audio", 5002, "0", ["rtpmap:0 PCMU/8000"])], ip: Self.callee.address)),
        ])
        let relayForCaller = try ScriptedCall.mediaAddress(in: answer)
        let relayForCallee = try ScriptedCall.mediaAddress(in: offer)
        #expect(relayForCaller.ip == Self.caller.hostAddress && relayForCallee.ip == Self.callee.hostAddress)

        let python = try ExternalTool.path("python3", package: "python3")
        let ipTool = try ExternalTool.path("ip", package: "iproute2")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Scripts/rtp_party.py"
        ).path
        // A first exchange latches the parties; in the second the workers must see nothing.
        func exchange(count: Int, first: Int) async throws {
            var parties: [ChildProcess] = []
            for (name, namespace, port, relay, ssrc) in [
                ("caller", Self.caller, 5000, relayForCaller, 1), ("callee", Self.callee, 5002, relayForCallee, 2),
            ] {
                parties.append(
                    try ChildProcess(
                        name, ipTool,
                        [
                            "netns", "exec", namespace.name, python, script, "--bind", "\(namespace.address):\(port)",
                            "--relay", "\(relay)", "--count", "\(count)", "--first", "\(first)", "--ssrc", "\(ssrc)",
                            "--peer-ssrc", "\(3 - ssrc)",
                        ],
                        directory: directory))
            }
            for party in parties {
                #expect(await party.wait(seconds: 30) == 0, "\(party.name): \(party.output)")
                let report = party.output.split(separator: "\n").last.map(String.init) ?? ""
                let result = try JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: Any]
                let relay = party.name == "caller" ? relayForCaller : relayForCallee
                #expect(result?["received"] as? Int == count, "\(party.name): \(report)")
                #expect(result?["intact"] as? Bool == true, "\(party.name): \(report)")
                #expect(result?["sources"] as? [String] == ["\(relay)"], "\(party.name): \(report)")
            }
        }
        func dataPlane() throws -> (worker: Int64, kernel: Int64, devices: BencodeValue?) {
            let plane = try ng.request(["command": "statistics"])["spillway"]?["data-plane"]
            return (
                try #require(plane?["worker-packets"]?.integerValue),
                try #require(plane?["kernel-packets"]?.integerValue), plane?["kernel-devices"]
            )
        }
        try await exchange(count: 20, first: 1)
        let latched = try dataPlane()
        try await exchange(count: 500, first: 21)
        let plane = try dataPlane()
        #expect(plane.devices == [.string(Self.caller.hostDevice), .string(Self.callee.hostDevice)])
        #expect(latched.worker + latched.kernel == 40, "\(latched)")
        #expect(plane.worker == latched.worker, "workers saw \(latched.worker) then \(plane.worker)")
        #expect(plane.kernel - latched.kernel == 1000, "the kernel forwarded \(latched.kernel) then \(plane.kernel)")
        await node.shutdown()
        await Self.remove(Self.caller, directory: directory)
        await Self.remove(Self.callee, directory: directory)
    }
}

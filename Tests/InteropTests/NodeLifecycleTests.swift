import Bencode
import Foundation
import MediaPlane
import SpillwayClient
import SpillwayTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `spillway serve` as a process under an operator's signals: SIGHUP reloads its config file (and
/// keeps the running settings when the file is wrong, naming the line), SIGTERM drains it (no new
/// calls, existing calls relayed until they end) and it exits 0; `spillway status` reads it.
@Suite struct NodeLifecycleTests {
    let ng = "127.0.0.31:12400"

    @Test func sighupReloadsTheConfigAndSigtermDrainsThenExits() async throws {
        let spillway = try spillwayExecutable()
        let directory = try scratchDirectory("lifecycle")
        let config = "\(directory)/spillway.toml"
        let settings = { (threshold: String) in
            "node-id = \"life-1\"\nng = \"\(ng)\"\nmedia-ip = \"127.0.0.31\"\nthreshold = \(threshold)\nmax-sessions = 10\n"
                + "port-range = \"13300-13339\"\ndrain-grace = 20\n"
        }
        try settings("1.0").write(toFile: config, atomically: true, encoding: .utf8)
        let node = try ChildProcess("node", spillway, ["serve", "--config", config], directory: directory)
        defer { node.stop() }
        let client = try await answeringClient(ng, of: node)
        let threshold = { try client.request(["command": "workload"])["threshold"]?.stringValue }

        // A valid change: taken on SIGHUP.
        try settings("0.4").write(toFile: config, atomically: true, encoding: .utf8)
        kill(node.pid, SIGHUP)
        #expect(await ChildProcess.eventually(seconds: 5) { (try? threshold()) == "0.400" }, "\(node.output)")
        // An invalid one: rejected naming the line; the running threshold stays.
        try settings("7").write(toFile: config, atomically: true, encoding: .utf8)
        kill(node.pid, SIGHUP)
        #expect(
            await ChildProcess.eventually(seconds: 5) {
                node.output.contains(
                    "config reload rejected; the running settings stay: config file \(config): line 4: setting 'threshold' has value '7.0'"
                )
            }, "\(node.output)")
        #expect(try threshold() == "0.400")

        // `spillway status` lays the node out for a person.
        let status = try ChildProcess("status", spillway, ["status", "--ng", ng], directory: directory)
        #expect(await status.wait(seconds: 10) == 0)
        #expect(status.output.contains("node life-1: load 0.000 of threshold 0.400"), "\(status.output)")
        #expect(status.output.contains("draining: no"), "\(status.output)")

        // A call up, then SIGTERM: new calls are refused, the call is still relayed, and the node
        // exits once it is deleted.
        let caller = try UDPPeer()
        let callee = try UDPPeer()
        _ = try client.request([
            "command": "offer", "call-id": "life", "from-tag": "A", "sdp": .string(audioSDP(port: caller.address.port)),
        ])
        let answer = try client.request([
            "command": "answer", "call-id": "life", "from-tag": "A", "to-tag": "B",
            "sdp": .string(audioSDP(port: callee.address.port)),
        ])
        let forCaller = try ScriptedCall.mediaAddress(in: answer)
        kill(node.pid, SIGTERM)
        #expect(
            await ChildProcess.eventually(seconds: 5) {
                (try? client.request(["command": "workload"]))?["draining"] == "yes"
            }, "\(node.output)")
        let refused = try client.request([
            "command": "offer", "call-id": "late", "from-tag": "A", "sdp": .string(audioSDP(port: 5000)),
        ])
        #expect(refused["error-reason"]?.stringValue?.contains("draining for shutdown") == true, "\(refused)")
        for sequence in 1...10 {
            caller.send(pcmu(sequence), to: forCaller)
            #expect(callee.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(sequence))
        }
        #expect(node.isRunning, "the node must wait for its call")
        _ = try client.request(["command": "delete", "call-id": "life", "from-tag": "A"])
        #expect(await node.wait(seconds: 5) == 0, "\(node.output)")
        #expect(node.output.contains("drained"), "\(node.output)")
    }

    /// A node out of file descriptors says so (not "no free port pair"), stops searching the range at
    /// once, still relays the calls it holds (without connected sockets for their peers), and takes
    /// calls again when some end.
    @Test func runningOutOfDescriptorsIsReportedAsSuchAndRecovers() async throws {
        let spillway = try spillwayExecutable()
        let directory = try scratchDirectory("descriptors")
        let ng = "127.0.0.32:12410"
        let node = try ChildProcess(
            "node", "/bin/sh",
            ["-c", "ulimit -n 64 && exec \(spillway) serve --ng \(ng) --media-ip 127.0.0.32 --port-range 13400-13999"],
            directory: directory)
        defer { node.stop() }
        let client = try await answeringClient(ng, of: node)
        func offer(_ call: Int) throws -> BencodeValue {
            try client.request([
                "command": "offer", "call-id": .string("fd-\(call)"), "from-tag": "A",
                "sdp": .string(audioSDP(port: 5000)),
            ])
        }
        var offers: [BencodeValue] = []
        var refusal: BencodeValue?
        while offers.count < 40 {
            let reply = try offer(offers.count)
            guard reply["result"] == "ok" else {
                refusal = reply
                break
            }
            offers.append(reply)
        }
        let reason = try #require(refusal?["error-reason"]?.stringValue, "64 descriptors held \(offers.count) calls")
        #expect(reason.contains("no file descriptor left") && reason.contains("the limit is 64"), "\(reason)")
        #expect(offers.count >= 5, "\(offers.count) calls before the refusal")

        // Media on three calls latches six peers, more than the descriptors the refused offer left.
        for call in 1...3 {
            let caller = try UDPPeer()
            let callee = try UDPPeer()
            let answer = try client.request([
                "command": "answer", "call-id": .string("fd-\(call)"), "from-tag": "A", "to-tag": "B",
                "sdp": .string(audioSDP(port: callee.address.port)),
            ])
            caller.send(pcmu(1), to: try ScriptedCall.mediaAddress(in: answer))
            #expect(callee.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(1))
            callee.send(pcmu(2), to: try ScriptedCall.mediaAddress(in: offers[call]))
            #expect(caller.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(2))
            caller.send(pcmu(3), to: try ScriptedCall.mediaAddress(in: answer))
            #expect(callee.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(3))
        }
        #expect(
            await ChildProcess.eventually(seconds: 2) { node.output.contains("could not open a connected socket") },
            "the node must say once that peers go without connected sockets: \(node.output)")
        _ = try client.request(["command": "delete", "call-id": "fd-0", "from-tag": "A"])
        #expect(
            await ChildProcess.eventually(seconds: 5) { (try? offer(100))?["result"] == "ok" },
            "a call must be taken once descriptors are free again: \(node.output)")
    }

    /// An NG client for the node at `address`, once the node answers ping (10 s at most).
    func answeringClient(_ address: String, of node: ChildProcess) async throws -> NGClient {
        let client = try NGClient(server: SocketAddress(hostAndPort: address)!)
        #expect(
            await ChildProcess.eventually(seconds: 10) {
                (try? client.request(["command": "ping"], timeoutMilliseconds: 200, attempts: 1))?["result"] == "pong"
            }, "the node did not answer ping: \(node.output)")
        return client
    }
}

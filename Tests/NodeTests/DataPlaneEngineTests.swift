import Bencode
import Foundation
import MediaPlane
import SpillwayClient
import SpillwayTestSupport
import Testing

/// What is particular to the two engines a media worker runs on: io_uring keeps a receive armed on
/// every socket and completes sends later, so removal and slot reuse must not leak into the next
/// call. The other media tests run on both engines too.
@Suite struct DataPlaneEngineTests {
    @Test func theDefaultEngineIsIOUringWhereTheKernelAllowsIt() async throws {
        let disabled = (try? String(contentsOfFile: "/proc/sys/kernel/io_uring_disabled", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(
            disabled == nil || disabled == "0",
            "io_uring is disabled on this host (kernel.io_uring_disabled = \(disabled ?? "?"))")
        let node = try await TestNode.start()
        #expect(node.node.dataPlane == .ioUring)
        await node.stop()
        let chosen = try await TestNode.start { $0.dataPlane = .epoll }
        #expect(chosen.node.dataPlane == .epoll)
        await chosen.stop()
    }

    @Test(arguments: DataPlaneEngine.allCases)
    func aDeletedCallsPortsCanBeBoundAtOnce(engine: DataPlaneEngine) async throws {
        let node = try await TestNode.start(portPairs: 2) { $0.dataPlane = engine }
        let (caller, callee, relay) = try node.audioCall("ports")
        // Media both ways, so that each side also has its connected sibling socket.
        caller.send(pcmu(1), to: relay.forCaller)
        #expect(callee.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(1))
        callee.send(pcmu(1, ssrc: 2), to: relay.forCallee)
        #expect(caller.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(1, ssrc: 2))

        #expect(try node.request(["command": "delete", "call-id": "ports", "from-tag": "A"])["result"] == "ok")
        // No socket of the call may be left holding a port (a receive still armed on it would, for
        // as long as the ring lives). The worker closes them just after the reply.
        for port in [relay.forCaller.port, relay.forCaller.port + 1, relay.forCallee.port, relay.forCallee.port + 1] {
            #expect(bindsWithin(milliseconds: 2000, port: port), "port \(port) is still bound after the delete")
        }
        await node.stop()
    }

    private func bindsWithin(milliseconds: Int, port: UInt16) -> Bool {
        for _ in 0..<(milliseconds / 20) {
            if (try? UDPPeer(port: port)) != nil { return true }
            usleep(20_000)
        }
        return false
    }

    /// Packets still in flight when a call is deleted complete after its slots went to the next
    /// call: they must neither be relayed nor counted there.
    @Test(arguments: DataPlaneEngine.allCases)
    func packetsInFlightForADeletedCallNeverCountForTheCallThatReusesItsSlots(engine: DataPlaneEngine) async throws {
        let node = try await TestNode.start(portPairs: 4) { $0.dataPlane = engine }
        let caller = try UDPPeer()
        let callee = try UDPPeer()
        for round in 0..<8 {
            let callID = "reuse-\(round)"
            let relay = try node.connect(
                callID: callID, caller: audioSDP(port: caller.address.port), callee: audioSDP(port: callee.address.port)
            )
            caller.send(pcmu(1, ssrc: UInt32(round)), to: relay.forCaller)
            #expect(callee.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(1, ssrc: UInt32(round)))
            callee.send(pcmu(1, ssrc: UInt32(100 + round)), to: relay.forCallee)
            #expect(caller.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(1, ssrc: UInt32(100 + round)))
            #expect(try await node.stream(callID: callID, tag: "A")?["forwarded"] == 1, "round \(round)")
            #expect(try await node.stream(callID: callID, tag: "B")?["forwarded"] == 1, "round \(round)")
            // A burst the relay is still working through when the delete arrives.
            for sequence in 2...40 {
                caller.send(pcmu(sequence, ssrc: UInt32(round)), to: relay.forCaller)
                callee.send(pcmu(sequence, ssrc: UInt32(100 + round)), to: relay.forCallee)
            }
            #expect(
                try node.request(["command": "delete", "call-id": .string(callID), "from-tag": "A"])["result"] == "ok")
            _ = caller.drain(quietMilliseconds: 50)
            _ = callee.drain(quietMilliseconds: 50)
        }
        await node.stop()
    }
}

import Foundation
import KernelPath
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A node killed with its kernel fast path attached leaves its filter (and its map, with its calls'
/// routes) in the kernel; the next node to start on the host removes it.
@Suite(.serialized) struct KernelLeftoverTests {
    @Test func aKilledNodesFilterIsRemovedByTheNextStart() async throws {
        let directory = try scratchDirectory("kernel-leftover")
        let loopback = try #require(NetworkDevice(named: "lo"))
        let owner = "leftover@127.0.0.1:12490"
        let node = try ChildProcess(
            "leftover-node", try spillwayExecutable(),
            [
                "serve", "--node-id", "leftover", "--ng", "127.0.0.1:12490", "--port-range", "12492-12499",
                "--kernel-forwarding", "on", "--log-level", "error",
            ],
            directory: directory)
        defer { node.stop() }
        #expect(
            await ChildProcess.eventually(seconds: 20) {
                KernelForwarder.attachedProgram(on: loopback, owner: owner) == "spw_forward"
            }, "\(node.output)")
        kill(node.pid, SIGKILL)
        #expect(await node.wait(seconds: 10) != nil)
        #expect(KernelForwarder.attachedProgram(on: loopback, owner: owner) == "spw_forward")

        let next = try KernelForwarder(devices: [loopback], capacity: 4, owner: "leftover-sweeper")
        defer { next.stop() }
        #expect(next.removedOrphans >= 1)
        #expect(KernelForwarder.attachedProgram(on: loopback, owner: owner) == nil, "the killed node's filter stayed")
        #expect(KernelForwarder.attachedProgram(on: loopback, owner: "leftover-sweeper") == "spw_forward")
    }
}

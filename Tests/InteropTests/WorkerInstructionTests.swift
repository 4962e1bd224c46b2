import Foundation
import Testing

/// The release build's media worker, counted by callgrind through `bench/instructions.py`: per
/// forwarded packet it calls neither retain/release nor the heap allocator, and its userspace
/// instructions stay under a bound with about a third of headroom over today's figure (about 900),
/// which a regression the size of the one the `publish` fix removed (1,473 against 1,018) crosses.
/// Callgrind counts instructions, not time, so the figures hold on a busy CI machine.
@Suite struct WorkerInstructionTests {
    static let instructionBound = 1_200.0
    /// Set-up and shutdown make the same calls in callgrind's two runs, so their difference is 0;
    /// one call per packet, or one per wake-up of the worker (0.2-0.4 per packet), is far above this.
    static let unwantedCallsMargin = 0.01
    /// The relay sockets of forwarding-cost's 20 calls (four each): below Linux's ephemeral range and
    /// apart from every other test's ports.
    static let firstPort = 12_900

    @Test func theOptimizedWorkerForwardsWithoutReferenceCountingOrAllocation() async throws {
        _ = try ExternalTool.path("valgrind", package: "valgrind")
        let binary = try releaseExecutable("forwarding-cost")
        let directory = try scratchDirectory("instructions")
        let report = "\(directory)/instructions.json"
        let script = packageDirectory.appendingPathComponent("bench/instructions.py").path
        let run = try ChildProcess(
            "instructions", try ExternalTool.path("python3", package: "python3"),
            [
                script, "--binary", binary, "--calls", "20", "--rounds", "20", "--first-port", "\(Self.firstPort)",
                "--json", report,
            ],
            directory: directory)
        #expect(await run.wait(seconds: 300) == 0, "\(run.output)")

        let figures = try #require(
            JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any],
            "\(run.output)")
        let instructions = try #require(
            (figures["instructions_per_packet"] as? [String: Double])?["spillway"], "\(figures)")
        let unwanted = try #require(
            (figures["unwanted_calls_per_packet"] as? [String: [String: Double]])?["spillway"], "\(figures)")
        #expect(instructions > 100 && instructions < Self.instructionBound, "\(instructions) instructions per packet")
        #expect(Set(unwanted.keys) == ["retain/release", "heap allocations"], "\(unwanted)")
        for (kind, perPacket) in unwanted {
            #expect(
                abs(perPacket) < Self.unwantedCallsMargin,
                "\(perPacket) \(kind) calls per forwarded packet: \(run.output)")
        }
    }
}

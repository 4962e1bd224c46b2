import Bencode
import SpillwayClient
import SpillwayTestFixtures
import SpillwayTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A node's load comes from what it measures: sessions, media packet and bit rates, worker CPU.
@Suite struct WorkloadMeasurementTests {
    @Test func mediaRatesAndWorkerCPUAreMeasuredAndSetTheLoad() async throws {
        let node = try await TestNode.start { configuration in
            configuration.shareInterval = 0.2
            configuration.capacity.sessions = 10
            configuration.capacity.packetsPerSecond = 300
            // The worker's CPU is measured: its packets must not go to the kernel fast path.
            configuration.kernelForwarding = .off
        }
        let (caller, callee, relay) = try node.audioCall("rate")
        let idle = try node.request(["command": "workload"])
        #expect(idle["load"] == "0.100" && idle["bottleneck"] == "sessions" && idle["admits"] == "yes")

        // Bursts of 20 packets every 10 ms (2,000 packets/s; still 600 or more when a loaded machine
        // oversleeps) for 0.6 s: three sampling intervals.
        let start = spw_test_seconds()
        var sent = 0
        while spw_test_seconds() - start < 0.6 {
            for _ in 0..<20 {
                _ = caller.send(pcmu(sent), to: relay.forCaller)
                sent += 1
            }
            // A blocking sleep: the rate must not depend on when a busy test pool resumes this.
            usleep(10_000)
        }
        let busy = try node.request(["command": "workload"])
        let packetRate = busy["packet-rate"]?.integerValue ?? 0
        let bitRate = busy["bit-rate"]?.integerValue ?? 0
        #expect(packetRate > 300, "\(busy)")
        // Each packet is 172 bytes of RTP (12 header + 160 payload).
        let expectedBitRate = Double(packetRate) * 172 * 8
        #expect(abs(Double(bitRate) - expectedBitRate) < expectedBitRate * 0.05, "\(busy)")
        // The media worker's own CPU time: above zero while it relays this.
        let cpu = Double(busy["cpu"]?.stringValue ?? "") ?? 0
        #expect(cpu > 0, "\(busy)")
        #expect(busy["bottleneck"] == "packet-rate" && busy["admits"] == "no", "\(busy)")
        let refused = try node.request([
            "command": "offer", "call-id": "more", "from-tag": "A", "sdp": .string(audioSDP(port: 40000)),
        ])
        #expect(refused["error-reason"]?.stringValue?.contains("no peers are configured") == true, "\(refused)")

        // Quiet again: the next samples bring the rate down and the node admits.
        try await Task.sleep(for: .milliseconds(500))
        let quiet = try node.request(["command": "workload"])
        #expect(quiet["packet-rate"] == 0 && quiet["admits"] == "yes", "\(quiet)")
        _ = callee.drain(quietMilliseconds: 50)
        await node.stop()
    }

    @Test func callsEndingAreMeasuredAsARateThatReportsCarry() async throws {
        let node = try await TestNode.start { $0.shareInterval = 0.2 }
        #expect(try node.request(["command": "workload"])["calls-ended-per-second"] == "0.000")
        for call in 0..<10 {
            let offer = try node.request([
                "command": "offer", "call-id": .string("ending-\(call)"), "from-tag": "A",
                "sdp": .string(audioSDP(port: 40000)),
            ])
            #expect(offer["result"] == "ok", "\(offer)")
        }
        // The ten calls end in one burst (set up first, so that no offer waits for ports on a
        // loaded host): smoothed over ten seconds, about one call a second.
        let burstStart = spw_test_seconds()
        for call in 0..<10 {
            #expect(
                try node.request(["command": "delete", "call-id": .string("ending-\(call)"), "from-tag": "A"])["result"]
                    == "ok")
        }
        let burst = spw_test_seconds() - burstStart
        // Two sampling intervals (0.4 s) later every end has been sampled; a loaded host may run the
        // sampling timer late, so the rate is read until it shows, for up to 3 s (the smoothing
        // keeps it near one a second for longer than that).
        var rate = 0.0
        let waitStart = spw_test_seconds()
        repeat {
            try await Task.sleep(for: .milliseconds(200))
            rate = Double(try node.request(["command": "workload"])["calls-ended-per-second"]?.stringValue ?? "") ?? 0
        } while rate <= 0.3 && spw_test_seconds() - waitStart < 3
        #expect(rate > 0.3 && rate < 3, "\(rate) calls/s after ten ended in \(burst) s")
        await node.stop()
    }
}

import Cluster
import Testing

@Suite struct PeerTableTests {
    @Test func reportsFromUnknownNodesTooOldOrOutOfOrderAreNotTrusted() {
        var peers = PeerTable(peers: [("b", "127.0.0.1:1")], ageLimitNanos: 3 * second)
        #expect(peers.record(report("x", sessions: 1), now: second, ageAtArrivalNanos: 0) == .unknownNode)
        #expect(peers.record(report("b", sessions: 1), now: second, ageAtArrivalNanos: 3 * second) == .stale)
        #expect(peers.record(report("b", sessions: 5, sequence: 2), now: second, ageAtArrivalNanos: 0) == .recorded)
        #expect(peers.record(report("b", sessions: 9, sequence: 1), now: second, ageAtArrivalNanos: 0) == .superseded)
        #expect(peers.record(report("b", sessions: 9, sequence: 2), now: second, ageAtArrivalNanos: 0) == .superseded)
        #expect(peers.peer("b")?.report?.usage.sessions == 5)
        // A restarted node (later boot) starts its sequence again and is believed.
        #expect(peers.record(report("b", sessions: 0, boot: 2, sequence: 1), now: second, ageAtArrivalNanos: 0) == .recorded)
    }

    @Test func aNodeThatStopsReportingIsDownUntilItReportsAgain() {
        var peers = table([("b", 10), ("c", 10)])
        let reportedAt: UInt64 = 10 * second
        #expect(peers.markSilentNodesDown(now: reportedAt + 2 * second).isEmpty)
        #expect(peers.peers.allSatisfy { peers.isUsable($0, now: reportedAt + 2 * second) })
        _ = peers.record(report("c", sessions: 10, sequence: 2), now: reportedAt + 2 * second, ageAtArrivalNanos: 0)
        #expect(peers.markSilentNodesDown(now: reportedAt + 3 * second) == ["b"])
        #expect(peers.peer("b")!.isDown)
        #expect(!peers.isUsable(peers.peer("b")!, now: reportedAt + 3 * second))
        #expect(peers.isUsable(peers.peer("c")!, now: reportedAt + 3 * second))
        _ = peers.record(report("b", sessions: 10, sequence: 2), now: reportedAt + 4 * second, ageAtArrivalNanos: 0)
        #expect(!peers.peer("b")!.isDown)
    }

    @Test func theAgeAtArrivalCountsTowardsFreshness() {
        var peers = PeerTable(peers: [("b", "127.0.0.1:1")], ageLimitNanos: 3 * second)
        _ = peers.record(report("b", sessions: 1), now: 10 * second, ageAtArrivalNanos: 2 * second)
        #expect(peers.isFresh(peers.peer("b")!, now: 10 * second + second / 2))
        #expect(!peers.isFresh(peers.peer("b")!, now: 11 * second))
    }

    @Test func callsSteeredSinceTheLastReportRaiseTheEstimate() {
        var peers = table([("b", 50)])
        #expect(peers.estimatedLoad(of: peers.peer("b")!) == 0.5)
        for _ in 0..<10 { peers.noteSpill(to: "b") }
        #expect(peers.estimatedLoad(of: peers.peer("b")!) == 0.6)
        #expect(abs(peers.headroom(of: peers.peer("b")!)! - 0.2) < 1e-9)
        _ = peers.record(report("b", sessions: 52, sequence: 2), now: 11 * second, ageAtArrivalNanos: 0)
        #expect(peers.estimatedLoad(of: peers.peer("b")!) == 0.52)
    }
}

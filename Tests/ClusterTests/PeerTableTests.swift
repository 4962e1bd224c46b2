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
        #expect(
            peers.record(report("b", sessions: 0, boot: 2, sequence: 1), now: second, ageAtArrivalNanos: 0) == .recorded
        )
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
        #expect(peers.estimatedLoad(of: peers.peer("b")!, now: 11 * second) == 0.5)
        for _ in 0..<10 { peers.noteSpill(to: "b") }
        #expect(peers.estimatedLoad(of: peers.peer("b")!, now: 11 * second) == 0.6)
        #expect(abs(peers.headroom(of: peers.peer("b")!, now: 11 * second)! - 0.2) < 1e-9)
        _ = peers.record(report("b", sessions: 52, sequence: 2), now: 11 * second, ageAtArrivalNanos: 0)
        #expect(peers.estimatedLoad(of: peers.peer("b")!, now: 11 * second) == 0.52)
    }

    @Test func callsAReportSaysEndEverySecondLowerTheEstimateAsItAges() {
        var peers = PeerTable(peers: [("b", "127.0.0.1:1")], ageLimitNanos: 3 * second)
        var full = report("b", sessions: 100, threshold: 1.0)
        full.callsEndedPerSecond = 2
        _ = peers.record(full, now: 10 * second, ageAtArrivalNanos: 0)
        let b = peers.peer("b")!
        #expect(peers.estimatedLoad(of: b, now: 10 * second) == 1.0)
        // 1.5 s later three calls have ended by the rate: room for three.
        #expect(abs(peers.estimatedLoad(of: b, now: 10 * second + 3 * second / 2)! - 0.97) < 1e-9)
        peers.noteSpill(to: "b")
        #expect(abs(peers.headroom(of: peers.peer("b")!, now: 10 * second + 3 * second / 2)! - 0.02) < 1e-9)
        // Never more calls ended than were reported.
        var few = report("b", sessions: 2, threshold: 1.0, sequence: 2)
        few.callsEndedPerSecond = 50
        _ = peers.record(few, now: 11 * second, ageAtArrivalNanos: 0)
        #expect(peers.estimatedLoad(of: peers.peer("b")!, now: 13 * second) == 0)
    }

    @Test func aFullNodeThatAnnouncesItsCrossingsStaysFullUntilItSaysOtherwise() {
        var peers = PeerTable(peers: [("b", "127.0.0.1:1")], ageLimitNanos: 3 * second)
        var full = report("b", sessions: 100, threshold: 1.0)
        full.callsEndedPerSecond = 2
        full.announcesThresholdCrossings = true
        _ = peers.record(full, now: 10 * second, ageAtArrivalNanos: 0)
        // Two seconds of its end rate would free four sessions, but it would have said so.
        #expect(peers.estimatedLoad(of: peers.peer("b")!, now: 12 * second) == 1.0)
        // Below its threshold, the same node's estimate ages with its end rate.
        var room = report("b", sessions: 90, threshold: 1.0, sequence: 2)
        room.callsEndedPerSecond = 2
        room.announcesThresholdCrossings = true
        _ = peers.record(room, now: 12 * second, ageAtArrivalNanos: 0)
        #expect(abs(peers.estimatedLoad(of: peers.peer("b")!, now: 14 * second)! - 0.86) < 1e-9)
    }
}

@Suite struct CallEndRateTests {
    @Test func aSteadyRateIsLearntOverTheWindowAndNothingEndedDecaysIt() {
        var rate = CallEndRate(windowNanos: 10 * second)
        var ended: UInt64 = 0
        // 3 calls a second, sampled every 0.2 s for a minute.
        for tick in 0...300 {
            rate.sample(ended: ended, now: UInt64(tick) * second / 5)
            if tick % 5 == 4 { ended += 3 }
        }
        #expect(abs(rate.perSecond - 3) < 0.3, "\(rate.perSecond)")
        // A quiet half minute: almost nothing left.
        for tick in 301...450 { rate.sample(ended: ended, now: UInt64(tick) * second / 5) }
        #expect(rate.perSecond < 0.2, "\(rate.perSecond)")
    }

    @Test func theFirstSampleAndACounterGoingBackwardsTeachNothing() {
        var rate = CallEndRate(windowNanos: 10 * second)
        rate.sample(ended: 1_000, now: 5 * second)
        #expect(rate.perSecond == 0)
        rate.sample(ended: 10, now: 6 * second)
        #expect(rate.perSecond == 0)
        rate.sample(ended: 20, now: 7 * second)
        #expect(rate.perSecond > 0)
    }
}

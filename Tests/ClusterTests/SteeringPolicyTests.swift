import Cluster
import Testing

@Suite struct SteeringPolicyTests {
    let now: UInt64 = 11 * second

    @Test func delegateChoosesOnlyFreshUnvisitedPeersBelowTheirThreshold() {
        // Threshold 0.8 of 100 sessions: c (90) and d (80) are over, b is visited, e is down.
        var peers = table([("b", 10), ("c", 90), ("d", 80), ("e", 10), ("f", 70)])
        peers.markDown("e")
        var generator = SeededGenerator(seed: 1)
        let context = SteeringContext(visited: ["a", "b"], now: now)
        for _ in 0..<200 {
            #expect(DelegatePolicy().choose(from: peers, context: context, using: &generator) == "f")
        }
        // Nobody left shows headroom (d is at its threshold, e is down): no choice, not a guess.
        #expect(
            DelegatePolicy().choose(
                from: peers, context: SteeringContext(visited: ["f", "b"], now: now), using: &generator) == nil)
        // Past the age limit nothing is trusted.
        #expect(
            DelegatePolicy().choose(
                from: peers, context: SteeringContext(visited: [], now: 14 * second), using: &generator) == nil)
    }

    @Test func delegateSpreadsChoicesInProportionToHeadroom() {
        // Headrooms 0.6 (b) and 0.2 (c): about three choices in four go to b.
        let peers = table([("b", 20), ("c", 60)])
        var generator = SeededGenerator(seed: 7)
        var counts: [String: Int] = [:]
        for _ in 0..<8000 {
            counts[
                DelegatePolicy().choose(
                    from: peers, context: SteeringContext(visited: [], now: now), using: &generator)!, default: 0] += 1
        }
        #expect((5800...6200).contains(counts["b"] ?? 0), "\(counts)")
    }

    @Test func primariesSharingOneStaleViewDoNotAllPickTheSamePeer() {
        // 30 primaries, each with the same report of ten peers at 0.5 load, each place 20 calls
        // before any new report: the calls spread, and no peer is pushed past its threshold by them.
        let ids = (0..<10).map { "n\($0)" }
        var landed: [String: Int] = [:]
        var generator = SeededGenerator(seed: 3)
        for _ in 0..<30 {
            var view = table(ids.map { ($0, 50) })
            for _ in 0..<20 {
                let choice = DelegatePolicy().choose(
                    from: view, context: SteeringContext(visited: [], now: now), using: &generator)!
                view.noteSpill(to: choice)
                landed[choice, default: 0] += 1
            }
        }
        #expect(landed.count == 10)
        #expect(landed.values.max()! < 2 * 600 / 10, "\(landed)")
    }

    @Test func sequenceWalksTheConfiguredOrderSkippingVisitedDownAndKnownFullNodes() {
        var peers = PeerTable(peers: [("b", "x"), ("c", "y"), ("d", "z")], ageLimitNanos: 3 * second)
        #expect(SequencePolicy().next(in: peers, context: SteeringContext(visited: ["a"], now: now)) == "b")
        #expect(SequencePolicy().next(in: peers, context: SteeringContext(visited: ["a", "b"], now: now)) == "c")
        peers.markDown("c")
        #expect(SequencePolicy().next(in: peers, context: SteeringContext(visited: ["a", "b"], now: now)) == "d")
        #expect(SequencePolicy().next(in: peers, context: SteeringContext(visited: ["a", "b", "d"], now: now)) == nil)
        // A fresh report at the threshold (0.8) takes b out of the walk; one below keeps d in it.
        var reported = table([("b", 80), ("c", 10), ("d", 50)])
        #expect(SequencePolicy().next(in: reported, context: SteeringContext(visited: ["a"], now: now)) == "c")
        reported.markDown("c")
        #expect(SequencePolicy().next(in: reported, context: SteeringContext(visited: ["a"], now: now)) == "d")
    }

    @Test func theMonitorNamesTheLeastLoadedNodeThatStillAdmits() {
        var peers = table([("b", 40), ("c", 20), ("d", 20), ("e", 85)])
        let context = SteeringContext(visited: [], now: now)
        #expect(LeastLoadedPolicy().choose(from: peers, context: context)?.id == "c")
        peers.noteSpill(to: "c")
        #expect(
            LeastLoadedPolicy().choose(from: peers, context: context)
                == .init(id: "d", estimatedLoad: 0.2, admits: true))
        // Only e (over its threshold) is left: named, marked as not admitting.
        let last = LeastLoadedPolicy().choose(
            from: peers, context: SteeringContext(visited: ["c", "d", "b"], now: now))
        #expect(last == .init(id: "e", estimatedLoad: 0.85, admits: false))
        #expect(
            LeastLoadedPolicy().choose(from: peers, context: SteeringContext(visited: ["b", "c", "d", "e"], now: now))
                == nil)
    }

    @Test func claimingTheLeastLoadedNodeCountsTheCallSentThere() {
        var peers = table([("b", 40), ("c", 20), ("d", 20), ("e", 85)])
        let first = peers.claimLeastLoaded(excluding: [], now: now)
        #expect(first?.choice.id == "c" && first?.node.id == "c")
        // c now counts one more call: d, as loaded as c was, is named next.
        #expect(peers.claimLeastLoaded(excluding: [], now: now)?.choice.id == "d")
        // Only e is left, over its threshold: "all busy", for a client and a node asking where to spill alike.
        #expect(peers.claimLeastLoaded(excluding: ["b", "c", "d"], now: now) == nil)
    }
}

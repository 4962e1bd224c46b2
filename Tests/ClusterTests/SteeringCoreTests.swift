import Cluster
import Testing

/// Every decision of the one steering core the NG router, the RAS endpoint and the call-signalling
/// port share. Node "a" decides; peers report 100 sessions at threshold 0.8.
@Suite struct SteeringCoreTests {
    let now: UInt64 = 11 * second
    var generator = SeededGenerator(seed: 5)

    func decide(
        _ mode: SteeringMode, _ placement: CallPlacement, admitsHere: Bool = false, peers: inout PeerTable
    ) -> SteeringDecision {
        var generator = generator
        return SteeringCore(nodeID: "a", mode: mode).decide(
            placement, admitsHere: admitsHere, peers: &peers, now: now, using: &generator)
    }

    @Test(arguments: SteeringMode.allCases)
    func aNodeBelowItsThresholdTakesTheCallWhateverItsHopsAndPeers(mode: SteeringMode) {
        var empty = PeerTable(peers: [], ageLimitNanos: 3 * second)
        #expect(
            decide(mode, CallPlacement(hopsLeft: 0, visited: ["x", "y"]), admitsHere: true, peers: &empty) == .takeHere)
    }

    @Test func aFullNodeWithoutPeersAnswersAllBusy() {
        var empty = PeerTable(peers: [], ageLimitNanos: 3 * second)
        #expect(decide(.delegate, CallPlacement(hopsLeft: 4), peers: &empty) == .allBusy(.noPeers))
        #expect(decide(.sequence, CallPlacement(hopsLeft: 4), peers: &empty) == .allBusy(.noPeers))
        // The monitor knows the nodes; this node need not.
        #expect(decide(.monitor, CallPlacement(hopsLeft: 4), peers: &empty) == .askMonitor(excluding: ["a"]))
    }

    @Test(arguments: SteeringMode.allCases)
    func aRequestThatMayNotBeForwardedAgainIsRefusedForItsHops(mode: SteeringMode) {
        var peers = table([("b", 10)])
        #expect(decide(mode, CallPlacement(hopsLeft: 0, visited: ["x"]), peers: &peers) == .allBusy(.hopLimitReached))
    }

    @Test func delegateForwardsToAnUnvisitedPeerBelowItsThresholdWithOneHopFewerAndItselfVisited() {
        var peers = table([("b", 10), ("c", 20), ("d", 90)])
        let decision = decide(.delegate, CallPlacement(hopsLeft: 3, visited: ["b"]), peers: &peers)
        #expect(decision == .forward(to: "c", placement: CallPlacement(hopsLeft: 2, visited: ["b", "a"])))
        // The spill counts against c until its next report.
        #expect(peers.peer("c")?.spillsSinceReport == 1)
    }

    @Test func delegateSeeingNoPeerBelowItsThresholdAnswersAllBusyAtOnce() {
        var peers = table([("b", 80), ("c", 95)])
        #expect(decide(.delegate, CallPlacement(hopsLeft: 4), peers: &peers) == .allBusy(.noPeerBelowThreshold))
        // Nor does it go back to a node the request came through, however empty.
        var emptyButVisited = table([("b", 0)])
        #expect(
            decide(.delegate, CallPlacement(hopsLeft: 4, visited: ["b"]), peers: &emptyButVisited)
                == .allBusy(.noPeerBelowThreshold))
    }

    @Test func aPeerThatDidNotAnswerIsLeftOut() {
        var peers = table([("b", 10), ("c", 50)])
        let decision = decide(.delegate, CallPlacement(hopsLeft: 4, unanswered: ["b"]), peers: &peers)
        #expect(decision == .forward(to: "c", placement: CallPlacement(hopsLeft: 3, visited: ["a"])))
        #expect(
            decide(.sequence, CallPlacement(hopsLeft: 4, unanswered: ["b", "c"]), peers: &peers)
                == .allBusy(.endOfSequence))
    }

    @Test func sequenceWalksTheOrderAndEndsAllBusyPastItsLastNode() {
        var peers = PeerTable(peers: [("b", "x"), ("c", "y")], ageLimitNanos: 3 * second)
        #expect(
            decide(.sequence, CallPlacement(hopsLeft: 4), peers: &peers)
                == .forward(to: "b", placement: CallPlacement(hopsLeft: 3, visited: ["a"])))
        #expect(
            decide(.sequence, CallPlacement(hopsLeft: 4, visited: ["b"]), peers: &peers)
                == .forward(to: "c", placement: CallPlacement(hopsLeft: 3, visited: ["b", "a"])))
        #expect(
            decide(.sequence, CallPlacement(hopsLeft: 4, visited: ["b", "c"]), peers: &peers)
                == .allBusy(.endOfSequence))
    }

    @Test func monitorModeAsksTheMonitorLeavingOutVisitedAndSilentNodesThenForwardsToItsAnswer() {
        var peers = table([("b", 10), ("c", 10)])
        let placement = CallPlacement(hopsLeft: 4, visited: ["b"], unanswered: ["c"])
        #expect(decide(.monitor, placement, peers: &peers) == .askMonitor(excluding: ["b", "a", "c"]))
        let core = SteeringCore(nodeID: "a", mode: .monitor)
        #expect(
            core.monitorAnswered("d", for: placement, peers: &peers)
                == .forward(to: "d", placement: CallPlacement(hopsLeft: 3, visited: ["b", "a"])))
        #expect(core.monitorAnswered(nil, for: placement, peers: &peers) == .allBusy(.monitorFoundNone))
        // An answer naming a node the request has been through is not followed back there.
        #expect(core.monitorAnswered("b", for: placement, peers: &peers) == .allBusy(.monitorFoundNone))
        #expect(
            core.monitorAnswered(nil, unavailable: true, for: placement, peers: &peers) == .allBusy(.monitorUnavailable)
        )
    }

    @Test func aRequestVisitsEachNodeAtMostOnceWhenTheClusterIsFull() {
        // The loop: three full nodes, each seeing the others full only through a stale view
        // that still shows room. Whatever each chooses, the visited list ends the walk within the
        // cluster's size, never by the hop limit.
        let nodes = ["a", "b", "c"]
        var views = Dictionary(
            uniqueKeysWithValues: nodes.map { node in (node, table(nodes.filter { $0 != node }.map { ($0, 10) })) })
        var holder = "a"
        var placement = CallPlacement(hopsLeft: 50)
        var generator = SeededGenerator(seed: 9)
        var decision = SteeringDecision.takeHere
        for _ in 0..<50 {
            decision = SteeringCore(nodeID: holder, mode: .delegate).decide(
                placement, admitsHere: false, peers: &views[holder]!, now: now, using: &generator)
            guard case .forward(let next, let carried) = decision else { break }
            holder = next
            placement = carried
        }
        #expect(decision == .allBusy(.noPeerBelowThreshold))
        #expect(placement.visited.count == 2 && Set(placement.visited + [holder]) == Set(nodes))
    }
}

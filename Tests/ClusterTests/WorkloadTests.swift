import Cluster
import Testing

@Suite struct WorkloadTests {
    @Test func loadIsTheHighestRatioOverResourcesWithACapacity() {
        let workload = Workload(
            usage: ResourceUsage(sessions: 30, packetsPerSecond: 6_000, bitsPerSecond: 9e6, cpu: 0.9),
            capacity: ResourceCapacity(sessions: 100, packetsPerSecond: 10_000, bitsPerSecond: 0, cpu: 0))
        #expect(workload.ratios == [.sessions: 0.3, .packetRate: 0.6])
        #expect(workload.load == 0.6)
        #expect(workload.bottleneck == .packetRate)
        #expect(Workload(usage: ResourceUsage(sessions: 5), capacity: ResourceCapacity()).load == 0)
    }

    @Test func aNodeAdmitsBelowItsThresholdAndDrainsAtZero() {
        let threshold = AdmissionThreshold(0.5)
        #expect(threshold.admits(load: 0.49))
        #expect(!threshold.admits(load: 0.5))
        #expect(!AdmissionThreshold.drain.admits(load: 0))
    }

    @Test func aLargeLoadStepOrAThresholdCrossingIsSignificant() {
        let rule = SignificantChange(loadStep: 0.1)
        #expect(!rule.isSignificant(from: (0.30, true), to: (0.35, true)))
        #expect(rule.isSignificant(from: (0.30, true), to: (0.41, true)))
        #expect(rule.isSignificant(from: (0.79, true), to: (0.80, false)))
    }
}

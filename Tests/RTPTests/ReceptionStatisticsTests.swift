import Testing

@testable import RTP

@Suite struct ReceptionStatisticsTests {
    /// Feeds packets `sequences` 20 ms apart at 8 kHz with matching timestamps, plus `skew` per packet.
    func statistics(_ sequences: [Int], arrivalSkew: (Int) -> Int = { _ in 0 }) -> ReceptionStatistics {
        var statistics = ReceptionStatistics()
        for (index, sequence) in sequences.enumerated() {
            let timestamp = UInt32(truncatingIfNeeded: sequence * 160)
            let arrival = UInt32(truncatingIfNeeded: 1000 + index * 160 + arrivalSkew(index))
            statistics.record(
                ssrc: 7, sequenceNumber: UInt16(truncatingIfNeeded: sequence), timestamp: timestamp, arrival: arrival)
        }
        return statistics
    }

    @Test func anUnbrokenStreamLosesNothing() {
        let result = statistics(Array(0..<100))
        // RFC 3550 A.1: the first packet is the probation packet, counting starts with the second.
        #expect(result.expected == 99)
        #expect(result.received == 99)
        #expect(result.lost == 0)
    }

    @Test func gapsCountAsLost() {
        let sequences = Array(0..<100).filter { $0 % 10 != 5 }  // 10 missing
        let result = statistics(sequences)
        #expect(result.lost == 10)
        #expect(result.expected == 99)
    }

    @Test func sequenceWrapAddsACycle() {
        let result = statistics(Array(65500..<65600))
        #expect(result.cycles == 65536)
        #expect(result.extendedMaxSequence == 65536 + 63)
        #expect(result.lost == 0)
    }

    @Test func constantSpacingHasNoJitter() {
        #expect(statistics(Array(0..<50)).jitter == 0)
    }

    @Test func alternatingDelayConvergesToTheDelayDifference() {
        // Every other packet 80 units (10 ms at 8 kHz) late: |D| = 80 each time, so J tends to 80.
        let result = statistics(Array(0..<2000)) { $0 % 2 == 0 ? 0 : 80 }
        #expect((78...80).contains(result.jitter))
    }

    @Test func aNewSSRCRestartsTheStatistics() {
        var result = statistics(Array(0..<10))
        result.record(ssrc: 99, sequenceNumber: 500, timestamp: 0, arrival: 0)
        result.record(ssrc: 99, sequenceNumber: 501, timestamp: 160, arrival: 160)
        #expect(result.ssrc == 99)
        #expect(result.received == 1)
        #expect(result.expected == 1)
    }
}

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

    /// RFC 3550 6.4.1 and A.3: the fraction lost covers the interval since the previous report, the
    /// cumulative count the whole stream; the last sender report's middle NTP bits come back with
    /// the time since it arrived in 1/65536 s.
    @Test func reportBlocksCountLossPerIntervalAndTimeTheLastSenderReport() throws {
        var reporting = ReceptionReporting()
        #expect(reporting.block(for: ReceptionStatistics(), at: 0) == nil)
        let firstBlock = reporting.block(for: statistics(Array(0..<100).filter { $0 % 10 != 5 }), at: 0)
        let first = try #require(firstBlock)
        #expect(first.cumulativeLost == 10 && first.fractionLost == UInt8(10 * 256 / 99))
        #expect(
            first.extendedHighestSequence == 99 && first.lastSenderReport == 0 && first.delaySinceLastSenderReport == 0)

        var report: [UInt8] = [0x80, 200, 0, 6, 0, 0, 0, 7, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xF0]
        report += [UInt8](repeating: 0, count: 12)
        report.withUnsafeBytes { reporting.heard($0, at: 1_000_000_000) }
        // 100 more packets with none lost: the interval's fraction is 0, the total still 10.
        let laterBlock = reporting.block(
            for: statistics(Array(0..<200).filter { $0 < 100 && $0 % 10 != 5 || $0 >= 100 }), at: 1_500_000_000)
        let later = try #require(laterBlock)
        #expect(later.cumulativeLost == 10 && later.fractionLost == 0)
        #expect(later.lastSenderReport == 0x5678_9ABC && later.delaySinceLastSenderReport == 32768)

        var bytes = [UInt8](repeating: 0, count: ReceptionReportBlock.length)
        bytes.withUnsafeMutableBytes { later.write(to: $0.baseAddress!) }
        #expect(Array(bytes[4..<8]) == [0, 0, 0, 10] && Array(bytes[16..<20]) == [0x56, 0x78, 0x9A, 0xBC])
    }
}

import Testing

@testable import MediaPlane

@Suite struct PeerLatchTests {
    static let second: UInt64 = 1_000_000_000

    /// Whether `rule` moves a latch that last heard SSRC 7 up to sequence number `heard` at 10 s
    /// to a packet with `ssrc` and `sequenceNumber` arriving at `now`.
    static func moves(
        _ rule: LatchingRule, heard: UInt16 = 100, to ssrc: UInt32 = 7, _ sequenceNumber: UInt16, at now: UInt64
    ) -> Bool {
        var latch = PeerLatch()
        latch.rule = rule
        return latch.admitsMove(
            to: ssrc, sequenceNumber: sequenceNumber, continuing: (7, heard), lastHeardNanos: 10 * second, now: now)
    }

    @Test func theDefaultFollowsTheStreamOnlyAfterTheLatchedSourceFellSilent() {
        #expect(!Self.moves(.symmetric, 101, at: 10 * Self.second + Self.second / 2))
        #expect(Self.moves(.symmetric, 101, at: 11 * Self.second))
        // Another stream, a repeat, a step back or a jump past RFC 3550's dropout limit is not the peer moving.
        #expect(!Self.moves(.symmetric, to: 8, 101, at: 20 * Self.second))
        #expect(!Self.moves(.symmetric, 100, at: 20 * Self.second))
        #expect(!Self.moves(.symmetric, 90, at: 20 * Self.second))
        #expect(Self.moves(.symmetric, 3100, at: 20 * Self.second))
        #expect(!Self.moves(.symmetric, 3101, at: 20 * Self.second))
    }

    @Test func sequenceNumbersContinueAcrossTheWrap() {
        #expect(Self.moves(.symmetric, heard: 65534, 65535, at: 12 * Self.second))
        #expect(Self.moves(.symmetric, heard: 65534, 3, at: 12 * Self.second))
    }

    @Test func handoverNeedsNoSilenceAndStrictAndAsymmetricNeverMove() {
        #expect(Self.moves(.handover, 101, at: 10 * Self.second))
        #expect(!Self.moves(.handover, to: 8, 101, at: 10 * Self.second))
        #expect(!Self.moves(.strict, 101, at: 60 * Self.second))
        #expect(!Self.moves(.asymmetric, 101, at: 60 * Self.second))
    }

    @Test func aLatchThatHeardNoRTPYetAdmitsNoMove() {
        let latch = PeerLatch()
        #expect(!latch.admitsMove(to: 7, sequenceNumber: 1, continuing: nil, lastHeardNanos: 0, now: 10 * Self.second))
    }

    @Test func theStrongestOfSeveralFlagsWins() {
        let rules = ["symmetric", "media-handover", "strict-source", "asymmetric"].compactMap(LatchingRule.init(flag:))
        #expect(rules == [.symmetric, .handover, .strict, .asymmetric])
        #expect(rules.max { $0.precedence < $1.precedence } == .asymmetric)
        #expect([LatchingRule.handover, .strict].max { $0.precedence < $1.precedence } == .strict)
        #expect(LatchingRule(flag: "trust-address") == nil)
    }
}

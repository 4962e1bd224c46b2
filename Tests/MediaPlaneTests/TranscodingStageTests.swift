import Codecs
import RTP
import Testing

@testable import MediaPlane

/// The worker's transcoding stage on its own, with a clock the test drives: output timing across
/// gaps and jumps, and the sender reports it writes for the stream it creates.
@Suite struct TranscodingStageTests {
    static func stage() throws -> TranscodingStage {
        TranscodingStage(
            inputs: [.init(payloadType: 0, transcoder: try AudioTranscoder(from: .pcmu, to: .pcma))],
            output: .pcma, outputPayloadType: 8, events: nil)
    }

    /// Feeds one 20 ms PCMU packet and returns what the stage wrote: (header or nil for RTCP, bytes).
    static func feed(
        _ stage: TranscodingStage, sequence: Int, timestamp: UInt32, ssrc: UInt32 = 7, payloadType: UInt8 = 0,
        now: UInt64 = 0
    ) -> (outcome: TranscodingStage.Outcome, packets: [(rtcp: Bool, bytes: [UInt8])]) {
        var packet: [UInt8] = [0x80, payloadType, UInt8(sequence >> 8), UInt8(sequence & 0xFF)]
        packet += withUnsafeBytes(of: timestamp.bigEndian, Array.init) + withUnsafeBytes(of: ssrc.bigEndian, Array.init)
        packet += [UInt8](repeating: 0xFF, count: 160)
        var generated = GeneratedPackets()
        let outcome = packet.withUnsafeBytes { bytes in
            stage.process(bytes, header: try! RTPHeader.parse(bytes).get(), now: now, into: &generated)
        }
        var written: [(Bool, [UInt8])] = []
        for index in 0..<generated.count {
            var copy: [UInt8] = []
            _ = generated.transform(index) { bytes, length in
                copy = Array(UnsafeRawBufferPointer(start: bytes, count: length))
                return true
            }
            written.append((generated.isRTCP(index), copy))
        }
        return (outcome, written)
    }

    static func header(_ bytes: [UInt8]) -> RTPHeader { bytes.withUnsafeBytes { try! RTPHeader.parse($0).get() } }

    @Test func shortGapsAreConcealedAndLongOnesSkipTheClockAhead() throws {
        let stage = try Self.stage()
        let first = Self.feed(stage, sequence: 1, timestamp: 1000).packets
        #expect(first.count == 1 && Self.header(first[0].bytes).marker)
        let start = Self.header(first[0].bytes).timestamp
        // One 20 ms packet lost: the stage fills it, so the next input gives two outputs, in step.
        let afterLoss = Self.feed(stage, sequence: 3, timestamp: 1320).packets.map { Self.header($0.bytes) }
        #expect(afterLoss.map(\.timestamp) == [start &+ 160, start &+ 320])
        #expect(afterLoss.allSatisfy { !$0.marker })
        // A 2 s silence (beyond the 100 ms concealed): the clock skips ahead and the marker is set.
        let afterSilence = Self.feed(stage, sequence: 4, timestamp: 1480 + 16000).packets.map { Self.header($0.bytes) }
        #expect(afterSilence.count == 1)
        #expect(afterSilence[0].timestamp == start &+ 480 &+ 16000 && afterSilence[0].marker)
        // Sequence numbers count what the stage sent.
        #expect(afterSilence[0].sequenceNumber == Self.header(first[0].bytes).sequenceNumber &+ 3)
        // A late packet (already concealed) is dropped, not sent out of time.
        guard case .dropped(.transcodingFailed) = Self.feed(stage, sequence: 2, timestamp: 1160).outcome else {
            Issue.record("a late packet was not dropped")
            return
        }
        // A payload type outside the negotiation is dropped as such.
        guard
            case .dropped(.unsupportedPayloadType) = Self.feed(stage, sequence: 5, timestamp: 17640, payloadType: 13)
                .outcome
        else {
            Issue.record("comfort noise was not refused")
            return
        }
    }

    @Test func sendsSenderReportsForTheStreamItCreates() throws {
        let stage = try Self.stage()
        var reports: [[UInt8]] = []
        for index in 0..<300 {
            let now = UInt64(index) * 20_000_000 + 1
            reports += Self.feed(stage, sequence: index, timestamp: UInt32(index * 160), now: now).packets.filter(
                \.rtcp
            ).map(\.bytes)
        }
        // 6 s of packets: one report at the 5 s mark (none before the first interval).
        #expect(reports.count == 1)
        let report = try #require(reports.first)
        #expect(report.withUnsafeBytes { RTCP.packetTypes($0) } == [200, 202])
        let word = { (offset: Int) in report.withUnsafeBytes { $0.loadBigEndianUInt32(at: offset) } }
        #expect(word(4) == stage.ssrc)
        // Packets and octets sent before the report (250 packets of 160 bytes at the 5 s mark).
        #expect(word(20) == 251 && word(24) == 251 * 160)
        #expect(Array(report[38..<46]) == Array("spillway".utf8))
    }
}

import Codecs
import Foundation
import MediaPlane
import RTP
import SpillwayClient
import SpillwayNode
import Testing

/// The RTCP a transcoded leg's peer gets from the relay: a sender report for the relay's stream
/// with a report block on how the peer's own stream arrives, decoded by tshark.
/// Fixed media ports below Linux's ephemeral range, apart from the other suites' ones.
@Suite(.serialized) struct TranscodedReportTests {
    @Test func theSenderReportTowardsAPeerReportsTheLossOfItsStreamAndTimesItsLastReport() async throws {
        let directory = try scratchDirectory("transcoded-report")
        let (node, client) = try await startLoopbackNode(mediaPorts: 14640...14679, label: "transcoded-report-test")
        let caller = try UDPPeer(bindingTo: "127.0.0.1", port: 14710)
        let callee = try UDPPeer(bindingTo: "127.0.0.1", port: 14712)
        let calleeRTCP = try UDPPeer(bindingTo: "127.0.0.1", port: 14713)
        let sdp = { (port: UInt16, format: String) in
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio \(port) RTP/AVP \(format)\r\n"
        }
        let offer = try client.request([
            "command": "offer", "call-id": "transcoded-report", "from-tag": "caller",
            "sdp": .string(sdp(14710, "0\r\na=rtpmap:0 PCMU/8000")), "codec": ["transcode": ["opus"]],
        ])
        let answer = try client.request([
            "command": "answer", "call-id": "transcoded-report", "from-tag": "caller", "to-tag": "callee",
            "sdp": .string(sdp(14712, "96\r\na=rtpmap:96 opus/48000/2")),
        ])
        let relayForCaller = try ScriptedCall.mediaAddress(in: answer)
        let relayForCallee = try ScriptedCall.mediaAddress(in: offer)
        let capture = try await LoopbackCapture.start(filter: "udp dst port 14713", in: directory)

        // The callee's Opus stream, sequence numbers 1-60 with 7 of them lost on the way in.
        let lost: Set<Int> = [10, 11, 12, 30, 40, 41, 50]
        let encoder = try OpusEncoder(sampleRate: 48000, settings: OpusEncoderSettings())
        let silence = [Float](repeating: 0, count: 960)
        var frame = [UInt8](repeating: 0, count: 1500)
        for sequence in 1...60 where !lost.contains(sequence) {
            let length = try silence.withUnsafeBufferPointer { samples in
                try frame.withUnsafeMutableBytes { try encoder.encode(samples, into: $0) }
            }
            callee.send(
                ScriptedCall.rtp(
                    sequence: sequence, timestamp: UInt32(sequence * 960), ssrc: 0xCA11_EE00, payloadType: 96,
                    payload: Array(frame[..<length])), to: relayForCallee)
            usleep(2000)
        }
        // And its sender report: NTP time 0x12345678.9ABCDEF0, so the LSR to echo is 0x56789ABC.
        var report: [UInt8] = [0x80, 200, 0, 6]
        for word: UInt32 in [0xCA11_EE00, 0x1234_5678, 0x9ABC_DEF0, 57_600, 53, 53 * 10] {
            report += withUnsafeBytes(of: word.bigEndian, Array.init)
        }
        let relayRTCPForCallee = try #require(SocketAddress(ip: relayForCallee.ip, port: relayForCallee.port + 1))
        calleeRTCP.send(report, to: relayRTCPForCallee)
        usleep(200_000)
        // The caller's first packet makes the stage towards the callee send its first report.
        caller.send(
            ScriptedCall.rtp(
                sequence: 1, timestamp: 0, ssrc: 0x0CA1_1E00, payloadType: 0,
                payload: [UInt8](repeating: 0xFF, count: 160)), to: relayForCaller)
        let heard = calleeRTCP.receive(timeoutMilliseconds: 2000)
        await capture.stop()
        _ = try client.request(["command": "delete", "call-id": "transcoded-report"])
        await node.shutdown()
        #expect(heard != nil, "the callee got no RTCP from the relay")

        let blocks = try await tsharkFields(
            capture.path, filter: "rtcp.pt == 200",
            fields: [
                "rtcp.sender.packetcount", "rtcp.ssrc.identifier", "rtcp.ssrc.cum_nr", "rtcp.ssrc.fraction",
                "rtcp.ssrc.ext_high", "rtcp.ssrc.lsr", "rtcp.ssrc.dlsr",
            ], arguments: ["-d", "udp.port==14713,rtcp"])
        let block = try #require(blocks.first, "tshark found no sender report")
        #expect(block[0] == "1", "the report counts the one packet sent: \(block)")
        // The identifier field also holds the SDES chunk's SSRC (the relay's stream), after the block's.
        #expect(block[1].split(separator: ",").first == "0xca11ee00", "\(block)")
        #expect(block[2] == "7" && block[4] == "60", "\(block)")
        // 7 lost of the 59 expected after the source was validated (RFC 3550 A.1, A.3): 30/256.
        #expect(block[3] == "30", "\(block)")
        // LSR echoes the middle of the callee's NTP time; DLSR is the 0.2 s since, in 1/65536 s.
        #expect(block[5] == "\(0x5678_9ABC)" && (Int(block[6]) ?? 0) > 65536 / 10, "\(block)")
    }
}

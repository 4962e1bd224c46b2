import Codecs
import Foundation
import MediaPlane
import RTP
import SpillwayClient
import SpillwayNode
import Testing

/// How a transcoded call sounds, by ITU-T P.862 PESQ on speech (espeak-ng, scored by PyPI `pesq`):
/// a sentence sent as PCMU into a call whose callee takes only Opus, the callee's Opus echoed back,
/// and what the caller hears (PCMU -> Opus -> PCMU) scored against what it sent.
/// Fixed media ports below Linux's ephemeral range, apart from the other suites' ones.
@Suite(.serialized) struct VoiceQualityTests {
    /// The narrowband MOS-LQO the round trip must reach at the node's default encoder settings
    /// (measured: see bench/README "Voice quality"), and must miss with the encoder at 6 kb/s.
    static let floor = 3.5

    @Test func aTranscodedRoundTripScoresAboveTheFloorAndA6KbpsEncoderFallsBelowIt() async throws {
        let directory = try scratchDirectory("voice-quality")
        let speech = try await Self.speech(in: directory)
        let (node, client) = try await startLoopbackNode(mediaPorts: 14600...14639, label: "voice-quality-test")
        let atDefault = try await Self.roundTrip(speech, client: client, opus: "opus", directory: directory)
        let at6k = try await Self.roundTrip(speech, client: client, opus: "opus/48000/2/6000", directory: directory)
        print("PCMU -> Opus -> PCMU round trip: PESQ \(atDefault) at the default settings, \(at6k) at 6 kb/s")
        #expect(atDefault >= Self.floor, "PESQ \(atDefault) at the default encoder settings")
        #expect(at6k < Self.floor, "PESQ \(at6k) with the encoder at 6 kb/s: the floor does not tell them apart")
        await node.shutdown()
    }

    /// Sentences from espeak-ng, at 8 kHz (16-bit samples).
    static func speech(in directory: String) async throws -> [Int16] {
        let spoken = "\(directory)/speech.wav"
        let espeak = try ChildProcess(
            "espeak-ng", try ExternalTool.path("espeak-ng", package: "espeak-ng"),
            [
                "-v", "en-us+f3", "-s", "150", "-w", spoken,
                "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background.",
            ], directory: directory)
        #expect(await espeak.wait(seconds: 30) == 0, "espeak-ng: \(espeak.output)")
        let raw = "\(directory)/speech-8k.raw"
        let ffmpeg = try ChildProcess(
            "ffmpeg", try ExternalTool.path("ffmpeg", package: "ffmpeg"),
            ["-hide_banner", "-loglevel", "error", "-y", "-i", spoken, "-ar", "8000", "-ac", "1", "-f", "s16le", raw],
            directory: directory)
        #expect(await ffmpeg.wait(seconds: 30) == 0, "ffmpeg: \(ffmpeg.output)")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: raw)))
        let samples = stride(from: 0, to: bytes.count - 1, by: 2).map {
            Int16(bitPattern: UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8)
        }
        try #require(samples.count > 8000 * 3, "espeak-ng spoke \(samples.count) samples")
        return samples
    }

    /// The PESQ of `speech` after PCMU -> `opus` (the NG transcode entry) -> PCMU through the node.
    static func roundTrip(_ speech: [Int16], client: NGClient, opus: String, directory: String) async throws -> Double {
        let caller = try UDPPeer(bindingTo: "127.0.0.1", port: 14700)
        let callee = try UDPPeer(bindingTo: "127.0.0.1", port: 14702)
        let callID = "voice-\(opus)"
        let sdp = { (port: UInt16, format: String) in
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio \(port) RTP/AVP \(format)\r\n"
        }
        let offer = try client.request([
            "command": "offer", "call-id": .string(callID), "from-tag": "caller",
            "sdp": .string(sdp(14700, "0\r\na=rtpmap:0 PCMU/8000")), "codec": ["transcode": [.string(opus)]],
        ])
        let answer = try client.request([
            "command": "answer", "call-id": .string(callID), "from-tag": "caller", "to-tag": "callee",
            "sdp": .string(sdp(14702, "96\r\na=rtpmap:96 opus/48000/2")),
        ])
        let relayForCaller = try ScriptedCall.mediaAddress(in: answer)
        let relayForCallee = try ScriptedCall.mediaAddress(in: offer)
        let frames = speech.count / 160
        let sent = (0..<frames).map { index in
            ScriptedCall.rtp(
                sequence: index, timestamp: UInt32(index * 160), ssrc: 0x5EEC, payloadType: 0, marker: index == 0,
                payload: speech[(index * 160)..<((index + 1) * 160)].map(G711Law.muLaw.encode))
        }
        let opusPackets = Self.exchange(sent, from: caller, to: relayForCaller, receiver: callee)
        #expect(opusPackets.count == frames, "the callee got \(opusPackets.count) of \(frames) Opus packets")
        let returned = Self.exchange(opusPackets, from: callee, to: relayForCallee, receiver: caller)
        _ = try client.request(["command": "delete", "call-id": .string(callID)])
        #expect(returned.count >= frames - 1, "the caller got \(returned.count) of \(frames) PCMU packets")
        var heard: [Int16] = []
        for packet in returned.sorted(by: { Self.sequence($0) < Self.sequence($1) }) {
            heard += packet.dropFirst(12).map(G711Law.muLaw.decode)
        }
        let reference = "\(directory)/reference.raw"
        let degraded = "\(directory)/degraded-\(opus.replacingOccurrences(of: "/", with: "-")).raw"
        // The reference is what the caller sent: its speech through G.711.
        try Self.write(
            speech.prefix(frames * 160).map { G711Law.muLaw.decode(G711Law.muLaw.encode($0)) }, to: reference)
        try Self.write(heard, to: degraded)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Scripts/pesq_score.py"
        ).path
        let python = try ChildProcess(
            "pesq", try ExternalTool.path("python3", package: "python3"), [script, reference, degraded],
            directory: directory)
        let status = await python.wait(seconds: 60)
        try #require(status == 0, "pesq_score.py failed (pip install pesq numpy): \(python.output)")
        let line = try #require(python.output.split(separator: "\n").last { $0.hasPrefix("{") })
        let result = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        return try #require(result["mos"] as? Double, "\(result)")
    }

    /// Sends `packets` 2 ms apart and returns what `receiver` got of them.
    static func exchange(_ packets: [[UInt8]], from sender: UDPPeer, to relay: SocketAddress, receiver: UDPPeer)
        -> [[UInt8]]
    {
        var received: [[UInt8]] = []
        for packet in packets {
            sender.send(packet, to: relay)
            received += receiver.drain(quietMilliseconds: 0).map(\.bytes)
            usleep(2000)
        }
        received += receiver.drain(quietMilliseconds: 300).map(\.bytes)
        return received.filter { $0.count > 12 && $0[1] & 0x7F != 72 && $0[1] & 0x7F != 73 }  // RTP, not RTCP
    }

    static func sequence(_ packet: [UInt8]) -> UInt16 { UInt16(packet[2]) << 8 | UInt16(packet[3]) }

    static func write(_ samples: [Int16], to path: String) throws {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(samples.count * 2)
        for sample in samples { bytes += [UInt8(truncatingIfNeeded: sample), UInt8(truncatingIfNeeded: sample >> 8)] }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}

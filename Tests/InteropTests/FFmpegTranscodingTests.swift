import Bencode
import Foundation
import SpillwayTestFixtures
import SpillwayTestSupport
import Testing

/// ffmpeg as both real peers of a transcoded call (libavcodec's G.711, libopus through
/// libavcodec, its RTP muxer and demuxer): a PCMU sender heard by an Opus-only receiver, and an
/// Opus sender heard by a PCMU-only receiver. The decoded audio is measured against the source
/// tone: its frequency within 1% and its signal-to-noise ratio of at least 20 dB.
/// The Opus receiver decodes with libopus (`-c:a libopus`), the reference decoder browsers and
/// phones use: ffmpeg's own Opus decoder renders narrowband SILK, which the relay sends for a G.711
/// source, about 20 dB noisier than libopus does (18 dB against 37.5 dB for this tone).
/// Fixed ports below Linux's ephemeral range, apart from the other ffmpeg suites' ones.
@Suite(.serialized) struct FFmpegTranscodingTests {
    let calls = FFmpegRelayCall(
        receiverPort: 17400, senderPort: 17500, mediaPorts: 14200...14299, label: "ffmpeg-transcoding-test")

    func sdp(port: UInt16, format: String) -> String {
        let (payloadType, rtpmap) =
            switch format {
            case "opus": ("96", "opus/48000/2")
            case "G722": ("9", "G722/8000")
            default: ("0", "PCMU/8000")
            }
        return "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=ffmpeg\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            + "m=audio \(port) RTP/AVP \(payloadType)\r\na=rtpmap:\(payloadType) \(rtpmap)\r\n"
    }

    /// Checks what the receiver decoded (mono 16-bit at `rate`, without the first 200 ms of codec
    /// and resampler start-up) against the source tone, and that the relay transcoded the sender's
    /// stream into `codec` without a drop.
    func expectTone(
        _ result: FFmpegRelayCall.Result, rate: Int, frequency: Double, transcodedTo codec: String, label: String
    ) {
        let count = result.receivedAudio.count / 2
        let received = result.receivedAudio.withUnsafeBytes { raw in
            (0..<count).dropFirst(rate / 5).map {
                Double(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: Int16.self))) / 32768
            }
        }
        #expect(received.count > rate, "receiver log: \(result.receiverLog.suffix(1500))")
        let tone = ToneMeasurement(samples: received, sampleRate: Double(rate), expectedFrequency: frequency)
        print("\(label): \(tone)")
        #expect(abs(tone.frequency - frequency) <= frequency / 100, "\(tone)")
        #expect(tone.signalToNoiseDecibels >= 20, "\(tone)")
        let sender = result.query["tags"]?["sender"]?["medias"]?.listValue?.first
        #expect(sender?["transcoded to"] == .string(codec))
        #expect(sender?["streams"]?.listValue?.first?["drops"] == .dictionary([:]))
    }

    /// A call from an ffmpeg sending `source` in `sender` (an SDP format name) to an ffmpeg that takes
    /// only `receiver`, the relay transcoding; the receiver's decode, mono at `rate`.
    func transcodedCall(
        _ name: String, source: FFmpegRelayCall.Source = .pcmuTone, from sender: String, to receiver: String, rate: Int
    ) async throws -> FFmpegRelayCall.Result {
        try await calls.run(
            name, source: source,
            offer: [
                "sdp": .string(sdp(port: calls.senderPort, format: sender)),
                "codec": ["transcode": [.string(receiver)]],
            ],
            answerSDP: sdp(port: calls.receiverPort, format: receiver),
            receiverSDP: { _ in sdp(port: calls.receiverPort, format: receiver) },
            receiverDecoder: receiver == "opus" ? ["-c:a", "libopus"] : [],
            receiverOutput: ["-ac", "1", "-ar", "\(rate)", "-f", "s16le"],
            senderOutput: {
                ["-f", "rtp"] + (sender == "opus" ? ["-payload_type", "96"] : [])
                    + ["rtp://127.0.0.1:\($0)?localrtpport=\(calls.senderPort)"]
            })
    }

    @Test func ffmpegsPCMUIsHeardByAnOpusOnlyFFmpeg() async throws {
        let result = try await transcodedCall("pcmu-to-opus", from: "PCMU", to: "opus", rate: 48000)
        expectTone(
            result, rate: 48000, frequency: 1000, transcodedTo: "opus/48000/2",
            label: "ffmpeg PCMU -> relay -> ffmpeg Opus")
    }

    @Test func ffmpegsOpusIsHeardByAPCMUOnlyFFmpeg() async throws {
        let opus = FFmpegRelayCall.Source(
            filter: "sine=frequency=440:sample_rate=48000",
            codec: ["-c:a", "libopus", "-b:a", "32k", "-frame_duration", "20", "-application", "voip"])
        let result = try await transcodedCall("opus-to-pcmu", source: opus, from: "opus", to: "PCMU", rate: 8000)
        expectTone(
            result, rate: 8000, frequency: 440, transcodedTo: "PCMU/8000", label: "ffmpeg Opus -> relay -> ffmpeg PCMU")
    }

    /// Wideband end to end: a 6 kHz tone, which no narrowband codec carries, sent as G.722 and heard
    /// at 6 kHz by an Opus-only receiver (the relay decodes G.722 at 16 kHz and encodes Opus from it).
    @Test func ffmpegsWidebandG722IsHeardByAnOpusOnlyFFmpeg() async throws {
        let g722 = FFmpegRelayCall.Source(filter: "sine=frequency=6000:sample_rate=16000", codec: ["-c:a", "g722"])
        let result = try await transcodedCall("g722-to-opus", source: g722, from: "G722", to: "opus", rate: 48000)
        expectTone(
            result, rate: 48000, frequency: 6000, transcodedTo: "opus/48000/2",
            label: "ffmpeg G.722 -> relay -> ffmpeg Opus")
    }

    @Test func ffmpegsPCMUIsHeardByAG722OnlyFFmpeg() async throws {
        let result = try await transcodedCall("pcmu-to-g722", from: "PCMU", to: "G722", rate: 16000)
        expectTone(
            result, rate: 16000, frequency: 1000, transcodedTo: "G722/8000",
            label: "ffmpeg PCMU -> relay -> ffmpeg G.722")
    }
}

import Bencode
import Foundation
import Logging
import MediaPlane
import SpillwayClient
import SpillwayNode
import Testing

/// ffmpeg sends PCMU audio and H.264 video as two m= lines of one call through a Spillway node;
/// ffmpeg on the far side decodes them. The decoded frames must equal a local decode of the source.
/// Fixed ports sit below Linux's ephemeral range (32768-60999), as in KamailioSIPpTests.
@Suite(.serialized) struct FFmpegTests {
    let receiverAudioPort: UInt16 = 17000
    let receiverVideoPort: UInt16 = 17002
    let senderAudioPort: UInt16 = 17100
    let senderVideoPort: UInt16 = 17102
    let seconds = 4
    let frameRate = 25

    @Test func ffmpegDecodesEveryAudioSampleAndEveryVideoFrameSentThroughTheRelay() async throws {
        let ffmpeg = try ExternalTool.path("ffmpeg", package: "ffmpeg")
        let directory = try scratchDirectory("ffmpeg")
        var children: [ChildProcess] = []
        defer { for child in children { child.stop() } }

        try await AudioVideoSource.encode(seconds: seconds, frameRate: frameRate, ffmpeg: ffmpeg, directory: directory)

        let (node, ng) = try await startLoopbackNode(mediaPorts: 14000...14099, label: "ffmpeg-test")

        _ = try ng.request([
            "command": "offer", "call-id": "ffmpeg-av", "from-tag": "sender",
            "sdp": .string(twoStreamSDP(audioPort: senderAudioPort, videoPort: senderVideoPort)),
        ])
        let receiverSDP = twoStreamSDP(audioPort: receiverAudioPort, videoPort: receiverVideoPort)
        let answer = try ng.request([
            "command": "answer", "call-id": "ffmpeg-av", "from-tag": "sender", "to-tag": "receiver",
            "sdp": .string(receiverSDP),
        ])
        let relayPorts = try #require(answer["sdp"]?.stringValue).split(whereSeparator: \.isNewline)
            .filter { $0.hasPrefix("m=") }.compactMap { UInt16($0.split(separator: " ")[1]) }
        #expect(relayPorts.count == 2)

        try receiverSDP.write(toFile: "\(directory)/receiver.sdp", atomically: true, encoding: .utf8)
        let receiver = try ChildProcess(
            "receiver", ffmpeg,
            [
                "-hide_banner", "-nostdin", "-y", "-threads", "1", "-protocol_whitelist", "file,udp,rtp", "-i",
                "receiver.sdp",
                // Each output ends once it holds as much as the source: all of it must cross the relay.
                "-map", "0:v", "-frames:v", "\(seconds * frameRate)", "-f", "framemd5", "received-video.md5",
                "-map", "0:a", "-t", "\(seconds)", "-f", "s16le", "received-audio.raw",
            ],
            directory: directory)
        children.append(receiver)
        #expect(
            await ChildProcess.eventually(seconds: 10) {
                udpPortIsBound(receiverAudioPort) && udpPortIsBound(receiverVideoPort)
            })

        let sender = try ChildProcess(
            "sender", ffmpeg,
            [
                "-hide_banner", "-nostdin", "-re", "-i", "source.mkv",
                "-map", "0:a", "-c", "copy", "-f", "rtp",
                "rtp://127.0.0.1:\(relayPorts[0])?localrtpport=\(senderAudioPort)",
                "-map", "0:v", "-c", "copy", "-f", "rtp",
                "rtp://127.0.0.1:\(relayPorts[1])?localrtpport=\(senderVideoPort)",
            ],
            directory: directory)
        children.append(sender)
        #expect(await sender.wait(seconds: 30) == 0, "sender failed: \(sender.output.suffix(1500))")
        // The receiver stops by itself once it holds the whole source; otherwise SIGINT, 2 s after the
        // sender finished, makes it write out what it got. The comparison below decides.
        if !(await ChildProcess.eventually(seconds: 2) { !receiver.isRunning }) { await receiver.interrupt() }
        #expect(!receiver.isRunning, "receiver did not finish: \(receiver.output.suffix(1500))")

        let query = try ng.request(["command": "query", "call-id": "ffmpeg-av"])
        await node.shutdown()

        let referenceFrames = try AudioVideoSource.frameHashes("\(directory)/reference-video.md5")
        let receivedFrames = try AudioVideoSource.frameHashes("\(directory)/received-video.md5")
        #expect(referenceFrames.count == seconds * frameRate)
        #expect(receivedFrames == referenceFrames, "receiver log: \(receiver.output.suffix(1500))")
        let referenceAudio = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/reference-audio.raw"))
        let receivedAudio = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/received-audio.raw"))
        #expect(referenceAudio.count == seconds * 8000 * 2)
        #expect(receivedAudio == referenceAudio)

        let senderMedia = try #require(query["tags"]?["sender"]?["medias"]?.listValue)
        let video = senderMedia[1]["streams"]?.listValue?.first
        #expect(video?["frames"] == .integer(Int64(seconds * frameRate)))
        #expect(video?["lost"] == 0)
        #expect(senderMedia[0]["streams"]?.listValue?.first?["lost"] == 0)
    }

    func twoStreamSDP(audioPort: UInt16, videoPort: UInt16) -> String {
        """
        v=0\r
        o=- 0 0 IN IP4 127.0.0.1\r
        s=ffmpeg\r
        c=IN IP4 127.0.0.1\r
        t=0 0\r
        m=audio \(audioPort) RTP/AVP 0\r
        a=rtpmap:0 PCMU/8000\r
        m=video \(videoPort) RTP/AVP 96\r
        a=rtpmap:96 H264/90000\r
        a=fmtp:96 packetization-mode=1\r

        """
    }
}

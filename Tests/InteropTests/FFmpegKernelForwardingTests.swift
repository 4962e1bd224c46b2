import Bencode
import Foundation
import Logging
import MediaPlane
import SpillwayClient
import SpillwayNode
import Testing

/// ffmpeg audio (PCMU) and video (H.264) both ways through a node that forwards in the kernel: a
/// call with four m= lines, audio and video from each party to the other. Each receiving ffmpeg
/// must decode everything, while the node's workers see only the packets that latch the parties.
@Suite(.serialized) struct FFmpegKernelForwardingTests {
    /// Where each party sends from and receives on: audio and video out, audio and video in.
    static let callerPorts: [UInt16] = [17800, 17802, 17804, 17806]
    static let calleePorts: [UInt16] = [17810, 17812, 17814, 17816]
    let seconds = 4
    let frameRate = 25

    static func sdp(_ ports: [UInt16]) -> String {
        var text = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=ffmpeg\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        for (index, port) in ports.enumerated() {
            text +=
                index % 2 == 0
                ? "m=audio \(port) RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
                : "m=video \(port) RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\n"
        }
        return text
    }

    static func relayPorts(in reply: BencodeValue) throws -> [UInt16] {
        try #require(reply["sdp"]?.stringValue).split(whereSeparator: \.isNewline)
            .filter { $0.hasPrefix("m=") }.compactMap { UInt16($0.split(separator: " ")[1]) }
    }

    @Test func audioAndVideoCrossBothWaysInTheKernelAndDecodeInFull() async throws {
        let ffmpeg = try ExternalTool.path("ffmpeg", package: "ffmpeg")
        let directory = try scratchDirectory("ffmpeg-kernel")
        var children: [ChildProcess] = []
        defer { for child in children { child.stop() } }

        try await AudioVideoSource.encode(seconds: seconds, frameRate: frameRate, ffmpeg: ffmpeg, directory: directory)

        var logger = Logger(label: "ffmpeg-kernel")
        logger.logLevel = .warning
        var configuration = NodeConfiguration()
        configuration.ngAddress = "127.0.0.1:0"
        configuration.portRange = 14400...14499
        configuration.kernelForwarding = .on
        let node = try await RelayNode.start(configuration, logger: logger)
        let ng = try NGClient(server: node.ngAddress)

        let offer = try ng.request([
            "command": "offer", "call-id": "kernel-av", "from-tag": "caller",
            "sdp": .string(Self.sdp(Self.callerPorts)),
        ])
        let answer = try ng.request([
            "command": "answer", "call-id": "kernel-av", "from-tag": "caller", "to-tag": "callee",
            "sdp": .string(Self.sdp(Self.calleePorts)),
        ])
        let relayForCallee = try Self.relayPorts(in: offer)
        let relayForCaller = try Self.relayPorts(in: answer)
        #expect(relayForCallee.count == 4 && relayForCaller.count == 4)

        // The callee receives the first two m= lines, the caller the last two.
        var receivers: [(name: String, process: ChildProcess)] = []
        for (name, ports) in [("callee", Array(Self.calleePorts[0..<2])), ("caller", Array(Self.callerPorts[2..<4]))] {
            try Self.sdp(ports).write(toFile: "\(directory)/\(name).sdp", atomically: true, encoding: .utf8)
            let receiver = try ChildProcess(
                "\(name)-receiver", ffmpeg,
                [
                    "-hide_banner", "-nostdin", "-y", "-threads", "1", "-protocol_whitelist", "file,udp,rtp", "-i",
                    "\(name).sdp", "-map", "0:v", "-frames:v", "\(seconds * frameRate)", "-f", "framemd5",
                    "\(name)-video.md5", "-map", "0:a", "-t", "\(seconds)", "-f", "s16le", "\(name)-audio.raw",
                ],
                directory: directory)
            children.append(receiver)
            receivers.append((name, receiver))
        }
        #expect(
            await ChildProcess.eventually(seconds: 10) {
                [Self.calleePorts[0], Self.calleePorts[1], Self.callerPorts[2], Self.callerPorts[3]].allSatisfy {
                    udpPortIsBound($0)
                }
            })

        // Each party sends its audio and video from the ports its SDP names.
        var senders: [ChildProcess] = []
        for (name, from, to) in [
            ("caller", Array(Self.callerPorts[0..<2]), Array(relayForCaller[0..<2])),
            ("callee", Array(Self.calleePorts[2..<4]), Array(relayForCallee[2..<4])),
        ] {
            let sender = try ChildProcess(
                "\(name)-sender", ffmpeg,
                [
                    "-hide_banner", "-nostdin", "-re", "-i", "source.mkv",
                    "-map", "0:a", "-c", "copy", "-f", "rtp", "rtp://127.0.0.1:\(to[0])?localrtpport=\(from[0])",
                    "-map", "0:v", "-c", "copy", "-f", "rtp", "rtp://127.0.0.1:\(to[1])?localrtpport=\(from[1])",
                ],
                directory: directory)
            children.append(sender)
            senders.append(sender)
        }
        for sender in senders {
            #expect(await sender.wait(seconds: 30) == 0, "sender failed: \(sender.output.suffix(1500))")
        }
        for (_, receiver) in receivers {
            if !(await ChildProcess.eventually(seconds: 2) { !receiver.isRunning }) { await receiver.interrupt() }
        }

        let query = try ng.request(["command": "query", "call-id": "kernel-av"])
        let plane = try ng.request(["command": "statistics"])["spillway"]?["data-plane"]
        await node.shutdown()

        let referenceFrames = try AudioVideoSource.frameHashes("\(directory)/reference-video.md5")
        let referenceAudio = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/reference-audio.raw"))
        #expect(referenceFrames.count == seconds * frameRate && referenceAudio.count == seconds * 8000 * 2)
        for (name, receiver) in receivers {
            let frames = try AudioVideoSource.frameHashes("\(directory)/\(name)-video.md5")
            #expect(frames == referenceFrames, "\(name): \(frames.count) frames; \(receiver.output.suffix(1000))")
            let audio = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name)-audio.raw"))
            #expect(audio == referenceAudio, "\(name): \(audio.count) bytes of audio")
        }

        // Every packet is in query, wherever it was forwarded.
        var queried: Int64 = 0
        for tag in ["caller", "callee"] {
            for media in try #require(query["tags"]?[tag]?["medias"]?.listValue) {
                let stream = media["streams"]?.listValue?.first
                #expect(stream?["lost"] == 0, "\(tag): \(String(describing: stream))")
                queried += (stream?["stats"]?["packets"]?.integerValue ?? 0)
                queried += (stream?["RTCP"]?["packets"]?.integerValue ?? 0)
            }
        }
        let workerPackets = try #require(plane?["worker-packets"]?.integerValue)
        let kernelPackets = try #require(plane?["kernel-packets"]?.integerValue)
        // The workers see the packets that latch each stream (and, on a loaded host, whatever queued
        // before that); the strict check of "nothing after latching" is KernelForwardingTests', which
        // controls when packets are sent.
        #expect(
            kernelPackets > 0 && workerPackets * 4 <= workerPackets + kernelPackets,
            "workers saw \(workerPackets), the kernel forwarded \(kernelPackets)")
        #expect(queried == workerPackets + kernelPackets, "query counts \(queried)")
        let videoFrames = query["tags"]?["caller"]?["medias"]?.listValue?[1]["streams"]?.listValue?.first?["frames"]
        #expect(videoFrames == .integer(Int64(seconds * frameRate)))
    }
}

import Bencode
import Foundation
import SpillwayClient
import Testing

/// One call through a loopback node between two ffmpeg processes: a sender that streams an encoded
/// tone to the relay, and a receiver that decodes what the relay sends it to raw samples.
struct FFmpegRelayCall {
    let receiverPort: UInt16
    let senderPort: UInt16
    let mediaPorts: ClosedRange<UInt16>
    let label: String
    var seconds = 2
    /// The node's media interfaces (`--interface`), none for its default one.
    var interfaces: [String] = []
    /// Where the receiver listens.
    var receiverIP = "127.0.0.1"

    /// What one call through the relay left behind.
    struct Result {
        var directory: String
        var receivedAudio: Data
        var referenceAudio: Data
        var query: BencodeValue
        var relayPortForSender: UInt16
        var receiverLog: String
    }

    /// The sender's source: an ffmpeg lavfi tone and the codec arguments that encode it.
    struct Source {
        var filter: String
        var codec: [String]
        /// More outputs of the reference decode (the PCMU tone also keeps its µ-law bytes).
        var moreReferenceOutputs: [String] = []

        /// 1 kHz at 8 kHz in PCMU; `reference.ulaw` holds its code words.
        static let pcmuTone = Source(
            filter: "sine=frequency=1000:sample_rate=8000", codec: ["-c:a", "pcm_mulaw"],
            moreReferenceOutputs: ["-c:a", "copy", "-f", "mulaw", "reference.ulaw"])
    }

    /// Encodes `source` (a second longer than the receiver keeps, so the receiver's `-t` is
    /// reached and it ends by itself) with a raw decode of it for reference, sets a call up with `offer` (the sender's SDP plus NG keys)
    /// and `answer`, starts ffmpeg receiving with the SDP `receiverSDP` makes from the relay's
    /// offer, sends the source with `senderOutput` (the ffmpeg output arguments towards a relay
    /// port), and decodes what arrived. `duringCall` runs while the sender runs.
    func run(
        _ name: String, source: Source = .pcmuTone, offer: [String: BencodeValue], answerSDP: String,
        receiverSDP: (BencodeValue) throws -> String, receiverDecoder: [String] = [],
        receiverOutput: [String] = ["-f", "s16le"],
        senderOutput: (UInt16) -> [String], watch: ((String, UInt16) async throws -> LoopbackCapture)? = nil
    ) async throws -> Result {
        let ffmpeg = try ExternalTool.path("ffmpeg", package: "ffmpeg")
        let directory = try scratchDirectory("ffmpeg-\(name)")
        var children: [ChildProcess] = []
        defer { for child in children { child.stop() } }
        let encode = try ChildProcess(
            "encode", ffmpeg,
            ["-hide_banner", "-y", "-f", "lavfi", "-i", "\(source.filter):duration=\(seconds + 1)"] + source.codec + [
                "source.mkv"
            ],
            directory: directory)
        #expect(await encode.wait(seconds: 60) == 0, "encoding failed: \(encode.output.suffix(1500))")
        let reference = try ChildProcess(
            "reference", ffmpeg,
            ["-hide_banner", "-y", "-i", "source.mkv", "-t", "\(seconds)", "-f", "s16le", "reference-audio.raw"]
                + source.moreReferenceOutputs,
            directory: directory)
        #expect(await reference.wait(seconds: 60) == 0, "reference decode failed: \(reference.output.suffix(1500))")

        let (node, ng) = try await startLoopbackNode(mediaPorts: mediaPorts, label: label, interfaces: interfaces)
        var offerRequest: [String: BencodeValue] = ["command": "offer", "call-id": .string(name), "from-tag": "sender"]
        offerRequest.merge(offer) { _, new in new }
        let offerReply = try ng.request(.dictionary(offerRequest))
        let answerReply = try ng.request([
            "command": "answer", "call-id": .string(name), "from-tag": "sender", "to-tag": "receiver",
            "sdp": .string(answerSDP),
        ])
        let relayPort = try ScriptedCall.mediaAddress(in: answerReply).port

        try receiverSDP(offerReply).write(toFile: "\(directory)/receiver.sdp", atomically: true, encoding: .utf8)
        let receiver = try ChildProcess(
            "receiver", ffmpeg,
            ["-hide_banner", "-nostdin", "-y", "-threads", "1", "-protocol_whitelist", "file,udp,rtp,srtp"]
                + receiverDecoder + [
                    "-i", "receiver.sdp",
                    "-t", "\(seconds)",
                ] + receiverOutput + ["received-audio.raw"],
            directory: directory)
        children.append(receiver)
        #expect(await ChildProcess.eventually(seconds: 10) { udpPortIsBound(receiverPort, ip: receiverIP) })
        let watcher = try await watch?(directory, relayPort)
        if let watcher { children.append(watcher.process) }

        let sender = try ChildProcess(
            "sender", ffmpeg,
            ["-hide_banner", "-nostdin", "-re", "-i", "source.mkv", "-c", "copy"] + senderOutput(relayPort),
            directory: directory)
        children.append(sender)
        #expect(await sender.wait(seconds: 30) == 0, "sender failed: \(sender.output.suffix(1500))")
        if !(await ChildProcess.eventually(seconds: 2) { !receiver.isRunning }) { await receiver.interrupt() }
        await watcher?.stop()

        let query = try ng.request(["command": "query", "call-id": .string(name)])
        await node.shutdown()
        return Result(
            directory: directory,
            receivedAudio: (try? Data(contentsOf: URL(fileURLWithPath: "\(directory)/received-audio.raw"))) ?? Data(),
            referenceAudio: try Data(contentsOf: URL(fileURLWithPath: "\(directory)/reference-audio.raw")),
            query: query, relayPortForSender: relayPort, receiverLog: receiver.output)
    }

    /// Returns once no file in `directory` has grown for 300 ms, or after 3 s.
    static func waitUntilFilesStopGrowing(in directory: String) async {
        func totalSize() -> Int {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            return names.reduce(0) { total, name in
                total
                    + (((try? FileManager.default.attributesOfItem(atPath: "\(directory)/\(name)"))?[.size] as? Int)
                        ?? 0)
            }
        }
        var size = totalSize()
        for _ in 0..<10 {
            try? await Task.sleep(for: .milliseconds(300))
            let now = totalSize()
            if now == size { return }
            size = now
        }
    }
}

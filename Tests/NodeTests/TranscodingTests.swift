import Bencode
import Codecs
import Foundation
import MediaPlane
import RTP
import SDP
import SpillwayClient
import SpillwayTestFixtures
import SpillwayTestSupport
import Testing

/// G.711 <-> Opus through a node, driven over NG with rtpengine's `codec` options, with Swift
/// peers that encode and decode real audio: what arrives is decoded and measured.
@Suite struct TranscodingTests {
    static let callerSDPAttributes = [
        "rtpmap:0 PCMU/8000", "rtpmap:101 telephone-event/8000", "fmtp:101 0-15", "ptime:20",
    ]

    static func callerSDP(port: UInt16, formats: String = "0 101", attributes: [String] = callerSDPAttributes) -> String
    {
        sdp([("audio", port, formats, attributes)])
    }

    static func opusCalleeSDP(port: UInt16, fmtp: String = "minptime=10;useinbandfec=1") -> String {
        sdp([
            (
                "audio", port, "96 97",
                ["rtpmap:96 opus/48000/2", "fmtp:96 \(fmtp)", "rtpmap:97 telephone-event/48000", "fmtp:97 0-15"]
            )
        ])
    }

    static func formats(in reply: BencodeValue) throws -> [PayloadFormat] {
        try SessionDescription(parsing: try #require(reply["sdp"]?.stringValue)).media[0].payloadFormats
    }

    /// µ-law RTP packets of a tone, 20 ms each.
    static func pcmuTone(frequency: Double, packets: Int, ssrc: UInt32 = 0x1111) -> [[UInt8]] {
        let samples = sineWave(frequency: frequency, sampleRate: 8000, count: packets * 160, amplitude: 0.4)
        return (0..<packets).map { index in
            ScriptedCall.rtp(
                sequence: index + 1, timestamp: UInt32(index * 160), ssrc: ssrc, payloadType: 0, marker: index == 0,
                payload: samples[(index * 160)..<((index + 1) * 160)].map { G711Law.muLaw.encode(Int16($0 * 32767)) })
        }
    }

    /// Opus RTP packets of a tone, 20 ms each, from libopus at 48 kHz.
    static func opusTone(frequency: Double, packets: Int, payloadType: UInt8 = 96) throws -> [[UInt8]] {
        let encoder = try OpusEncoder(sampleRate: 48000, settings: OpusEncoderSettings())
        let samples = sineWave(frequency: frequency, sampleRate: 48000, count: packets * 960, amplitude: 0.4).map(
            Float.init)
        var buffer = [UInt8](repeating: 0, count: 1500)
        return try (0..<packets).map { index in
            let length = try samples[(index * 960)..<((index + 1) * 960)].withUnsafeBufferPointer { frame in
                try buffer.withUnsafeMutableBytes { try encoder.encode(frame, into: $0) }
            }
            return ScriptedCall.rtp(
                sequence: index + 1, timestamp: UInt32(index * 960), ssrc: 0x2222, payloadType: payloadType,
                marker: false, payload: Array(buffer[0..<length]))
        }
    }

    static func header(_ packet: [UInt8]) throws -> RTPHeader {
        try packet.withUnsafeBytes { try RTPHeader.parse($0).get() }
    }

    static func payload(_ packet: [UInt8]) throws -> [UInt8] {
        let header = try header(packet)
        return Array(packet[header.headerLength..<(header.headerLength + header.payloadLength)])
    }

    /// Sends `packets` 2 ms apart, then receives what `receiver` gets of them.
    static func relay(_ packets: [[UInt8]], from sender: UDPPeer, to relay: SocketAddress, receiver: UDPPeer)
        -> [[UInt8]]
    {
        for packet in packets {
            #expect(sender.send(packet, to: relay))
            usleep(2000)
        }
        return receiveRTP(receiver, count: packets.count)
    }

    /// Receives RTP (skipping RTCP) until `count` packets or a second of silence.
    static func receiveRTP(_ peer: UDPPeer, count: Int) -> [[UInt8]] {
        var packets: [[UInt8]] = []
        while packets.count < count, let datagram = peer.receive(timeoutMilliseconds: 1000) {
            if datagram.bytes.count >= 2, (200...204).contains(datagram.bytes[1]) { continue }
            packets.append(datagram.bytes)
        }
        return packets
    }

    @Test(arguments: DataPlaneEngine.allCases)
    func aPCMUCallerAndAnOpusOnlyCalleeHearEachOtherThroughTheRelay(engine: DataPlaneEngine) async throws {
        let node = try await TestNode.start {
            $0.metricsAddress = "127.0.0.1:0"
            $0.dataPlane = engine
        }
        let caller = try UDPPeer()
        let callee = try UDPPeer()
        let offer = try node.request([
            "command": "offer", "call-id": "transcode", "from-tag": "A",
            "sdp": .string(Self.callerSDP(port: caller.address.port)),
            "codec": ["transcode": ["opus"]],
        ])
        let offered = try Self.formats(in: offer)
        // The caller's codecs, then Opus and telephone-event at Opus's clock.
        #expect(
            offered.map(\.rtpmapEncoding) == [
                "PCMU/8000", "telephone-event/8000", "opus/48000/2", "telephone-event/48000",
            ])
        #expect(offered.map(\.payloadType) == [0, 101, 96, 97])
        let answer = try node.request([
            "command": "answer", "call-id": "transcode", "from-tag": "A", "to-tag": "B",
            "sdp": .string(Self.opusCalleeSDP(port: callee.address.port)),
        ])
        // The caller is answered in its own codec, at the relay's 20 ms.
        #expect(try Self.formats(in: answer).map(\.rtpmapEncoding) == ["PCMU/8000", "telephone-event/8000"])
        #expect(try #require(answer["sdp"]?.stringValue).contains("a=ptime:20"))
        let relayForCaller = try ScriptedCall.mediaAddress(in: answer)
        let relayForCallee = try ScriptedCall.mediaAddress(in: offer)

        // Caller -> callee: 1 s of a 1 kHz tone in PCMU arrives as 20 ms Opus frames.
        let opusPackets = Self.relay(
            Self.pcmuTone(frequency: 1000, packets: 50), from: caller, to: relayForCaller, receiver: callee)
        #expect(opusPackets.count == 50)
        let opusHeaders = try opusPackets.map(Self.header)
        #expect(opusHeaders.allSatisfy { $0.payloadType == 96 && $0.ssrc == opusHeaders[0].ssrc && $0.ssrc != 0x1111 })
        #expect(opusHeaders.first?.marker == true)
        for (previous, next) in zip(opusHeaders, opusHeaders.dropFirst()) {
            #expect(next.sequenceNumber == previous.sequenceNumber &+ 1)
            #expect(next.timestamp == previous.timestamp &+ 960)
        }
        let decoder = try OpusDecoder(sampleRate: 48000)
        var decoded: [Double] = []
        var frame = [Float](repeating: 0, count: 5760)
        for packet in opusPackets {
            let count = try Self.payload(packet).withUnsafeBytes { bytes in
                try frame.withUnsafeMutableBufferPointer { try decoder.decode(bytes, into: $0) }
            }
            decoded += frame[0..<count].map(Double.init)
        }
        let heardByCallee = ToneMeasurement(
            samples: Array(decoded[9600...]), sampleRate: 48000, expectedFrequency: 1000)
        #expect(abs(heardByCallee.frequency - 1000) < 10, "\(heardByCallee)")
        #expect(heardByCallee.signalToNoiseDecibels > 20, "\(heardByCallee)")
        print("PCMU -> Opus through the relay: \(heardByCallee)")

        // Callee -> caller: Opus at 440 Hz arrives as PCMU.
        let pcmuPackets = Self.relay(
            try Self.opusTone(frequency: 440, packets: 50), from: callee, to: relayForCallee, receiver: caller)
        #expect(pcmuPackets.count == 50)
        let pcmuHeaders = try pcmuPackets.map(Self.header)
        #expect(pcmuHeaders.allSatisfy { $0.payloadType == 0 && $0.payloadLength == 160 })
        for (previous, next) in zip(pcmuHeaders, pcmuHeaders.dropFirst()) {
            #expect(next.timestamp == previous.timestamp &+ 160)
        }
        let heardByCaller = ToneMeasurement(
            samples: try pcmuPackets.flatMap(Self.payload).dropFirst(800).map {
                Double(G711Law.muLaw.decode($0)) / 32768
            },
            sampleRate: 8000, expectedFrequency: 440)
        #expect(abs(heardByCaller.frequency - 440) < 4.4, "\(heardByCaller)")
        #expect(heardByCaller.signalToNoiseDecibels > 20, "\(heardByCaller)")
        print("Opus -> PCMU through the relay: \(heardByCaller)")

        // DTMF from the caller (digit 5, 400 ms at 8 kHz) is re-stamped into the Opus stream.
        let lastAudio = try #require(opusHeaders.last)
        let event = ScriptedCall.rtp(
            sequence: 51, timestamp: 50 * 160, ssrc: 0x1111, payloadType: 101, marker: true,
            payload: [5, 0x8A, 0x0C, 0x80])
        #expect(caller.send(event, to: relayForCaller))
        let translated = try #require(Self.receiveRTP(callee, count: 1).first)
        let eventHeader = try Self.header(translated)
        #expect(eventHeader.payloadType == 97 && eventHeader.ssrc == lastAudio.ssrc && eventHeader.marker)
        #expect(eventHeader.sequenceNumber == lastAudio.sequenceNumber &+ 1)
        // 3200 ticks at 8 kHz are 19200 at 48 kHz; the event starts where the audio stopped.
        #expect(try Self.payload(translated) == [5, 0x8A, 0x4B, 0x00])
        #expect(eventHeader.timestamp == lastAudio.timestamp &+ 960)

        let query = try node.request(["command": "query", "call-id": "transcode"])
        let callerMedia = query["tags"]?["A"]?["medias"]?.listValue?.first
        #expect(callerMedia?["codec"] == "PCMU/8000")
        #expect(callerMedia?["transcoded to"] == "opus/48000/2")
        #expect(try await node.stream(callID: "transcode", tag: "A")?["drops"] == .dictionary([:]))
        // Both directions run through a transcoder, and /metrics says so.
        let metrics = String(decoding: try httpGet(node.node.metricsAddress!, "/metrics").body, as: UTF8.self)
        #expect(prometheusValue(metrics, "spillway_transcoding_sessions") == 2)
        await node.stop()
    }

    @Test func anAnswerThatPicksTheCallersCodecIsRelayedUntouched() async throws {
        let node = try await TestNode.start()
        let caller = try UDPPeer()
        let callee = try UDPPeer()
        let (relayForCaller, _) = try node.connect(
            callID: "common-codec", caller: Self.callerSDP(port: caller.address.port),
            callee: audioSDP(port: callee.address.port),
            extraOffer: ["codec": ["transcode": ["opus"]]])
        for sequence in 1...10 {
            #expect(caller.send(pcmu(sequence), to: relayForCaller))
            #expect(callee.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(sequence))
        }
        await node.stop()
    }

    @Test func stripMaskAndSetShapeTheOfferAndTheEncoder() async throws {
        let node = try await TestNode.start()
        let twoCodecs = sdp([("audio", 4000, "0 8", ["rtpmap:0 PCMU/8000", "rtpmap:8 PCMA/8000"])])
        let stripped = try node.request([
            "command": "offer", "call-id": "strip", "from-tag": "A", "sdp": .string(twoCodecs),
            "codec": ["strip": ["PCMA"]],
        ])
        #expect(try Self.formats(in: stripped).map(\.encodingName) == ["PCMU"])
        // Flags in rtpengine's codec-<operation>-<codec> form do the same.
        let flagged = try node.request([
            "command": "offer", "call-id": "flags", "from-tag": "A", "sdp": .string(twoCodecs),
            "flags": ["codec-mask-all", "codec-transcode-opus/48000/2/16000"],
        ])
        #expect(try Self.formats(in: flagged).map(\.encodingName) == ["opus"])

        // Masked, the caller's PCMU is still what the relay answers it with.
        let caller = try UDPPeer()
        let callee = try UDPPeer()
        let offer = try node.request([
            "command": "offer", "call-id": "mask", "from-tag": "A",
            "sdp": .string(Self.callerSDP(port: caller.address.port)),
            "codec": ["mask": ["PCMU"], "transcode": ["opus"], "set": ["opus/48000/2/12000"]],
        ])
        #expect(
            try Self.formats(in: offer).map(\.rtpmapEncoding) == [
                "telephone-event/8000", "opus/48000/2", "telephone-event/48000",
            ])
        let answer = try node.request([
            "command": "answer", "call-id": "mask", "from-tag": "A", "to-tag": "B",
            "sdp": .string(Self.opusCalleeSDP(port: callee.address.port, fmtp: "useinbandfec=0")),
        ])
        #expect(try Self.formats(in: answer).map(\.encodingName) == ["PCMU", "telephone-event"])
        // set: 12 kbit/s, so 20 ms frames average about 30 bytes.
        let relayForCaller = try ScriptedCall.mediaAddress(in: answer)
        let frames = Self.relay(
            Self.pcmuTone(frequency: 700, packets: 50), from: caller, to: relayForCaller, receiver: callee)
        #expect(frames.count == 50)
        let averagePayload =
            Double(try frames.map { try Self.payload($0).count }.reduce(0, +)) / Double(max(frames.count, 1))
        #expect(averagePayload < 12000 / 8 / 50 * 1.4, "average Opus payload \(averagePayload) bytes")
        await node.stop()
    }

    @Test func acceptKeepsMoreOfTheCallersCodecsAndTheyAreTranscodedToo() async throws {
        let node = try await TestNode.start()
        let caller = try UDPPeer()
        let callee = try UDPPeer()
        let offer = try node.request([
            "command": "offer", "call-id": "accept", "from-tag": "A",
            "sdp": .string(sdp([("audio", caller.address.port, "0 8", ["rtpmap:0 PCMU/8000", "rtpmap:8 PCMA/8000"])])),
            "codec": ["transcode": ["opus"], "accept": ["PCMA"]],
        ])
        let answer = try node.request([
            "command": "answer", "call-id": "accept", "from-tag": "A", "to-tag": "B",
            "sdp": .string(Self.opusCalleeSDP(port: callee.address.port)),
        ])
        #expect(try Self.formats(in: answer).map(\.encodingName) == ["PCMU", "PCMA"])
        // The caller switches to PCMA (A-law samples of a tone): the callee still hears Opus of it.
        let samples = sineWave(frequency: 1000, sampleRate: 8000, count: 50 * 160, amplitude: 0.4)
        let pcma = (0..<50).map { index in
            ScriptedCall.rtp(
                sequence: index + 1, timestamp: UInt32(index * 160), ssrc: 0x3333, payloadType: 8,
                payload: samples[(index * 160)..<((index + 1) * 160)].map { G711Law.aLaw.encode(Int16($0 * 32767)) })
        }
        let opus = Self.relay(pcma, from: caller, to: try ScriptedCall.mediaAddress(in: answer), receiver: callee)
        #expect(opus.count == 50)
        #expect(try opus.map(Self.header).allSatisfy { $0.payloadType == 96 })
        #expect(try Self.formats(in: offer).map(\.encodingName) == ["PCMU", "PCMA", "opus"])
        #expect(try await node.stream(callID: "accept", tag: "A")?["drops"] == .dictionary([:]))
        await node.stop()
    }

    @Test func codecOptionsThatCannotBeMetAreRefusedWithTheReason() async throws {
        let node = try await TestNode.start()
        let g729 = sdp([("audio", 4000, "18", ["rtpmap:18 G729/8000"])])
        let untranscodable = try node.request([
            "command": "offer", "call-id": "g729", "from-tag": "A", "sdp": .string(g729),
            "codec": ["transcode": ["opus"]],
        ])
        #expect(untranscodable["result"] == "error")
        #expect(untranscodable["error-reason"]?.stringValue?.contains("no codec this relay decodes") == true)
        #expect(untranscodable["error-reason"]?.stringValue?.contains("G729/8000") == true)
        let unknown = try node.request([
            "command": "offer", "call-id": "amr", "from-tag": "A", "sdp": .string(audioSDP(port: 4000)),
            "codec": ["transcode": ["AMR-WB"]],
        ])
        #expect(unknown["result"] == "error")
        #expect(unknown["error-reason"]?.stringValue?.contains("AMR-WB") == true)
        let nothingLeft = try node.request([
            "command": "offer", "call-id": "empty", "from-tag": "A", "sdp": .string(audioSDP(port: 4000)),
            "codec": ["strip": ["all"]],
        ])
        #expect(nothingLeft["result"] == "error")
        #expect(nothingLeft["error-reason"]?.stringValue?.contains("no codec to offer") == true)
        // Nothing was set up for the refused offers.
        let list = try node.request(["command": "list"])
        #expect(list["calls"]?.listValue?.isEmpty == true)
        await node.stop()
    }
}

import Bencode
import CallStore
import Capture
import H323
import RTP
import SDP

#if canImport(Glibc)
import Glibc
#endif

/// One parser under fuzzing, with the properties every input must keep: it is read or refused with
/// the parser's error, never a crash; whatever is read survives writing and reading back.
enum FuzzTarget: String, CaseIterable {
    case bencode, sdp, rtp, ras, q931, h245, pcap, resp

    /// The target libFuzzer's callback runs, which cannot capture it: set once before fuzzing starts.
    nonisolated(unsafe) static var selected = FuzzTarget.bencode

    func run(_ input: UnsafeRawBufferPointer) {
        switch self {
        case .bencode: Self.bencode(input)
        case .sdp: Self.sdp(input)
        case .rtp: Self.rtp(input)
        case .ras: Self.ras(input)
        case .q931: Self.q931(input)
        case .h245: Self.h245(input)
        case .pcap: Self.pcap(input)
        case .resp: Self.resp(input)
        }
    }

    /// Redis's replies and the call store's records: a reply is read whole, cut short (asks for more
    /// bytes) or refused; what reads as an owner record writes back to the same record.
    private static func resp(_ input: UnsafeRawBufferPointer) {
        let bytes = Array(input)
        if let (_, consumed) = try? RESP.decode(bytes[...]) {
            require(consumed > 0 && consumed <= bytes.count, "RESP consumed \(consumed) of \(bytes.count) bytes")
            for cut in [0, consumed / 2, consumed - 1] where cut < consumed {
                require(
                    (try? RESP.decode(bytes[..<cut])) ?? nil == nil,
                    "RESP read a reply from \(cut) of its \(consumed) bytes")
            }
        }
        if let record = try? OwnerRecord(decoding: bytes) {
            require((try? OwnerRecord(decoding: record.encoded)) == record, "owner record does not survive re-encoding")
        }
        if let record = try? CallRecord(decoding: bytes) {
            require((try? CallRecord(decoding: record.encoded)) == record, "call record does not survive re-encoding")
        }
    }

    /// The NG control protocol's decoder: what decodes re-encodes to a value that decodes equal.
    private static func bencode(_ input: UnsafeRawBufferPointer) {
        guard let value = try? BencodeDecoder().decode(input) else { return }
        let again = try? BencodeDecoder().decode(value.encoded)
        require(again == value, "bencode \(value) does not survive re-encoding")
    }

    /// Session descriptions: what parses writes back to text that parses to the same description.
    private static func sdp(_ input: UnsafeRawBufferPointer) {
        let text = String(decoding: input, as: UTF8.self)
        guard let description = try? SessionDescription(parsing: text) else { return }
        _ = description.connection
        for section in description.media {
            _ = section.connection
            _ = section.rtcpAttribute
            for format in section.payloadFormats { _ = section.clockRate(ofPayloadType: String(format.payloadType)) }
        }
        let again = try? SessionDescription(parsing: description.text)
        require(again == description, "SDP does not survive writing back:\n\(description.text)")
    }

    /// The media plane's packet checks: RTP headers, plain and secured RTCP, reception statistics.
    private static func rtp(_ input: UnsafeRawBufferPointer) {
        if case .success(let header) = RTPHeader.parse(input) {
            require(
                header.headerLength + header.payloadLength <= input.count,
                "RTP header \(header) claims more than the \(input.count) bytes there are")
            var statistics = ReceptionStatistics()
            statistics.record(
                ssrc: header.ssrc, sequenceNumber: header.sequenceNumber, timestamp: header.timestamp, arrival: 0)
            _ = statistics.lost
        }
        let types = RTCP.packetTypes(input)
        if case .success(let first) = RTCP.validate(input) {
            require(types.first == first, "RTCP types \(types) start not with \(first)")
        }
        _ = RTCP.validateSecured(input)
        _ = RTCP.isMultiplexedRTCP(input)
    }

    /// H.225.0 RAS in ALIGNED PER: what decodes re-encodes into something that decodes.
    private static func ras(_ input: UnsafeRawBufferPointer) {
        guard let message = try? RASMessage(perEncoded: Array(input)) else { return }
        if case .unsupported = message { return }
        do {
            _ = try RASMessage(perEncoded: message.perEncoded)
        } catch {
            fail("re-encoded \(message.name) does not decode: \(error)")
        }
    }

    /// The addresses a fuzzed rewrite puts in: IPv4, as the node's media plane would.
    private static let relay = RelayAddresses(
        rtp: MediaAddress(ip: [192, 0, 2, 1], port: 40_000), rtcp: MediaAddress(ip: [192, 0, 2, 1], port: 40_001))

    /// H.225.0 call signalling as it arrives on TCP: TPKT frames, each a Q.931 message that
    /// re-encodes to one that parses equal; Spillway's forwarding element, when one reads, reads
    /// the same once taken out and added again, and nothing of it is left once taken out; and the
    /// H323-UserInformation, with every fastStart proposal and tunnelled H.245 message the relay
    /// can rewrite rewritten, decodes again to the same call.
    private static func q931(_ input: UnsafeRawBufferPointer) {
        var stream = Array(input)
        while stream.count >= TPKT.headerLength {
            guard let length = try? TPKT.frameLength(header: stream.prefix(TPKT.headerLength)), length <= stream.count
            else { return }
            let payload = Array(stream[TPKT.headerLength..<length])
            stream.removeFirst(length)
            guard let message = try? Q931Message(parsing: payload) else { continue }
            require(
                (try? Q931Message(parsing: message.encoded)) == message, "Q.931 \(message) does not survive re-encoding"
            )
            if let element = SpillwaySetupElement(in: message) {
                var stripped = message
                SpillwaySetupElement.remove(from: &stripped)
                require(SpillwaySetupElement(in: stripped) == nil, "Spillway's element survives being taken out")
                element.add(to: &stripped)
                let again = (try? Q931Message(parsing: stripped.encoded)).flatMap { SpillwaySetupElement(in: $0) }
                require(
                    again == element,
                    "Spillway's element \(element) reads as \(String(describing: again)) once added again")
            }
            guard let encoding = message.userInformation,
                let information = try? H323UserInformation(perEncoded: encoding)
            else { continue }
            let fastStart = information.fastStart?.compactMap { try? OpenLogicalChannel.rewriting($0) { _ in relay } }
            let control = information.h245Control?.compactMap {
                try? H245ControlMessage(perEncoded: $0).rewritingMedia { _ in relay }
            }
            let rewrite = H323UserInformation.Rewrite(
                fastStart: fastStart?.count == information.fastStart?.count ? fastStart : nil,
                h245Control: control?.count == information.h245Control?.count ? control : nil)
            guard let rewritten = try? information.rewriting(rewrite) else { continue }
            do {
                let again = try H323UserInformation(perEncoded: rewritten)
                require(
                    again.body == information.body && again.callIdentifier == information.callIdentifier
                        && again.destinationAddress == information.destinationAddress,
                    "the rewritten \(information.body) is another call")
            } catch {
                fail("the rewritten \(information.body) does not decode: \(error)")
            }
        }
    }

    /// H.245: a message that classifies and rewrites decodes again as a message with the same
    /// channels, each carrying the relay's addresses where it carried any. (Its length may change:
    /// a peer may write a length determinant in more octets than needed, and the rewrite writes
    /// the open type it replaces in the fewest.)
    private static func h245(_ input: UnsafeRawBufferPointer) {
        let bytes = Array(input)
        guard let message = try? H245ControlMessage(perEncoded: bytes),
            let rewritten = try? message.rewritingMedia(choosing: { _ in relay })
        else { return }
        guard let again = try? H245ControlMessage(perEncoded: rewritten) else {
            fail("a rewritten \(message.kind) does not decode")
        }
        require(
            again.mediaChannels.map(\.logicalChannelNumber) == message.mediaChannels.map(\.logicalChannelNumber),
            "the rewritten \(message.kind) has other channels: \(again.kind)")
        for (before, after) in zip(message.mediaChannels, again.mediaChannels) {
            require(
                before.media.rtp == nil || after.media.rtp == relay.rtp,
                "mediaChannel \(String(describing: after.media.rtp)) is not the relay's")
            require(
                before.media.rtcp == nil || after.media.rtcp == relay.rtcp,
                "mediaControlChannel \(String(describing: after.media.rtcp)) is not the relay's")
        }
    }

    /// Capture files through libpcap and the UDP and flow analysis on top: read or refused.
    private static func pcap(_ input: UnsafeRawBufferPointer) {
        let written = input.withMemoryRebound(to: UInt8.self) { bytes in
            scratchCapture.withCString { path in
                let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
                defer { close(descriptor) }
                return descriptor >= 0 && write(descriptor, bytes.baseAddress, bytes.count) == bytes.count
            }
        }
        require(written || input.isEmpty, "cannot write \(scratchCapture): \(String(cString: strerror(errno)))")
        guard let capture = try? CaptureFile(path: scratchCapture) else { return }
        let analysis = FlowAnalysis(capture)
        require(
            analysis.calls.allSatisfy { !$0.forward.packets.isEmpty },
            "a call without packets from \(capture.datagrams.count) datagrams")
    }

    /// Where the pcap target writes each input for libpcap to open: in memory, one file per process.
    private static let scratchCapture = "/dev/shm/spillway-fuzz-\(getpid()).pcap"

    private static func require(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fail(message()) }
    }

    private static func fail(_ message: String) -> Never {
        fatalError("property broken: \(message)")
    }
}

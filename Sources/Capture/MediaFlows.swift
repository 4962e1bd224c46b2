import H323
import RTP
import SDP

/// One direction of captured RTP: every packet from one source to one destination carrying one
/// SSRC, in capture order. Or, when `isRTCP`, one direction's RTCP (on the RTP ports + 1, or
/// multiplexed with the RTP), named by the sender SSRC of its first report.
public struct MediaFlow: Sendable, Equatable {
    public var source: Endpoint
    public var destination: Endpoint
    public var ssrc: UInt32
    /// The RTP payload type, or the first RTCP packet type.
    public var payloadType: UInt8
    public var packets: [CapturedDatagram]
    public var isRTCP = false

    /// RTP packets with the marker bit set (for video, one per frame).
    public var markedPackets: Int {
        packets.count { packet in
            packet.payload.withUnsafeBytes { bytes in (try? RTPHeader.parse(bytes).get())?.marker ?? false }
        }
    }
}

/// The media of one captured call: the flow from the caller and, when captured, the flow back.
public struct CapturedCall: Sendable, Equatable {
    /// The SIP Call-ID when the capture has the call's signalling, else a name made from the flow.
    public var name: String
    /// The dominant SSRC's RTP in each direction.
    public var forward: MediaFlow
    public var backward: MediaFlow?
    /// The other SSRCs on the same addresses: telephone-events from a second SSRC, the stream after
    /// an SSRC change (a re-INVITE, a transfer, a gateway restarting its stream).
    public var additionalFlows: [MediaFlow] = []
    /// Each direction's RTCP.
    public var rtcpFlows: [MediaFlow] = []
    /// Encoding name and clock rate from the SDP, or RFC 3551's static table, or nil when unknown.
    public var encoding: (name: String, clockRate: Int)?
    /// The transport profile the SDP gave (`RTP/SAVP` for SRTP), or nil without signalling.
    public var profile: String?
    /// The SDP's `a=crypto` values, so an SRTP call can be set up again with its own keys.
    public var cryptoAttributes: [String] = []
    /// How an H.323 call's signalling described this stream, when the capture holds it.
    public var h323Channel: H323Channel?

    /// A captured stream's H.323 logical channels: the RTP session, and the H.245 DataType of the
    /// media each direction carries (what its receiver accepted), to open the same channels again.
    public struct H323Channel: Sendable, Equatable {
        public var sessionID: Int
        public var forward: PERFragment
        /// Nil when the capture does not hold that channel: the forward media is taken for both.
        public var backward: PERFragment?
    }

    public static func == (left: CapturedCall, right: CapturedCall) -> Bool {
        left.name == right.name && left.forward == right.forward && left.backward == right.backward
            && left.additionalFlows == right.additionalFlows && left.rtcpFlows == right.rtcpFlows
            && left.profile == right.profile && left.cryptoAttributes == right.cryptoAttributes
            && left.h323Channel == right.h323Channel
            && left.encoding?.name == right.encoding?.name && left.encoding?.clockRate == right.encoding?.clockRate
    }

    /// The dominant SSRC's flow of each direction.
    public var flows: [MediaFlow] { [forward] + (backward.map { [$0] } ?? []) }

    /// Every flow: each SSRC's RTP of both directions, then the RTCP.
    public var allFlows: [MediaFlow] { flows + additionalFlows + rtcpFlows }

    /// Whether `flow` goes the way of `forward` (from the caller): to the callee's RTP address, or
    /// for RTCP on its own port, to the port after it.
    public func isForward(_ flow: MediaFlow) -> Bool {
        let callee = forward.destination
        return flow.destination == callee
            || (flow.isRTCP && flow.destination.ip == callee.ip && flow.destination.port == callee.port &+ 1)
    }
}

/// The RTP flows of a capture, paired into calls: by the SDP of SIP messages, or the logical
/// channels of H.323 call signalling (H.225.0 fastStart, tunnelled or separate H.245), when the
/// capture has them (which also name the call and its codec), otherwise by address pairs (A->B with B->A).
public struct FlowAnalysis: Sendable {
    public let calls: [CapturedCall]
    /// UDP datagrams that are neither RTP or RTCP of a detected call nor SIP.
    public let otherDatagrams: Int
    /// SIP messages seen.
    public let sipMessages: Int
    /// Q.931/H.225.0 and H.245 messages seen.
    public let h323Messages: Int

    /// A flow must have at least this many packets, nearly all valid RTP with one SSRC.
    public static let minimumPackets = 3

    public init(_ capture: CaptureFile) {
        var byDirection: [DirectionKey: [CapturedDatagram]] = [:]
        var order: [DirectionKey] = []
        var sdpMedia: [Endpoint: (callID: String, media: SIPMessage.Media)] = [:]
        var sipMessages = 0
        for datagram in capture.datagrams {
            if let sip = SIPMessage(datagram.payload) {
                sipMessages += 1
                for media in sip.media { sdpMedia[media.endpoint] = (sip.callID, media) }
                continue
            }
            let key = DirectionKey(source: datagram.source, destination: datagram.destination)
            if byDirection[key] == nil { order.append(key) }
            byDirection[key, default: []].append(datagram)
        }
        // Each direction's RTP, by SSRC, the dominant one first.
        var flows: [DirectionKey: [MediaFlow]] = [:]
        for key in order {
            if let directionFlows = Self.rtpFlows(key, byDirection[key]!) { flows[key] = directionFlows }
        }
        let h323 = H323Signalling(segments: capture.segments)
        var calls: [CapturedCall] = []
        var paired: Set<DirectionKey> = []
        for key in order where flows[key] != nil && !paired.contains(key) {
            let reverse = DirectionKey(source: key.destination, destination: key.source)
            paired.insert(key)
            let backward = flows[reverse]
            if backward != nil { paired.insert(reverse) }
            let forward = flows[key]![0]
            let signalled = sdpMedia[forward.destination] ?? sdpMedia[forward.source]
            let channel = h323.media[forward.destination]
            let backwardChannel = h323.media[forward.source]
            let encoding =
                signalled?.media.encoding ?? (channel ?? backwardChannel)?.format.encoding
                ?? Self.staticEncoding(forward.payloadType)
            let rtcpFlows = [key, reverse].compactMap { direction in
                Self.rtcpFlow(direction, rtp: flows[direction] ?? [], byDirection: byDirection)
            }
            calls.append(
                CapturedCall(
                    name: signalled?.callID ?? (channel ?? backwardChannel)?.callName
                        ?? "\(forward.source)-\(forward.destination)", forward: forward,
                    backward: backward?[0],
                    additionalFlows: Array(flows[key]!.dropFirst()) + (backward?.dropFirst() ?? []),
                    rtcpFlows: rtcpFlows, encoding: encoding, profile: signalled?.media.profile,
                    cryptoAttributes: signalled?.media.crypto ?? [],
                    h323Channel: (channel ?? backwardChannel).map { known in
                        // With one direction's channel missing from the capture, the media of the
                        // other is taken for both.
                        CapturedCall.H323Channel(
                            sessionID: known.sessionID, forward: known.dataType, backward: backwardChannel?.dataType)
                    }))
        }
        self.calls = calls
        h323Messages = h323.messages
        otherDatagrams =
            byDirection.values.reduce(0) { $0 + $1.count }
            - calls.reduce(0) { $0 + $1.allFlows.reduce(0) { $0 + $1.packets.count } }
        self.sipMessages = sipMessages
    }

    private struct DirectionKey: Hashable {
        var source: Endpoint
        var destination: Endpoint
    }

    /// The RTP flows in a direction's datagrams, one per SSRC, the dominant one first: when the
    /// dominant SSRC has at least `minimumPackets` and valid RTP (any SSRC) and multiplexed RTCP
    /// are nearly all of the direction's datagrams.
    private static func rtpFlows(_ key: DirectionKey, _ datagrams: [CapturedDatagram]) -> [MediaFlow]? {
        var headers: [(CapturedDatagram, RTPHeader)] = []
        var multiplexedRTCP = 0
        for datagram in datagrams {
            let header = datagram.payload.withUnsafeBytes { bytes -> RTPHeader? in
                guard !RTCP.isMultiplexedRTCP(bytes) else {
                    multiplexedRTCP += 1
                    return nil
                }
                return try? RTPHeader.parse(bytes).get()
            }
            if let header { headers.append((datagram, header)) }
        }
        let bySSRC = Dictionary(grouping: headers, by: \.1.ssrc)
        // Ordered by size, then by first appearance, so the order does not depend on hashing.
        let ssrcs = bySSRC.keys.sorted {
            (bySSRC[$0]!.count, bySSRC[$1]!.first!.0.timeNanos) > (bySSRC[$1]!.count, bySSRC[$0]!.first!.0.timeNanos)
        }
        guard let dominant = ssrcs.first, bySSRC[dominant]!.count >= minimumPackets,
            (headers.count + multiplexedRTCP) * 10 >= datagrams.count * 9
        else { return nil }
        return ssrcs.map { ssrc in
            let packets = bySSRC[ssrc]!
            return MediaFlow(
                source: key.source, destination: key.destination, ssrc: ssrc, payloadType: packets[0].1.payloadType,
                packets: packets.map(\.0))
        }
    }

    /// The RTCP of the direction whose RTP is `rtp`: valid compound RTCP multiplexed on the RTP
    /// addresses, or between the ports one above them; nil when there is none.
    private static func rtcpFlow(
        _ key: DirectionKey, rtp: [MediaFlow], byDirection: [DirectionKey: [CapturedDatagram]]
    ) -> MediaFlow? {
        guard !rtp.isEmpty else { return nil }
        var rtcpKey = key
        rtcpKey.source.port &+= 1
        rtcpKey.destination.port &+= 1
        let candidates = (byDirection[key] ?? []) + (byDirection[rtcpKey] ?? [])
        let packets = candidates.filter { datagram in
            datagram.payload.withUnsafeBytes { bytes in
                guard case .success = RTCP.validate(bytes) else { return false }
                // On the RTP ports, only what cannot be RTP: a payload type in the RTCP range.
                return datagram.destination.port != key.destination.port || RTCP.isMultiplexedRTCP(bytes)
            }
        }.sorted { $0.timeNanos < $1.timeNanos }
        guard let first = packets.first else { return nil }
        let (ssrc, type) = first.payload.withUnsafeBytes { (RTCP.senderSSRC($0) ?? 0, $0[1]) }
        return MediaFlow(
            source: first.source, destination: first.destination, ssrc: ssrc, payloadType: type, packets: packets,
            isRTCP: true)
    }

    private static func staticEncoding(_ payloadType: UInt8) -> (String, Int)? {
        switch payloadType {
        case 0: ("PCMU", 8000)
        case 8: ("PCMA", 8000)
        case 9: ("G722", 8000)
        case 18: ("G729", 8000)
        default: nil
        }
    }
}

/// The parts of a SIP message over UDP that pair media into calls: the Call-ID, and for each RTP
/// m= line of its SDP body the media endpoint, first codec, profile and SDES keys.
struct SIPMessage {
    struct Media {
        var endpoint: Endpoint
        var encoding: (String, Int)?
        var profile: String
        var crypto: [String]
    }

    var callID: String
    var media: [Media]

    init?(_ payload: [UInt8]) {
        guard payload.count > 12, let text = String(validating: payload, as: UTF8.self),
            text.hasPrefix("SIP/2.0 ")
                || text.split(separator: " ", maxSplits: 2).dropFirst().first?.hasPrefix("sip:") == true
        else { return nil }
        let blank = text.firstRange(of: "\r\n\r\n")
        let head = blank.map { text[..<$0.lowerBound] } ?? text[...]
        var callID: String?
        for line in head.split(separator: "\r\n") {
            let lowered = line.lowercased()
            if lowered.hasPrefix("call-id:") || lowered.hasPrefix("i:") {
                callID = String(line[line.index(after: line.firstIndex(of: ":")!)...]).trimmingCharacters(in: " ")
            }
        }
        guard let callID else { return nil }
        self.callID = callID
        media = []
        guard let blank, let sdp = try? SessionDescription(parsing: String(text[blank.upperBound...])) else { return }
        for section in sdp.media where section.isRTP && section.port > 0 {
            guard let address = sdp.connection(of: section)?.address, let format = section.formats.first else {
                continue
            }
            let encoding = section.attributes(named: "rtpmap").compactMap { $0 }.first { $0.hasPrefix("\(format) ") }
                .flatMap { value -> (String, Int)? in
                    let codec = value.split(separator: " ").dropFirst().first?.split(separator: "/")
                    guard let codec, codec.count >= 2, let rate = Int(codec[1]) else { return nil }
                    return (String(codec[0]), rate)
                }
            media.append(
                Media(
                    endpoint: Endpoint(ip: address, port: UInt16(clamping: section.port)), encoding: encoding,
                    profile: section.proto,
                    crypto: section.attributes(named: "crypto").compactMap { $0.map(String.init) }))
        }
    }
}

extension String {
    fileprivate func trimmingCharacters(in character: Character) -> String {
        String(drop { $0 == character }.reversed().drop { $0 == character }.reversed())
    }
}

extension MediaFormat {
    /// The RTP encoding name and clock rate (RFC 3551) of the codecs an H.323 channel names.
    var encoding: (String, Int)? {
        switch codec {
        case "G.711 mu-law": ("PCMU", 8000)
        case "G.711 A-law": ("PCMA", 8000)
        case "G.722": ("G722", 8000)
        case "G.723.1": ("G723", 8000)
        case "G.728": ("G728", 8000)
        case "G.729", "G.729 Annex A", "G.729 Annex B", "G.729 Annex A+B": ("G729", 8000)
        case "H.261": ("H261", 90000)
        case "H.263": ("H263", 90000)
        case "H.264": ("H264", 90000)
        default: nil
        }
    }
}

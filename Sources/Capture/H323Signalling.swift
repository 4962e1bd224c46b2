import H323

/// What an H.323 call's signalling said about one address a party receives RTP at: the call, the
/// RTP session, and the media the channel carries (its H.245 DataType as encoded, so a replay can
/// open the same channel again).
public struct SignalledH323Media: Sendable, Equatable {
    /// `h323-` and the callIdentifier's GUID in hex.
    public var callName: String
    public var sessionID: Int
    public var format: MediaFormat
    public var dataType: PERFragment
}

/// The H.323 calls of a capture's TCP segments: Q.931/H.225.0 call signalling and H.245 (in
/// fastStart, tunnelled in h245Control, or on a separate connection found by the h245Address a
/// party gave), read for the media addresses of each call's logical channels. A channel's media
/// address comes from the party that receives it: a fastStart channel it receives, or its
/// OpenLogicalChannelAck to the other party's OpenLogicalChannel, whose DataType names the media.
struct H323Signalling {
    /// Media by the address a party receives that RTP at.
    private(set) var media: [Endpoint: SignalledH323Media] = [:]
    /// Q.931 and H.245 messages read.
    private(set) var messages = 0

    private enum Side: Hashable {
        case caller, callee
        var other: Side { self == .caller ? .callee : .caller }
    }

    /// A call being read: its name, and the channels each side opened, by number.
    private struct Call {
        var name: String
        var caller: Endpoint
        var opened: [ChannelKey: (sessionID: Int?, format: MediaFormat, dataType: PERFragment)] = [:]
        var received: [Endpoint: Side] = [:]
    }

    private struct ChannelKey: Hashable {
        var side: Side
        var number: Int
    }

    /// A TCP connection, either way round.
    private struct Connection: Hashable {
        var ends: Set<Endpoint>
        init(_ stream: TCPStream) { ends = [stream.source, stream.destination] }
    }

    private var calls: [Call] = []
    /// Signalling connections, and separate H.245 connections with the side that listened.
    private var signalling: [Connection: Int] = [:]
    private var h245: [Connection: (call: Int, listener: Endpoint, side: Side)] = [:]
    private var h245Listeners: [Endpoint: (call: Int, side: Side)] = [:]

    init(segments: [CapturedSegment]) {
        let streams = TCPStream.reassemble(segments)
        var frames: [(timeNanos: UInt64, stream: Int, payload: [UInt8])] = []
        for (index, stream) in streams.enumerated() {
            frames += stream.tpktFrames.map { ($0.timeNanos, index, $0.payload) }
        }
        // In capture order, so a Setup comes before its answers and an h245Address before its connection.
        for frame in frames.sorted(by: { ($0.timeNanos, $0.stream) < ($1.timeNanos, $1.stream) }) {
            read(frame.payload, on: streams[frame.stream])
        }
    }

    private mutating func read(_ payload: [UInt8], on stream: TCPStream) {
        let connection = Connection(stream)
        if let control = h245[connection] ?? listenedConnection(stream) {
            h245[connection] = control
            guard let message = try? H245ControlMessage(perEncoded: payload) else { return }
            messages += 1
            let side = stream.source == control.listener ? control.side : control.side.other
            readControl(message, call: control.call, from: side, at: stream.source)
            return
        }
        guard let message = try? Q931Message(parsing: payload), let encoding = message.userInformation,
            let information = try? H323UserInformation(perEncoded: encoding)
        else { return }
        messages += 1
        if information.body == .setup, let identifier = information.callIdentifier {
            calls.append(Call(name: Self.name(of: identifier), caller: stream.source))
            signalling[connection] = calls.count - 1
        }
        guard let call = signalling[connection] else { return }
        let side: Side = stream.source == calls[call].caller ? .caller : .callee
        if let address = information.h245Address?.endpoint { h245Listeners[address] = (call, side) }
        for proposal in information.fastStart ?? [] {
            guard let channel = try? OpenLogicalChannel(perEncoded: proposal) else { continue }
            readFastStart(channel, call: call, from: side)
        }
        for control in information.h245Control ?? [] {
            guard let message = try? H245ControlMessage(perEncoded: control) else { continue }
            messages += 1
            readControl(message, call: call, from: side, at: stream.source)
        }
    }

    /// The H.245 connection `stream` belongs to, when one of its ends is an h245Address a party gave.
    private func listenedConnection(_ stream: TCPStream) -> (call: Int, listener: Endpoint, side: Side)? {
        for end in [stream.destination, stream.source] {
            if let listener = h245Listeners[end] { return (listener.call, end, listener.side) }
        }
        return nil
    }

    private mutating func readControl(_ message: H245ControlMessage, call: Int, from side: Side, at sender: Endpoint) {
        switch message.kind {
        case .openLogicalChannel(let channel):
            calls[call].opened[ChannelKey(side: side, number: channel.number)] = (
                channel.mediaChannels.first?.media.sessionID, channel.forwardFormat, channel.forwardDataType
            )
            readReceiving(channel, call: call, side: side)
        case .openLogicalChannelAck(let ack):
            guard let receiving = ack.media?.rtp,
                let opened = calls[call].opened[ChannelKey(side: side.other, number: ack.number)]
            else { return }
            record(
                receiving, call: call, side: side, sessionID: ack.media?.sessionID ?? opened.sessionID ?? 0,
                format: opened.format, dataType: opened.dataType)
        default:
            break
        }
    }

    /// A fastStart proposal or answer: where its writer receives, and for an answer (from the side
    /// that did not propose), which media the other side will receive in that session.
    private mutating func readFastStart(_ channel: OpenLogicalChannel, call: Int, from side: Side) {
        readReceiving(channel, call: call, side: side)
        guard side == .callee, channel.reverseDataType == nil,
            let sessionID = channel.mediaChannels.first?.media.sessionID
        else { return }
        for (address, receiver) in calls[call].received where receiver == .caller {
            guard media[address]?.sessionID == sessionID else { continue }
            media[address]?.format = channel.forwardFormat
            media[address]?.dataType = channel.forwardDataType
        }
    }

    /// The reverse parameters of a channel: media its writer receives, at the address they name.
    private mutating func readReceiving(_ channel: OpenLogicalChannel, call: Int, side: Side) {
        guard let format = channel.reverseFormat, let dataType = channel.reverseDataType,
            let reverse = channel.mediaChannels.first(where: { $0.block == .reverse }), let rtp = reverse.media.rtp
        else { return }
        record(rtp, call: call, side: side, sessionID: reverse.media.sessionID ?? 0, format: format, dataType: dataType)
    }

    private mutating func record(
        _ address: MediaAddress, call: Int, side: Side, sessionID: Int, format: MediaFormat, dataType: PERFragment
    ) {
        let endpoint = address.endpoint
        calls[call].received[endpoint] = side
        media[endpoint] = SignalledH323Media(
            callName: calls[call].name, sessionID: sessionID, format: format, dataType: dataType)
    }

    private static func name(of identifier: CallIdentifier) -> String {
        "h323-" + identifier.guid.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}

extension MediaAddress {
    fileprivate var endpoint: Endpoint { Endpoint(ip: host, port: port) }
}

extension TransportAddress {
    fileprivate var endpoint: Endpoint? {
        switch self {
        case .ipv4(let address, let port): Endpoint(ip: address.map(String.init).joined(separator: "."), port: port)
        case .ipv6(let address, let port):
            MediaAddress(ip: address, port: port).endpoint
        default: nil
        }
    }
}

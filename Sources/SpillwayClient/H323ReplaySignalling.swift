import CSpillwayShims
import Capture
import H323
import MediaPlane

/// Sets calls up over H.323 call signalling through a node's call-signalling port: the replay is
/// both parties. Its caller sends a Setup with fastStart proposals for every captured stream (the
/// captured DataTypes, its media sockets) and destCallSignalAddress naming the replay's own
/// callee; the node routes the call there, and the callee answers with a Connect accepting every
/// proposal. The node's addresses come from the fastStart it relays each way: the proposals the
/// callee receives, the answers the caller receives. A Facility forwarding the call elsewhere
/// (a node spilling it over) is followed, and counted as the placement's hops; a node that
/// forwards the Setup itself does not tell the caller, so its hops stay 0. Ending the call sends
/// ReleaseComplete.
struct H323ReplaySignalling: ReplaySignalling {
    let node: SocketAddress
    let localIP: String
    /// How long each step of the exchange may take.
    var timeoutMilliseconds: Int32 = 5000

    /// A call's two signalling connections, and its identity for the ReleaseComplete.
    private final class Connections {
        let caller: TPKTSocket
        let callee: TPKTSocket
        let callIdentifier: CallIdentifier
        let callReference: UInt16

        init(caller: TPKTSocket, callee: TPKTSocket, callIdentifier: CallIdentifier, callReference: UInt16) {
            self.caller = caller
            self.callee = callee
            self.callIdentifier = callIdentifier
            self.callReference = callReference
        }
    }

    func setUp(_ callID: String, streams: [CapturedCall], callers: [UDPPeer], callees: [UDPPeer]) throws
        -> ReplayedCall
    {
        let channels = try streams.enumerated().map { index, stream in
            guard let channel = stream.h323Channel else { throw ReplayError.noH323Signalling(callID: callID) }
            return (channel: channel, sessionID: channel.sessionID > 0 ? channel.sessionID : index + 1)
        }
        let (listener, calleeAddress) = try TPKTSocket.listen(on: localIP)
        let callIdentifier = CallIdentifier.random()
        let conferenceID = CallIdentifier.random().guid
        let callReference = UInt16.random(in: 1...0x7FFF)
        var proposals: [[UInt8]] = []
        for (index, (channel, sessionID)) in channels.enumerated() {
            let own = callers[index].address.mediaAddress
            let dynamic = Self.dynamicPayloadType(streams[index].forward)
            proposals.append(
                try OpenLogicalChannel.fastStart(
                    number: 100 + index + 1, .transmitting, dataType: channel.forward, sessionID: sessionID, rtp: nil,
                    rtcp: own, dynamicPayloadType: dynamic))
            proposals.append(
                try OpenLogicalChannel.fastStart(
                    number: index + 1, .receiving, dataType: channel.backward ?? channel.forward, sessionID: sessionID,
                    rtp: own, rtcp: own,
                    dynamicPayloadType: streams[index].backward.map(Self.dynamicPayloadType) ?? dynamic))
        }
        var setup = Q931Message(
            type: .setup, callReference: callReference, fromDestination: false,
            elements: [Q931Message.InformationElement(Q931Message.Element.bearerCapability, [0x88, 0x90, 0xA5])])
        setup.setUserInformation(
            H323UserInformation.setup(
                callIdentifier: callIdentifier, conferenceID: conferenceID, aliases: [],
                destination: TransportAddress(ipv4OrIPv6: calleeAddress), fastStart: proposals))

        var caller = try TPKTSocket.connect(to: node, from: localIP)
        try caller.send(setup.encoded)
        var redirects = 0
        let callee = try awaitCallee(on: listener, caller: &caller, setup: setup, callID: callID, redirects: &redirects)
        let (incoming, offered) = try receive(.setup, on: callee, callID: callID)
        let forCallee = try channels.map { channel in
            try Self.relayTarget(in: offered, session: channel.sessionID, callID: callID, message: "Setup")
        }
        var answers: [[UInt8]] = []
        for (index, (channel, sessionID)) in channels.enumerated() {
            let own = callees[index].address.mediaAddress
            answers.append(
                try OpenLogicalChannel.fastStart(
                    number: index + 1, .transmitting, dataType: channel.backward ?? channel.forward,
                    sessionID: sessionID, rtp: nil, rtcp: own))
            answers.append(
                try OpenLogicalChannel.fastStart(
                    number: 100 + index + 1, .receiving, dataType: channel.forward, sessionID: sessionID, rtp: own,
                    rtcp: own, dynamicPayloadType: Self.dynamicPayloadType(streams[index].forward)))
        }
        var connect = Q931Message(type: .connect, callReference: incoming.callReference, fromDestination: true)
        connect.setUserInformation(
            H323UserInformation.connect(callIdentifier: callIdentifier, conferenceID: conferenceID, fastStart: answers))
        try callee.send(connect.encoded)

        let (_, answered) = try receive(.connect, on: caller, callID: callID)
        let forCaller = try channels.map { channel in
            try Self.relayTarget(in: answered, session: channel.sessionID, callID: callID, message: "Connect")
        }
        return ReplayedCall(
            placement: ReplayReport.Placement(
                callID: callID, node: nil, hops: redirects, relayAddress: forCallee[0].rtp.ip),
            relayForCaller: forCaller, relayForCallee: forCallee,
            resources: [
                Connections(
                    caller: caller, callee: callee, callIdentifier: callIdentifier, callReference: callReference)
            ])
    }

    func tearDown(_ call: ReplayedCall) {
        for case let connections as Connections in call.resources {
            var release = Q931Message(
                type: .releaseComplete, callReference: connections.callReference, fromDestination: false,
                elements: [Q931Message.causeElement(16)])
            release.setUserInformation(
                H323UserInformation.releaseComplete(
                    callIdentifier: connections.callIdentifier, reason: .undefinedReason))
            try? connections.caller.send(release.encoded)
            // The callee hears the node relay it; past that, closing the connections ends the call.
            _ = try? connections.callee.receive(timeoutMilliseconds: 500)
        }
    }

    /// Waits for the node to bring the call to the replay's callee. Meanwhile the caller's messages
    /// are read: a Facility forwarding the call (a node spilling it over) is followed by sending
    /// the same Setup where it names, and a ReleaseComplete is an error.
    private func awaitCallee(
        on listener: TPKTSocket, caller: inout TPKTSocket, setup: Q931Message, callID: String, redirects: inout Int
    ) throws -> TPKTSocket {
        let deadline = spw_monotonic_nanos() + UInt64(timeoutMilliseconds) * 1_000_000
        while spw_monotonic_nanos() < deadline {
            if let callee = try? listener.accept(timeoutMilliseconds: 20) { return callee }
            let payload: [UInt8]
            do {
                payload = try caller.receive(timeoutMilliseconds: 0)
            } catch TPKTSocketError.timedOut {
                continue
            } catch {
                throw ReplayError.h323(
                    callID: callID, problem: "the node's connection failed after the Setup: \(error)")
            }
            let (message, information) = try Self.decode(payload, callID: callID, awaiting: "the callee's Setup")
            if message.type == .releaseComplete {
                throw Self.released(message, callID: callID, instead: "bringing the call to the replay's callee")
            }
            if information.body == .facility, let alternative = information.alternativeAddress?.socketAddress {
                caller = try TPKTSocket.connect(to: alternative, from: localIP)
                try caller.send(setup.encoded)
                redirects += 1
            }
        }
        throw ReplayError.h323(
            callID: callID,
            problem: "the node did not bring the call to the replay's callee within \(timeoutMilliseconds) ms")
    }

    /// Reads messages until `expected` arrives; a ReleaseComplete or anything unreadable is an
    /// error naming the call.
    private func receive(_ expected: Q931Message.MessageType, on socket: TPKTSocket, callID: String) throws
        -> (Q931Message, H323UserInformation)
    {
        while true {
            let payload: [UInt8]
            do {
                payload = try socket.receive(timeoutMilliseconds: timeoutMilliseconds)
            } catch {
                throw ReplayError.h323(callID: callID, problem: "waiting for a \(expected): \(error)")
            }
            let (message, information) = try Self.decode(payload, callID: callID, awaiting: "a \(expected)")
            if message.type == expected { return (message, information) }
            if message.type == .releaseComplete {
                throw Self.released(message, callID: callID, instead: "sending a \(expected)")
            }
        }
    }

    private static func decode(_ payload: [UInt8], callID: String, awaiting expected: String) throws -> (
        Q931Message, H323UserInformation
    ) {
        guard let message = try? Q931Message(parsing: payload), let encoding = message.userInformation,
            let information = try? H323UserInformation(perEncoded: encoding)
        else {
            throw ReplayError.h323(callID: callID, problem: "an unreadable message came while awaiting \(expected)")
        }
        return (message, information)
    }

    private static func released(_ message: Q931Message, callID: String, instead: String) -> ReplayError {
        let cause = message.cause.map { "Q.850 cause \($0)\($0 == 34 ? ", no circuit: every node busy" : "")" }
        return .h323(
            callID: callID,
            problem: "the node released the call with ReleaseComplete (\(cause ?? "no cause")) instead of \(instead)")
    }

    /// Where the relay takes session `session`'s media from the party `information` went to: the
    /// channel that party receives on names, in the relay's rewrite, the relay's RTP and RTCP.
    private static func relayTarget(in information: H323UserInformation, session: Int, callID: String, message: String)
        throws -> ReplayedCall.Target
    {
        for encoding in information.fastStart ?? [] {
            guard let channel = try? OpenLogicalChannel(perEncoded: encoding),
                let block = channel.mediaChannels.first(where: { $0.block == .reverse && $0.media.sessionID == session }
                ),
                let rtp = block.media.rtp?.socketAddress
            else { continue }
            return ReplayedCall.Target(rtp: rtp, rtcp: block.media.rtcp?.socketAddress ?? rtp)
        }
        throw ReplayError.h323(
            callID: callID, problem: "the \(message) the node relayed has no fastStart channel of session \(session)")
    }

    private static func dynamicPayloadType(_ flow: MediaFlow) -> Int? {
        flow.payloadType >= 96 ? Int(flow.payloadType) : nil
    }
}

extension SocketAddress {
    fileprivate var mediaAddress: MediaAddress {
        withAddressBytes { MediaAddress(ip: Array($0), port: port) }
    }
}

extension MediaAddress {
    fileprivate var socketAddress: SocketAddress? { SocketAddress(ip: host, port: port) }
}

extension TransportAddress {
    fileprivate init(ipv4OrIPv6 address: SocketAddress) {
        let octets = address.withAddressBytes { Array($0) }
        self = address.isIPv6 ? .ipv6(address: octets, port: address.port) : .ipv4(address: octets, port: address.port)
    }

    fileprivate var socketAddress: SocketAddress? {
        switch self {
        case .ipv4(let address, let port), .ipv6(let address, let port):
            MediaAddress(ip: address, port: port).socketAddress
        default: nil
        }
    }
}

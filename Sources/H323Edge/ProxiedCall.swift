import H323
import Logging
import MediaPlane
import NIOCore

/// One H.323 call routed through the node: its `RoutedCall` (the pure signalling core), the two
/// call-signalling connections, any separate H.245 connections, and its media on the node's
/// media plane, named by the call's callIdentifier. Runs on the node's event loop.
final class ProxiedCall {
    /// The signalling core. `relay` mutates it while it calls back into `RoutedCallServices`, so
    /// those callbacks must not touch it.
    private var call: RoutedCall
    /// The call's name in the media plane (its callIdentifier in hex).
    let callID: String
    let destination: CallDestination
    private let caller: TPKTConnection
    private var callee: TPKTConnection?
    /// What the caller sent before the callee's connection was up.
    private var waitingForCallee: [Q931Message] = []
    private var h245Proxies: [H245ChannelProxy] = []
    /// The media plane's stream of each H.245 session, in the order the sessions appeared, and
    /// the kind and clock each was opened with.
    private var streams: [Int: (index: Int, type: String, clockRate: UInt32)] = [:]
    private let port: CallSignallingPort
    private var logger: Logger

    init(call: RoutedCall, destination: CallDestination, caller: TPKTConnection, port: CallSignallingPort) {
        self.call = call
        callID = call.callID
        self.destination = destination
        self.caller = caller
        self.port = port
        logger = port.logger
        logger[metadataKey: "call-id"] = "\(call.callID)"
    }

    /// Relays a message from `side` and carries out what the call core decided.
    func relay(_ message: Q931Message, from side: CallSide) {
        perform(call.relay(message, from: side, services: self))
    }

    /// The callee's connection is up: it gets what the caller already sent.
    func calleeConnected(_ connection: TPKTConnection) {
        callee = connection
        for message in waitingForCallee { connection.send(message.encoded) }
        waitingForCallee = []
    }

    /// A side's connection closed. Without a ReleaseComplete first, the other side gets one.
    func connectionClosed(_ side: CallSide) {
        guard !call.isEnded else { return }
        logger.notice("call-signalling connection dropped without ReleaseComplete", metadata: ["side": "\(side)"])
        // Cause 41: temporary failure.
        send(call.release(side.other, cause: 41, reason: .undefinedReason), to: side.other)
        end(how: "connection-dropped", reason: "the \(side)'s connection dropped")
    }

    /// The callee could not be reached.
    func calleeUnreachable(_ error: any Error) {
        guard !call.isEnded else { return }
        logger.warning(
            "cannot connect to the callee", metadata: ["destination": "\(destination)", "error": "\(error)"])
        // Cause 27: destination out of order.
        send(call.release(.caller, cause: 27, reason: .unreachableDestination), to: .caller)
        end(how: "unreachable-destination", reason: "cannot reach \(destination): \(error)")
    }

    /// The media plane ended the call (media timeout, NG delete): both sides are released.
    func mediaEnded(_ reason: CallEndReason) {
        guard !call.isEnded else { return }
        // Cause 102: recovery on timer expiry; 16: normal call clearing.
        let cause = reason == .mediaTimeout ? 102 : 16
        for side in [CallSide.caller, .callee] {
            send(call.release(side, cause: cause, reason: .undefinedReason), to: side)
        }
        end(how: reason == .mediaTimeout ? "media-timeout" : "deleted", reason: "\(reason)", mediaGone: true)
    }

    /// An H.245 message on a separate H.245 connection, from `side`, for `proxy`.
    func relayH245(_ encoding: [UInt8], from side: CallSide, on proxy: H245ChannelProxy) {
        do {
            proxy.send(try call.rewriteH245(encoding, from: side, services: self), to: side.other)
            port.count { $0.h245MessagesRelayed += 1 }
        } catch {
            port.count { $0.dropped["media-not-anchored", default: 0] += 1 }
            logger.warning("H.245 message not relayed", metadata: ["side": "\(side)", "error": "\(error)"])
            if let message = try? H245ControlMessage(perEncoded: encoding),
                case .openLogicalChannel(let open) = message.kind
            {
                proxy.send(H245ControlMessage.openLogicalChannelReject(number: open.number), to: side)
            }
        }
    }

    private func perform(_ actions: [RoutedCall.Action]) {
        for action in actions {
            switch action {
            case .send(let message, let side):
                send(message, to: side)
                port.count { $0.messagesRelayed += 1 }
            case .dropped(let side, let reason, let detail):
                port.count { $0.dropped[reason, default: 0] += 1 }
                logger.warning(
                    "call-signalling message not relayed",
                    metadata: [
                        "side": "\(side)", "reason": "\(reason)", "detail": "\(detail)",
                        "peer": "\(connection(side)?.remoteAddress.map { "\($0)" } ?? "-")",
                    ])
            case .end(let reason):
                end(how: "release-complete", reason: reason)
            }
        }
    }

    private func connection(_ side: CallSide) -> TPKTConnection? { side == .caller ? caller : callee }

    private func send(_ message: Q931Message, to side: CallSide) {
        if side == .callee, callee == nil {
            waitingForCallee.append(message)
            return
        }
        connection(side)?.send(message.encoded)
    }

    /// Closes every connection and frees the media; the listener forgets the call.
    private func end(how: String, reason: String, mediaGone: Bool = false) {
        logger.info("H.323 call ended", metadata: ["how": "\(how)", "reason": "\(reason)"])
        caller.close()
        callee?.close()
        for proxy in h245Proxies { proxy.close() }
        h245Proxies = []
        port.callEnded(self, how: how)
        if !mediaGone, port.registry.hasCall(callID) { _ = try? port.registry.delete(callID: callID) }
    }
}

extension ProxiedCall: RoutedCallServices {
    func anchorMedia(
        session: Int, format: (MediaFormat, sender: CallSide)?, from side: CallSide, rtp: MediaAddress?,
        rtcp: MediaAddress?
    ) throws -> RelayAddresses {
        let media = format?.0
        let stream =
            streams[session]
            ?? (
                streams.count, media?.mediaType ?? (session == 2 ? "video" : "audio"),
                media?.clockRate ?? (session == 2 ? 90_000 : 8_000)
            )
        streams[session] = stream
        let codec = format.flatMap { format in format.0.codec.map { (name: $0, sender: format.sender.rawValue) } }
        let relayPort = try port.registry.anchorStream(
            callID: callID, index: stream.index, type: stream.type, clockRate: stream.clockRate, leg: side.rawValue,
            receivesRTPAt: rtp?.socketAddress, rtcp: rtcp?.socketAddress, codec: codec)
        let host = port.mediaIP
        guard let relayRTP = MediaAddress(host: host, port: relayPort),
            let relayRTCP = MediaAddress(host: host, port: relayPort + 1)
        else {
            throw CallError.invalidAddress(host, mediaIndex: stream.index + 1)
        }
        logger.debug(
            "media anchored",
            metadata: [
                "session": "\(session)", "format": "\(media.map { "\($0)" } ?? "-")", "side": "\(side)",
                "rtp": "\(rtp.map { "\($0)" } ?? "-")", "relay": "\(relayRTP)",
            ])
        return RelayAddresses(rtp: relayRTP, rtcp: relayRTCP)
    }

    func proxyH245(from side: CallSide, listeningAt address: TransportAddress) throws -> TransportAddress {
        guard let target = address.socketAddress else {
            throw CallSignallingError.badQ931("h245Address \(address) is not an IP address")
        }
        // The other side connects to the address it reached this node at.
        let host = connection(side.other)?.localAddress?.ipAddress ?? caller.localAddress?.ipAddress ?? port.mediaIP
        let proxy = try H245ChannelProxy(
            call: self, towards: side, target: target, host: host, port: port)
        h245Proxies.append(proxy)
        guard let listening = TransportAddress(proxy.listeningAddress) else {
            throw CallSignallingError.badQ931("the H.245 listener has no IP address")
        }
        return listening
    }
}

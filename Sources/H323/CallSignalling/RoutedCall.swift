/// The two parties of a routed call, as the proxy sees its two TCP connections.
public enum CallSide: Int, Sendable, CustomStringConvertible {
    case caller = 0
    case callee = 1

    public var other: CallSide { self == .caller ? .callee : .caller }
    public var description: String { self == .caller ? "caller" : "callee" }
}

/// What a routed call needs from the node around it: media anchored on its media plane, and
/// H.245 connections proxied through it.
public protocol RoutedCallServices {
    /// Anchors the media of RTP session `session` on the relay: `rtp`/`rtcp` are where `side`
    /// receives (when the message named them); `format`, when the message named one, is what
    /// `sender` sends. Returns the relay's addresses facing the other side.
    func anchorMedia(
        session: Int, format: (MediaFormat, sender: CallSide)?, from side: CallSide, rtp: MediaAddress?,
        rtcp: MediaAddress?
    ) throws -> RelayAddresses
    /// Listens for the other side's H.245 connection and proxies it to `side`'s listener at
    /// `address`. Returns the relay's listening address to give the other side in its place.
    func proxyH245(from side: CallSide, listeningAt address: TransportAddress) throws -> TransportAddress
}

/// One call routed through the node (H.323 gatekeeper-routed signalling, H.225.0 §7 and
/// H.323 §8): every Q.931 message of either side goes through `relay`, which forwards it to the
/// other side with the media addresses of fastStart, tunnelled H.245 and h245Address replaced by
/// the relay's, answers StatusInquiry itself, and ends the call on ReleaseComplete. Pure: the
/// node's edge carries the bytes, and the media plane stands behind `RoutedCallServices`.
public struct RoutedCall: Sendable {
    /// What the edge does after a message.
    public enum Action: Equatable, Sendable {
        /// Send `message` to `side`.
        case send(Q931Message, to: CallSide)
        /// The call is over: close both connections and free its media.
        case end(reason: String)
        /// A message was not forwarded (counted under `reason`, logged with `detail`).
        case dropped(from: CallSide, reason: String, detail: String)
    }

    /// The call's name in the media plane, `list`, `query` and `/status`: its callIdentifier in hex.
    public let callID: String
    public let callIdentifier: CallIdentifier?
    /// The Q.931 call reference both connections keep.
    public let callReference: UInt16
    public private(set) var isConnected = false
    public private(set) var isEnded = false
    /// The H.245 session of each logical channel, by the side that opened it and its number, so
    /// that an Ack (which may not name its session) is anchored on the right stream.
    private var sessions: [ChannelKey: Int] = [:]

    private struct ChannelKey: Hashable {
        var opener: CallSide
        var number: Int
    }

    /// A routed call for `setup`, the first message from the caller.
    public init(setup: Q931Message, userInformation: H323UserInformation) {
        callIdentifier = userInformation.callIdentifier
        let identity = userInformation.callIdentifier?.guid ?? userInformation.conferenceID ?? []
        callID = identity.isEmpty ? "h323-crv-\(setup.callReference)" : identity.map { hex($0) }.joined()
        callReference = setup.callReference
    }

    /// Relays `message` from `side`: the actions to take, in order.
    public mutating func relay(_ message: Q931Message, from side: CallSide, services: some RoutedCallServices)
        -> [Action]
    {
        guard !isEnded else { return [.dropped(from: side, reason: "call-ended", detail: "the call has ended")] }
        if message.type == .statusEnquiry { return [.send(status(to: side), to: side)] }
        var forwarded = message
        var actions: [Action] = []
        if let encoding = message.userInformation {
            do {
                let information = try H323UserInformation(perEncoded: encoding)
                if let rewrite = try rewrite(information, from: side, services: services, actions: &actions) {
                    // A message that only tunnelled what was refused carries nothing left to forward.
                    if information.body == .empty, rewrite.h245Control?.isEmpty == true { return actions }
                    forwarded.setUserInformation(try information.rewriting(rewrite))
                }
            } catch {
                return refuse(message, from: side, reason: "bad-h225", detail: "\(error)")
            }
        }
        actions.append(.send(forwarded, to: side.other))
        switch message.type {
        case .connect: isConnected = true
        case .releaseComplete:
            isEnded = true
            actions.append(
                .end(reason: "\(side) released the call (cause \(message.cause.map(String.init) ?? "none"))"))
        default: break
        }
        return actions
    }

    /// The ReleaseComplete the proxy sends `side` itself when the call ends for another reason
    /// (the other side's connection dropped, a media timeout, an NG `delete`); marks the call ended.
    public mutating func release(_ side: CallSide, cause: Int, reason: H323UserInformation.ReleaseReason) -> Q931Message
    {
        isEnded = true
        var message = Q931Message(
            type: .releaseComplete, callReference: callReference, fromDestination: side == .caller,
            elements: [Q931Message.causeElement(cause)])
        message.setUserInformation(H323UserInformation.releaseComplete(callIdentifier: callIdentifier, reason: reason))
        return message
    }

    // MARK: - Rewriting

    private mutating func rewrite(
        _ information: H323UserInformation, from side: CallSide, services: some RoutedCallServices,
        actions: inout [Action]
    ) throws -> H323UserInformation.Rewrite? {
        var rewrite = H323UserInformation.Rewrite()
        if let proposals = information.fastStart {
            // A proposal whose media cannot be anchored is left out (fastStart's way of refusing a
            // channel); a message none of whose proposals can be is not relayed.
            var kept: [[UInt8]] = []
            for proposal in proposals {
                do {
                    kept.append(
                        try OpenLogicalChannel.rewriting(proposal) { channel in
                            try anchor(channel, from: side, services: services)
                        })
                } catch {
                    actions.append(
                        .dropped(from: side, reason: "media-not-anchored", detail: "a fastStart channel: \(error)"))
                }
            }
            guard !kept.isEmpty else {
                throw PERError(
                    .unsupported("no fastStart channel whose media the relay can anchor"), field: "fastStart")
            }
            rewrite.fastStart = kept
        }
        if let control = information.h245Control {
            rewrite.h245Control = control.compactMap { encoding in
                tunnelled(encoding, from: side, services: services, actions: &actions)
            }
        }
        if let address = information.h245Address {
            rewrite.h245Address = try services.proxyH245(from: side, listeningAt: address)
        }
        let changed = rewrite.fastStart != nil || rewrite.h245Control != nil || rewrite.h245Address != nil
        return changed ? rewrite : nil
    }

    /// One tunnelled H.245 message, rewritten; nil when it is not forwarded. An OpenLogicalChannel
    /// whose media cannot be anchored is refused back to its sender, never forwarded as it came.
    private mutating func tunnelled(
        _ encoding: [UInt8], from side: CallSide, services: some RoutedCallServices, actions: inout [Action]
    ) -> [UInt8]? {
        do {
            return try rewriteH245(encoding, from: side, services: services)
        } catch {
            actions.append(.dropped(from: side, reason: "media-not-anchored", detail: "tunnelled H.245: \(error)"))
            if let message = try? H245ControlMessage(perEncoded: encoding),
                case .openLogicalChannel(let open) = message.kind
            {
                var reject = Q931Message(
                    type: .facility, callReference: callReference, fromDestination: side == .caller)
                reject.setUserInformation(
                    H323UserInformation.tunnelling([H245ControlMessage.openLogicalChannelReject(number: open.number)]))
                actions.append(.send(reject, to: side))
            }
            return nil
        }
    }

    /// An H.245 message from `side` with the relay's media addresses, whichever way it travels
    /// (tunnelled, or on a proxied H.245 connection).
    public mutating func rewriteH245(_ encoding: [UInt8], from side: CallSide, services: some RoutedCallServices) throws
        -> [UInt8]
    {
        let message = try H245ControlMessage(perEncoded: encoding)
        switch message.kind {
        case .closeLogicalChannel(let number): sessions[ChannelKey(opener: side, number: number)] = nil
        case .openLogicalChannelReject(let number): sessions[ChannelKey(opener: side.other, number: number)] = nil
        default: break
        }
        return try message.rewritingMedia { channel in try anchor(channel, from: side, services: services) }
    }

    private mutating func anchor(_ channel: MediaChannel, from side: CallSide, services: some RoutedCallServices) throws
        -> RelayAddresses
    {
        let session: Int
        switch channel.block {
        case .forward, .reverse:
            guard let named = channel.media.sessionID else {
                throw PERError(.invalid("a logical channel without a session"), field: "sessionID")
            }
            session = named
            sessions[ChannelKey(opener: side, number: channel.logicalChannelNumber)] = named
        case .acknowledgement:
            guard
                let opened = sessions[ChannelKey(opener: side.other, number: channel.logicalChannelNumber)]
                    ?? channel.media.sessionID
            else {
                throw PERError(
                    .invalid("an Ack for logical channel \(channel.logicalChannelNumber), which was never opened"),
                    field: "forwardLogicalChannelNumber")
            }
            session = opened
        }
        // A forward channel carries what its opener sends; a reverse one what the opener receives.
        let sender = channel.block == .forward ? side : side.other
        return try services.anchorMedia(
            session: session, format: channel.format.map { ($0, sender) }, from: side, rtp: channel.media.rtp,
            rtcp: channel.media.rtcp)
    }

    // MARK: - Answers of its own

    private func status(to side: CallSide) -> Q931Message {
        // Cause 30: response to STATUS ENQUIRY; call state 10 active, 3 outgoing call proceeding.
        var message = Q931Message(
            type: .status, callReference: callReference, fromDestination: side == .caller,
            elements: [Q931Message.causeElement(30), .init(Q931Message.Element.callState, [isConnected ? 10 : 3])])
        message.setUserInformation(
            H323UserInformation.status(
                callIdentifier: callIdentifier ?? CallIdentifier(guid: Array(repeating: 0, count: 16))))
        return message
    }

    /// A message that cannot be relayed: dropped; a Setup is answered with ReleaseComplete.
    private mutating func refuse(_ message: Q931Message, from side: CallSide, reason: String, detail: String)
        -> [Action]
    {
        var actions: [Action] = [.dropped(from: side, reason: reason, detail: detail)]
        if message.type == .setup {
            actions.append(.send(release(side, cause: 127, reason: .undefinedReason), to: side))
            actions.append(.end(reason: "the Setup could not be relayed: \(detail)"))
        }
        return actions
    }
}

private func hex(_ octet: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(octet >> 4)], digits[Int(octet & 15)]])
}

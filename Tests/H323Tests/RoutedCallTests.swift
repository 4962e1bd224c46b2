import H323
import SpillwayTestFixtures
import Testing

extension PycrateMessages {
    /// Facility (body `empty`) messages tunnelling one H.245 message each, from pycrate.
    /// An OpenLogicalChannel 7 (G.711 A-law, session 1) whose RTCP address is the IPv4 127.0.0.21:5001.
    static let tunnelledOpen = hexBytes("2810010010c00180150113030000060c2013800a040001007f0000151389")
    /// The same channel with the IPv6 RTCP address ::1 port 5001.
    static let tunnelledOpenIPv6 = hexBytes(
        "2810010010c0018021011f030000060c2013801604000108000000000000000000000000000000011389")
    /// An OpenLogicalChannelAck for channel 7 that names no session: RTP at 127.0.0.22:6000.
    static let tunnelledAckWithoutSession = hexBytes("2810010010c0018011010f22c0000606800808007f0000161770")
    /// A MasterSlaveDetermination, which a relay passes byte for byte.
    static let tunnelledMasterSlave = hexBytes("2810010010c0018008010601003c401092")
    static let masterSlave = hexBytes("01003c401092")
}

/// The media plane a routed call sees, in memory: it records what it is asked to anchor and
/// answers with the relay's addresses facing the other side (10.0.0.1 towards the caller,
/// 10.0.0.2 towards the callee).
final class RecordingServices: RoutedCallServices {
    struct Anchor: Equatable {
        var session: Int
        var side: CallSide
        var rtp: MediaAddress?
        var rtcp: MediaAddress?
        var format: MediaFormat? = nil
        var sender: CallSide? = nil
    }

    var anchors: [Anchor] = []

    static func relay(towards side: CallSide) -> RelayAddresses {
        let ip: [UInt8] = side == .caller ? [10, 0, 0, 1] : [10, 0, 0, 2]
        return RelayAddresses(rtp: MediaAddress(ip: ip, port: 40_000), rtcp: MediaAddress(ip: ip, port: 40_001))
    }

    func anchorMedia(
        session: Int, format: (MediaFormat, sender: CallSide)?, from side: CallSide, rtp: MediaAddress?,
        rtcp: MediaAddress?
    ) throws -> RelayAddresses {
        anchors.append(
            Anchor(session: session, side: side, rtp: rtp, rtcp: rtcp, format: format?.0, sender: format?.sender))
        return Self.relay(towards: side.other)
    }

    func proxyH245(from side: CallSide, listeningAt address: TransportAddress) throws -> TransportAddress {
        TransportAddress(ipv4: "10.0.0.9", port: 45_000)!
    }
}

@Suite struct RoutedCallTests {
    static func message(_ type: Q931Message.MessageType, _ userInformation: [UInt8], fromDestination: Bool = false)
        -> Q931Message
    {
        var message = Q931Message(type: type, callReference: 0x1234, fromDestination: fromDestination)
        message.setUserInformation(userInformation)
        return message
    }

    static func startedCall() throws -> RoutedCall {
        let setup = message(.setup, PycrateMessages.setup)
        return RoutedCall(setup: setup, userInformation: try H323UserInformation(perEncoded: PycrateMessages.setup))
    }

    /// The user information of the one message `actions` sends to `side`.
    static func sent(_ actions: [RoutedCall.Action], to side: CallSide) throws -> H323UserInformation? {
        let messages = actions.compactMap { action -> Q931Message? in
            guard case .send(let message, side) = action else { return nil }
            return message
        }
        guard let message = messages.first else { return nil }
        return try H323UserInformation(perEncoded: try #require(message.userInformation))
    }

    @Test func theCallIsNamedByItsCallIdentifier() throws {
        #expect(try Self.startedCall().callID == "101112131415161718191a1b1c1d1e1f")
    }

    @Test func aSetupIsForwardedWithItsFastStartAnchoredOnTheRelay() throws {
        var call = try Self.startedCall()
        let services = RecordingServices()
        let actions = call.relay(Self.message(.setup, PycrateMessages.setup), from: .caller, services: services)
        #expect(actions.count == 1)
        let forwarded = try #require(try Self.sent(actions, to: .callee))
        // The caller's addresses were recorded as where the caller receives ...
        let caller: [UInt8] = [127, 0, 0, 21]
        #expect(
            services.anchors == [
                // The forward proposal: what the caller would send; the reverse: what the callee would.
                .init(
                    session: 1, side: .caller, rtp: nil, rtcp: MediaAddress(ip: caller, port: 5001),
                    format: .audio("G.711 mu-law"), sender: .caller),
                .init(
                    session: 1, side: .caller, rtp: MediaAddress(ip: caller, port: 5000),
                    rtcp: MediaAddress(ip: caller, port: 5001),
                    format: .audio("G.711 mu-law"), sender: .callee),
            ])
        // ... and the callee is told the relay's addresses that face it, nothing of the caller's.
        let proposals = try #require(forwarded.fastStart).map { try OpenLogicalChannel(perEncoded: $0) }
        let media = proposals.flatMap(\.mediaChannels).map(\.media)
        #expect(
            media.map(\.rtcp) == [
                RecordingServices.relay(towards: .callee).rtcp, RecordingServices.relay(towards: .callee).rtcp,
            ])
        #expect(media[1].rtp == RecordingServices.relay(towards: .callee).rtp)
        #expect(
            forwarded.callIdentifier == CallIdentifier(guid: Array(16..<32))
                && forwarded.destinationAddress == [.dialledDigits("5551234")])
    }

    @Test func otherH245PassesByteForByte() throws {
        var call = try Self.startedCall()
        let actions = call.relay(
            Self.message(.facility, PycrateMessages.tunnelledMasterSlave), from: .caller, services: RecordingServices())
        #expect(try Self.sent(actions, to: .callee)?.h245Control == [PycrateMessages.masterSlave])
    }

    @Test func anAckIsAnchoredOnTheSessionItsChannelWasOpenedIn() throws {
        var call = try Self.startedCall()
        let services = RecordingServices()
        _ = call.relay(Self.message(.facility, PycrateMessages.tunnelledOpen), from: .caller, services: services)
        let actions = call.relay(
            Self.message(.facility, PycrateMessages.tunnelledAckWithoutSession, fromDestination: true), from: .callee,
            services: services)
        #expect(
            services.anchors.last
                == .init(session: 1, side: .callee, rtp: MediaAddress(ip: [127, 0, 0, 22], port: 6000), rtcp: nil))
        let control = try #require(try Self.sent(actions, to: .caller)?.h245Control)
        guard case .openLogicalChannelAck(let ack) = try H245ControlMessage(perEncoded: control[0]).kind else {
            Issue.record("not an Ack")
            return
        }
        #expect(ack.media?.rtp == RecordingServices.relay(towards: .caller).rtp)
    }

    @Test func aChannelWhoseMediaCannotBeAnchoredIsRefusedToItsSenderAndNeverForwarded() throws {
        var call = try Self.startedCall()
        // An IPv6 address cannot be replaced in place by the relay's IPv4 one.
        let actions = call.relay(
            Self.message(.facility, PycrateMessages.tunnelledOpenIPv6), from: .caller, services: RecordingServices())
        #expect(try Self.sent(actions, to: .callee) == nil, "the channel went on to the callee: \(actions)")
        let refusal = try #require(try Self.sent(actions, to: .caller)?.h245Control)
        #expect(try H245ControlMessage(perEncoded: refusal[0]).kind == .openLogicalChannelReject(number: 7))
        #expect(actions.contains { if case .dropped(.caller, "media-not-anchored", _) = $0 { true } else { false } })
    }

    @Test func aFastStartChannelWhoseMediaCannotBeAnchoredIsLeftOutOfTheOffer() throws {
        var call = try Self.startedCall()
        // pycrate's OpenLogicalChannel 7 with an IPv6 RTCP address (the tunnelled message's body, a
        // whole number of octets after its two CHOICE indices), put first in the Setup's fastStart.
        let ipv6Channel = hexBytes("0000060c2013801604000108000000000000000000000000000000011389")
        let setup = try H323UserInformation(perEncoded: PycrateMessages.setup)
        let offer = try setup.rewriting(.init(fastStart: [ipv6Channel] + (setup.fastStart ?? [])))
        let actions = call.relay(Self.message(.setup, offer), from: .caller, services: RecordingServices())
        let forwarded = try #require(try Self.sent(actions, to: .callee)?.fastStart)
        #expect(try forwarded.map { try OpenLogicalChannel(perEncoded: $0).number } == [101, 1])
        #expect(actions.contains { if case .dropped(.caller, "media-not-anchored", _) = $0 { true } else { false } })

        let onlyIPv6 = try setup.rewriting(.init(fastStart: [ipv6Channel]))
        var another = try Self.startedCall()
        let refused = another.relay(Self.message(.setup, onlyIPv6), from: .caller, services: RecordingServices())
        #expect(try Self.sent(refused, to: .callee) == nil && another.isEnded, "\(refused)")
    }

    @Test func statusEnquiryIsAnsweredByTheProxy() throws {
        var call = try Self.startedCall()
        let enquiry = Self.message(
            .statusEnquiry, H323UserInformation.status(callIdentifier: CallIdentifier(guid: Array(16..<32))))
        let actions = call.relay(enquiry, from: .caller, services: RecordingServices())
        guard case .send(let status, .caller)? = actions.first, actions.count == 1 else {
            Issue.record("not answered to the caller alone: \(actions)")
            return
        }
        #expect(status.type == .status && status.cause == 30 && status.fromDestination)
        #expect(status.element(Q931Message.Element.callState) == [3])
    }

    @Test func releaseCompleteIsForwardedAndEndsTheCall() throws {
        var call = try Self.startedCall()
        var release = Q931Message(
            type: .releaseComplete, callReference: 0x1234, fromDestination: true,
            elements: [Q931Message.causeElement(16)])
        release.setUserInformation(
            H323UserInformation.releaseComplete(callIdentifier: call.callIdentifier, reason: .undefinedReason))
        let actions = call.relay(release, from: .callee, services: RecordingServices())
        #expect(actions.first == .send(release, to: .caller))
        #expect(actions.count == 2 && call.isEnded)
        if case .end = actions[1] {} else { Issue.record("the call did not end: \(actions)") }
        let late = call.relay(
            Self.message(.facility, PycrateMessages.tunnelledMasterSlave), from: .caller, services: RecordingServices())
        #expect(late.count == 1 && { if case .dropped(_, "call-ended", _) = late[0] { true } else { false } }())
    }

    @Test func aSetupThatCannotBeReadIsAnsweredWithReleaseComplete() throws {
        var call = try Self.startedCall()
        let broken = Self.message(.setup, Array(PycrateMessages.setup.prefix(40)))
        let actions = call.relay(broken, from: .caller, services: RecordingServices())
        let release = try #require(try Self.sent(actions, to: .caller))
        #expect(release.body == .releaseComplete)
        #expect(try Self.sent(actions, to: .callee) == nil && call.isEnded)
    }
}

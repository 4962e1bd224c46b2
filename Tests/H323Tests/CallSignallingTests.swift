import H323
import SpillwayTestFixtures
import Testing

@Suite struct CallSignallingTests {
    static let relay = RelayAddresses(
        rtp: MediaAddress(ip: [10, 0, 0, 1], port: 40_000), rtcp: MediaAddress(ip: [10, 0, 0, 1], port: 40_001))

    @Test func setupDecodesTheFieldsAProxyRoutesBy() throws {
        let setup = try H323UserInformation(perEncoded: PycrateMessages.setup)
        #expect(setup.body == .setup)
        #expect(setup.callIdentifier?.guid == Array(16..<32))
        #expect(setup.conferenceID == Array(0..<16))
        #expect(setup.destinationAddress == [.dialledDigits("5551234")])
        #expect(setup.destCallSignalAddress == TransportAddress(ipv4: "127.0.0.22", port: 1720))
        #expect(setup.sourceCallSignalAddress == TransportAddress(ipv4: "127.0.0.21", port: 1720))
        #expect(setup.h245Tunnelling)
        #expect(setup.h245Address == nil && setup.h245Control == nil)
        #expect(setup.fastStart?.count == 2)
    }

    @Test func fastStartProposalsNameTheirMediaAndAddresses() throws {
        let proposals = try #require(try H323UserInformation(perEncoded: PycrateMessages.setup).fastStart)
        let forward = try OpenLogicalChannel(perEncoded: proposals[0])
        #expect(
            forward.number == 101 && forward.forwardFormat == .audio("G.711 mu-law") && forward.reverseFormat == nil)
        #expect(forward.mediaChannels.map(\.block) == [.forward])
        #expect(forward.mediaChannels.first?.media.rtp == nil)
        #expect(forward.mediaChannels.first?.media.rtcp == MediaAddress(ip: [127, 0, 0, 21], port: 5001))
        let reverse = try OpenLogicalChannel(perEncoded: proposals[1])
        #expect(
            reverse.number == 1 && reverse.forwardFormat == MediaFormat.none
                && reverse.reverseFormat == .audio("G.711 mu-law"))
        let media = try #require(reverse.mediaChannels.first)
        #expect(media.block == .reverse && media.media.sessionID == 1)
        #expect(media.media.rtp == MediaAddress(ip: [127, 0, 0, 21], port: 5000))
    }

    @Test func rewritingFastStartChangesOnlyTheAddresses() throws {
        let setup = try H323UserInformation(perEncoded: PycrateMessages.setup)
        let proposals = try #require(setup.fastStart)
        var seen: [MediaChannel] = []
        let rewritten = try proposals.map { proposal in
            try OpenLogicalChannel.rewriting(proposal) { channel in
                seen.append(channel)
                return Self.relay
            }
        }
        #expect(seen.map(\.logicalChannelNumber) == [101, 1])
        let forward = try OpenLogicalChannel(perEncoded: rewritten[0]).mediaChannels[0].media
        #expect(forward.rtp == nil && forward.rtcp == Self.relay.rtcp)
        let reverse = try OpenLogicalChannel(perEncoded: rewritten[1]).mediaChannels[0].media
        #expect(reverse.rtp == Self.relay.rtp && reverse.rtcp == Self.relay.rtcp && reverse.sessionID == 1)

        let message = try setup.rewriting(.init(fastStart: rewritten))
        #expect(message.count == PycrateMessages.setup.count)
        let differing = zip(message, PycrateMessages.setup).count { $0 != $1 }
        // Three addresses changed (4 IP octets each, two port octets each): nothing else.
        #expect(differing > 0 && differing <= 3 * 6, "\(differing) octets differ")
        let again = try H323UserInformation(perEncoded: message)
        #expect(again.callIdentifier == setup.callIdentifier && again.destinationAddress == setup.destinationAddress)
        #expect(again.fastStart == rewritten)
    }

    @Test func rewritingTheDestinationKeepsTheRest() throws {
        let setup = try H323UserInformation(perEncoded: PycrateMessages.setup)
        let callee = try #require(TransportAddress(ipv4: "192.0.2.7", port: 11_720))
        let message = try H323UserInformation(perEncoded: try setup.rewriting(.init(destCallSignalAddress: callee)))
        #expect(message.destCallSignalAddress == callee)
        #expect(message.fastStart == setup.fastStart && message.callIdentifier == setup.callIdentifier)
    }

    @Test func anAddressOfAnotherFamilyIsRefusedNotMisencoded() throws {
        let setup = try H323UserInformation(perEncoded: PycrateMessages.setup)
        let ipv6 = TransportAddress.ipv6(address: Array(repeating: 0, count: 15) + [1], port: 1720)
        #expect(throws: PERError.self) { try setup.rewriting(.init(destCallSignalAddress: ipv6)) }
        #expect(throws: PERError.self) { try setup.rewriting(.init(h245Address: ipv6)) }
    }

    @Test func tunnelledAckIsFoundAndRewritten() throws {
        let facility = try H323UserInformation(perEncoded: PycrateMessages.tunnelledAck)
        #expect(facility.body == .empty && facility.h245Tunnelling)
        let control = try #require(facility.h245Control)
        #expect(control == [PycrateMessages.ack])
        let ack = try H245ControlMessage(perEncoded: control[0])
        guard case .openLogicalChannelAck(let decoded) = ack.kind else {
            Issue.record("not an OLCAck: \(ack.kind)")
            return
        }
        #expect(decoded.number == 101)
        #expect(decoded.media?.rtp == MediaAddress(ip: [127, 0, 0, 22], port: 6000) && decoded.media?.sessionID == 1)
        let rewritten = try ack.rewritingMedia { _ in Self.relay }
        #expect(rewritten.count == PycrateMessages.ack.count)
        guard case .openLogicalChannelAck(let after) = try H245ControlMessage(perEncoded: rewritten).kind else {
            Issue.record("the rewritten ack no longer decodes as one")
            return
        }
        #expect(after.media?.rtp == Self.relay.rtp && after.media?.rtcp == Self.relay.rtcp)
        let message = try H323UserInformation(perEncoded: try facility.rewriting(.init(h245Control: [rewritten])))
        #expect(message.h245Control == [rewritten] && message.body == .empty)
    }

    @Test func messagesTheProxyBuildsDecode() throws {
        let identifier = CallIdentifier(guid: Array(16..<32))
        let release = try H323UserInformation(
            perEncoded: H323UserInformation.releaseComplete(callIdentifier: identifier, reason: .gatewayResources))
        #expect(release.body == .releaseComplete && release.releaseReason == 7 && release.callIdentifier == identifier)
        let status = try H323UserInformation(perEncoded: H323UserInformation.status(callIdentifier: identifier))
        #expect(status.body == .status && status.callIdentifier == identifier)
        let reject = H245ControlMessage.openLogicalChannelReject(number: 101)
        let tunnel = try H323UserInformation(perEncoded: H323UserInformation.tunnelling([reject]))
        #expect(tunnel.body == .empty && tunnel.h245Tunnelling && tunnel.h245Control == [reject])
        let rejection = try H245ControlMessage(perEncoded: reject).kind
        #expect(rejection == .openLogicalChannelReject(number: 101))
    }

    @Test func q931RoundTripsAndFindsTheUserInformation() throws {
        var message = Q931Message(
            type: .setup, callReference: 0x1234, fromDestination: false,
            elements: [.init(Q931Message.Element.bearerCapability, [0x88, 0x90, 0xA5]), .init(0xA1)])
        message.setUserInformation(PycrateMessages.setup)
        let parsed = try Q931Message(parsing: message.encoded)
        #expect(parsed == message)
        #expect(parsed.type == .setup && parsed.callReference == 0x1234 && !parsed.fromDestination)
        #expect(parsed.userInformation == PycrateMessages.setup)
        // The User-user element's length takes two octets in H.225.0.
        let userUser = message.encoded.firstIndex(of: Q931Message.Element.userUser)!
        #expect(
            Int(message.encoded[userUser + 1]) << 8 | Int(message.encoded[userUser + 2]) == PycrateMessages.setup.count
                + 1)
        var reply = parsed
        reply.fromDestination = true
        #expect(try Q931Message(parsing: reply.encoded).fromDestination)
    }

    @Test func q931RefusesWhatLies() throws {
        let good = Q931Message(
            type: .connect, callReference: 7, fromDestination: true, elements: [Q931Message.causeElement(16)]
        ).encoded
        #expect(throws: CallSignallingError.self) { try Q931Message(parsing: [0x09] + good.dropFirst()) }
        #expect(throws: CallSignallingError.self) { try Q931Message(parsing: Array(good.dropLast())) }
        #expect(throws: CallSignallingError.self) { try Q931Message(parsing: Array(good.prefix(2))) }
        var lying = good
        lying[lying.count - 3] = 40  // the Cause element claims 40 octets
        #expect(throws: CallSignallingError.self) { try Q931Message(parsing: lying) }
        #expect(try Q931Message(parsing: good).cause == 16)
    }

    @Test func tpktFramesAndRefusesBadHeaders() throws {
        let frame = try #require(TPKT.frame([1, 2, 3]))
        #expect(frame == [3, 0, 0, 7, 1, 2, 3])
        #expect(try TPKT.frameLength(header: frame) == 7)
        #expect(throws: CallSignallingError.self) { try TPKT.frameLength(header: [2, 0, 0, 7]) }
        #expect(throws: CallSignallingError.self) { try TPKT.frameLength(header: [3, 0, 0, 4]) }
        #expect(TPKT.frame(Array(repeating: 0, count: 65_532)) == nil)
    }

    @Test func truncatedOrHostileUserInformationIsAnError() {
        for length in stride(from: 0, to: PycrateMessages.setup.count, by: 7) {
            #expect(throws: PERError.self) {
                try H323UserInformation(perEncoded: Array(PycrateMessages.setup.prefix(length)))
            }
        }
        for length in 0..<PycrateMessages.ack.count {
            let prefix = Array(PycrateMessages.ack.prefix(length))
            // Every prefix either fails or decodes to something; none may trap.
            _ = try? H245ControlMessage(perEncoded: prefix)
        }
    }
}

@Suite struct SpillwaySetupElementTests {
    static let madeAt: UInt64 = 1_764_000_000_123_456_789

    @Test func theElementTravelsAfterAShiftToCodeset7AndReadsBackWithItsStampAndTag() throws {
        var setup = Q931Message(type: .setup, callReference: 3, fromDestination: false)
        setup.setUserInformation(PycrateMessages.setup)
        let element = SpillwaySetupElement(
            hopsLeft: 3, visited: ["n1", "n2"], destination: "127.0.0.32:1720", madeAtWallNanos: Self.madeAt,
            tag: Array(0..<16))
        element.add(to: &setup)
        let parsed = try Q931Message(parsing: setup.encoded)
        #expect(SpillwaySetupElement(in: parsed) == element)
        #expect(parsed.elements.suffix(2).map(\.identifier) == [0x9F, 0x53])
        var stripped = parsed
        SpillwaySetupElement.remove(from: &stripped)
        #expect(SpillwaySetupElement(in: stripped) == nil && stripped.userInformation == PycrateMessages.setup)
    }

    @Test func theTagCoversEveryFieldTheStampAndTheCall() {
        let element = SpillwaySetupElement(hopsLeft: 3, visited: ["n1"], destination: nil, madeAtWallNanos: Self.madeAt)
        let call = [UInt8](repeating: 1, count: 16)
        var changes = [element, element, element, element]
        changes[0].hopsLeft = 4
        changes[1].visited = []
        changes[2].destination = "127.0.0.1:1720"
        changes[3].madeAtWallNanos += 1
        for changed in changes {
            #expect(
                changed.authenticatedBytes(callIdentifier: call) != element.authenticatedBytes(callIdentifier: call))
        }
        #expect(element.authenticatedBytes(callIdentifier: call) != element.authenticatedBytes(callIdentifier: []))
    }

    @Test func aVisitedListTooLongForOneElementKeepsItsMostRecentNodes() throws {
        let nodes = (0..<40).map { "node-with-a-long-name-\($0)" }
        let element = SpillwaySetupElement(
            hopsLeft: 1, visited: nodes, destination: "127.0.0.1:1720", madeAtWallNanos: 1)
        #expect(element.visited.last == nodes.last && element.visited.count < nodes.count)
        var setup = Q931Message(type: .setup, callReference: 3, fromDestination: false)
        var tagged = element
        tagged.tag = Array(repeating: 7, count: SpillwaySetupElement.tagLength)
        tagged.add(to: &setup)
        #expect(SpillwaySetupElement(in: try Q931Message(parsing: setup.encoded)) == tagged)
    }

    @Test func anElementOfAnotherVersionOrCutShortIsNotRead() {
        for contents: [UInt8] in [
            [1, 3, 0], [2, 3, 0] + Array(repeating: 0, count: 23), [2, 3, 200] + Array(repeating: 0, count: 30),
        ] {
            let setup = Q931Message(
                type: .setup, callReference: 3, fromDestination: false, elements: [.init(0x9F), .init(0x53, contents)])
            #expect(SpillwaySetupElement(in: setup) == nil, "\(contents)")
        }
    }
}

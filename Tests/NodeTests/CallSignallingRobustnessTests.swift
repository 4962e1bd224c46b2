import Bencode
import H323
import H323Edge
import SpillwayNode
import SpillwayTestFixtures
import SpillwayTestSupport
import Testing

/// What a node's call-signalling port does with bad or unwanted input over real TCP: each case is
/// counted, the connection closed (a Setup answered with ReleaseComplete first), and the node
/// goes on answering.
@Suite struct CallSignallingRobustnessTests {
    /// A node taking H.323 calls on an ephemeral port, with no route anywhere.
    static func node(_ configure: (inout NodeConfiguration) -> Void = { _ in }) async throws -> (TestNode, String) {
        let node = try await TestNode.start { configuration in
            configuration.callSignalAddress = "127.0.0.1:0"
            configure(&configuration)
        }
        return (node, try #require(node.node.callSignalAddress))
    }

    static func frame(_ message: Q931Message) -> [UInt8] { TPKT.frame(message.encoded)! }

    static func setup(_ userInformation: [UInt8]) -> Q931Message {
        var setup = Q931Message(type: .setup, callReference: 77, fromDestination: false)
        setup.setUserInformation(userInformation)
        return setup
    }

    /// The Q.931 messages in a TPKT byte stream.
    static func messages(_ stream: [UInt8]) throws -> [Q931Message] {
        var stream = stream[...]
        var messages: [Q931Message] = []
        while stream.count >= TPKT.headerLength {
            let length = try TPKT.frameLength(header: stream.prefix(TPKT.headerLength))
            messages.append(
                try Q931Message(parsing: Array(stream.dropFirst(TPKT.headerLength).prefix(length - TPKT.headerLength))))
            stream = stream.dropFirst(length)
        }
        return messages
    }

    /// Sends `bytes` on a new connection and returns what the node answered before closing it.
    static func exchange(_ bytes: [UInt8], with address: String) throws -> [UInt8] {
        let connection = try TCPTestConnection(to: address)
        connection.send(bytes)
        let (answer, closed) = connection.receive(timeoutMilliseconds: 3_000)
        #expect(closed, "the node kept the connection open")
        return answer
    }

    @Test func aMalformedTPKTHeaderClosesTheConnection() async throws {
        let (node, address) = try await Self.node()
        #expect(try Self.exchange([2, 0, 0, 9, 1, 2, 3, 4, 5], with: address).isEmpty)
        #expect(await node.node.h323Counters()?.dropped["bad-tpkt"] == 1)
        #expect(try node.request(["command": "ping"])["result"] == "pong")
        await node.stop()
    }

    @Test func aFirstMessageThatIsNotQ931ClosesTheConnection() async throws {
        let (node, address) = try await Self.node()
        #expect(try Self.exchange(TPKT.frame(Array("GET / HTTP/1.1\r\n\r\n".utf8))!, with: address).isEmpty)
        #expect(await node.node.h323Counters()?.dropped["bad-q931"] == 1)
        await node.stop()
    }

    @Test func aSetupWhoseH225CannotBeReadIsReleasedWithCause100() async throws {
        let (node, address) = try await Self.node()
        let answer = try Self.messages(
            try Self.exchange(Self.frame(Self.setup(Array(PycrateMessages.setup.prefix(30)))), with: address))
        #expect(
            answer.map(\.type) == [.releaseComplete] && answer.first?.cause == 100 && answer.first?.callReference == 77)
        let counters = await node.node.h323Counters()
        #expect(counters?.dropped["bad-h225"] == 1 && counters?.callsRefused == 1)
        await node.stop()
    }

    @Test func aSetupWithNoKnownDestinationIsReleasedWithCause1() async throws {
        let (node, address) = try await Self.node()
        // The pycrate Setup names 127.0.0.22:1720 as its destCallSignalAddress: point it at this node itself.
        let information = try H323UserInformation(perEncoded: PycrateMessages.setup)
        guard let own = TransportAddress(hostAndPort: address) else {
            Issue.record("the call-signalling address \(address) is not IP")
            return
        }
        let toItself = try information.rewriting(.init(destCallSignalAddress: own))
        let answer = try Self.messages(try Self.exchange(Self.frame(Self.setup(toItself)), with: address))
        #expect(answer.map(\.type) == [.releaseComplete] && answer.first?.cause == 1)
        let release = try H323UserInformation(perEncoded: try #require(answer.first?.userInformation))
        #expect(release.releaseReason == H323UserInformation.ReleaseReason.unreachableDestination.rawValue)
        #expect(release.callIdentifier == information.callIdentifier)
        await node.stop()
    }

    @Test func aDrainingNodeRefusesNewCallsWithCause34() async throws {
        let (node, address) = try await Self.node { $0.threshold = 0 }
        let answer = try Self.messages(try Self.exchange(Self.frame(Self.setup(PycrateMessages.setup)), with: address))
        #expect(answer.first?.cause == 34)
        let release = try H323UserInformation(perEncoded: try #require(answer.first?.userInformation))
        #expect(release.releaseReason == H323UserInformation.ReleaseReason.gatewayResources.rawValue)
        await node.stop()
    }

    @Test func aConnectionHoldingAnIncompleteMessageIsClosedAfterTenSeconds() async throws {
        let (node, address) = try await Self.node()
        let connection = try TCPTestConnection(to: address)
        // A header that promises 1,000 octets, and ten of them.
        connection.send([3, 0, 0x03, 0xE8] + Array(repeating: 0x08, count: 10))
        let started = ContinuousClock.now
        let (_, closed) = connection.receive(timeoutMilliseconds: 13_000)
        let waited = ContinuousClock.now - started
        #expect(closed && waited >= .seconds(9) && waited < .seconds(13), "closed: \(closed) after \(waited)")
        #expect(await node.node.h323Counters()?.dropped["idle-timeout"] == 1)
        #expect(try node.request(["command": "ping"])["result"] == "pong")
        await node.stop()
    }
}

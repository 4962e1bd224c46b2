import Bencode
import Cluster
import Crypto
import Testing

@Suite struct ClusterSealTests {
    let key = [UInt8]("a cluster key of 32 bytes, fine!".utf8)
    let now: UInt64 = 1_700_000_000 * second
    var seal: ClusterSeal { ClusterSeal(keyBytes: key)! }

    static let identity = NodeIdentity(
        id: "b", ngAddress: "127.0.0.12:2223", clusterAddress: "127.0.0.12:2224", mediaIP: "127.0.0.12")
    static let messages: [ClusterMessage] = [
        .report(report("b", sessions: 42, sequence: 7)),
        .poll,
        .subscribe(intervalMillis: 250, leaseMillis: 3000),
        .forward(ForwardedRequest(id: 9, hopsLeft: 3, visited: ["a"], command: ["command": "offer", "call-id": "x"])),
        .forwardReply(ForwardedReply(id: 9, owner: identity, reply: ["result": "ok"])),
        .forwardReply(ForwardedReply(id: 10, owner: nil, reply: ["result": "load limit"])),
        .locate(id: 3, excluding: ["a", "b"]),
        .located(id: 3, node: identity),
        .located(id: 4, node: nil),
    ]

    @Test(arguments: messages) func everyMessageSurvivesSealAndOpen(_ message: ClusterMessage) throws {
        let envelope = ClusterEnvelope(sender: "b", sentAtWallNanos: now, message: message)
        let datagram = seal.seal(envelope)
        #expect(ClusterSeal.looksSealed(datagram))
        #expect(try seal.open(datagram, nowWallNanos: now + second).get() == envelope)
    }

    @Test func aReportKeepsItsFiguresToAPartPerMillion() throws {
        var original = report("b", sessions: 3, maxSessions: 7, threshold: 0.75)
        original.usage.packetsPerSecond = 1234
        original.usage.cpu = 0.123456
        original.capacity.cpu = 0.9
        original.callsEndedPerSecond = 1.6667
        original.announcesThresholdCrossings = true
        let datagram = seal.seal(ClusterEnvelope(sender: "b", sentAtWallNanos: now, message: .report(original)))
        guard case .report(let decoded) = try seal.open(datagram, nowWallNanos: now).get().message else {
            Issue.record("not a report")
            return
        }
        #expect(abs(decoded.load - 3.0 / 7.0) < 1e-6)
        #expect(decoded.threshold == 0.75)
        #expect(decoded.usage == original.usage)
        #expect(decoded.capacity == original.capacity)
        #expect(decoded.callsEndedPerSecond == 1.667, "thousandths of a call per second")
        #expect(decoded.announcesThresholdCrossings)
    }

    @Test func aReportFromAnOlderNodeEndsNoCallsAndPromisesNoPushes() throws {
        guard
            var fields = ClusterEnvelope(sender: "b", sentAtWallNanos: now, message: .report(report("b", sessions: 3)))
                .bencoded.dictionaryValue,
            var body = fields["report"]?.dictionaryValue
        else {
            Issue.record("a report envelope is not a dictionary")
            return
        }
        body["ended-mcps"] = nil
        body["crossings"] = nil
        fields["report"] = .dictionary(body)
        guard case .report(let decoded) = try ClusterEnvelope(bencoded: .dictionary(fields)).message else {
            Issue.record("not a report")
            return
        }
        #expect(decoded.callsEndedPerSecond == 0 && decoded.usage.sessions == 3)
        #expect(!decoded.announcesThresholdCrossings, "an older node promises no pushes")
    }

    @Test func anotherKeyOrAnyChangedByteIsForged() {
        let datagram = seal.seal(ClusterEnvelope(sender: "b", sentAtWallNanos: now, message: .poll))
        let other = ClusterSeal(keyBytes: [UInt8](repeating: 7, count: 32))!
        #expect(other.open(datagram, nowWallNanos: now) == .failure(.forged))
        for position in [4, 20, 36, datagram.count - 1] {
            var tampered = datagram
            tampered[position] ^= 0x01
            #expect(seal.open(tampered, nowWallNanos: now) == .failure(.forged), "byte \(position)")
        }
    }

    @Test func unsignedDatagramsAreRefusedAsSuch() {
        var plain: [UInt8] = []
        ClusterEnvelope(sender: "b", sentAtWallNanos: now, message: .poll).bencoded.encode(into: &plain)
        #expect(seal.open(plain, nowWallNanos: now) == .failure(.unsigned))
        #expect(seal.open(ClusterSeal.magic, nowWallNanos: now) == .failure(.unsigned))
        #expect(seal.open([], nowWallNanos: now) == .failure(.unsigned))
        #expect(!ClusterSeal.looksSealed(Array("1234 d7:command4:pinge".utf8)))
    }

    @Test func oldOrFutureMessagesAreStale() {
        let datagram = seal.seal(ClusterEnvelope(sender: "b", sentAtWallNanos: now, message: .poll))
        #expect(seal.open(datagram, nowWallNanos: now + 11 * second) == .failure(.stale))
        #expect(seal.open(datagram, nowWallNanos: now - 11 * second) == .failure(.stale))
    }

    @Test func signedNonsenseIsMalformed() {
        // A valid tag over bytes that are not an envelope: only a key holder can make this.
        var body: [UInt8] = []
        BencodeValue.dictionary(["from": "b", "sent": .integer(Int64(now)), "type": "teleport"]).encode(into: &body)
        let tagged = Self.sealRaw(body, key: key)
        #expect(seal.open(tagged, nowWallNanos: now) == .failure(.malformed))
    }

    @Test func shortKeysAreRefused() {
        #expect(ClusterSeal(keyBytes: [UInt8](repeating: 1, count: 15)) == nil)
        #expect(ClusterSeal(keyBytes: [UInt8](repeating: 1, count: 16)) != nil)
    }

    /// Seals arbitrary bytes in the wire format: magic, HMAC-SHA256 tag, body.
    static func sealRaw(_ body: [UInt8], key: [UInt8]) -> [UInt8] {
        ClusterSeal.magic + Array(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: key))) + body
    }
}

@Suite struct ClusterShortTagTests {
    let seal = ClusterSeal(keyBytes: Array("0123456789abcdef0123456789abcdef".utf8))!

    @Test func aShortTagAuthenticatesItsMessageUnderItsKeyOnly() {
        let message = Array("forwarded setup".utf8)
        let tag = seal.authenticationTag(for: message)
        #expect(tag.count == ClusterSeal.shortTagLength)
        #expect(seal.authenticates(tag, for: message))
        #expect(!seal.authenticates(tag, for: message + [0]))
        #expect(!seal.authenticates(Array(tag.dropLast()), for: message))
        let other = ClusterSeal(keyBytes: Array("fedcba9876543210fedcba9876543210".utf8))!
        #expect(!other.authenticates(tag, for: message))
    }

    @Test func aStampIsFreshWithinTheAcceptedSkewEitherWay() {
        let now: UInt64 = 1_764_000_000_000_000_000
        #expect(seal.isFresh(madeAtWallNanos: now - 9_000_000_000, nowWallNanos: now))
        #expect(seal.isFresh(madeAtWallNanos: now + 9_000_000_000, nowWallNanos: now))
        #expect(!seal.isFresh(madeAtWallNanos: now - 11_000_000_000, nowWallNanos: now))
    }
}

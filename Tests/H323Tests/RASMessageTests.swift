import Cluster
import H323
import SpillwayTestFixtures
import Testing

@Suite struct RASMessageTests {
    @Test(arguments: RASSamples.all)
    func everyMessageSurvivesARoundTrip(_ message: RASMessage) throws {
        #expect(try RASMessage(perEncoded: message.perEncoded) == message)
    }

    /// An LRQ assembled with pycrate 0.8.1 (`RasMessage.set_val(...).to_aper()`), carrying extension
    /// additions Spillway does not model: genericData, bandWidth, sourceEndpointInfo, language, and
    /// canMapSrcAlias set.
    static let foreignLocationRequest = hexBytes(
        "4a001233010300888456707f00000106b72180df0b01400300670077002d00310180040100001101041100000102030405060708090a0b0c0d0e0f"
            + "03400280180180150012683332333a6777406578616d706c652e6e65740180040108656e")

    @Test func anLRQWithUnknownExtensionAdditionsDecodes() throws {
        guard case .locationRequest(let request) = try RASMessage(perEncoded: Self.foreignLocationRequest) else {
            Issue.record("not an LRQ")
            return
        }
        #expect(request.requestSeqNum == 4660)
        #expect(request.destinationInfo == [.dialledDigits("5551234")])
        #expect(request.replyAddress == TransportAddress(ipv4: "127.0.0.1", port: 1719))
        #expect(request.sourceInfo == [.h323ID("gw-1")])
        #expect(request.canMapAlias)
        #expect(request.hopCount == 5)
        #expect(request.callIdentifier == CallIdentifier(guid: Array(0..<16)))
    }

    /// An LRQ from a future H.225.0 version: its bitmap declares 20 additions, hopCount (10) and
    /// the unknown 19th set, with arbitrary contents in the latter.
    @Test func additionsPastTheLatestVersionAreSkipped() throws {
        var writer = PERWriter()
        writer.writeChoiceIndex(.root(18), rootCount: 25, extensible: true)
        writer.writeSequenceHeader(extensible: true, extended: true, optionals: [false, false])
        writer.writeConstrainedWholeNumber(99, in: 1...65_535)
        writer.writeSequenceOf([AliasAddress.h323ID("b")]) { $0.encode(to: &$1) }
        RASSamples.ras.encode(to: &writer)
        writer.writeExtensionAdditions([10: [0x06], 19: [0xFF, 0x00, 0x42, 0x17]], count: 20)
        guard case .locationRequest(let request) = try RASMessage(perEncoded: writer.encoded) else {
            Issue.record("not an LRQ")
            return
        }
        #expect(request.requestSeqNum == 99 && request.hopCount == 7 && request.destinationInfo == [.h323ID("b")])
    }

    /// An ARJ whose reason carries a value (routeCallToSCN and its party numbers): the value is
    /// skipped, and the message re-encodes with undefinedReason rather than an invented value.
    @Test func aReasonCarryingAValueDecodesAndReencodesAsUndefined() throws {
        var writer = PERWriter()
        writer.writeChoiceIndex(.root(11), rootCount: 25, extensible: true)
        writer.writeSequenceHeader(extensible: true, optionals: [false])
        writer.writeConstrainedWholeNumber(5, in: 1...65_535)
        writer.writeExtensionAlternative(index: 4) { $0.writeOctets([0x01, 0x00, 0x03, 0x31, 0x32, 0x33]) }
        let message = try RASMessage(perEncoded: writer.encoded)
        #expect(message == .admissionReject(AdmissionReject(requestSeqNum: 5, rejectReason: .routeCallToSCN)))
        #expect(
            try RASMessage(perEncoded: message.perEncoded)
                == .admissionReject(AdmissionReject(requestSeqNum: 5, rejectReason: .undefinedReason)))
    }

    @Test func everyTruncationOfEveryMessageIsAnErrorNotACrash() {
        for message in RASSamples.all {
            let bytes = message.perEncoded
            for length in 0..<bytes.count {
                // Some prefixes are complete encodings of a shorter value (trailing optional data);
                // what matters is that none traps.
                _ = try? RASMessage(perEncoded: Array(bytes.prefix(length)))
            }
            #expect(throws: PERError.self) { try RASMessage(perEncoded: Array(bytes.prefix(bytes.count / 2))) }
        }
    }

    /// A short seeded fuzz run: mutated and random datagrams are decoded or refused, never crash.
    /// Long runs: `bench/fuzz.sh ras` (libFuzzer).
    @Test func mutatedMessagesAreDecodedOrRefused() {
        var generator = SeededGenerator(seed: 1719)
        let valid = RASSamples.all.map(\.perEncoded) + [Self.foreignLocationRequest]
        var refused = 0
        for round in 0..<20_000 {
            var datagram = valid[round % valid.count]
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                datagram[Int.random(in: 0..<datagram.count, using: &generator)] = UInt8.random(
                    in: 0...255, using: &generator)
            }
            if round % 7 == 0 {
                datagram = (0..<Int.random(in: 0...64, using: &generator)).map { _ in
                    UInt8.random(in: 0...255, using: &generator)
                }
            }
            do {
                let message = try RASMessage(perEncoded: datagram)
                if case .unsupported = message { continue }
                // Whatever decodes re-encodes into something that decodes (fields Spillway does not
                // keep are left out, and invalid UTF-16 is replaced, so values may differ).
                #expect(throws: Never.self) { try RASMessage(perEncoded: message.perEncoded) }
            } catch {
                refused += 1
            }
        }
        #expect(refused > 2_000)
    }
}

/// Bytes from a hex string.

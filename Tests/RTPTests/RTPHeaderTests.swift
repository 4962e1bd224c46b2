import Testing

@testable import RTP

@Suite struct RTPHeaderTests {
    func parse(_ bytes: [UInt8]) -> Result<RTPHeader, PacketDropReason> {
        bytes.withUnsafeBytes { RTPHeader.parse($0) }
    }

    @Test func readsTheFixedHeaderFields() throws {
        let bytes: [UInt8] = [0x80, 0xE0, 0x12, 0x34, 0x00, 0x00, 0x0F, 0xA0, 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3]
        let header = try parse(bytes).get()
        #expect(header.marker)
        #expect(header.payloadType == 96)
        #expect(header.sequenceNumber == 0x1234)
        #expect(header.timestamp == 4000)
        #expect(header.ssrc == 0xDEAD_BEEF)
        #expect(header.headerLength == 12)
        #expect(header.payloadLength == 3)
    }

    @Test func accountsForCSRCsExtensionAndPadding() throws {
        // V=2 P=1 X=1 CC=1; one CSRC; extension header with 1 word; 2 payload bytes; 3 padding bytes.
        var bytes: [UInt8] = [0xB1, 0x00, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2]
        bytes += [0, 0, 0, 9]  // CSRC
        bytes += [0xBE, 0xDE, 0x00, 0x01, 0x10, 0xAA, 0x00, 0x00]  // one-byte header extension
        bytes += [7, 7]  // payload
        bytes += [0, 0, 3]  // padding, count in the last byte
        let header = try parse(bytes).get()
        #expect(header.csrcCount == 1)
        #expect(header.hasExtension)
        #expect(header.headerLength == 24)
        #expect(header.payloadLength == 2)
    }

    @Test func roundTripsTheFixedHeader() throws {
        let original = RTPHeader(marker: true, payloadType: 8, sequenceNumber: 65535, timestamp: 0xFFFF_FFFF, ssrc: 42)
        let parsed = try parse(original.fixedHeaderBytes()).get()
        #expect(parsed.marker && parsed.payloadType == 8 && parsed.sequenceNumber == 65535)
        #expect(parsed.timestamp == 0xFFFF_FFFF && parsed.ssrc == 42)
    }

    @Test(
        arguments: [
            ([0x80, 0x00, 0x00], PacketDropReason.tooShort),
            ([0x40, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0], .notRTP),
            ([0x0F, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0], .notRTP),
            ([0x83, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], .malformed),  // 3 CSRCs announced, 1 present
            ([0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xBE, 0xDE, 0, 9], .malformed),  // extension overruns
            ([0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200], .malformed),  // padding longer than packet
            ([0xA0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], .malformed),  // zero padding count
        ] as [([UInt8], PacketDropReason)])
    func rejectsInvalidPacketsWithAReason(bytes: [UInt8], reason: PacketDropReason) {
        #expect(parse(bytes) == .failure(reason))
    }

    @Test func everyDropReasonHasACounterSlot() {
        // StreamCounters keeps one atomic per reason in an InlineArray of 13.
        #expect(PacketDropReason.allCases.count == 13)
        #expect(PacketDropReason.allCases.map(\.rawValue) == Array(0..<13))
    }
}

@Suite struct RTCPTests {
    /// A receiver report with no blocks followed by a PLI (RFC 4585 6.3.1).
    let compound: [UInt8] = [0x80, 201, 0, 1, 0, 0, 0, 1] + [0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]

    @Test func validatesACompoundPacketAndListsItsTypes() {
        compound.withUnsafeBytes { packet in
            #expect(RTCP.validate(packet) == .success(201))
            #expect(RTCP.packetTypes(packet) == [201, 206])
        }
    }

    @Test func detectsRTCPOnAMultiplexedPort() {
        compound.withUnsafeBytes { #expect(RTCP.isMultiplexedRTCP($0)) }
        let rtp: [UInt8] = [0x80, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]
        rtp.withUnsafeBytes { #expect(!RTCP.isMultiplexedRTCP($0)) }
        let rtpWithMarkerPT96: [UInt8] = [0x80, 0xE0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]
        rtpWithMarkerPT96.withUnsafeBytes { #expect(!RTCP.isMultiplexedRTCP($0)) }
    }

    @Test func rejectsALengthThatOverrunsTheDatagram() {
        let bad: [UInt8] = [0x80, 200, 0, 9, 0, 0, 0, 1]
        bad.withUnsafeBytes { #expect(RTCP.validate($0) == .failure(.malformed)) }
    }

    @Test func rejectsTrailingGarbageAfterAValidPacket() {
        let bad = compound + [0x00, 0x01]
        bad.withUnsafeBytes { #expect(RTCP.validate($0) == .failure(.malformed)) }
    }

    @Test func rejectsANonRTCPPacketType() {
        let bad: [UInt8] = [0x80, 100, 0, 1, 0, 0, 0, 1]
        bad.withUnsafeBytes { #expect(RTCP.validate($0) == .failure(.notRTP)) }
    }

    @Test func anSRTCPPacketIsCheckedOnlyUpToItsClearHeader() {
        // RR header in the clear, the encrypted rest, then E|index and a 10-byte tag: not a valid
        // compound packet, but valid SRTCP to relay without decrypting.
        let srtcp: [UInt8] =
            [0x80, 201, 0, 1, 0, 0, 0, 1] + [0x3A, 0x99, 0x10, 0x07, 0xC4, 0x21] + [0x80, 0, 0, 1]
            + [UInt8](repeating: 0xAB, count: 10)
        srtcp.withUnsafeBytes { packet in
            #expect(RTCP.validate(packet) != .success(201))
            #expect(RTCP.validateSecured(packet) == .success(201))
        }
        let noIndex: [UInt8] = [0x80, 201, 0, 1, 0, 0, 0, 1]
        noIndex.withUnsafeBytes { #expect(RTCP.validateSecured($0) == .failure(.tooShort)) }
        let notReport: [UInt8] = [0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0x80, 0, 0, 1]
        notReport.withUnsafeBytes { #expect(RTCP.validateSecured($0) == .failure(.notRTP)) }
        let overrun: [UInt8] = [0x80, 200, 0, 9, 0, 0, 0, 1, 0x80, 0, 0, 1]
        overrun.withUnsafeBytes { #expect(RTCP.validateSecured($0) == .failure(.malformed)) }
    }
}

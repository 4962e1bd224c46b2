import SRTP
import Testing

/// libsrtp through `SRTPSession`, checked against the RFC test vectors: the reference computation is
/// first held to RFC 3711 appendix B and RFC 7714 section 16, then libsrtp's packets are held to it
/// for every suite.
@Suite struct SRTPVectorTests {
    /// RFC 3711 appendix B.3's master key and salt.
    static let rfc3711Material = [UInt8](hex: "E1F97A0D3E018BE0D64FA32C06DE4139 0EC675AD498AFEEBB6960B3AABE6")

    @Test func referenceKeystreamMatchesRFC3711AppendixB2() throws {
        let keystream = try ReferenceSRTP.keystream(
            key: [UInt8](hex: "2B7E151628AED2A6ABF7158809CF4F3C"), iv: [UInt8](hex: "F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000"),
            count: 16)
        #expect(keystream == [UInt8](hex: "E03EAD0935C95E80E166B16DD92B4EB4"))
    }

    @Test func referenceKeyDerivationMatchesRFC3711AppendixB3() throws {
        let keys = try ReferenceSRTP.sessionKeys(suite: .aesCM128HMACSHA1_80, material: Self.rfc3711Material)
        #expect(keys.cipherKey == [UInt8](hex: "C61E7A93744F39EE10734AFE3FF7A087"))
        #expect(keys.salt == [UInt8](hex: "30CBBC08863D8C85D49DB34A9AE1"))
        #expect(keys.authenticationKey == [UInt8](hex: "CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"))
    }

    @Test func referenceGCMMatchesRFC7714Section16() throws {
        let keys = ReferenceSRTP.SessionKeys(
            cipherKey: [UInt8](hex: "000102030405060708090a0b0c0d0e0f"), salt: [UInt8](hex: "517569642070726f2071756f"),
            authenticationKey: [])
        let packet = [UInt8](
            hex: "8040f17b8041f8d35501a0b247616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573")
        let protected = try ReferenceSRTP.protect(packet, suite: .aeadAES128GCM, keys: keys)
        #expect(
            protected
                == [UInt8](
                    hex: """
                        8040f17b8041f8d35501a0b2 f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b36de3adf8833
                        899d7f27beb16a9152cf765ee4390cce
                        """))
    }

    /// An RTP packet: PCMU, sequence `sequence`, SSRC 0xdecafbad, a 160-byte payload.
    static func rtpPacket(sequence: UInt16) -> [UInt8] {
        [0x80, 0x00, UInt8(sequence >> 8), UInt8(sequence & 0xff), 0, 0, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad]
            + (0..<160).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(sequence)) }
    }

    /// Master key material for a suite: RFC 3711's for the AES-128 suites, a counting pattern otherwise.
    static func material(for suite: SRTPSuite) -> [UInt8] {
        suite.keyLength == 16 && suite.saltLength == 14
            ? rfc3711Material : (0..<suite.keyMaterialLength).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }
    }

    @Test(arguments: SRTPSuite.allCases)
    func libsrtpProtectsExactlyAsTheRFCsSay(suite: SRTPSuite) throws {
        let material = Self.material(for: suite)
        let keys = try ReferenceSRTP.sessionKeys(suite: suite, material: material)
        let sender = try SRTPSession(suite: suite, key: SRTPMasterKey(material: material), role: .encrypting)
        let receiver = try SRTPSession(suite: suite, key: SRTPMasterKey(material: material), role: .decrypting)
        for sequence: UInt16 in [1, 2, 65535] {
            let plain = Self.rtpPacket(sequence: sequence)
            let protected = try sender.protect(plain).get()
            #expect(protected.count == plain.count + suite.rtpTagLength)
            #expect(
                protected == (try ReferenceSRTP.protect(plain, suite: suite, keys: keys)),
                "\(suite) sequence \(sequence)")
            #expect(receiver.unprotect(protected) == .success(plain))
        }
    }

    @Test(arguments: SRTPSuite.allCases)
    func wrongKeysTamperingAndReplaysAreRefused(suite: SRTPSuite) throws {
        let material = Self.material(for: suite)
        let sender = try SRTPSession(suite: suite, key: SRTPMasterKey(material: material), role: .encrypting)
        let receiver = try SRTPSession(suite: suite, key: SRTPMasterKey(material: material), role: .decrypting)
        let stranger = try SRTPSession(suite: suite, key: .random(for: suite), role: .decrypting)
        let protected = try sender.protect(Self.rtpPacket(sequence: 100)).get()

        #expect(stranger.unprotect(protected) == .failure(.authenticationFailed))
        var tampered = protected
        tampered[20] ^= 1
        #expect(receiver.unprotect(tampered) == .failure(.authenticationFailed))
        #expect(receiver.unprotect(protected) == .success(Self.rtpPacket(sequence: 100)))
        #expect(receiver.unprotect(protected) == .failure(.replayed))
        #expect(
            (try? receiver.unprotect(Array(protected.prefix(8))).get()) == nil, "a truncated packet must be refused")
    }

    @Test(arguments: SRTPSuite.allCases)
    func srtcpRoundTripsAndRefusesTampering(suite: SRTPSuite) throws {
        let material = Self.material(for: suite)
        let sender = try SRTPSession(suite: suite, key: SRTPMasterKey(material: material), role: .encrypting)
        let receiver = try SRTPSession(suite: suite, key: SRTPMasterKey(material: material), role: .decrypting)
        // A receiver report with one report block.
        let report: [UInt8] = [0x81, 201, 0, 7, 0xde, 0xca, 0xfb, 0xad] + (0..<24).map { UInt8($0) }
        let protected = try sender.protect(report, rtcp: true).get()
        #expect(protected.count > report.count + 4)
        #expect(protected[8..<32] != report[8..<32])
        var tampered = protected
        tampered[10] ^= 0x80
        #expect(receiver.unprotect(tampered, rtcp: true) == .failure(.authenticationFailed))
        #expect(receiver.unprotect(protected, rtcp: true) == .success(report))
    }

    @Test func aKeyWithAnMKIAcceptsPacketsCarryingIt() throws {
        let suite = SRTPSuite.aesCM128HMACSHA1_80
        let keys = try ReferenceSRTP.sessionKeys(suite: suite, material: Self.rfc3711Material)
        let mki: [UInt8] = [0, 0, 0, 7]
        let receiver = try SRTPSession(
            suite: suite, key: SRTPMasterKey(material: Self.rfc3711Material, identifier: mki), role: .decrypting)
        let plain = Self.rtpPacket(sequence: 9)
        let protected = try ReferenceSRTP.protect(plain, suite: suite, keys: keys, mki: mki)
        #expect(receiver.unprotect(protected) == .success(plain))
        let otherMKI = try ReferenceSRTP.protect(
            Self.rtpPacket(sequence: 10), suite: suite, keys: keys, mki: [0, 0, 0, 8])
        #expect((try? receiver.unprotect(otherMKI).get()) == nil, "a packet naming another MKI must be refused")
    }

    @Test func keyMaterialOfTheWrongLengthIsRefused() {
        #expect(throws: SRTPError.keyLength(suite: .aeadAES256GCM, expected: 44, actual: 30)) {
            try SRTPSession(
                suite: .aeadAES256GCM, key: SRTPMasterKey(material: Self.rfc3711Material), role: .decrypting)
        }
    }
}

/// A session that carries on another's streams (a call taken over by another node) continues their
/// packet indices, across a sequence-number wrap too.
@Suite struct SRTPResumptionTests {
    static let suite = SRTPSuite.aesCM128HMACSHA1_80
    static let key = SRTPMasterKey(material: SRTPVectorTests.rfc3711Material)
    static let ssrc: UInt32 = 0xdeca_fbad

    /// One sender's packets, every index from 0 (a sender must walk every index for its own
    /// rollover counter to be right), protected once for all cases.
    static let senderPackets: [[UInt8]] = {
        guard let sender = try? SRTPSession(suite: suite, key: key, role: .encrypting) else { return [] }
        return (0..<UInt32(0x1_8020)).map { index in
            (try? sender.protect(SRTPVectorTests.rtpPacket(sequence: UInt16(truncatingIfNeeded: index))).get()) ?? []
        }
    }()

    /// The sender's packets from index `first` on, `count` of them.
    static func protectedRun(from first: UInt32, count: Int) -> [[UInt8]] {
        Array(senderPackets[Int(first)..<(Int(first) + count)])
    }

    @Test(arguments: [UInt32(0x0000_FFF0), 0x0001_0003, 0x0001_7FF0])
    func aResumedReceiverDecryptsWhatFollowsTheLastPacketItHeard(last: UInt32) throws {
        let run = Self.protectedRun(from: last + 1, count: 30)
        let resumed = try SRTPSession(
            suite: Self.suite, key: Self.key, role: .decrypting,
            resuming: [.init(ssrc: Self.ssrc, extendedSequence: last)])
        for (offset, packet) in run.enumerated() {
            let sequence = UInt16(truncatingIfNeeded: last + 1 + UInt32(offset))
            #expect(resumed.unprotect(packet) == .success(SRTPVectorTests.rtpPacket(sequence: sequence)), "\(offset)")
        }
        // A receiver that starts afresh takes the rollover counter for 0: it decrypts none of the
        // packets sent under a later one, which is what resuming is for.
        let fresh = try SRTPSession(suite: Self.suite, key: Self.key, role: .decrypting)
        let laterCycle = run.indices.filter { last + 1 + UInt32($0) >= 0x1_0000 }
        #expect(!laterCycle.isEmpty)
        #expect(laterCycle.allSatisfy { (try? fresh.unprotect(run[$0]).get()) == nil })
    }

    @Test(arguments: [UInt32(0x0000_FFF0), 0x0001_7FF0])
    func aResumedSenderProtectsAsTheOldOneWouldHave(last: UInt32) throws {
        let expected = Self.protectedRun(from: last + 1, count: 30)
        let resumed = try SRTPSession(
            suite: Self.suite, key: Self.key, role: .encrypting,
            resuming: [.init(ssrc: Self.ssrc, extendedSequence: last)])
        for (offset, packet) in expected.enumerated() {
            let sequence = UInt16(truncatingIfNeeded: last + 1 + UInt32(offset))
            #expect(resumed.protect(SRTPVectorTests.rtpPacket(sequence: sequence)) == .success(packet), "\(offset)")
        }
    }
}

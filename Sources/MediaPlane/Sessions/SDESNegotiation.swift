import SDP
import SRTP

/// rtpengine's `SDES` flags: which suites the relay offers, and whether it terminates SDES at all.
public struct SDESOptions: Sendable, Equatable {
    /// `SDES-off`: relay SRTP m= lines untouched, their a=crypto lines passed on, instead of
    /// re-keying each side.
    public var passThrough = false
    /// `SDES-no-<suite>`: suites never offered.
    public var excludedSuites: Set<SRTPSuite> = []
    /// `SDES-only-<suite>`: when set, the only suites offered.
    public var onlySuites: Set<SRTPSuite>?
    /// `SDES-pad`: keep base64's `=` padding in the relay's inline keys.
    public var padKeys = false

    public init() {}

    /// The suites to offer a party: the offerer's preference first, then the relay's order,
    /// without the excluded ones.
    func suitesToOffer(preferring preferred: [SRTPSuite]) -> [SRTPSuite] {
        var suites: [SRTPSuite] = []
        for suite in preferred + SRTPSuite.offerOrder where !suites.contains(suite) {
            guard !excludedSuites.contains(suite), onlySuites?.contains(suite) ?? true else { continue }
            suites.append(suite)
        }
        return suites
    }
}

/// How one side of a stream is secured between the relay and its party.
enum MediaSecurity {
    /// Plain RTP.
    case plain
    /// SRTP relayed as it is: the relay does not hold the keys (SDES-off, or no a=crypto).
    case passThrough
    /// SRTP keyed with SDES and terminated by the relay.
    case sdes(SDESSide)

    var termination: SRTPTermination? {
        guard case .sdes(let side) = self else { return nil }
        return SRTPTermination(decryptor: side.decryptor, encryptor: side.encryptor)
    }

    var isPassThrough: Bool {
        if case .passThrough = self { true } else { false }
    }

    var sdes: SDESSide? {
        guard case .sdes(let side) = self else { return nil }
        return side
    }

    static func isSRTP(_ proto: String) -> Bool { proto.contains("SAVP") }
}

/// The SDES state of one side: the relay's keys towards the party and the party's key.
struct SDESSide {
    /// The relay's keys offered to the party, one per suite, until it answers.
    var offered: [CryptoAttribute] = []
    /// The relay's agreed key: what the relay encrypts towards the party with.
    var relayKey: CryptoAttribute?
    /// The party's agreed key: what it encrypts towards the relay with.
    var partyKey: CryptoAttribute?
    var encryptor: SRTPSession?
    /// Checks and decrypts what the party sends, with the key from its a=crypto.
    var decryptor: SRTPSession?

    /// Takes `peerKey` as the party's key and `relayKey` as the relay's, keeping the sessions
    /// already running when a key did not change (a re-INVITE), so replay state and rollover
    /// counters carry on.
    mutating func agree(peerKey: CryptoAttribute, relayKey: CryptoAttribute) throws(CallError) {
        if decryptor?.suite != peerKey.suite || decryptor?.key != peerKey.masterKey {
            decryptor = try Self.session(peerKey, role: .decrypting)
        }
        if encryptor?.suite != relayKey.suite || encryptor?.key != relayKey.masterKey {
            encryptor = try Self.session(relayKey, role: .encrypting)
        }
        self.relayKey = relayKey
        partyKey = peerKey
    }

    private static func session(_ attribute: CryptoAttribute, role: SRTPSession.Role) throws(CallError) -> SRTPSession {
        do {
            return try SRTPSession(suite: attribute.suite, key: attribute.masterKey, role: role)
        } catch {
            throw .srtp(error)
        }
    }
}

/// The SDES decisions for one m= line of an offer: how each side is secured, and the recipient's
/// transport protocol and a=crypto lines (nil keeps the offer's lines as they are).
struct OfferSecurityPlan {
    var offerer: MediaSecurity
    var recipient: MediaSecurity
    var recipientProto: String
    var recipientCrypto: [CryptoAttribute]?

    /// Plans an offer's m= line `index` (1-based, for errors). `offerer` and `recipient` are the
    /// sides' current security when the call already exists (a re-offer).
    init(
        section: MediaDescription, index: Int, options: NegotiationOptions, offerer existingOfferer: MediaSecurity?,
        recipient existingRecipient: MediaSecurity?
    ) throws(CallError) {
        recipientProto = options.transportProtocol ?? section.proto
        let offererUsesSRTP = MediaSecurity.isSRTP(section.proto)
        let recipientUsesSRTP = MediaSecurity.isSRTP(recipientProto)
        let lines = section.attributes(named: "crypto").compactMap { $0 }
        if offererUsesSRTP, recipientUsesSRTP, options.sdes.passThrough || lines.isEmpty {
            (offerer, recipient, recipientCrypto) = (.passThrough, .passThrough, nil)
            return
        }

        var usable: [CryptoAttribute] = []
        var refusals: [String] = []
        for line in lines {
            do throws(SDESError) {
                usable.append(try CryptoAttribute(parsing: line))
            } catch {
                refusals.append("\(error)")
            }
        }
        if offererUsesSRTP {
            guard !lines.isEmpty else { throw .srtpWithoutSDES(mediaIndex: index, proto: section.proto) }
            guard let chosen = usable.first else { throw .noUsableCrypto(mediaIndex: index, refusals: refusals) }
            var side = existingOfferer?.sdes ?? SDESSide()
            let relayKey =
                side.relayKey.flatMap { $0.suite == chosen.suite && $0.tag == chosen.tag ? $0 : nil }
                ?? .generated(tag: chosen.tag, suite: chosen.suite)
            try side.agree(peerKey: chosen, relayKey: relayKey)
            offerer = .sdes(side)
        } else {
            offerer = .plain
        }

        guard recipientUsesSRTP else {
            (recipient, recipientCrypto) = (.plain, [])
            return
        }
        let suites = options.sdes.suitesToOffer(preferring: usable.map(\.suite))
        guard !suites.isEmpty else { throw .noSuiteToOffer(mediaIndex: index) }
        var side = existingRecipient?.sdes ?? SDESSide()
        // A re-offer offers the same keys again, so an unchanged answer keeps the running sessions.
        let previous = side.relayKey.map { [$0] } ?? side.offered
        side.offered = suites.enumerated().map { position, suite in
            var key = previous.first { $0.suite == suite } ?? .generated(tag: 0, suite: suite)
            key.tag = position + 1
            return key
        }
        recipient = .sdes(side)
        recipientCrypto = side.offered
    }
}

extension SDESSide {
    /// Takes the answerer's a=crypto lines (for m= line `index`, 1-based): the first one naming
    /// an offered tag with the same suite agrees the keys of both directions.
    mutating func acceptAnswer(cryptoLines lines: [Substring], index: Int) throws(CallError) {
        var refusals: [String] = []
        for line in lines {
            let attribute: CryptoAttribute
            do throws(SDESError) {
                attribute = try CryptoAttribute(parsing: line)
            } catch {
                refusals.append("\(error)")
                continue
            }
            guard let relayKey = offered.first(where: { $0.tag == attribute.tag && $0.suite == attribute.suite }) else {
                refusals.append("tag \(attribute.tag) with \(attribute.suite) was not offered")
                continue
            }
            try agree(peerKey: attribute, relayKey: relayKey)
            return
        }
        throw .answerRefusedSRTP(
            mediaIndex: index, offered: offered.map { "\($0.tag) \($0.suite)" }, refusals: refusals)
    }
}

extension MediaDescription {
    /// Replaces the section's a=crypto lines with `attributes`.
    mutating func setCryptoAttributes(_ attributes: [CryptoAttribute], padded: Bool) {
        removeAttributes { $0 == "crypto" }
        for attribute in attributes {
            lines.append(SDPLine("a", "crypto:\(attribute.attributeValue(padded: padded))"))
        }
    }
}

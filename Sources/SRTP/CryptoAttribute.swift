import Foundation

/// One SDES `a=crypto` attribute (RFC 4568 section 9.1):
/// `<tag> <suite> inline:<key||salt>[|<lifetime>][|<MKI>:<length>] [<session parameters>]`.
///
/// Parsing refuses what this relay cannot honour, with the reason: an unknown suite, several
/// keys in one line, a lifetime above SRTP's 2^48 packets, key derivation rates other than 0,
/// unencrypted or unauthenticated SRTP, and FEC parameters. A window size hint (WSH) is accepted
/// and left to the default replay window, as RFC 4568 section 6.3.6 allows.
public struct CryptoAttribute: Equatable, Sendable {
    /// Identifies the attribute between offer and answer (1 to 9 digits).
    public var tag: Int
    public var suite: SRTPSuite
    /// The master key and salt.
    public var keyMaterial: [UInt8]
    /// The key's lifetime in packets, when given.
    public var lifetime: UInt64?
    /// The master key identifier the sender puts in every packet, when announced.
    public var keyIdentifier: KeyIdentifier?

    /// An MKI as SDES announces it (`<value>:<length>`).
    public struct KeyIdentifier: Equatable, Sendable {
        public var value: UInt64
        /// Bytes the MKI takes in each packet.
        public var length: Int

        public init(value: UInt64, length: Int) {
            self.value = value
            self.length = length
        }

        /// The MKI as it appears in packets: `value`, big-endian, in `length` bytes.
        public var bytes: [UInt8] {
            (0..<length).map { index in
                let shift = 8 * (length - 1 - index)
                return shift < 64 ? UInt8(truncatingIfNeeded: value >> shift) : 0
            }
        }
    }

    /// The key as libsrtp takes it.
    public var masterKey: SRTPMasterKey {
        SRTPMasterKey(material: keyMaterial, identifier: keyIdentifier?.bytes)
    }

    /// SRTP's limit on packets per master key (RFC 3711 section 9.2).
    public static let maximumLifetime: UInt64 = 1 << 48

    public init(tag: Int, suite: SRTPSuite, keyMaterial: [UInt8], lifetime: UInt64? = nil) {
        self.tag = tag
        self.suite = suite
        self.keyMaterial = keyMaterial
        self.lifetime = lifetime
    }

    /// A fresh random key for the relay to encrypt with.
    public static func generated(tag: Int, suite: SRTPSuite) -> CryptoAttribute {
        CryptoAttribute(tag: tag, suite: suite, keyMaterial: SRTPMasterKey.random(for: suite).material)
    }

    /// Parses the value of an `a=crypto:` line (everything after `crypto:`).
    public init(parsing value: some StringProtocol) throws(SDESError) {
        let text = String(value)
        let fields = text.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 3, let tag = Int(fields[0]), (0...999_999_999).contains(tag), fields[0].count <= 9 else {
            throw .malformed(text, reason: "expected '<tag> <suite> inline:<key>' with a tag of 1 to 9 digits")
        }
        guard let suite = SRTPSuite(rawValue: String(fields[1])) else {
            throw .unsupportedSuite(String(fields[1]))
        }
        let keyParameters = fields[2].split(separator: ";", omittingEmptySubsequences: false)
        guard keyParameters.count == 1 else {
            throw .unsupportedParameter(
                String(fields[2]), reason: "several master keys in one a=crypto line are not supported")
        }
        guard fields[2].hasPrefix("inline:") else {
            throw .malformed(text, reason: "the key method must be 'inline:'")
        }
        self.init(tag: tag, suite: suite, keyMaterial: [])
        let keyInfo = fields[2].dropFirst("inline:".count).split(separator: "|", omittingEmptySubsequences: false)
        guard (1...3).contains(keyInfo.count), let material = Self.decodeBase64(keyInfo[0]) else {
            throw .malformed(text, reason: "the inline key is not base64 followed by at most a lifetime and an MKI")
        }
        guard material.count == suite.keyMaterialLength else {
            throw .malformed(
                text,
                reason:
                    "\(suite) needs \(suite.keyMaterialLength) bytes of key and salt, the inline key has \(material.count)"
            )
        }
        keyMaterial = material
        for parameter in keyInfo.dropFirst() {
            if parameter.contains(":") {
                try parseKeyIdentifier(parameter, in: text)
            } else {
                try parseLifetime(parameter, in: text)
            }
        }
        for parameter in fields.dropFirst(3) {
            try Self.checkSessionParameter(parameter)
        }
    }

    private mutating func parseLifetime(_ text: Substring, in line: String) throws(SDESError) {
        let lifetime: UInt64?
        if text.hasPrefix("2^") {
            lifetime = UInt64(text.dropFirst(2)).flatMap { $0 < 64 ? UInt64(1) << $0 : nil }
        } else {
            lifetime = UInt64(text)
        }
        guard let lifetime, lifetime > 0 else {
            throw .malformed(line, reason: "the key lifetime '\(text)' is neither a number nor 2^<n>")
        }
        guard lifetime <= Self.maximumLifetime else {
            throw .unsupportedParameter(String(text), reason: "key lifetimes above 2^48 packets exceed SRTP's limit")
        }
        self.lifetime = lifetime
    }

    private mutating func parseKeyIdentifier(_ text: Substring, in line: String) throws(SDESError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let value = UInt64(parts[0]), let length = Int(parts[1]), (1...128).contains(length),
            length >= 8 || value < UInt64(1) << (8 * length)
        else {
            throw .malformed(
                line, reason: "the MKI '\(text)' must be <value>:<length> with a value that fits in 1 to 128 bytes")
        }
        keyIdentifier = KeyIdentifier(value: value, length: length)
    }

    private static func checkSessionParameter(_ parameter: Substring) throws(SDESError) {
        let name = parameter.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
        switch name {
        case "WSH":
            return
        case "KDR" where parameter == "KDR=0":
            return
        case "KDR":
            throw .unsupportedParameter(
                String(parameter), reason: "libsrtp2 derives session keys once; only KDR=0 is supported")
        case "UNENCRYPTED_SRTP", "UNENCRYPTED_SRTCP", "UNAUTHENTICATED_SRTP":
            throw .unsupportedParameter(
                String(parameter), reason: "this relay always encrypts and authenticates SRTP and SRTCP")
        case "FEC_ORDER", "FEC_KEY":
            throw .unsupportedParameter(String(parameter), reason: "SRTP forward error correction is not supported")
        default:
            throw .unsupportedParameter(String(parameter), reason: "unknown session parameter")
        }
    }

    /// The attribute's value for an `a=crypto:` line. `padded` keeps base64's trailing `=`
    /// (rtpengine's `SDES-pad`); by default it is left out, as most SDES peers write it.
    public func attributeValue(padded: Bool = false) -> String {
        var encoded = Data(keyMaterial).base64EncodedString()
        if !padded { encoded.removeAll { $0 == "=" } }
        var value = "\(tag) \(suite.rawValue) inline:\(encoded)"
        if let lifetime {
            value += lifetime.nonzeroBitCount == 1 ? "|2^\(lifetime.trailingZeroBitCount)" : "|\(lifetime)"
        }
        if let identifier = keyIdentifier { value += "|\(identifier.value):\(identifier.length)" }
        return value
    }

    private static func decodeBase64(_ text: Substring) -> [UInt8]? {
        var padded = String(text)
        while padded.count % 4 != 0 { padded += "=" }
        return Data(base64Encoded: padded).map(Array.init)
    }
}

/// Why an `a=crypto` attribute cannot be used.
public enum SDESError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed(String, reason: String)
    case unsupportedSuite(String)
    case unsupportedParameter(String, reason: String)

    public var description: String {
        switch self {
        case .malformed(let line, let reason):
            "a=crypto:\(line) is malformed: \(reason)"
        case .unsupportedSuite(let suite):
            "crypto suite \(suite) is not supported (supported: \(SRTPSuite.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .unsupportedParameter(let parameter, let reason):
            "a=crypto parameter '\(parameter)' is not supported: \(reason)"
        }
    }
}

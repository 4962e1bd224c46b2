/// An extensible CHOICE whose alternatives are (almost) all NULL, modelled as a Swift enum whose
/// cases are the alternatives in ASN.1 order, root ones first: H.225.0's reasons, call types and
/// call models.
///
/// An extension alternative's value is skipped whatever it is (it travels as an open type), so a
/// reason this implementation models only by name still decodes. A root alternative that is not
/// NULL decodes through `readRootValue`.
public protocol NullChoice: CaseIterable, Equatable, Sendable, PERCodable where AllCases == [Self] {
    /// How many of `allCases` are root alternatives.
    static var rootCount: Int { get }
    /// Read when an alternative a peer sent is past the ones this implementation knows, and written
    /// in place of a valued alternative.
    static var unknownExtension: Self { get }
    /// The alternatives that carry a value. Decoding reads the value and does not keep it, so one
    /// re-encodes as `unknownExtension` (the type's undefined reason): still a valid encoding.
    static var valuedAlternatives: [Self] { get }
    /// Reads the value of a non-NULL root alternative (nothing for NULL ones).
    static func readRootValue(of alternative: Self, from reader: inout PERReader) throws(PERError)
}

extension NullChoice {
    public static var valuedAlternatives: [Self] { [] }

    public static func readRootValue(of alternative: Self, from reader: inout PERReader) throws(PERError) {}

    public init(from reader: inout PERReader) throws(PERError) {
        switch try reader.readChoiceIndex(rootCount: Self.rootCount, extensible: true) {
        case .root(let position):
            self = Self.allCases[position]
            try Self.readRootValue(of: self, from: &reader)
        case .extension(let index):
            _ = try reader.readOpenType()
            let position = Self.rootCount + index
            self = position < Self.allCases.count ? Self.allCases[position] : Self.unknownExtension
        }
    }

    public func encode(to writer: inout PERWriter) {
        let alternative = Self.valuedAlternatives.contains(self) ? Self.unknownExtension : self
        let position = Self.allCases.firstIndex(of: alternative)!
        if position < Self.rootCount {
            writer.writeChoiceIndex(.root(position), rootCount: Self.rootCount, extensible: true)
        } else {
            writer.writeExtensionAlternative(index: position - Self.rootCount) { _ in }
        }
    }
}

/// H.225.0 CallType.
public enum CallType: String, NullChoice {
    case pointToPoint, oneToN, nToOne, nToN
    public static let rootCount = 4
    public static let unknownExtension = CallType.pointToPoint
}

/// H.225.0 CallModel: whether call signalling goes straight to the other party or through the gatekeeper.
public enum CallModel: String, NullChoice {
    case direct, gatekeeperRouted
    public static let rootCount = 2
    public static let unknownExtension = CallModel.direct
}

/// H.225.0 DisengageReason.
public enum DisengageReason: String, NullChoice {
    case forcedDrop, normalDrop, undefinedReason
    public static let rootCount = 3
    public static let unknownExtension = DisengageReason.undefinedReason
}

/// H.225.0 GatekeeperRejectReason (GRJ).
public enum GatekeeperRejectReason: String, NullChoice {
    case resourceUnavailable, terminalExcluded, invalidRevision, undefinedReason
    case securityDenial, genericDataReason, neededFeatureNotSupported, securityError
    public static let rootCount = 4
    public static let unknownExtension = GatekeeperRejectReason.undefinedReason
    public static let valuedAlternatives: [Self] = [.securityError]
}

/// H.225.0 RegistrationRejectReason (RRJ). `duplicateAlias` carries the aliases, which are read
/// and not kept.
public enum RegistrationRejectReason: String, NullChoice {
    case discoveryRequired, invalidRevision, invalidCallSignalAddress, invalidRASAddress, duplicateAlias
    case invalidTerminalType, undefinedReason, transportNotSupported
    case transportQOSNotSupported, resourceUnavailable, invalidAlias, securityDenial, fullRegistrationRequired
    case additiveRegistrationNotSupported, invalidTerminalAliases, genericDataReason, neededFeatureNotSupported
    case securityError, registerWithAssignedGK
    public static let rootCount = 8
    public static let unknownExtension = RegistrationRejectReason.undefinedReason

    public static func readRootValue(of alternative: Self, from reader: inout PERReader) throws(PERError) {
        guard alternative == .duplicateAlias else { return }
        _ = try reader.readSequenceOf { reader throws(PERError) in try AliasAddress(from: &reader) }
    }

    public static let valuedAlternatives: [Self] = [.duplicateAlias, .invalidTerminalAliases, .securityError]
}

/// H.225.0 AdmissionRejectReason (ARJ).
public enum AdmissionRejectReason: String, NullChoice {
    case calledPartyNotRegistered, invalidPermission, requestDenied, undefinedReason, callerNotRegistered
    case routeCallToGatekeeper, invalidEndpointIdentifier, resourceUnavailable
    case securityDenial, qosControlNotSupported, incompleteAddress, aliasesInconsistent, routeCallToSCN
    case exceedsCallCapacity, collectDestination, collectPIN, genericDataReason, neededFeatureNotSupported
    case securityError, securityDHmismatch, noRouteToDestination, unallocatedNumber, registerWithAssignedGK
    public static let rootCount = 8
    public static let unknownExtension = AdmissionRejectReason.undefinedReason
    public static let valuedAlternatives: [Self] = [.routeCallToSCN, .securityError]
}

/// H.225.0 LocationRejectReason (LRJ).
public enum LocationRejectReason: String, NullChoice {
    case notRegistered, invalidPermission, requestDenied, undefinedReason
    case securityDenial, aliasesInconsistent, routeCalltoSCN, resourceUnavailable, genericDataReason
    case neededFeatureNotSupported, hopCountExceeded, incompleteAddress, securityError, securityDHmismatch
    case noRouteToDestination, unallocatedNumber
    public static let rootCount = 4
    public static let unknownExtension = LocationRejectReason.undefinedReason
    public static let valuedAlternatives: [Self] = [.routeCalltoSCN, .securityError]
}

/// H.225.0 EndpointType: what kind of H.323 entity sent a message (gatekeeper, gateway and the
/// protocols it serves, MCU, terminal), and its vendor. The kinds' own non-standard data is read
/// and not kept.
public struct EndpointType: Equatable, Sendable, PERCodable {
    public var nonStandardData: NonStandardParameter?
    public var vendor: VendorIdentifier?
    public var isGatekeeper = false
    /// The protocols a gateway serves; nil when the entity is not a gateway.
    public var gatewayProtocols: [SupportedProtocol]?
    public var isMCU = false
    public var isTerminal = false
    public var mc = false
    public var undefinedNode = false

    public init(
        vendor: VendorIdentifier? = nil, isGatekeeper: Bool = false, gatewayProtocols: [SupportedProtocol]? = nil,
        isMCU: Bool = false, isTerminal: Bool = false, mc: Bool = false, undefinedNode: Bool = false
    ) {
        self.vendor = vendor
        self.isGatekeeper = isGatekeeper
        self.gatewayProtocols = gatewayProtocols
        self.isMCU = isMCU
        self.isTerminal = isTerminal
        self.mc = mc
        self.undefinedNode = undefinedNode
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 6)
        nonStandardData = try reader.readNonStandardData(if: optionals.next())
        if optionals.next() {
            vendor = try reader.field("vendor") { reader throws(PERError) in try VendorIdentifier(from: &reader) }
        }
        if optionals.next() {
            try reader.field("gatekeeper", Self.skipNonStandardOnlyInfo)
            isGatekeeper = true
        }
        if optionals.next() {
            gatewayProtocols = try reader.field("gateway") { reader throws(PERError) in
                var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 2)
                let protocols =
                    optionals.next()
                    ? try reader.readSequenceOf { reader throws(PERError) in try SupportedProtocol(from: &reader) } : []
                _ = try reader.readNonStandardData(if: optionals.next())
                if extended { _ = try reader.readExtensionAdditions() }
                return protocols
            }
        }
        if optionals.next() {
            try reader.field("mcu", Self.skipNonStandardOnlyInfo)
            isMCU = true
        }
        if optionals.next() {
            try reader.field("terminal", Self.skipNonStandardOnlyInfo)
            isTerminal = true
        }
        mc = try reader.readBit()
        undefinedNode = try reader.readBit()
        if extended { _ = try reader.readExtensionAdditions() }
    }

    /// GatekeeperInfo, McuInfo, TerminalInfo and the protocol capabilities all have a root of one
    /// OPTIONAL nonStandardData.
    static func skipNonStandardOnlyInfo(_ reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 1)
        _ = try reader.readNonStandardData(if: optionals.next())
        if extended { _ = try reader.readExtensionAdditions() }
    }

    static func writeEmptyInfo(_ writer: inout PERWriter) {
        writer.writeSequenceHeader(extensible: true, optionals: [false])
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(
            extensible: true,
            optionals: [
                nonStandardData != nil, vendor != nil, isGatekeeper, gatewayProtocols != nil, isMCU, isTerminal,
            ])
        nonStandardData?.encode(to: &writer)
        vendor?.encode(to: &writer)
        if isGatekeeper { Self.writeEmptyInfo(&writer) }
        if let gatewayProtocols {
            writer.writeSequenceHeader(extensible: true, optionals: [!gatewayProtocols.isEmpty, false])
            if !gatewayProtocols.isEmpty { writer.writeSequenceOf(gatewayProtocols) { $0.encode(to: &$1) } }
        }
        if isMCU { Self.writeEmptyInfo(&writer) }
        if isTerminal { Self.writeEmptyInfo(&writer) }
        writer.writeBit(mc)
        writer.writeBit(undefinedNode)
    }
}

/// H.225.0 SupportedProtocols: a protocol a gateway serves. Each capability's data (rates,
/// prefixes) is read and not kept.
public enum SupportedProtocol: Hashable, Sendable, PERCodable {
    case nonStandardData(NonStandardParameter)
    case h310, h320, h321, h322, h323, h324, voice, t120Only
    /// nonStandardProtocol, t38FaxAnnexbOnly, sip and later alternatives, by extension index.
    case extensionAlternative(index: Int, encoding: [UInt8])

    private static let capabilities: [SupportedProtocol] = [
        .h310, .h320, .h321, .h322, .h323, .h324, .voice, .t120Only,
    ]

    public init(from reader: inout PERReader) throws(PERError) {
        switch try reader.readChoiceIndex(rootCount: 9, extensible: true) {
        case .root(0): self = .nonStandardData(try NonStandardParameter(from: &reader))
        case .root(let position):
            try EndpointType.skipNonStandardOnlyInfo(&reader)
            self = Self.capabilities[position - 1]
        case .extension(let index): self = .extensionAlternative(index: index, encoding: try reader.readOpenType())
        }
    }

    public func encode(to writer: inout PERWriter) {
        switch self {
        case .nonStandardData(let parameter):
            writer.writeChoiceIndex(.root(0), rootCount: 9, extensible: true)
            parameter.encode(to: &writer)
        case .extensionAlternative(let index, let encoding):
            writer.writeUnknownExtensionAlternative(index: index, encoding: encoding)
        default:
            writer.writeChoiceIndex(.root(Self.capabilities.firstIndex(of: self)! + 1), rootCount: 9, extensible: true)
            EndpointType.writeEmptyInfo(&writer)
        }
    }
}

/// H.225.0 QseriesOptions (the supplementary services an endpoint supports): read and not kept.
enum QseriesOptions {
    static func skip(_ reader: inout PERReader) throws(PERError) {
        let (extended, _) = try reader.readSequenceHeader(extensible: true, optionalFields: 0)
        _ = try reader.readBits(7)
        let (detailsExtended, _) = try reader.readSequenceHeader(extensible: true, optionalFields: 0)
        _ = try reader.readBits(2)
        if detailsExtended { _ = try reader.readExtensionAdditions() }
        if extended { _ = try reader.readExtensionAdditions() }
    }
}

/// H.225.0 CallIdentifier: the call's globally unique identifier.
public struct CallIdentifier: Hashable, Sendable, PERCodable {
    public var guid: [UInt8]

    public init(guid: [UInt8]) {
        precondition(guid.count == 16)
        self.guid = guid
    }

    /// A new random identifier.
    public static func random() -> CallIdentifier {
        var generator = SystemRandomNumberGenerator()
        return CallIdentifier(guid: (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    public init(from reader: inout PERReader) throws(PERError) {
        let (extended, _) = try reader.readSequenceHeader(extensible: true, optionalFields: 0)
        guid = try reader.readOctetString(size: 16...16)
        if extended { _ = try reader.readExtensionAdditions() }
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(extensible: true, optionals: [])
        writer.writeOctetString(guid, size: 16...16)
    }
}

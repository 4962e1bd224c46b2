/// H.225.0 GenericData: a feature or extension named by a `GenericIdentifier`, with parameters.
/// Spillway reads and writes the forms it uses (identifiers of every root kind, raw contents);
/// another vendor's generic data in other forms is refused by the reader, and a message carrying
/// it is read without it.
public struct GenericData: Hashable, Sendable, PERCodable {
    public var id: GenericIdentifier
    public var parameters: [EnumeratedParameter]?

    public init(id: GenericIdentifier, parameters: [EnumeratedParameter]?) {
        self.id = id
        self.parameters = parameters
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 1)
        id = try GenericIdentifier(from: &reader)
        parameters =
            optionals.next()
            ? try reader.readSequenceOf(size: 1...512) { reader throws(PERError) in
                try EnumeratedParameter(from: &reader)
            } : nil
        if extended { _ = try reader.readExtensionAdditions() }
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(extensible: true, optionals: [parameters != nil])
        id.encode(to: &writer)
        if let parameters { writer.writeSequenceOf(parameters, size: 1...512) { $0.encode(to: &$1) } }
    }
}

/// H.225.0 GenericIdentifier.
public enum GenericIdentifier: Hashable, Sendable, PERCodable {
    /// INTEGER (0..16383, ...): a feature numbered by the standard.
    case standard(Int)
    case oid(ASN1ObjectIdentifier)
    /// GloballyUniqueID: 16 octets a vendor chose.
    case nonStandard([UInt8])

    private static let standardRange = 0...16_383

    public init(from reader: inout PERReader) throws(PERError) {
        switch try reader.readChoiceIndex(rootCount: 3, extensible: true) {
        case .root(0):
            guard try !reader.readBit() else {
                throw reader.error(.unsupported("a standard GenericIdentifier above 16383"))
            }
            self = .standard(try reader.readConstrainedWholeNumber(in: Self.standardRange))
        case .root(1): self = .oid(try ASN1ObjectIdentifier(from: &reader))
        case .root(_): self = .nonStandard(try reader.readOctetString(size: 16...16))
        case .extension: throw reader.error(.unsupported("a GenericIdentifier extension alternative"))
        }
    }

    public func encode(to writer: inout PERWriter) {
        switch self {
        case .standard(let number):
            writer.writeChoiceIndex(.root(0), rootCount: 3, extensible: true)
            writer.writeBit(false)
            writer.writeConstrainedWholeNumber(number, in: Self.standardRange)
        case .oid(let identifier):
            writer.writeChoiceIndex(.root(1), rootCount: 3, extensible: true)
            identifier.encode(to: &writer)
        case .nonStandard(let guid):
            writer.writeChoiceIndex(.root(2), rootCount: 3, extensible: true)
            writer.writeOctetString(guid, size: 16...16)
        }
    }
}

/// H.225.0 EnumeratedParameter: one parameter of generic data. Its content is read and written
/// in the `raw` (OCTET STRING) form only, the one Spillway uses.
public struct EnumeratedParameter: Hashable, Sendable, PERCodable {
    public var id: GenericIdentifier
    public var raw: [UInt8]?

    public init(id: GenericIdentifier, raw: [UInt8]?) {
        self.id = id
        self.raw = raw
    }

    /// Content is a CHOICE of twelve root alternatives; `raw` is the first.
    private static let contentAlternatives = 12

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 1)
        id = try GenericIdentifier(from: &reader)
        if optionals.next() {
            guard case .root(0) = try reader.readChoiceIndex(rootCount: Self.contentAlternatives, extensible: true)
            else {
                throw reader.error(.unsupported("generic data content other than raw octets"))
            }
            raw = try reader.readOctetString()
        } else {
            raw = nil
        }
        if extended { _ = try reader.readExtensionAdditions() }
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(extensible: true, optionals: [raw != nil])
        id.encode(to: &writer)
        if let raw {
            writer.writeChoiceIndex(.root(0), rootCount: Self.contentAlternatives, extensible: true)
            writer.writeOctetString(raw)
        }
    }
}

/// H.225.0 NonStandardParameter: vendor data, identified by an object identifier or an H.221
/// manufacturer code.
public struct NonStandardParameter: Hashable, Sendable, PERCodable {
    public var identifier: NonStandardIdentifier
    public var data: [UInt8]

    public init(identifier: NonStandardIdentifier, data: [UInt8]) {
        self.identifier = identifier
        self.data = data
    }

    public init(from reader: inout PERReader) throws(PERError) {
        identifier = try reader.field("nonStandardIdentifier") { reader throws(PERError) in
            try NonStandardIdentifier(from: &reader)
        }
        data = try reader.field("data") { reader throws(PERError) in try reader.readOctetString() }
    }

    public func encode(to writer: inout PERWriter) {
        identifier.encode(to: &writer)
        writer.writeOctetString(data)
    }
}

/// H.225.0 NonStandardIdentifier.
public enum NonStandardIdentifier: Hashable, Sendable, PERCodable {
    case object(ASN1ObjectIdentifier)
    case h221(H221NonStandard)
    /// An extension alternative this implementation does not know, kept as its encoding.
    case unknownExtension(index: Int, encoding: [UInt8])

    public init(from reader: inout PERReader) throws(PERError) {
        switch try reader.readChoiceIndex(rootCount: 2, extensible: true) {
        case .root(0): self = .object(try ASN1ObjectIdentifier(from: &reader))
        case .root(_): self = .h221(try H221NonStandard(from: &reader))
        case .extension(let index):
            self = .unknownExtension(index: index, encoding: try reader.readOpenType())
        }
    }

    public func encode(to writer: inout PERWriter) {
        switch self {
        case .object(let identifier):
            writer.writeChoiceIndex(.root(0), rootCount: 2, extensible: true)
            identifier.encode(to: &writer)
        case .h221(let code):
            writer.writeChoiceIndex(.root(1), rootCount: 2, extensible: true)
            code.encode(to: &writer)
        case .unknownExtension(let index, let encoding):
            writer.writeUnknownExtensionAlternative(index: index, encoding: encoding)
        }
    }
}

/// H.221 manufacturer identification: T.35 country code and extension, and the manufacturer code.
public struct H221NonStandard: Hashable, Sendable, PERCodable {
    public var t35CountryCode: UInt8
    public var t35Extension: UInt8
    public var manufacturerCode: UInt16

    public init(t35CountryCode: UInt8, t35Extension: UInt8, manufacturerCode: UInt16) {
        self.t35CountryCode = t35CountryCode
        self.t35Extension = t35Extension
        self.manufacturerCode = manufacturerCode
    }

    public init(from reader: inout PERReader) throws(PERError) {
        let (extended, _) = try reader.readSequenceHeader(extensible: true, optionalFields: 0)
        t35CountryCode = UInt8(try reader.readConstrainedWholeNumber(in: 0...255))
        t35Extension = UInt8(try reader.readConstrainedWholeNumber(in: 0...255))
        manufacturerCode = UInt16(try reader.readConstrainedWholeNumber(in: 0...65_535))
        if extended { _ = try reader.readExtensionAdditions() }
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(extensible: true, optionals: [])
        writer.writeConstrainedWholeNumber(Int(t35CountryCode), in: 0...255)
        writer.writeConstrainedWholeNumber(Int(t35Extension), in: 0...255)
        writer.writeConstrainedWholeNumber(Int(manufacturerCode), in: 0...65_535)
    }
}

/// H.225.0 VendorIdentifier: who made an endpoint, and its product and version strings.
public struct VendorIdentifier: Equatable, Sendable, PERCodable {
    public var vendor: H221NonStandard
    public var productID: [UInt8]?
    public var versionID: [UInt8]?

    public init(vendor: H221NonStandard, productID: [UInt8]? = nil, versionID: [UInt8]? = nil) {
        self.vendor = vendor
        self.productID = productID
        self.versionID = versionID
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 2)
        vendor = try reader.field("vendor") { reader throws(PERError) in try H221NonStandard(from: &reader) }
        productID = optionals.next() ? try reader.readOctetString(size: 1...256) : nil
        versionID = optionals.next() ? try reader.readOctetString(size: 1...256) : nil
        if extended { _ = try reader.readExtensionAdditions() }
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(extensible: true, optionals: [productID != nil, versionID != nil])
        vendor.encode(to: &writer)
        if let productID { writer.writeOctetString(productID, size: 1...256) }
        if let versionID { writer.writeOctetString(versionID, size: 1...256) }
    }
}

extension PERReader {
    /// A root OPTIONAL nonStandardData field, when its presence bit is set.
    mutating func readNonStandardData(if present: Bool) throws(PERError) -> NonStandardParameter? {
        guard present else { return nil }
        return try field("nonStandardData") { reader throws(PERError) in try NonStandardParameter(from: &reader) }
    }
}

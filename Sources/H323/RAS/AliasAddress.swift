/// H.225.0 AliasAddress: a name or number for an endpoint (E.164 digits, an H.323-ID, a URL, an
/// e-mail address or a transport address). PartyNumber, mobile UIM and ISUP numbers are kept as
/// their encoding.
public enum AliasAddress: Hashable, Sendable, PERCodable, CustomStringConvertible {
    case dialledDigits(String)
    case h323ID(String)
    case url(String)
    case transport(TransportAddress)
    case email(String)
    /// An extension alternative this implementation does not model, kept as its encoding.
    case unknownExtension(index: Int, encoding: [UInt8])

    public var description: String {
        switch self {
        case .dialledDigits(let digits): "digits:\(digits)"
        case .h323ID(let name): "h323-id:\(name)"
        case .url(let url): "url:\(url)"
        case .transport(let address): "transport:\(address)"
        case .email(let address): "email:\(address)"
        case .unknownExtension(let index, _): "alias alternative \(index)"
        }
    }

    public init(from reader: inout PERReader) throws(PERError) {
        switch try reader.readChoiceIndex(rootCount: 2, extensible: true) {
        case .root(0): self = .dialledDigits(try reader.readCharacterString(.dialledDigits, size: 1...128))
        case .root(_): self = .h323ID(try reader.readBMPString(size: 1...256))
        case .extension(let index):
            let encoding = try reader.readOpenType()
            var inner = PERReader(encoding)
            switch index {
            case 0: self = .url(try inner.readCharacterString(.ia5, size: 1...512))
            case 1: self = .transport(try TransportAddress(from: &inner))
            case 2: self = .email(try inner.readCharacterString(.ia5, size: 1...512))
            default: self = .unknownExtension(index: index, encoding: encoding)
            }
        }
    }

    public func encode(to writer: inout PERWriter) {
        switch self {
        case .dialledDigits(let digits):
            writer.writeChoiceIndex(.root(0), rootCount: 2, extensible: true)
            writer.writeCharacterString(digits, .dialledDigits, size: 1...128)
        case .h323ID(let name):
            writer.writeChoiceIndex(.root(1), rootCount: 2, extensible: true)
            writer.writeBMPString(name, size: 1...256)
        case .url(let url):
            writer.writeExtensionAlternative(index: 0) { $0.writeCharacterString(url, .ia5, size: 1...512) }
        case .transport(let address):
            writer.writeExtensionAlternative(index: 1) { address.encode(to: &$0) }
        case .email(let address):
            writer.writeExtensionAlternative(index: 2) { $0.writeCharacterString(address, .ia5, size: 1...512) }
        case .unknownExtension(let index, let encoding):
            writer.writeUnknownExtensionAlternative(index: index, encoding: encoding)
        }
    }
}

/// H.225.0 TransportAddress: where RAS messages and call signalling go. Every root alternative is
/// modelled, so any peer's message decodes and re-encodes unchanged; Spillway itself uses IPv4 and IPv6.
public enum TransportAddress: Hashable, Sendable, PERCodable, CustomStringConvertible {
    case ipv4(address: [UInt8], port: UInt16)
    case ipSourceRoute(address: [UInt8], port: UInt16, route: [[UInt8]], strict: Bool)
    case ipx(node: [UInt8], network: [UInt8], port: [UInt8])
    case ipv6(address: [UInt8], port: UInt16)
    case netBios([UInt8])
    case nsap([UInt8])
    case nonStandard(NonStandardParameter)
    /// An extension alternative this implementation does not know, kept as its encoding.
    case unknownExtension(index: Int, encoding: [UInt8])

    private static let rootCount = 7

    /// An IPv4 address from dotted-quad `host` and `port`; nil when `host` is not a dotted quad.
    public init?(ipv4 host: String, port: Int) {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt8($0) }
        guard parts.count == 4, (0...65_535).contains(port) else { return nil }
        self = .ipv4(address: parts, port: UInt16(port))
    }

    /// `HOST:PORT` for IPv4, `[HOST]:PORT` for IPv6, a label for the others.
    public var description: String {
        switch self {
        case .ipv4(let address, let port):
            "\(address.map(String.init).joined(separator: ".")):\(port)"
        case .ipv6(let address, let port):
            "[\(stride(from: 0, to: 16, by: 2).map { String(UInt16(address[$0]) << 8 | UInt16(address[$0 + 1]), radix: 16) }.joined(separator: ":"))]:\(port)"
        case .ipSourceRoute(let address, let port, _, _):
            "source route via \(address.map(String.init).joined(separator: ".")):\(port)"
        case .ipx: "IPX address"
        case .netBios: "NetBIOS address"
        case .nsap: "NSAP address"
        case .nonStandard: "non-standard address"
        case .unknownExtension(let index, _): "unknown transport address alternative \(index)"
        }
    }

    public init(from reader: inout PERReader) throws(PERError) {
        switch try reader.readChoiceIndex(rootCount: Self.rootCount, extensible: true) {
        case .root(0):
            let address = try reader.readOctetString(size: 4...4)
            self = .ipv4(address: address, port: UInt16(try reader.readConstrainedWholeNumber(in: 0...65_535)))
        case .root(1):
            let (extended, _) = try reader.readSequenceHeader(extensible: true, optionalFields: 0)
            let address = try reader.readOctetString(size: 4...4)
            let port = UInt16(try reader.readConstrainedWholeNumber(in: 0...65_535))
            let route = try reader.readSequenceOf { reader throws(PERError) in try reader.readOctetString(size: 4...4) }
            let routing = try reader.readChoiceIndex(rootCount: 2, extensible: true)
            if case .extension = routing { _ = try reader.readOpenType() }
            if extended { _ = try reader.readExtensionAdditions() }
            self = .ipSourceRoute(address: address, port: port, route: route, strict: routing == .root(0))
        case .root(2):
            self = .ipx(
                node: try reader.readOctetString(size: 6...6), network: try reader.readOctetString(size: 4...4),
                port: try reader.readOctetString(size: 2...2))
        case .root(3):
            let (extended, _) = try reader.readSequenceHeader(extensible: true, optionalFields: 0)
            let address = try reader.readOctetString(size: 16...16)
            let port = UInt16(try reader.readConstrainedWholeNumber(in: 0...65_535))
            if extended { _ = try reader.readExtensionAdditions() }
            self = .ipv6(address: address, port: port)
        case .root(4):
            self = .netBios(try reader.readOctetString(size: 16...16))
        case .root(5):
            self = .nsap(try reader.readOctetString(size: 1...20))
        case .root(_):
            self = .nonStandard(try NonStandardParameter(from: &reader))
        case .extension(let index):
            self = .unknownExtension(index: index, encoding: try reader.readOpenType())
        }
    }

    public func encode(to writer: inout PERWriter) {
        func alternative(_ position: Int) {
            writer.writeChoiceIndex(.root(position), rootCount: Self.rootCount, extensible: true)
        }
        switch self {
        case .ipv4(let address, let port):
            alternative(0)
            writer.writeOctetString(address, size: 4...4)
            writer.writeConstrainedWholeNumber(Int(port), in: 0...65_535)
        case .ipSourceRoute(let address, let port, let route, let strict):
            alternative(1)
            writer.writeSequenceHeader(extensible: true, optionals: [])
            writer.writeOctetString(address, size: 4...4)
            writer.writeConstrainedWholeNumber(Int(port), in: 0...65_535)
            writer.writeSequenceOf(route) { hop, writer in writer.writeOctetString(hop, size: 4...4) }
            writer.writeChoiceIndex(.root(strict ? 0 : 1), rootCount: 2, extensible: true)
        case .ipx(let node, let network, let port):
            alternative(2)
            writer.writeOctetString(node, size: 6...6)
            writer.writeOctetString(network, size: 4...4)
            writer.writeOctetString(port, size: 2...2)
        case .ipv6(let address, let port):
            alternative(3)
            writer.writeSequenceHeader(extensible: true, optionals: [])
            writer.writeOctetString(address, size: 16...16)
            writer.writeConstrainedWholeNumber(Int(port), in: 0...65_535)
        case .netBios(let name):
            alternative(4)
            writer.writeOctetString(name, size: 16...16)
        case .nsap(let address):
            alternative(5)
            writer.writeOctetString(address, size: 1...20)
        case .nonStandard(let parameter):
            alternative(6)
            parameter.encode(to: &writer)
        case .unknownExtension(let index, let encoding):
            writer.writeUnknownExtensionAlternative(index: index, encoding: encoding)
        }
    }
}

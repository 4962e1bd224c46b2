/// An H.245 unicast IP transport address (H.245 `UnicastAddress` iPAddress / iP6Address): where a
/// logical channel's RTP or RTCP goes.
public struct MediaAddress: Hashable, Sendable, CustomStringConvertible {
    /// 4 octets for IPv4, 16 for IPv6.
    public var ip: [UInt8]
    public var port: UInt16

    public init(ip: [UInt8], port: UInt16) {
        precondition(ip.count == 4 || ip.count == 16, "an IP address has 4 or 16 octets")
        self.ip = ip
        self.port = port
    }

    public var isIPv6: Bool { ip.count == 16 }

    /// The numeric host, without the port (IPv6 as eight hexadecimal groups).
    public var host: String {
        if !isIPv6 { return ip.map(String.init).joined(separator: ".") }
        return stride(from: 0, to: 16, by: 2).map { String(UInt16(ip[$0]) << 8 | UInt16(ip[$0 + 1]), radix: 16) }
            .joined(separator: ":")
    }

    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Reads an H.245 TransportAddress. Only unicast IPv4 and IPv6 can be relayed: the others
    /// (multicast, IPX, NetBIOS, source routes, NSAP, non-standard) are refused as `unsupported`.
    init(from reader: inout PERReader) throws(PERError) {
        guard case .root(0) = try reader.readChoiceIndex(rootCount: 2, extensible: true) else {
            throw reader.error(.unsupported("a multicast or non-standard media address"))
        }
        let octets: Int
        switch try reader.readChoiceIndex(rootCount: 5, extensible: true) {
        case .root(0): octets = 4
        case .root(2): octets = 16
        default: throw reader.error(.unsupported("a media address that is neither IPv4 nor IPv6"))
        }
        let (extended, _) = try reader.readSequenceHeader(extensible: true, optionalFields: 0)
        ip = try reader.readOctetString(size: octets...octets)
        port = UInt16(try reader.readConstrainedWholeNumber(in: 0...65_535))
        if extended { _ = try reader.readExtensionAdditions() }
    }

    func encode(to writer: inout PERWriter) {
        writer.writeChoiceIndex(.root(0), rootCount: 2, extensible: true)
        writer.writeChoiceIndex(.root(isIPv6 ? 2 : 0), rootCount: 5, extensible: true)
        writer.writeSequenceHeader(extensible: true, optionals: [])
        writer.writeOctetString(ip, size: ip.count...ip.count)
        writer.writeConstrainedWholeNumber(Int(port), in: 0...65_535)
    }
}

import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The networks an NG client may send from (`ng-clients`), as address prefixes such as
/// `127.0.0.0/8` or `2001:db8::/32`. An IPv4 client reaching an IPv6 socket as `::ffff:a.b.c.d`
/// is matched against the IPv4 prefixes.
public struct ClientNetworks: Sendable, Equatable, CustomStringConvertible {
    /// One prefix: the address bytes (4 or 16) and how many leading bits must match.
    package struct Prefix: Sendable, Equatable {
        package var bytes: [UInt8]
        package var length: Int

        package func contains(_ address: [UInt8]) -> Bool {
            guard address.count == bytes.count else { return false }
            for bit in stride(from: 0, to: length, by: 8) {
                let mask: UInt8 = length - bit >= 8 ? 0xFF : ~(0xFF >> UInt8(length - bit))
                if address[bit / 8] & mask != bytes[bit / 8] & mask { return false }
            }
            return true
        }
    }

    private(set) var prefixes: [Prefix]
    public let description: String

    /// Loopback only, IPv4 and IPv6: the default.
    public static let loopback = ClientNetworks(parsing: "127.0.0.0/8,::1/128")!

    /// Reads a comma-separated list of prefixes; a bare address is a /32 or /128.
    public init?(parsing text: String) {
        var prefixes: [Prefix] = []
        for item in text.split(separator: ",").map({ $0.trimmingSpaces }) {
            let parts = item.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard let bytes = Self.addressBytes(String(parts[0])) else { return nil }
            var length = bytes.count * 8
            if parts.count == 2 {
                guard let given = Int(parts[1]), (0...length).contains(given) else { return nil }
                length = given
            }
            prefixes.append(Prefix(bytes: bytes, length: length))
        }
        guard !prefixes.isEmpty else { return nil }
        self.prefixes = prefixes
        description = text
    }

    /// Whether a datagram from `address` may be served.
    public func allows(_ address: NIOCore.SocketAddress) -> Bool {
        guard let bytes = Self.addressBytes(address) else { return false }
        let isMappedIPv4 =
            bytes.count == 16 && bytes.prefix(12).elementsEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF])
        let forms = isMappedIPv4 ? [bytes, Array(bytes.suffix(4))] : [bytes]
        return prefixes.contains { prefix in forms.contains { prefix.contains($0) } }
    }

    private static func addressBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: v6) { Array($0) } }
        return nil
    }

    private static func addressBytes(_ address: NIOCore.SocketAddress) -> [UInt8]? {
        switch address {
        case .v4(let v4): withUnsafeBytes(of: v4.address.sin_addr) { Array($0) }
        case .v6(let v6): withUnsafeBytes(of: v6.address.sin6_addr) { Array($0) }
        case .unixDomainSocket: nil
        }
    }
}

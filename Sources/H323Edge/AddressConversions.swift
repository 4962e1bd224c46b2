import H323
import MediaPlane
import NIOCore

extension TransportAddress {
    /// The H.225.0 transport address of an IP socket address; nil for a Unix socket.
    public init?(_ address: NIOCore.SocketAddress) {
        guard let port = address.port else { return nil }
        switch address {
        case .v4(let v4):
            self = withUnsafeBytes(of: v4.address.sin_addr.s_addr) { .ipv4(address: Array($0), port: UInt16(port)) }
        case .v6(let v6):
            self = withUnsafeBytes(of: v6.address.sin6_addr) { .ipv6(address: Array($0), port: UInt16(port)) }
        case .unixDomainSocket: return nil
        }
    }

    /// The transport address of a numeric `HOST:PORT` or `[HOST]:PORT`.
    public init?(hostAndPort: String) {
        guard let address = try? NIOCore.SocketAddress(hostAndPort: hostAndPort) else { return nil }
        self.init(address)
    }

    /// The socket address of an IPv4 or IPv6 transport address; nil for the others.
    public var socketAddress: NIOCore.SocketAddress? {
        switch self {
        case .ipv4(let octets, let port):
            try? NIOCore.SocketAddress(ipAddress: octets.map(String.init).joined(separator: "."), port: Int(port))
        case .ipv6(let octets, let port):
            try? NIOCore.SocketAddress(ipAddress: MediaAddress(ip: octets, port: port).host, port: Int(port))
        default:
            nil
        }
    }
}

extension MediaAddress {
    /// The media plane's form of this address.
    var socketAddress: MediaPlane.SocketAddress? { MediaPlane.SocketAddress(ip: host, port: port) }

    /// The media address at `host` (a numeric IP) and `port`.
    init?(host: String, port: UInt16) {
        guard let address = try? NIOCore.SocketAddress(ipAddress: host, port: Int(port)),
            let transport = TransportAddress(address)
        else {
            return nil
        }
        switch transport {
        case .ipv4(let octets, _), .ipv6(let octets, _): self.init(ip: octets, port: port)
        default: return nil
        }
    }
}

extension NIOCore.SocketAddress {
    /// Parses a numeric `HOST:PORT` (IPv6 as `[::1]:2224`).
    public init(hostAndPort text: String) throws {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else {
            throw SocketAddressError.unsupported
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        try self.init(ipAddress: host, port: port)
    }

    /// `HOST:PORT` as the configuration writes it.
    public var hostAndPort: String {
        guard let ip = ipAddress, let port else { return description }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}

extension H323Route {
    /// Parses `PREFIX=HOST:PORT` with a numeric host (`--h323-route`).
    public init?(parsing text: String) {
        guard let equals = text.firstIndex(of: "="), !text[..<equals].isEmpty,
            let destination = TransportAddress(hostAndPort: String(text[text.index(after: equals)...]))
        else { return nil }
        self.init(prefix: String(text[..<equals]), destination: destination)
    }
}

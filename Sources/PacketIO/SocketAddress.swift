import CSpillwayShims

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An IPv4 or IPv6 UDP address in the kernel's `sockaddr` layout, so it can be handed to
/// sendmmsg/bind without conversion and compared against a received source byte for byte.
///
/// What the data plane touches per packet is `@inlinable`: the type lives in its own module, and a
/// call across it per packet costs (measured) a third more instructions and four retain/release pairs.
public struct SocketAddress: Sendable, Hashable, CustomStringConvertible {
    /// Large enough for `sockaddr_in6`, which also holds a `sockaddr_in`.
    @usableFromInline package var storage = sockaddr_in6()
    /// `sizeof(sockaddr_in)` or `sizeof(sockaddr_in6)`; 0 for the unset address.
    @usableFromInline package var length: socklen_t = 0

    /// The unset address: no destination known.
    @inlinable public static var unset: SocketAddress { SocketAddress() }

    @inlinable package init() {}

    /// Builds an address from a numeric IPv4 or IPv6 literal and a port.
    public init?(ip: String, port: UInt16) {
        var address4 = sockaddr_in()
        if inet_pton(AF_INET, ip, &address4.sin_addr) == 1 {
            address4.sin_family = sa_family_t(AF_INET)
            address4.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &storage) { target in
                withUnsafeBytes(of: address4) { target.copyMemory(from: $0) }
            }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
            return
        }
        var address6 = sockaddr_in6()
        guard inet_pton(AF_INET6, ip, &address6.sin6_addr) == 1 else { return nil }
        address6.sin6_family = sa_family_t(AF_INET6)
        address6.sin6_port = port.bigEndian
        storage = address6
        length = socklen_t(MemoryLayout<sockaddr_in6>.size)
    }

    /// Copies an address the kernel wrote (e.g. a recvmmsg source).
    @inlinable package init(copying pointer: UnsafeRawPointer, length: socklen_t) {
        let bounded = min(Int(length), MemoryLayout<sockaddr_in6>.size)
        withUnsafeMutableBytes(of: &storage) {
            $0.copyMemory(from: UnsafeRawBufferPointer(start: pointer, count: bounded))
        }
        self.length = socklen_t(bounded)
    }

    @inlinable public var isSet: Bool { length != 0 }

    @inlinable public var isIPv6: Bool { storage.sin6_family == sa_family_t(AF_INET6) }

    @inlinable public var port: UInt16 {
        get { UInt16(bigEndian: storage.sin6_port) }  // sin_port and sin6_port share an offset
        set { storage.sin6_port = newValue.bigEndian }
    }

    /// Calls `body` with the address in network byte order: 4 bytes for IPv4, 16 for IPv6.
    public func withAddressBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        withUnsafeBytes(of: storage) { raw in
            isIPv6
                ? body(UnsafeRawBufferPointer(rebasing: raw[8..<24]))  // sin6_addr
                : body(UnsafeRawBufferPointer(rebasing: raw[4..<8]))  // sin_addr
        }
    }

    /// The numeric address without the port.
    public var ip: String {
        guard isSet else { return "" }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        withUnsafeBytes(of: storage) { raw in
            if isIPv6 {
                var address = raw.load(as: sockaddr_in6.self).sin6_addr
                _ = inet_ntop(AF_INET6, &address, &text, socklen_t(text.count))
            } else {
                var address = raw.load(as: sockaddr_in.self).sin_addr
                _ = inet_ntop(AF_INET, &address, &text, socklen_t(text.count))
            }
        }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public var description: String {
        guard isSet else { return "unset" }
        return isIPv6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    @inlinable public static func == (lhs: SocketAddress, rhs: SocketAddress) -> Bool {
        guard lhs.length == rhs.length else { return false }
        return withUnsafeBytes(of: lhs.storage) { left in
            withUnsafeBytes(of: rhs.storage) { right in
                memcmp(left.baseAddress!, right.baseAddress!, Int(lhs.length)) == 0
            }
        }
    }

    /// Whether a `sockaddr` the kernel wrote is this address, byte for byte. An IPv4 address is
    /// decided by its first eight bytes (family, port, address; the kernel zeroes the rest).
    @inlinable package func matches(_ pointer: UnsafeRawPointer, length: socklen_t) -> Bool {
        guard length == self.length else { return false }
        return withUnsafeBytes(of: storage) { mine in
            length == socklen_t(MemoryLayout<sockaddr_in>.size)
                ? mine.loadUnaligned(as: UInt64.self) == pointer.loadUnaligned(as: UInt64.self)
                : memcmp(mine.baseAddress!, pointer, Int(length)) == 0
        }
    }

    /// Whether both addresses have the same family and IP, whatever their ports.
    public func hasSameHost(as other: SocketAddress) -> Bool {
        guard isSet, other.isSet, isIPv6 == other.isIPv6 else { return false }
        return withAddressBytes { mine in other.withAddressBytes { theirs in mine.elementsEqual(theirs) } }
    }

    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes(of: storage) { hasher.combine(bytes: UnsafeRawBufferPointer(rebasing: $0.prefix(Int(length)))) }
    }

    /// Parses `HOST:PORT` or `[IPv6]:PORT` with a numeric host.
    public init?(hostAndPort text: String) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = UInt16(portText) else { return nil }
        self.init(ip: String(host), port: port)
    }
}

extension SocketAddress {
    /// Copies a `sockaddr` written by the kernel (getsockname, recvfrom).
    public init(rawCopying pointer: UnsafeRawPointer, length: socklen_t) {
        self.init(copying: pointer, length: length)
    }

    /// The address in `sockaddr_in6`-sized storage, for sendto/bind.
    @inlinable public var sockaddrStorage: sockaddr_in6 { storage }

    /// The length to pass with `sockaddrStorage`.
    @inlinable public var sockaddrLength: socklen_t { length }
}

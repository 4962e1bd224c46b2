import CSpillwayShims
import MediaPlane

#if canImport(Glibc)
import Glibc
#endif

/// A blocking UDP socket bound on loopback or any local address: the NG client's transport, and a
/// stand-in phone or gateway that sends and receives media in tests, the demo and benchmarks.
public final class UDPPeer {
    public let descriptor: Int32
    /// The bound local address (with the port the kernel chose when asked for 0).
    public let address: SocketAddress

    public init(bindingTo ip: String = "127.0.0.1", port: UInt16 = 0) throws(UDPPeerError) {
        (descriptor, address) = try boundSocket(type: SOCK_DGRAM, ip: ip, port: port)
    }

    deinit { close(descriptor) }

    /// Sends one datagram. Returns false when the kernel refused it.
    @discardableResult
    public func send(_ bytes: [UInt8], to destination: SocketAddress) -> Bool {
        var target = destination.sockaddrStorage
        let sent = bytes.withUnsafeBytes { payload in
            withUnsafePointer(to: &target) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, payload.baseAddress, payload.count, 0, $0, destination.sockaddrLength)
                }
            }
        }
        return sent == bytes.count
    }

    /// Waits up to `timeoutMilliseconds` for one datagram.
    public func receive(timeoutMilliseconds: Int32) -> (bytes: [UInt8], source: SocketAddress)? {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, timeoutMilliseconds) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var source = sockaddr_in6()
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        let count = withUnsafeMutablePointer(to: &source) { sourcePointer in
            sourcePointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                recvfrom(descriptor, &buffer, buffer.count, 0, $0, &length)
            }
        }
        guard count >= 0 else { return nil }
        let sourceAddress = withUnsafePointer(to: &source) {
            SocketAddress(rawCopying: UnsafeRawPointer($0), length: length)
        }
        return (Array(buffer[..<count]), sourceAddress)
    }

    /// Collects every datagram that arrives until `quietMilliseconds` pass with none.
    public func drain(quietMilliseconds: Int32) -> [(bytes: [UInt8], source: SocketAddress)] {
        var packets: [(bytes: [UInt8], source: SocketAddress)] = []
        while let packet = receive(timeoutMilliseconds: quietMilliseconds) { packets.append(packet) }
        return packets
    }
}

/// A socket of `type` (datagram or stream) bound to `ip` and `port`, and the address it got (the
/// port the kernel chose when asked for 0).
func boundSocket(type: __socket_type, ip: String, port: UInt16) throws(UDPPeerError) -> (
    descriptor: Int32, address: SocketAddress
) {
    guard let requested = SocketAddress(ip: ip, port: port) else { throw .invalidAddress(ip) }
    let fd = socket(requested.isIPv6 ? AF_INET6 : AF_INET, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw .system("socket", errno) }
    var bindAddress = requested.sockaddrStorage
    let bound = withUnsafePointer(to: &bindAddress) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, requested.sockaddrLength) }
    }
    guard bound == 0 else {
        let code = errno
        close(fd)
        throw .system("bind \(requested)", code)
    }
    var local = sockaddr_in6()
    var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
    _ = withUnsafeMutablePointer(to: &local) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return (fd, withUnsafePointer(to: &local) { SocketAddress(rawCopying: UnsafeRawPointer($0), length: length) })
}

/// Why a UDP peer (or another of the client's sockets) could not be set up.
public enum UDPPeerError: Error, CustomStringConvertible {
    case invalidAddress(String)
    case system(String, Int32)

    public var description: String {
        switch self {
        case .invalidAddress(let ip): "'\(ip)' is not a numeric IP address"
        case .system(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
        }
    }
}

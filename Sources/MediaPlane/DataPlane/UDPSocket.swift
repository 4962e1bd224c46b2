#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Opening the non-blocking UDP sockets the data plane reads and writes.
enum UDPSocket {
    /// Opens a non-blocking, close-on-exec UDP socket bound to `address`. Returns the descriptor
    /// or the errno of the step that failed.
    static func bind(_ address: SocketAddress) -> Result<Int32, SocketError> {
        let family = address.isIPv6 ? AF_INET6 : AF_INET
        let fd = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(SocketError(operation: "socket", address: address, errno: errno)) }
        var storage = address.storage
        let result = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, address.length) }
        }
        guard result == 0 else {
            let error = errno
            close(fd)
            return .failure(SocketError(operation: "bind", address: address, errno: error))
        }
        return .success(fd)
    }
}

/// A failed socket call, with the address it was for.
public struct SocketError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    public var address: SocketAddress
    public var errno: Int32

    public var description: String {
        "\(operation)(\(address)) failed: \(String(cString: strerror(errno)))"
    }
}

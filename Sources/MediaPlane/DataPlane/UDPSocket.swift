#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Opening the non-blocking UDP sockets the data plane reads and writes.
///
/// A side's RTP socket can get a connected sibling once its peer is latched: a second socket on the
/// same local address, connected to the peer. The kernel delivers the peer's packets to the sibling
/// (a connected socket matches all four tuple fields) and everything else, such as a stray source
/// or a peer that moved, still to the bound socket. Sending from the sibling without an address lets
/// the kernel reuse the route it cached at connect, instead of looking one up for every packet.
enum UDPSocket {
    /// Opens a non-blocking, close-on-exec UDP socket bound to `address`. Returns the descriptor
    /// or the errno of the step that failed.
    ///
    /// SO_REUSEPORT is set only after the bind succeeded: the bind itself still fails on a port
    /// another process holds, and afterwards only a socket that asks to share the port (a connected
    /// sibling of this process's user) can join it.
    static func bind(_ address: SocketAddress) -> Result<Int32, SocketError> {
        socket(boundTo: address, sharingPort: .afterBind)
    }

    /// Opens a sibling of `original` (a socket from `bind`) on the same local address, connected
    /// to `peer`. Returns the descriptor or the errno of the step that failed.
    static func connectedSibling(of original: Int32, to peer: SocketAddress) -> Result<Int32, SocketError> {
        var local = sockaddr_in6()
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        let named = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(original, $0, &length) }
        }
        guard named == 0 else { return .failure(SocketError(operation: "getsockname", address: .unset, errno: errno)) }
        let address = SocketAddress(copying: &local, length: length)
        return socket(boundTo: address, sharingPort: .beforeBind).flatMap { fd in
            if let error = connect(fd, to: peer) { return closing(fd, error) }
            return .success(fd)
        }
    }

    /// Connects `fd` to `peer` (again: a UDP socket may be re-pointed at any time).
    static func connect(_ fd: Int32, to peer: SocketAddress) -> SocketError? {
        var storage = peer.storage
        let result = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, peer.length) }
        }
        return result == 0 ? nil : SocketError(operation: "connect", address: peer, errno: errno)
    }

    /// When a socket sets SO_REUSEPORT: before its bind to join a port, after it to let others join.
    private enum PortSharing {
        case beforeBind
        case afterBind
    }

    private static func socket(boundTo address: SocketAddress, sharingPort sharing: PortSharing) -> Result<
        Int32, SocketError
    > {
        let family = address.isIPv6 ? AF_INET6 : AF_INET
        let fd = Glibc.socket(
            family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(SocketError(operation: "socket", address: address, errno: errno)) }
        if sharing == .beforeBind, let error = sharePort(fd, address) { return closing(fd, error) }
        var storage = address.storage
        let result = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, address.length) }
        }
        guard result == 0 else { return closing(fd, SocketError(operation: "bind", address: address, errno: errno)) }
        if sharing == .afterBind, let error = sharePort(fd, address) { return closing(fd, error) }
        return .success(fd)
    }

    private static func sharePort(_ fd: Int32, _ address: SocketAddress) -> SocketError? {
        var on: Int32 = 1
        let result = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, socklen_t(MemoryLayout<Int32>.size))
        return result == 0 ? nil : SocketError(operation: "setsockopt(SO_REUSEPORT)", address: address, errno: errno)
    }

    /// Closes `fd` after a failed step, keeping that step's error.
    private static func closing(_ fd: Int32, _ error: SocketError) -> Result<Int32, SocketError> {
        close(fd)
        return .failure(error)
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

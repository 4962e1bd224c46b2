import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// A TCP listening socket bound at once, so its port is known before the event loop adopts it:
/// a proxy writes its H.245 listener's address into the message it is relaying.
enum ListeningSocket {
    /// A non-blocking socket listening on `host` (numeric), port chosen by the kernel.
    static func open(host: String) throws -> (descriptor: CInt, address: NIOCore.SocketAddress) {
        let wanted = try NIOCore.SocketAddress(ipAddress: host, port: 0)
        let family = wanted.protocol == .inet6 ? AF_INET6 : AF_INET
        let descriptor = socket(
            family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        var one: CInt = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<CInt>.size))
        do {
            try wanted.withSockAddr { address, length in
                guard bind(descriptor, address, socklen_t(length)) == 0 else {
                    throw IOError(errnoCode: errno, reason: "bind to \(host)")
                }
            }
            guard listen(descriptor, 4) == 0 else { throw IOError(errnoCode: errno, reason: "listen") }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let bound = withUnsafeMutablePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
            }
            guard bound == 0 else { throw IOError(errnoCode: errno, reason: "getsockname") }
            let port =
                family == AF_INET6
                ? withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in6.self).sin6_port.bigEndian }
                : withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in.self).sin_port.bigEndian }
            return (descriptor, try NIOCore.SocketAddress(ipAddress: host, port: Int(port)))
        } catch {
            close(descriptor)
            throw error
        }
    }
}

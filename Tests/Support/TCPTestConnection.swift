import MediaPlane
import SpillwayClient

#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP client connection for tests: connects to a numeric IPv4 HOST:PORT, sends bytes,
/// reads with a time limit and tells when the peer closed.
public final class TCPTestConnection {
    private let descriptor: CInt

    public init(to hostAndPort: String) throws {
        guard let address = SocketAddress(hostAndPort: hostAndPort) else {
            throw UDPPeerError.system("parse \(hostAndPort)", EINVAL)
        }
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = address.port.bigEndian
        inet_pton(AF_INET, address.ip, &target.sin_addr)
        let connected = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let error = errno
            close(descriptor)
            throw UDPPeerError.system("connect to \(hostAndPort)", error)
        }
    }

    /// Takes over a connected socket (one `TCPTestListener` accepted).
    init(descriptor: CInt) {
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    public func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// What arrives within `timeoutMilliseconds` of the last byte, until the peer closes; and
    /// whether it closed.
    public func receive(timeoutMilliseconds: Int32) -> (bytes: [UInt8], closed: Bool) {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            var ready = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, timeoutMilliseconds) == 1 else { return (received, false) }
            let count = recv(descriptor, &chunk, chunk.count, 0)
            if count <= 0 { return (received, true) }
            received.append(contentsOf: chunk[..<count])
        }
    }
}

/// A blocking TCP listener for tests on a numeric IPv4 address and an ephemeral port.
public final class TCPTestListener {
    private let descriptor: CInt
    /// HOST:PORT it listens on.
    public let address: String

    public init(ip: String) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.descriptor = descriptor
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, ip, &local.sin_addr)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &local) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bind(descriptor, address, length) == 0 && listen(descriptor, 8) == 0
                    && getsockname(descriptor, address, &length) == 0
            }
        }
        guard bound else {
            let error = errno
            close(descriptor)
            throw UDPPeerError.system("listen on \(ip)", error)
        }
        address = "\(ip):\(UInt16(bigEndian: local.sin_port))"
    }

    deinit { close(descriptor) }

    /// The next connection within `timeoutMilliseconds`, with the IP it came from; nil if none came.
    public func accept(timeoutMilliseconds: Int32) -> (connection: TCPTestConnection, peerIP: String)? {
        var ready = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        guard poll(&ready, 1, timeoutMilliseconds) == 1 else { return nil }
        var peer = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let accepted = withUnsafeMutablePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(descriptor, $0, &length) }
        }
        guard accepted >= 0 else { return nil }
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        inet_ntop(AF_INET, &peer.sin_addr, &text, socklen_t(text.count))
        return (
            TCPTestConnection(descriptor: accepted),
            String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        )
    }
}

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
        guard let address = SocketAddress(hostAndPort: hostAndPort) else { throw UDPPeerError.system("parse \(hostAndPort)", EINVAL) }
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = address.port.bigEndian
        inet_pton(AF_INET, address.ip, &target.sin_addr)
        let connected = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let error = errno
            close(descriptor)
            throw UDPPeerError.system("connect to \(hostAndPort)", error)
        }
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

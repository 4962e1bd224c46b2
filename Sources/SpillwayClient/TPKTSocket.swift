import H323
import MediaPlane

#if canImport(Glibc)
import Glibc
#endif

/// A blocking TCP connection carrying TPKT-framed messages (H.225.0 call signalling): the replay's
/// H.323 caller and callee. Every wait has a deadline, so a silent peer ends in an error.
final class TPKTSocket {
    private let descriptor: Int32
    private var received: [UInt8] = []

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Connects from `localIP` to `server`.
    static func connect(to server: SocketAddress, from localIP: String) throws(TPKTSocketError) -> TPKTSocket {
        let socket = TPKTSocket(descriptor: try openSocket(bindingTo: localIP).descriptor)
        var target = server.sockaddrStorage
        let result = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(socket.descriptor, $0, server.sockaddrLength)
            }
        }
        guard result == 0 else { throw .system("connect to \(server)", errno) }
        return socket
    }

    /// A listening socket on `localIP`, on a port the kernel chooses.
    static func listen(on localIP: String) throws(TPKTSocketError) -> (socket: TPKTSocket, address: SocketAddress) {
        let (descriptor, address) = try openSocket(bindingTo: localIP)
        let socket = TPKTSocket(descriptor: descriptor)
        guard Glibc.listen(socket.descriptor, 8) == 0 else { throw .system("listen on \(localIP)", errno) }
        return (socket, address)
    }

    private static func openSocket(bindingTo ip: String) throws(TPKTSocketError) -> (
        descriptor: Int32, address: SocketAddress
    ) {
        do throws(UDPPeerError) {
            return try boundSocket(type: SOCK_STREAM, ip: ip, port: 0)
        } catch {
            throw .setup(error)
        }
    }

    /// The next connection to this listening socket, waiting up to `timeoutMilliseconds`.
    func accept(timeoutMilliseconds: Int32) throws(TPKTSocketError) -> TPKTSocket {
        guard wait(timeoutMilliseconds) else { throw .timedOut("no connection arrived") }
        let accepted = Glibc.accept(descriptor, nil, nil)
        guard accepted >= 0 else { throw .system("accept", errno) }
        return TPKTSocket(descriptor: accepted)
    }

    /// Sends one message in a TPKT frame.
    func send(_ payload: [UInt8]) throws(TPKTSocketError) {
        guard let frame = TPKT.frame(payload) else { throw .tooLong(payload.count) }
        var offset = 0
        while offset < frame.count {
            let sent = frame[offset...].withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw .system("send", errno) }
            offset += sent
        }
    }

    /// The next message, waiting up to `timeoutMilliseconds` for it to arrive whole.
    func receive(timeoutMilliseconds: Int32) throws(TPKTSocketError) -> [UInt8] {
        while true {
            if received.count >= TPKT.headerLength {
                let length: Int
                do {
                    length = try TPKT.frameLength(header: received[..<TPKT.headerLength])
                } catch {
                    throw .malformed("\(error)")
                }
                if received.count >= length {
                    let payload = Array(received[TPKT.headerLength..<length])
                    received.removeFirst(length)
                    return payload
                }
            }
            guard wait(timeoutMilliseconds) else { throw .timedOut("no whole message arrived") }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let count = recv(descriptor, &buffer, buffer.count, 0)
            guard count > 0 else { throw count == 0 ? .closed : .system("recv", errno) }
            received += buffer[..<count]
        }
    }

    private func wait(_ timeoutMilliseconds: Int32) -> Bool {
        var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&poller, 1, timeoutMilliseconds) == 1
    }
}

/// Why a replay's call-signalling connection failed.
enum TPKTSocketError: Error, CustomStringConvertible {
    case setup(UDPPeerError)
    case system(String, Int32)
    case timedOut(String)
    case closed
    case malformed(String)
    case tooLong(Int)

    var description: String {
        switch self {
        case .setup(let error): "\(error)"
        case .system(let call, let code): "\(call) failed: \(String(cString: strerror(code)))"
        case .timedOut(let what): "\(what) in time"
        case .closed: "the connection was closed"
        case .malformed(let what): what
        case .tooLong(let count): "a \(count)-octet message does not fit in a TPKT frame"
        }
    }
}

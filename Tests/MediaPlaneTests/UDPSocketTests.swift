import Testing

@testable import MediaPlane

#if canImport(Glibc)
import Glibc
#endif

/// The bound media socket and its connected sibling (see `UDPSocket`). Ports below Linux's
/// ephemeral range, so no socket bound to port 0 can hold them.
@Suite(.serialized) struct UDPSocketTests {
    static let relay = SocketAddress(ip: "127.0.0.1", port: 11_100)!
    static let peer = SocketAddress(ip: "127.0.0.1", port: 11_102)!
    static let stranger = SocketAddress(ip: "127.0.0.1", port: 11_104)!

    @Test func theSiblingGetsItsPeersPacketsAndTheBoundSocketEveryoneElses() throws {
        let bound = try UDPSocket.bind(Self.relay).get()
        let sibling = try UDPSocket.connectedSibling(of: bound, to: Self.peer).get()
        let peer = try UDPSocket.bind(Self.peer).get()
        let stranger = try UDPSocket.bind(Self.stranger).get()
        defer { for fd in [bound, sibling, peer, stranger] { close(fd) } }

        for round in 0..<10 {
            #expect(sendDatagram([UInt8(round)], from: peer, to: Self.relay))
            #expect(sendDatagram([UInt8(100 + round)], from: stranger, to: Self.relay))
            #expect(receiveDatagram(on: sibling) == [UInt8(round)])
            #expect(receiveDatagram(on: bound) == [UInt8(100 + round)])
        }
        // Sent without an address, a packet from the sibling goes to its peer, from the relay's port.
        #expect(send(0x55, withoutAddressOn: sibling))
        #expect(receiveDatagram(on: peer) == [0x55])
    }

    @Test func aBoundPortStaysClosedToEveryOtherBind() throws {
        let bound = try UDPSocket.bind(Self.relay).get()
        defer { close(bound) }
        // Neither a plain socket (another program) nor another media socket may take the port.
        let plain = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(plain) }
        var address = Self.relay.storage
        let plainBind = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(plain, $0, Self.relay.length) }
        }
        #expect(plainBind == -1 && errno == EADDRINUSE)
        guard case .failure(let error) = UDPSocket.bind(Self.relay) else {
            Issue.record("a second media socket was bound to \(Self.relay)")
            return
        }
        #expect(error.operation == "bind" && error.errno == EADDRINUSE)
    }

    @Test func aSendAfterAnICMPErrorIsMadeAgainNotCountedAsRefused() throws {
        let bound = try UDPSocket.bind(Self.relay).get()
        let sibling = try UDPSocket.connectedSibling(of: bound, to: Self.peer).get()  // nothing listens there
        defer { for fd in [bound, sibling] { close(fd) } }
        var payload: [UInt8] = [0x80, 0, 0, 1]
        let queue = SendQueue(capacity: 3)
        try payload.withUnsafeMutableBytes { bytes in
            let base = try #require(bytes.baseAddress)
            for position in 0..<3 { queue.set(position, bytes: base, length: bytes.count, to: .unset) }
            #expect(queue.send(1, on: sibling) == 0)
            // The port unreachable that packet drew is now pending on the sibling.
            var poller = pollfd(fd: sibling, events: 0, revents: 0)
            #expect(poll(&poller, 1, 1000) == 1 && poller.revents & Int16(POLLERR) != 0)
            #expect(queue.send(3, on: sibling) == 0, "each packet goes out, as from an unconnected socket")
        }
    }

    private func sendDatagram(_ bytes: [UInt8], from fd: Int32, to destination: SocketAddress) -> Bool {
        var address = destination.storage
        return bytes.withUnsafeBytes { payload in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, payload.baseAddress, payload.count, 0, $0, destination.length)
                }
            }
        } == bytes.count
    }

    private func send(_ byte: UInt8, withoutAddressOn fd: Int32) -> Bool {
        var payload = byte
        return Glibc.send(fd, &payload, 1, 0) == 1
    }

    private func receiveDatagram(on fd: Int32) -> [UInt8]? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, 1000) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = recv(fd, &buffer, buffer.count, 0)
        return count >= 0 ? Array(buffer[..<count]) : nil
    }
}

import H323
import NIOCore

/// Sends RAS messages from one UDP channel, and converts between H.225.0 transport addresses and
/// socket addresses.
struct RASTransport {
    let channel: any Channel

    func send(_ message: RASMessage, to address: NIOCore.SocketAddress) {
        send(message.perEncoded, to: address)
    }

    func send(_ datagram: [UInt8], to address: NIOCore.SocketAddress) {
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: channel.allocator.buffer(bytes: datagram)), promise: nil)
    }

    /// Where a reply to `address` goes: the address itself when it is IP, else the datagram's source.
    static func socketAddress(_ address: TransportAddress?, otherwise source: NIOCore.SocketAddress) -> NIOCore.SocketAddress {
        switch address {
        case .ipv4(let octets, let port):
            (try? NIOCore.SocketAddress(ipAddress: octets.map(String.init).joined(separator: "."), port: Int(port))) ?? source
        case .ipv6(let octets, let port):
            (try? NIOCore.SocketAddress(
                ipAddress: stride(from: 0, to: 16, by: 2).map { String(UInt16(octets[$0]) << 8 | UInt16(octets[$0 + 1]), radix: 16) }
                    .joined(separator: ":"), port: Int(port))) ?? source
        default:
            source
        }
    }

    /// The transport address of a numeric `HOST:PORT` or `[HOST]:PORT`.
    static func transportAddress(_ hostAndPort: String) -> TransportAddress? {
        guard let address = try? NIOCore.SocketAddress(hostAndPort: hostAndPort), let port = address.port else { return nil }
        switch address {
        case .v4(let v4):
            return withUnsafeBytes(of: v4.address.sin_addr.s_addr) { .ipv4(address: Array($0), port: UInt16(port)) }
        case .v6(let v6):
            return withUnsafeBytes(of: v6.address.sin6_addr) { .ipv6(address: Array($0), port: UInt16(port)) }
        case .unixDomainSocket:
            return nil
        }
    }
}

import H323
import H323Edge
import NIOCore

/// Sends RAS messages from one UDP channel.
package struct RASTransport {
    package let channel: any Channel

    package init(channel: any Channel) {
        self.channel = channel
    }

    package func send(_ message: RASMessage, to address: NIOCore.SocketAddress) {
        send(message.perEncoded, to: address)
    }

    package func send(_ datagram: [UInt8], to address: NIOCore.SocketAddress) {
        channel.writeAndFlush(
            AddressedEnvelope(remoteAddress: address, data: channel.allocator.buffer(bytes: datagram)), promise: nil)
    }

    /// Where a reply to `address` goes: the address itself when it is IP, else the datagram's source.
    package static func socketAddress(_ address: TransportAddress?, otherwise source: NIOCore.SocketAddress)
        -> NIOCore.SocketAddress
    {
        address?.socketAddress ?? source
    }
}

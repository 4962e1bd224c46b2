import NIOCore
import NIOPosix

/// Hands each datagram a UDP channel receives to a function on the channel's event loop.
package final class DatagramHandler: ChannelInboundHandler {
    package typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let deliver: ([UInt8], NIOCore.SocketAddress) -> Void

    package init(_ deliver: @escaping ([UInt8], NIOCore.SocketAddress) -> Void) {
        self.deliver = deliver
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        deliver(Array(envelope.data.readableBytesView), envelope.remoteAddress)
    }
}

package extension DatagramBootstrap {
    /// Binds a UDP channel on `address` whose datagrams go to `deliver` (called on the loop). Without
    /// SO_REUSEADDR: on UDP it would let a second relay bind the same port and silently take
    /// requests meant for this one; a clash must fail at start instead.
    static func bind(
        _ address: NIOCore.SocketAddress, on loop: any EventLoop,
        deliver: @escaping @Sendable () -> (([UInt8], NIOCore.SocketAddress) -> Void)
    ) async throws -> any Channel {
        try await DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DatagramHandler(deliver()))
                }
            }
            .bind(to: address)
            .get()
    }
}

import H323
import NIOCore

/// One TCP connection carrying TPKT frames (H.225.0 call signalling or a separate H.245
/// channel): cuts the byte stream into frames for its owner and frames what the owner sends.
///
/// A malformed header closes the connection; so does a connection that holds an incomplete
/// frame, or has sent nothing, for `incompleteTimeout` (a peer that stalls or lies about a length
/// cannot hold a connection open). Runs on the channel's event loop.
final class TPKTConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Limits {
        var incompleteTimeout = TimeAmount.seconds(10)
    }

    /// What the connection tells its owner.
    enum Event {
        case frame([UInt8])
        /// The connection is closing for this reason (counted and logged by the owner).
        case refused(CallSignallingError)
        case idleTimeout
        case closed
    }

    let limits: Limits
    var onEvent: (Event) -> Void = { _ in }
    private var buffer: ByteBuffer?
    private var channel: (any Channel)?
    private var idleTimer: Scheduled<Void>?
    private var isClosed = false
    /// The last frame sent, which a close waits for.
    private var lastWrite: EventLoopFuture<Void>?

    init(limits: Limits) {
        self.limits = limits
    }

    var remoteAddress: NIOCore.SocketAddress? { channel?.remoteAddress }
    var localAddress: NIOCore.SocketAddress? { channel?.localAddress }

    /// Sends one frame.
    func send(_ payload: [UInt8]) {
        guard let channel, !isClosed, let frame = TPKT.frame(payload) else { return }
        lastWrite = channel.writeAndFlush(channel.allocator.buffer(bytes: frame))
    }

    /// Closes the connection once what was sent has been written (at once when nothing was).
    func close() {
        guard let channel, !isClosed else { return }
        isClosed = true
        idleTimer?.cancel()
        if let lastWrite {
            lastWrite.whenComplete { _ in channel.close(promise: nil) }
        } else {
            channel.close(promise: nil)
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        channel = context.channel
        if context.channel.isActive { armIdleTimer(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        armIdleTimer(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if buffer == nil { buffer = incoming } else { buffer!.writeBuffer(&incoming) }
        while !isClosed, var pending = buffer, pending.readableBytes >= TPKT.headerLength {
            let length: Int
            do throws(CallSignallingError) {
                length = try TPKT.frameLength(header: pending.readableBytesView.prefix(TPKT.headerLength))
            } catch {
                refuse(error)
                return
            }
            guard pending.readableBytes >= length else { break }
            pending.moveReaderIndex(forwardBy: TPKT.headerLength)
            let payload = pending.readBytes(length: length - TPKT.headerLength) ?? []
            buffer = pending.readableBytes == 0 ? nil : pending
            idleTimer?.cancel()
            idleTimer = nil
            onEvent(.frame(payload))
        }
        if buffer != nil { armIdleTimer(context) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        isClosed = true
        onEvent(.closed)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func refuse(_ error: CallSignallingError) {
        onEvent(.refused(error))
        buffer = nil
        close()
    }

    private func armIdleTimer(_ context: ChannelHandlerContext) {
        guard idleTimer == nil, !isClosed else { return }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(in: limits.incompleteTimeout) {
            let connection = loopBound.value
            connection.idleTimer = nil
            connection.onEvent(.idleTimeout)
            connection.close()
        }
    }
}

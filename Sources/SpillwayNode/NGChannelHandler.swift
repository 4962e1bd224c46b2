import Logging
import MediaPlane
import NGProtocol
import NIOCore

/// Feeds NG datagrams to the node's `NGProcessor` and sends its replies back to the sender; runs the
/// media-timeout sweep on the same event loop, so all call state stays on one thread.
final class NGChannelHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    typealias OutboundOut = AddressedEnvelope<ByteBuffer>

    private let processor: NGProcessor
    private let mediaTimeoutNanos: UInt64
    private var sweep: RepeatedTask?

    init(processor: NGProcessor, mediaTimeoutSeconds: Int) {
        self.processor = processor
        self.mediaTimeoutNanos = UInt64(mediaTimeoutSeconds) * 1_000_000_000
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        sweep = context.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            loopBound.value.expireIdleCalls()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        sweep?.cancel()
        sweep = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let request = Array(envelope.data.readableBytesView)
        guard let reply = processor.handle(request, from: "\(envelope.remoteAddress)") else { return }
        let buffer = context.channel.allocator.buffer(bytes: reply)
        context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: buffer)), promise: nil)
    }

    private func expireIdleCalls() {
        for callID in processor.registry.idleCallIDs(timeoutNanos: mediaTimeoutNanos) {
            processor.registry.expire(callID: callID)
        }
    }
}

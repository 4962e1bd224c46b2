import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// One reply to an HTTP GET.
package struct HTTPReply {
    package var status: HTTPResponseStatus
    package var contentType: String
    package var body: [UInt8]

    package init(status: HTTPResponseStatus, contentType: String, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    /// A JSON body with sorted keys.
    package static func json(_ value: some Encodable, status: HTTPResponseStatus = .ok) -> HTTPReply {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = (try? encoder.encode(value)).map { [UInt8]($0) } ?? Array("{}".utf8)
        return HTTPReply(status: status, contentType: "application/json", body: body)
    }

    /// `{"error": ...}` with the status.
    package static func failure(_ status: HTTPResponseStatus, _ message: String) -> HTTPReply {
        json(["error": message], status: status)
    }
}

/// Answers the GET requests of a small HTTP/1.1 interface (the monitor's queries, a node's
/// `/metrics` and `/status`) on the service's event loop. `answer` gets the request path (nil for
/// other methods) and calls back once with the reply, possibly later; each connection carries one
/// request.
package final class HTTPGetHandler: ChannelInboundHandler {
    package typealias InboundIn = HTTPServerRequestPart
    package typealias OutboundOut = HTTPServerResponsePart
    package typealias Answer = (_ path: String?, _ reply: @escaping (HTTPReply) -> Void) -> Void

    private let answer: Answer
    private var path: String?

    package init(answer: @escaping Answer) {
        self.answer = answer
    }

    /// Listens on `address`, answering every connection's request with `answer`.
    package static func listen(
        on address: String, loop: any EventLoop, answer: @escaping @Sendable () -> Answer
    ) async throws -> any Channel {
        try await ServerBootstrap(group: loop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(HTTPGetHandler(answer: answer()))
                }
            }
            .bind(to: try NIOCore.SocketAddress(hostAndPort: address))
            .get()
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            path = head.method == .GET ? head.uri : nil
        case .body:
            break
        case .end:
            let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            answer(path) { reply in Self.respond(loopContext.value, with: reply) }
        }
    }

    private static func respond(_ context: ChannelHandlerContext, with reply: HTTPReply) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: reply.contentType)
        headers.add(name: "Content-Length", value: "\(reply.body.count)")
        headers.add(name: "Connection", value: "close")
        context.write(
            NIOAny(
                HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: reply.status, headers: headers))
            ), promise: nil)
        context.write(
            NIOAny(HTTPServerResponsePart.body(.byteBuffer(context.channel.allocator.buffer(bytes: reply.body)))),
            promise: nil)
        let channel = context.channel
        context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }
}

import CallStore
import Logging
import NIOCore
import NIOPosix

/// One connection to Redis, driven from the node's event loop.
///
/// It connects (AUTH and SELECT first), sends commands pipelined and hands each reply to its
/// command's callback in order. Commands given while the connection is down wait in a bounded
/// queue; past the bound they are dropped and counted. A lost connection is retried with a growing
/// delay (at most `maximumRetryDelay`), and `onReady` runs after each (re)connection so that the
/// owner can write its whole state anew. Nothing here blocks or waits on Redis.
final class RedisLink {
    /// What the link has done since the node started.
    struct Counters {
        /// Commands Redis answered.
        var answered: UInt64 = 0
        /// Commands Redis answered with an error.
        var refused: UInt64 = 0
        /// Commands dropped because the queue was full, or lost with a dropped connection.
        var dropped: UInt64 = 0
        /// Connections made after the first.
        var reconnections: UInt64 = 0
    }

    typealias Reply = (Result<RESPValue, RedisLinkError>) -> Void

    let address: NIOCore.SocketAddress
    private(set) var counters = Counters()
    /// Runs after each (re)connection, once AUTH and SELECT are done.
    var onReady: (() -> Void)?
    private let database: Int
    private let password: String?
    private let queueLimit: Int
    private let loop: any EventLoop
    private let logger: Logger
    private var channel: (any Channel)?
    private var isReady = false
    private var waiting: [(command: [UInt8], reply: Reply?)] = []
    private var inFlight: [Reply?] = []
    private var retryDelay = RedisLink.minimumRetryDelay
    private var retry: Scheduled<Void>?
    private var stopped = false
    private var connections = 0
    private var flushPending = false
    private var handshakeRefusals: UInt64 = 0
    private var toldUnreachable = false

    static let minimumRetryDelay = TimeAmount.milliseconds(100)
    static let maximumRetryDelay = TimeAmount.seconds(2)

    init(
        address: NIOCore.SocketAddress, database: Int, password: String?, queueLimit: Int, loop: any EventLoop,
        logger: Logger
    ) {
        self.address = address
        self.database = database
        self.password = password
        self.queueLimit = queueLimit
        self.loop = loop
        self.logger = logger
    }

    /// Whether commands go to Redis now.
    var isConnected: Bool { isReady }
    /// Commands waiting for a connection, and sent but not yet answered.
    var queueDepth: Int { waiting.count + inFlight.count }

    /// Connects, and keeps reconnecting until `stop`.
    func start() {
        connect()
    }

    /// Closes the connection; queued commands are dropped.
    func stop() {
        stopped = true
        retry?.cancel()
        channel?.close(promise: nil)
        channel = nil
    }

    /// Sends a command now, or queues it while the link is down; `reply` hears Redis's answer or
    /// why there is none.
    func send(_ arguments: [String], reply: Reply? = nil) {
        send(bytes: arguments.map { Array($0.utf8) }, reply: reply)
    }

    /// Sends a command whose arguments are bytes.
    func send(bytes arguments: [[UInt8]], reply: Reply? = nil) {
        let command = RESP.command(arguments)
        guard isReady, let channel else {
            guard waiting.count < queueLimit else {
                counters.dropped += 1
                reply?(.failure(.queueFull(limit: queueLimit)))
                return
            }
            waiting.append((command, reply))
            return
        }
        write(command, reply: reply, on: channel)
    }

    // MARK: - Connection

    private func connect() {
        guard !stopped else { return }
        let loopBound = NIOLoopBound(self, eventLoop: loop)
        ClientBootstrap(group: loop)
            .connectTimeout(.seconds(1))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RESPReplyHandler(link: loopBound.value))
                }
            }
            .connect(to: address)
            .whenComplete { result in
                let link = loopBound.value
                switch result {
                case .success(let channel): link.connected(channel)
                case .failure(let error): link.lost(nil, because: "\(error)")
                }
            }
    }

    private func connected(_ channel: any Channel) {
        guard !stopped else { return channel.close(promise: nil) }
        self.channel = channel
        connections += 1
        if connections > 1 { counters.reconnections += 1 }
        if let password {
            write(RESP.command(["AUTH", password]), reply: { [self] in handshake($0, step: "AUTH") }, on: channel)
        }
        write(
            RESP.command(["SELECT", String(database)]), reply: { [self] in handshake($0, step: "SELECT") }, on: channel)
        write(
            RESP.command(["PING"]),
            reply: { [self] result in
                guard case .success = result, self.channel === channel else { return }
                isReady = true
                toldUnreachable = false
                retryDelay = Self.minimumRetryDelay
                logger.notice("connected to Redis", metadata: ["redis": "\(address)", "database": "\(database)"])
                let queued = waiting
                waiting = []
                for (command, reply) in queued { write(command, reply: reply, on: channel) }
                onReady?()
            }, on: channel)
    }

    /// A refused AUTH or SELECT closes the connection, which is tried again later. Logged at the
    /// 1st, 2nd, 4th, 8th... refusal, so a wrong password does not flood the log.
    private func handshake(_ result: Result<RESPValue, RedisLinkError>, step: String) {
        guard case .failure(let error) = result else { return }
        handshakeRefusals += 1
        if handshakeRefusals & (handshakeRefusals - 1) == 0 {
            logger.error(
                "Redis refused the connection's \(step); check --redis's database and --redis-auth-file",
                metadata: ["redis": "\(address)", "error": "\(error)", "refusals": "\(handshakeRefusals)"])
        }
        channel?.close(promise: nil)
    }

    /// The connection closed or could not be made: replies still due are lost, and the link tries
    /// again after a delay that doubles up to `maximumRetryDelay`.
    fileprivate func lost(_ lostChannel: (any Channel)?, because reason: String) {
        // A connection replaced since (or closed by `stop`) is no news.
        guard lostChannel == nil || lostChannel === channel else { return }
        let wasReady = isReady
        isReady = false
        channel = nil
        let unanswered = inFlight
        inFlight = []
        counters.dropped += UInt64(unanswered.count)
        for reply in unanswered { reply?(.failure(.connectionLost(reason))) }
        guard !stopped else { return }
        // Told once per outage: when a working link drops, or when the first attempt fails.
        if wasReady || !toldUnreachable {
            toldUnreachable = true
            logger.warning(
                "Redis is unreachable; relaying goes on, call-state writes wait in a bounded queue",
                metadata: ["redis": "\(address)", "reason": "\(reason)", "queue-limit": "\(queueLimit)"])
        }
        retry = loop.assumeIsolated().scheduleTask(in: retryDelay) { [self] in connect() }
        retryDelay = min(retryDelay * 2, Self.maximumRetryDelay)
    }

    /// Queues a command on the connection. The flush waits until the event loop has finished what
    /// it is doing (an NG reply goes out first), and carries every command written meanwhile in one
    /// system call.
    private func write(_ command: [UInt8], reply: Reply?, on channel: any Channel) {
        inFlight.append(reply)
        channel.write(channel.allocator.buffer(bytes: command), promise: nil)
        guard !flushPending else { return }
        flushPending = true
        loop.assumeIsolated().execute { [self] in
            flushPending = false
            channel.flush()
        }
    }

    fileprivate func received(_ value: RESPValue) {
        guard !inFlight.isEmpty else { return }
        let reply = inFlight.removeFirst()
        if case .error(let message) = value {
            counters.refused += 1
            reply?(.failure(.refused(message)))
        } else {
            counters.answered += 1
            reply?(.success(value))
        }
    }
}

/// Why a Redis command has no answer.
enum RedisLinkError: Error, CustomStringConvertible {
    case queueFull(limit: Int)
    case connectionLost(String)
    case refused(String)

    var description: String {
        switch self {
        case .queueFull(let limit): "Redis unreachable and \(limit) commands already waiting; this one was dropped"
        case .connectionLost(let reason): "the Redis connection was lost before the answer (\(reason))"
        case .refused(let message): "Redis answered: \(message)"
        }
    }
}

/// Reads RESP2 replies off the connection and hands them to the link, on its event loop.
private final class RESPReplyHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let link: RedisLink
    private var pending: [UInt8] = []

    init(link: RedisLink) {
        self.link = link
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        pending += Array(unwrapInboundIn(data).readableBytesView)
        var start = 0
        do {
            while let (value, consumed) = try RESP.decode(pending[start...]) {
                start += consumed
                link.received(value)
            }
        } catch {
            // Closing ends the connection through `channelInactive`, which tells the link.
            pending = []
            context.close(promise: nil)
            return
        }
        pending.removeFirst(start)
    }

    func channelInactive(context: ChannelHandlerContext) {
        link.lost(context.channel, because: "connection closed")
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

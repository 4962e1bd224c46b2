import H323
import NIOCore
import NIOPosix

/// A separate H.245 connection proxied through the node (H.225.0 §7.6, h245Address): the node
/// listens where it told one side to connect, and on that connection opens its own to the
/// other side's listener. Every H.245 message goes through the call, which rewrites the media
/// addresses of OpenLogicalChannel and its Ack. Runs on the node's event loop.
final class H245ChannelProxy {
    /// Where the side that did not give the h245Address is told to connect.
    let listeningAddress: NIOCore.SocketAddress
    /// The call that owns this proxy (and closes it when it ends).
    private weak var call: ProxiedCall?
    /// The side whose listener `target` is.
    private let listenerSide: CallSide
    private let target: NIOCore.SocketAddress
    private let port: CallSignallingPort
    private var listener: (any Channel)?
    /// The connections that are up, by the side at their far end.
    private var connections: [CallSide: TPKTConnection] = [:]
    /// The node's connection to the listener, from when it is opened until it is up.
    private var onward: TPKTConnection?
    /// Messages for the listener's side before the onward connection is up.
    private var waiting: [[UInt8]] = []
    private var isClosed = false

    init(
        call: ProxiedCall, towards side: CallSide, target: NIOCore.SocketAddress, host: String, port: CallSignallingPort
    ) throws {
        self.call = call
        self.listenerSide = side
        self.target = target
        self.port = port
        let socket = try ListeningSocket.open(host: host)
        listeningAddress = socket.address
        let loopBound = NIOLoopBound(self, eventLoop: port.loop)
        ServerBootstrap(group: port.loop)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try loopBound.value.accept(channel) }
            }
            .withBoundSocket(socket.descriptor)
            .whenComplete { result in
                let proxy = loopBound.value
                switch result {
                case .success(let channel):
                    proxy.listener = channel
                    if proxy.isClosed { channel.close(promise: nil) }
                case .failure(let error):
                    proxy.port.logger.warning(
                        "cannot listen for H.245", metadata: ["address": "\(socket.address)", "error": "\(error)"])
                }
            }
    }

    /// Sends an H.245 message to `side`, or holds it until that side's connection is up.
    func send(_ encoding: [UInt8], to side: CallSide) {
        if let connection = connections[side] {
            connection.send(encoding)
        } else if side == listenerSide {
            waiting.append(encoding)
        }
    }

    func close() {
        port.logger.debug("H.245 proxy closing", metadata: ["listening": "\(listeningAddress)"])
        isClosed = true
        listener?.close(promise: nil)
        for connection in connections.values { connection.close() }
        onward?.close()
    }

    /// The side that was told `listeningAddress` connects: the node connects on to the target.
    /// What the accepted side sends before that connection is up waits for it.
    private func accept(_ channel: any Channel) throws {
        let acceptedSide = listenerSide.other
        guard !isClosed, connections[acceptedSide] == nil else {
            channel.close(promise: nil)
            return
        }
        connections[acceptedSide] = try attach(channel, side: acceptedSide)
        let loopBound = NIOLoopBound(self, eventLoop: port.loop)
        var bootstrap = ClientBootstrap(group: port.loop)
        if let ip = channel.localAddress?.ipAddress, let local = try? NIOCore.SocketAddress(ipAddress: ip, port: 0),
            local.protocol == target.protocol
        {
            bootstrap = bootstrap.bind(to: local)
        }
        let side = listenerSide
        bootstrap.channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let proxy = loopBound.value
                proxy.onward = try proxy.attach(channel, side: side)
            }
        }
        .connect(to: target)
        .whenComplete { result in
            let proxy = loopBound.value
            switch result {
            case .success:
                // One connection per listener: it stops listening once both halves are up (not
                // while accepting, which would take the accepted channel down with it).
                proxy.listener?.close(promise: nil)
                guard let connection = proxy.onward, !proxy.isClosed else { return }
                proxy.connections[side] = connection
                for message in proxy.waiting { connection.send(message) }
                proxy.waiting = []
            case .failure(let error):
                proxy.port.logger.warning(
                    "cannot connect the H.245 channel", metadata: ["target": "\(proxy.target)", "error": "\(error)"])
                proxy.close()
            }
        }
    }

    private func attach(_ channel: any Channel, side: CallSide) throws -> TPKTConnection {
        let connection = TPKTConnection(limits: port.limits)
        connection.onEvent = { [weak self] event in
            guard let self else { return }
            switch event {
            case .frame(let encoding): call?.relayH245(encoding, from: side, on: self)
            case .refused(let error):
                port.count { $0.dropped[error.reason, default: 0] += 1 }
                close()
            case .idleTimeout:
                port.count { $0.dropped["idle-timeout", default: 0] += 1 }
            case .closed:
                port.logger.debug("H.245 connection closed", metadata: ["side": "\(side)"])
                // H.245 ends with its connection; the call goes on until ReleaseComplete.
                connections[side.other]?.close()
            }
        }
        try channel.pipeline.syncOperations.addHandler(connection)
        return connection
    }
}

import Logging
import MediaPlane
import NGProtocol
import NIOCore
import NIOPosix

/// One running Spillway relay node: the media plane, the call registry and the NG server.
public final class RelayNode: Sendable {
    public let configuration: NodeConfiguration
    /// The address the NG server is bound to (the real port when the configuration asked for 0).
    public let ngAddress: MediaPlane.SocketAddress
    private let group: MultiThreadedEventLoopGroup
    private let channel: any Channel
    private let workers: WorkerPool

    /// Validates the configuration, starts the media workers and binds the NG port.
    public static func start(_ configuration: NodeConfiguration, logger: Logger) async throws -> RelayNode {
        try configuration.validate()
        let logger = {
            var logger = logger
            logger[metadataKey: "node"] = "\(configuration.nodeID)"
            return logger
        }()
        let workers = try WorkerPool(workerCount: configuration.workers, pinning: configuration.pinCPUs, logger: logger)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let ng = MediaPlane.SocketAddress(hostAndPort: configuration.ngAddress)!
        let channel: any Channel
        do {
            channel = try await DatagramBootstrap(group: group)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let registry = CallRegistry(
                            mediaAddress: configuration.mediaIP, portRange: configuration.portRange,
                            workers: workers, logger: logger)
                        let processor = NGProcessor(registry: registry, logger: logger)
                        try channel.pipeline.syncOperations.addHandler(
                            NGChannelHandler(processor: processor, mediaTimeoutSeconds: configuration.mediaTimeout))
                    }
                }
                .bind(host: ng.ip, port: Int(ng.port))
                .get()
        } catch {
            workers.shutdown()
            try? await group.shutdownGracefully()
            throw NodeStartError.ngBindFailed(address: configuration.ngAddress, underlying: "\(error)")
        }
        let bound = channel.localAddress.flatMap { address in
            address.ipAddress.flatMap { MediaPlane.SocketAddress(ip: $0, port: UInt16(address.port ?? 0)) }
        } ?? ng
        logger.info(
            "node started",
            metadata: [
                "ng": "\(bound)", "media-ip": "\(configuration.mediaIP)",
                "port-range": "\(configuration.portRange.lowerBound)-\(configuration.portRange.upperBound)",
                "workers": "\(configuration.workers)",
            ])
        return RelayNode(configuration: configuration, ngAddress: bound, group: group, channel: channel, workers: workers)
    }

    private init(
        configuration: NodeConfiguration, ngAddress: MediaPlane.SocketAddress, group: MultiThreadedEventLoopGroup,
        channel: any Channel, workers: WorkerPool
    ) {
        self.configuration = configuration
        self.ngAddress = ngAddress
        self.group = group
        self.channel = channel
        self.workers = workers
    }

    /// Resolves when the NG channel closes.
    public func waitUntilClosed() async throws {
        try await channel.closeFuture.get()
    }

    /// Closes the NG port, stops the media workers and the event loop.
    public func shutdown() async {
        try? await channel.close()
        workers.shutdown()
        try? await group.shutdownGracefully()
    }
}

/// Why a node could not start.
public enum NodeStartError: Error, CustomStringConvertible {
    case ngBindFailed(address: String, underlying: String)

    public var description: String {
        switch self {
        case .ngBindFailed(let address, let underlying):
            "cannot listen for NG on \(address): \(underlying); is another relay (rtpengine?) already bound there?"
        }
    }
}

import CSpillwayShims
import Cluster
import H323
import H323Edge
import Logging
import MediaPlane
import NGProtocol
import NIOCore
import NIOPosix
import ServiceEdge

#if canImport(Glibc)
import Glibc
#endif

/// One running Spillway relay node: the media plane, the call registry, the NG server and, in a
/// cluster, the cluster port with workload sharing and steering.
public final class RelayNode: Sendable {
    public let configuration: NodeConfiguration
    /// The address the NG server is bound to (the real port when the configuration asked for 0).
    public let ngAddress: MediaPlane.SocketAddress
    /// The cluster port's address, when the node is in a cluster.
    public let clusterAddress: String?
    /// The RAS port's address, when the node answers H.225.0 RAS.
    public let rasAddress: String?
    /// The H.225.0 call-signalling port's address, when the node takes H.323 calls.
    public let callSignalAddress: String?
    /// Where `/metrics` and `/status` are served, when enabled.
    public let metricsAddress: String?
    private let runtime: ServiceRuntime<NodeLoopState>
    private let workers: WorkerPool
    private let logger: Logger

    /// What the media workers run on: the configured engine, or epoll where io_uring could not be opened.
    public var dataPlane: DataPlaneEngine { workers.engine }

    /// Validates the configuration, starts the media workers and binds the NG and cluster ports.
    public static func start(_ configuration: NodeConfiguration, logger: Logger) async throws -> RelayNode {
        try configuration.validate()
        let logger = {
            var logger = logger
            logger[metadataKey: "node"] = "\(configuration.nodeID)"
            return logger
        }()
        let seal = try configuration.clusterKeyFile.map { path throws(StartError) in try ClusterKeyFile.load(path) }
        let redisPassword = try configuration.redisAuthFile.map { path throws(StartError) in
            try Self.redisPassword(from: path)
        }
        if let directory = configuration.recordingDirectory, access(directory, W_OK | X_OK) != 0 {
            throw StartError.recordingDirectory(path: directory, reason: String(cString: strerror(errno)))
        }
        DescriptorLimit.raise(forPortRange: configuration.portRange, logger: logger)
        let kernel = try KernelPathStart.open(configuration, logger: logger)
        let workers: WorkerPool
        do {
            workers = try WorkerPool(
                workerCount: configuration.workers, pinning: configuration.pinCPUs, engine: configuration.dataPlane,
                kernel: kernel, logger: logger)
        } catch {
            kernel?.stop()
            throw error
        }
        var runtime = ServiceRuntime<NodeLoopState>()
        let (loop, state) = (runtime.loop, runtime.state)
        do {
            let ng = try await Self.bind("ng", configuration.ngAddress, on: loop) {
                { state.value?.receiveNG($0, from: $1) }
            }
            runtime.channels.append(ng)
            var cluster: (any Channel)?
            if let clusterAddress = configuration.clusterAddress {
                cluster = try await Self.bind("cluster", clusterAddress, on: loop) {
                    { state.value?.receiveCluster($0, from: $1) }
                }
                runtime.channels.append(cluster!)
            }
            var ras: (any Channel)?
            if let rasAddress = configuration.rasAddress {
                ras = try await Self.bind("ras", rasAddress, on: loop) {
                    { state.value?.ras?.receive($0, from: $1) }
                }
                runtime.channels.append(ras!)
            }
            var callSignal: (any Channel)?
            if let address = configuration.effectiveCallSignalAddress {
                do {
                    callSignal = try await CallSignallingPort.listen(on: address, loop: loop) {
                        state.value?.callSignalling
                    }
                } catch {
                    throw StartError.bindFailed(setting: "call-signal", address: address, underlying: "\(error)")
                }
                runtime.channels.append(callSignal!)
            }
            var metrics: (any Channel)?
            if let metricsAddress = configuration.metricsAddress {
                do {
                    metrics = try await HTTPGetHandler.listen(on: metricsAddress, loop: loop) {
                        { path, respond in respond(NodeHTTPPages.answer(path, node: state.value)) }
                    }
                } catch {
                    throw StartError.bindFailed(setting: "metrics", address: metricsAddress, underlying: "\(error)")
                }
                runtime.channels.append(metrics!)
            }
            let rasAddress = ras?.localAddress?.hostAndPort
            let identity = NodeIdentity(
                id: configuration.nodeID, ngAddress: ng.localAddress?.hostAndPort ?? configuration.ngAddress,
                clusterAddress: cluster?.localAddress?.hostAndPort ?? "",
                mediaIP: configuration.mediaInterfaces[0].advertisedIP, rasAddress: rasAddress,
                callSignalAddress: callSignal?.localAddress?.hostAndPort ?? configuration.effectiveCallSignalAddress)
            try await loop.submit { [cluster, ras] in
                state.value = try NodeLoopState(
                    identity: identity, configuration: configuration, workers: workers, ngChannel: ng,
                    clusterChannel: cluster, rasChannel: ras, seal: seal, redisPassword: redisPassword, loop: loop,
                    logger: logger)
            }.get()
            logger.info(
                "node started",
                metadata: [
                    "ng": "\(identity.ngAddress)",
                    "media": "\(configuration.mediaInterfaces.map(\.description).joined(separator: ","))",
                    "port-range": "\(configuration.portRange.lowerBound)-\(configuration.portRange.upperBound)",
                    "workers": "\(configuration.workers)", "data-plane": "\(workers.engine)",
                    "kernel-forwarding": "\(kernel == nil ? "off" : "on")",
                    "cluster": "\(identity.clusterAddress)",
                    "policy": "\(configuration.policy.rawValue)", "share": "\(configuration.share.rawValue)",
                    "peers": "\(configuration.peers.map(\.description))", "ras": "\(rasAddress ?? "off")",
                    "call-signal": "\(callSignal?.localAddress?.hostAndPort ?? "off")",
                    "h323-routes": "\(configuration.h323Routes)",
                    "metrics": "\(metrics?.localAddress?.hostAndPort ?? "off")",
                    "ng-clients": "\(configuration.ngClients)",
                ])
            return RelayNode(
                configuration: configuration,
                ngAddress: MediaPlane.SocketAddress(hostAndPort: identity.ngAddress) ?? MediaPlane.SocketAddress(
                    hostAndPort: configuration.ngAddress)!,
                clusterAddress: cluster == nil ? nil : identity.clusterAddress, rasAddress: rasAddress,
                callSignalAddress: callSignal?.localAddress?.hostAndPort,
                metricsAddress: metrics?.localAddress?.hostAndPort, runtime: runtime, workers: workers, logger: logger)
        } catch {
            await runtime.shutdown(beforeLoopEnds: workers.shutdown)
            throw error
        }
    }

    private static func bind(
        _ setting: String, _ address: String, on loop: any EventLoop,
        deliver: @escaping @Sendable () -> (([UInt8], NIOCore.SocketAddress) -> Void)
    ) async throws(StartError) -> any Channel {
        do {
            return try await DatagramBootstrap.bind(
                try NIOCore.SocketAddress(hostAndPort: address), on: loop, deliver: deliver)
        } catch {
            throw .bindFailed(setting: setting, address: address, underlying: "\(error)")
        }
    }

    /// The password in a Redis password file, without a trailing newline.
    private static func redisPassword(from path: String) throws(StartError) -> String {
        guard let bytes = readSecretFile(path, limit: 4096) else {
            throw .redisAuthFile(path: path, reason: "cannot be read (\(String(cString: strerror(errno))))")
        }
        guard !bytes.isEmpty else { throw .redisAuthFile(path: path, reason: "is empty") }
        return String(decoding: bytes, as: UTF8.self)
    }

    private init(
        configuration: NodeConfiguration, ngAddress: MediaPlane.SocketAddress, clusterAddress: String?,
        rasAddress: String?,
        callSignalAddress: String?, metricsAddress: String?, runtime: ServiceRuntime<NodeLoopState>,
        workers: WorkerPool, logger: Logger
    ) {
        self.configuration = configuration
        self.ngAddress = ngAddress
        self.clusterAddress = clusterAddress
        self.rasAddress = rasAddress
        self.callSignalAddress = callSignalAddress
        self.metricsAddress = metricsAddress
        self.runtime = runtime
        self.workers = workers
        self.logger = logger
    }

    /// Resolves when the NG channel closes.
    public func waitUntilClosed() async throws {
        try await runtime.waitUntilClosed()
    }

    /// Drains the node for shutdown: from now on it takes no new call (in a cluster, new calls spill
    /// to its peers, which hear its threshold is 0) while its own calls go on. Returns when the last
    /// call has ended, or when `grace` seconds have passed, with the number of calls still up.
    public func drain(grace: Double) async -> Int {
        await startDraining()
        return await waitForCallsToEnd(grace: grace)
    }

    /// Refuses new calls from now on; returns the number of calls up, once that is in force.
    @discardableResult
    public func startDraining() async -> Int {
        let state = runtime.state
        let calls = (try? await runtime.loop.submit { state.value?.startDraining() ?? 0 }.get()) ?? 0
        logger.notice("draining: refusing new calls, keeping existing ones", metadata: ["calls": "\(calls)"])
        return calls
    }

    /// Returns when the node carries no call, or after `grace` seconds, with the calls still up.
    public func waitForCallsToEnd(grace: Double) async -> Int {
        let state = runtime.state
        let deadline = ContinuousClock.now + .milliseconds(Int64(grace * 1000))
        while true {
            let calls = (try? await runtime.loop.submit { state.value?.registry.activeCallCount ?? 0 }.get()) ?? 0
            if calls == 0 || ContinuousClock.now >= deadline {
                logger.notice("drained", metadata: ["calls-left": "\(calls)", "grace-s": "\(grace)"])
                return calls
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Applies the settings of a reloaded configuration that can change while running
    /// (`reloadableSettings`); returns the settings that differ but need a restart, which keep
    /// their running values.
    public func reload(_ reloaded: NodeConfiguration) async -> [String] {
        let state = runtime.state
        try? await runtime.loop.submit { state.value?.apply(reloaded) }.get()
        return configuration.settingsNeedingRestart(toBecome: reloaded)
    }

    /// What the H.323 call-signalling port has done, when the node has one.
    public func h323Counters() async -> H323Counters? {
        let state = runtime.state
        return try? await runtime.loop.submit { state.value?.callSignalling?.counters }.get()
    }

    /// Stops the timers, closes the ports, stops the media workers and the event loop.
    public func shutdown() async {
        await runtime.shutdown(beforeLoopEnds: workers.shutdown)
    }
}

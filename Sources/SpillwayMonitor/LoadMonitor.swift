import Bencode
import CSpillwayShims
import Cluster
import H323
import H323Edge
import Logging
import NGProtocol
import NIOCore
import NIOPosix
import ServiceEdge

/// A running load monitor: collects the nodes' workload (polling, pushed reports, streams, or on
/// each query) and answers "which node has the lowest workload" over NG, HTTP JSON, and to nodes
/// in monitor mode over the cluster port.
public final class LoadMonitor: Sendable {
    public let configuration: MonitorConfiguration
    /// Where cluster messages and NG queries are received.
    public let listenAddress: String
    /// Where HTTP queries are answered, if enabled.
    public let httpAddress: String?
    /// Where H.225.0 RAS is answered, if enabled.
    public let rasAddress: String?
    private let runtime: ServiceRuntime<MonitorLoopState>

    public static func start(_ configuration: MonitorConfiguration, logger: Logger) async throws -> LoadMonitor {
        try configuration.validate()
        let seal = try ClusterKeyFile.load(configuration.clusterKeyFile)
        var runtime = ServiceRuntime<MonitorLoopState>()
        let (loop, state) = (runtime.loop, runtime.state)
        do {
            let listen = try await DatagramBootstrap.bind(
                try NIOCore.SocketAddress(hostAndPort: configuration.listenAddress), on: loop
            ) {
                { state.value?.receive($0, from: $1) }
            }
            runtime.channels.append(listen)
            var httpChannel: (any Channel)?
            if let httpAddress = configuration.httpAddress {
                httpChannel = try await HTTPGetHandler.listen(on: httpAddress, loop: loop) {
                    { path, respond in MonitorHTTPQueries.answer(path, monitor: state.value, then: respond) }
                }
                runtime.channels.append(httpChannel!)
            }
            var rasChannel: (any Channel)?
            if let rasAddress = configuration.rasAddress {
                rasChannel = try await DatagramBootstrap.bind(
                    try NIOCore.SocketAddress(hostAndPort: rasAddress), on: loop
                ) {
                    { state.value?.gatekeeper?.receive($0, from: $1) }
                }
                runtime.channels.append(rasChannel!)
            }
            try await loop.submit { [rasChannel] in
                state.value = try MonitorLoopState(
                    configuration: configuration, channel: listen, rasChannel: rasChannel, seal: seal, loop: loop,
                    logger: logger)
            }.get()
            let listenAddress = listen.localAddress?.hostAndPort ?? configuration.listenAddress
            logger.info(
                "load monitor started",
                metadata: [
                    "listen": "\(listenAddress)", "http": "\(httpChannel?.localAddress?.hostAndPort ?? "off")",
                    "ras": "\(rasChannel?.localAddress?.hostAndPort ?? "off")",
                    "collect": "\(configuration.collect.rawValue)",
                    "nodes": "\(configuration.nodes.map(\.description))",
                ])
            return LoadMonitor(
                configuration: configuration, listenAddress: listenAddress,
                httpAddress: httpChannel?.localAddress?.hostAndPort,
                rasAddress: rasChannel?.localAddress?.hostAndPort, runtime: runtime)
        } catch {
            await runtime.shutdown()
            throw error
        }
    }

    private init(
        configuration: MonitorConfiguration, listenAddress: String, httpAddress: String?, rasAddress: String?,
        runtime: ServiceRuntime<MonitorLoopState>
    ) {
        self.configuration = configuration
        self.listenAddress = listenAddress
        self.httpAddress = httpAddress
        self.rasAddress = rasAddress
        self.runtime = runtime
    }

    /// Resolves when the monitor's UDP port closes.
    public func waitUntilClosed() async throws {
        try await runtime.waitUntilClosed()
    }

    /// Stops collecting, closes the ports and ends the event loop.
    public func shutdown() async {
        await runtime.shutdown()
    }
}

/// The monitor's state on its event loop: the collector and the answers it gives.
final class MonitorLoopState: LoopConfinedState {
    private let configuration: MonitorConfiguration
    private let link: ClusterLink
    private let collector: WorkloadCollector
    let gatekeeper: MonitorGatekeeper?
    private let logger: Logger
    private var timer: LoopTimer?
    private let frontEnd: NGFrontEnd
    private(set) var answered: UInt64 = 0
    private(set) var allBusy: UInt64 = 0

    init(
        configuration: MonitorConfiguration, channel: any Channel, rasChannel: (any Channel)?, seal: ClusterSeal,
        loop: any EventLoop,
        logger: Logger
    ) throws {
        self.configuration = configuration
        gatekeeper = try rasChannel.map { rasChannel in
            guard let address = rasChannel.localAddress.flatMap({ TransportAddress($0) }) else {
                throw StartError.bindFailed(
                    setting: "ras", address: configuration.rasAddress ?? "", underlying: "not an IP address")
            }
            return MonitorGatekeeper(
                configuration: configuration, rasAddress: address, channel: rasChannel, logger: logger)
        }
        self.logger = logger
        frontEnd = NGFrontEnd(clients: configuration.ngClients, channel: channel, logger: logger)
        link = ClusterLink(sender: configuration.id, seal: seal, channel: channel, logger: logger)
        let strategy: WorkloadCollector.Strategy =
            switch configuration.collect {
            case .poll: .periodicPoll
            case .push: .passive
            case .continuous: .subscribe
            case .onQuery: .onDemand
            }
        collector = WorkloadCollector(
            nodes: try configuration.nodes.map { ($0.id, try NIOCore.SocketAddress(hostAndPort: $0.address)) },
            strategy: strategy, intervalNanos: UInt64(configuration.interval * 1e9),
            ageLimitNanos: UInt64(configuration.effectiveReportAgeLimit * 1e9),
            pollTimeoutNanos: UInt64(configuration.pollTimeout * 1e9), link: link, loop: loop, logger: logger)
        let interval = TimeAmount.nanoseconds(Int64(configuration.interval * 1e9))
        timer = LoopTimer(on: loop, initialDelay: .zero, every: interval) { [collector] in collector.tick() }
    }

    func stop() {
        timer?.cancel()
        timer = nil
    }

    /// The least-loaded node, leaving out `excluding`; fresh data first when collecting on query.
    /// Nil (all busy) unless that node admits by the monitor's data, for a client and a node asking
    /// where to spill alike. The node named is counted as having one more call until it reports.
    func leastLoaded(excluding: [String], then body: @escaping (NodeIdentity?, Double?) -> Void) {
        collector.withFreshView { [self] _ in
            guard let claimed = collector.claimLeastLoaded(excluding: excluding) else {
                allBusy += 1
                return body(nil, nil)
            }
            answered += 1
            body(claimed.node, claimed.choice.estimatedLoad)
        }
    }

    /// Every node as the monitor sees it.
    var table: PeerTable { collector.table }

    func receive(_ datagram: [UInt8], from address: NIOCore.SocketAddress) {
        if ClusterSeal.looksSealed(datagram) {
            receiveCluster(datagram, from: address)
        } else {
            receiveNG(datagram, from: address)
        }
    }

    private func receiveCluster(_ datagram: [UInt8], from address: NIOCore.SocketAddress) {
        guard let envelope = link.open(datagram, from: address) else { return }
        switch envelope.message {
        case .report(let report):
            collector.receive(report, sender: envelope.sender, from: address)
        case .locate(let id, let excluding):
            leastLoaded(excluding: excluding) { [link] node, _ in link.send(.located(id: id, node: node), to: address) }
        case .poll, .subscribe, .forward, .forwardReply, .located:
            link.refuse(.malformed, from: address)
        }
    }

    /// NG on the monitor: `ping`, `query` (the least-loaded node) and `statistics` (every node).
    private func receiveNG(_ datagram: [UInt8], from address: NIOCore.SocketAddress) {
        frontEnd.receive(datagram, from: address) { command, request in
            let reply = { [frontEnd] (body: BencodeValue) in frontEnd.answer(request, with: body) }
            switch command["command"]?.stringValue {
            case "ping":
                reply(NGReply.pong)
            case "query":
                leastLoaded(excluding: []) { node, load in
                    guard let node else {
                        let reason = "all nodes busy: no node reports a load below its threshold"
                        return reply(
                            NGReply.clientSupportsLoadLimit(command) ? NGReply.loadLimit(reason) : NGReply.error(reason)
                        )
                    }
                    reply([
                        "result": "ok", "node": .string(node.id), "ng": .string(node.ngAddress),
                        "cluster": .string(node.clusterAddress), "media-ip": .string(node.mediaIP),
                        "load": .string(ratioText(load ?? 0)),
                    ])
                }
            case "statistics":
                reply([
                    "result": "ok", "nodes": PeerStatus.bencoded(table), "answered": .integer(Int64(answered)),
                    "all-busy": .integer(Int64(allBusy)),
                    "refused-clients": .integer(Int64(frontEnd.counters.refusedClients)),
                ])
            case let other?:
                reply(NGReply.error("the load monitor answers ping, query and statistics, not '\(other)'"))
            case nil:
                reply(NGReply.error("not an NG request: expected a bencoded dictionary with a 'command'"))
            }
        }
    }
}

import CSpillwayShims
import Cluster
import H323
import H323Edge
import Logging
import NIOCore
import ServiceEdge

/// The load monitor as an H.323 gatekeeper (monitor mode over RAS): the configured nodes register
/// (RRQ, their node id as H.323-ID, which becomes their endpoint identifier) and report their
/// workload in RAI; endpoints register to send ARQ. A client's LRQ or ARQ is
/// answered with the least-loaded node's call signalling and RAS addresses (LCF/ACF), or
/// LRJ/ARJ `resourceUnavailable` when no node takes calls. Runs on the monitor's event loop.
final class MonitorGatekeeper {
    private let server: RASServer
    /// The nodes' RAS reports, kept apart from the cluster reports the monitor may also collect.
    private(set) var table: PeerTable
    private var reportSequence: UInt64 = 0
    private let logger: Logger

    init(configuration: MonitorConfiguration, rasAddress: TransportAddress, channel: any Channel, logger: Logger) {
        server = RASServer(
            gatekeeperIdentifier: configuration.id, rasAddress: rasAddress, callSignalAddresses: [],
            transport: RASTransport(channel: channel),
            logger: logger)
        table = PeerTable(
            peers: configuration.nodes.map { ($0.id, $0.address) },
            ageLimitNanos: UInt64(configuration.effectiveReportAgeLimit * 1e9))
        self.logger = logger
    }

    var counters: RASCounters { server.counters }

    func receive(_ datagram: [UInt8], from source: NIOCore.SocketAddress) {
        server.receive(datagram, from: source) { message, key, source in
            switch message {
            case .resourcesAvailableIndicate(let indication):
                record(indication)
                server.answer(
                    key, .resourcesAvailableConfirm(ResourcesAvailableConfirm(requestSeqNum: indication.requestSeqNum)),
                    to: source)
            case .locationRequest(let request):
                let answer: RASMessage =
                    if let node = leastLoaded() {
                        .locationConfirm(
                            LocationConfirm(
                                requestSeqNum: request.requestSeqNum, callSignalAddress: node.callSignal,
                                rasAddress: node.ras))
                    } else {
                        .locationReject(
                            LocationReject(requestSeqNum: request.requestSeqNum, rejectReason: .resourceUnavailable))
                    }
                server.answer(key, answer, to: RASTransport.socketAddress(request.replyAddress, otherwise: source))
            case .admissionRequest(let request):
                let answer: RASMessage =
                    if !server.isRegistered(request.endpointIdentifier) {
                        .admissionReject(
                            AdmissionReject(requestSeqNum: request.requestSeqNum, rejectReason: .callerNotRegistered))
                    } else if let node = leastLoaded() {
                        // The call's signalling runs through the node named, which relays it.
                        .admissionConfirm(
                            AdmissionConfirm(
                                requestSeqNum: request.requestSeqNum, bandWidth: request.bandWidth,
                                callModel: .gatekeeperRouted,
                                destCallSignalAddress: node.callSignal))
                    } else {
                        .admissionReject(
                            AdmissionReject(requestSeqNum: request.requestSeqNum, rejectReason: .resourceUnavailable))
                    }
                server.answer(key, answer, to: source)
            default:
                server.count { $0.unsupported += 1 }
                logger.debug(
                    "RAS message not handled by the load monitor",
                    metadata: ["message": "\(message.name)", "from": "\(source)"])
            }
        }
    }

    /// An RAI from a registered node becomes a workload report: load is the share of its call
    /// capacity in use (from almostOutOfResources alone without capacity figures), and a node
    /// almost out of resources does not admit.
    private func record(_ indication: ResourcesAvailableIndicate) {
        guard let registration = server.registration(indication.endpointIdentifier), let ras = registration.rasAddress,
            let callSignal = registration.callSignalAddress
        else {
            logger.notice(
                "RAI from an endpoint that is not registered; it registers again when no RAC comes",
                metadata: ["endpoint": "\(indication.endpointIdentifier)"])
            return
        }
        let maximum = Int(indication.capacity?.maximum?.callsAvailable[.terminal]?.first?.calls ?? 0)
        let available = Int(indication.capacity?.current?.callsAvailable[.terminal]?.first?.calls ?? 0)
        let load =
            maximum > 0
            ? min(1, max(0, 1 - Double(available) / Double(maximum))) : (indication.almostOutOfResources ? 1 : 0)
        reportSequence += 1
        let report = WorkloadReport(
            node: NodeIdentity(
                id: registration.endpointIdentifier, ngAddress: "", clusterAddress: "", mediaIP: "",
                rasAddress: "\(ras)",
                callSignalAddress: "\(callSignal)"),
            load: load, threshold: indication.almostOutOfResources ? 0 : 1,
            usage: ResourceUsage(sessions: max(0, maximum - available)), capacity: ResourceCapacity(sessions: maximum),
            boot: 1, sequence: reportSequence, madeAtWallNanos: spw_wall_nanos())
        switch table.record(report, now: spw_monotonic_nanos(), ageAtArrivalNanos: 0) {
        case .recorded:
            server.count { $0.reportsReceived += 1 }
        case .unknownNode:
            logger.notice(
                "RAI from a registered endpoint that is not one of the monitor's nodes; ignored",
                metadata: ["endpoint": "\(indication.endpointIdentifier)", "nodes": "\(table.peers.map(\.id))"])
        case .stale, .superseded:
            break
        }
    }

    /// The least-loaded node that admits, counted as having one more call until it reports.
    private func leastLoaded() -> (ras: TransportAddress, callSignal: TransportAddress)? {
        guard let node = table.claimLeastLoaded(excluding: [], now: spw_monotonic_nanos())?.node,
            let ras = node.rasAddress.flatMap(TransportAddress.init(hostAndPort:)),
            let callSignal = node.callSignalAddress.flatMap(TransportAddress.init(hostAndPort:))
        else {
            server.count { $0.allBusy += 1 }
            return nil
        }
        server.count { $0.admitted += 1 }
        return (ras, callSignal)
    }
}

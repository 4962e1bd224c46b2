import Cluster
import H323
import Logging
import NIOCore
import ServiceEdge

/// A node's standing with a load monitor that acts as its H.323 gatekeeper (monitor mode over
/// RAS): it registers (RRQ, naming its call signalling and RAS addresses, its node id as H.323-ID)
/// and then reports its workload each interval in an RAI (almostOutOfResources when over its
/// threshold, its call capacity). An RAI left unconfirmed by the next interval, or a lost
/// registration, sends the node back to registering.
final class MonitorRegistration {
    private let identity: NodeIdentity
    private let rasAddress: TransportAddress
    private let callSignalAddress: TransportAddress
    private let meter: WorkloadMeter
    private let monitor: NIOCore.SocketAddress
    private let transport: RASTransport
    private let logger: Logger
    private var sequenceNumbers = RequestSequence()
    /// The identifier the monitor's RCF assigned; nil until registered.
    private(set) var endpointIdentifier: String?
    private var awaiting: (sequenceNumber: UInt16, isRegistration: Bool)?
    private(set) var reportsSent: UInt64 = 0
    private(set) var reportsConfirmed: UInt64 = 0

    init(
        identity: NodeIdentity, rasAddress: TransportAddress, callSignalAddress: TransportAddress, meter: WorkloadMeter,
        monitor: NIOCore.SocketAddress, transport: RASTransport, logger: Logger
    ) {
        self.identity = identity
        self.rasAddress = rasAddress
        self.callSignalAddress = callSignalAddress
        self.meter = meter
        self.monitor = monitor
        self.transport = transport
        self.logger = logger
    }

    func tick() {
        if let awaiting, !awaiting.isRegistration {
            logger.warning(
                "load monitor did not confirm a workload report (RAI); registering again",
                metadata: ["monitor": "\(monitor)"])
            endpointIdentifier = nil
        }
        guard let endpointIdentifier else { return register() }
        report(as: endpointIdentifier)
    }

    func receive(_ message: RASMessage) {
        guard let awaiting, awaiting.sequenceNumber == message.requestSeqNum else { return }
        self.awaiting = nil
        switch message {
        case .registrationConfirm(let confirm):
            endpointIdentifier = confirm.endpointIdentifier
            logger.info(
                "registered with the load monitor's RAS port",
                metadata: ["monitor": "\(monitor)", "endpoint": "\(confirm.endpointIdentifier)"])
            report(as: confirm.endpointIdentifier)
        case .registrationReject(let reject):
            logger.error(
                "load monitor refused this node's RAS registration; it retries at the next interval",
                metadata: ["monitor": "\(monitor)", "reason": "\(reject.rejectReason)", "node": "\(identity.id)"])
        case .resourcesAvailableConfirm:
            reportsConfirmed += 1
        default:
            break
        }
    }

    private func register() {
        let request = RegistrationRequest(
            requestSeqNum: sequenceNumbers.next(), discoveryComplete: false, callSignalAddress: [callSignalAddress],
            rasAddress: [rasAddress],
            terminalType: .spillwayNode, terminalAlias: [.h323ID(identity.id)],
            endpointVendor: EndpointType.spillwayNode.vendor!)
        awaiting = (request.requestSeqNum, true)
        transport.send(.registrationRequest(request), to: monitor)
    }

    private func report(as endpointIdentifier: String) {
        let capacity = RASCapacity(meter: meter)
        let indication = ResourcesAvailableIndicate(
            requestSeqNum: sequenceNumbers.next(), endpointIdentifier: endpointIdentifier, protocols: [.h323],
            almostOutOfResources: capacity.almostOutOfResources, capacity: capacity.callCapacity)
        awaiting = (indication.requestSeqNum, false)
        reportsSent += 1
        transport.send(.resourcesAvailableIndicate(indication), to: monitor)
    }
}

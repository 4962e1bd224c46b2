import CSpillwayShims
import Cluster
import H323
import Logging
import NGProtocol
import NIOCore
import ServiceEdge

/// Where an LCF for a forwarded LRQ goes (`--ras-reply`).
public enum RASReplyMode: String, CaseIterable, Sendable {
    /// The node that takes the call answers the original requester's replyAddress itself.
    case direct
    /// Each forwarder waits for the answer and passes it back: the reverse path of the forwarders.
    case reverse
}

/// A node's H.225.0 RAS port: a gatekeeper that admits calls onto this node.
///
/// LRQ and ARQ are call connection requests. Below its threshold the node answers LCF/ACF naming
/// its own call signalling and RAS addresses. Over it, the deployment's steering policy picks
/// another node and the node sends it an LRQ with hopCount decremented and RIP to the requester;
/// the answer reaches the requester directly or back along the forwarders (`RASReplyMode`).
/// Nobody below threshold: LRJ/ARJ `resourceUnavailable`. Endpoints register (RRQ) before they
/// send ARQ; retransmitted requests are answered from a cache. Runs on the node's event loop.
final class RASEndpoint {
    /// This node's H.225.0 addresses.
    let rasAddress: TransportAddress
    let callSignalAddress: TransportAddress
    private let identity: NodeIdentity
    private let meter: WorkloadMeter
    private let planner: SpillPlanner
    private let configuration: NodeConfiguration
    private let server: RASServer
    private let loop: any EventLoop
    private let logger: Logger
    /// Forwarded LRQs waiting for their answer, by the sequence number this node gave them.
    private var pending: [UInt16: PendingLocation] = [:]
    private var sequenceNumbers = RequestSequence()
    private let monitorRegistration: MonitorRegistration?
    var counters: RASCounters { server.counters }

    /// The endpoint registered here under any of `aliases`: where a routed Setup for them goes.
    func registration(matchingAnyOf aliases: [AliasAddress]) -> RegistrationTable.Registration? {
        server.registration(matchingAnyOf: aliases)
    }

    /// Who asked for a call this node forwards, and how to answer them.
    private enum Requester {
        case location(LocationRequest, source: NIOCore.SocketAddress)
        case admission(AdmissionRequest, source: NIOCore.SocketAddress)

        var source: NIOCore.SocketAddress {
            switch self {
            case .location(_, let source), .admission(_, let source): source
            }
        }

        /// Where RIP and the answer go.
        var replyDestination: NIOCore.SocketAddress {
            switch self {
            case .location(let request, let source): RASTransport.socketAddress(request.replyAddress, otherwise: source)
            case .admission(_, let source): source
            }
        }

        var requestSeqNum: UInt16 {
            switch self {
            case .location(let request, _): request.requestSeqNum
            case .admission(let request, _): request.requestSeqNum
            }
        }
    }

    /// A call request this node is placing, as it arrived.
    private struct Placing {
        var requester: Requester
        /// The requester's request, as the server keys it (for the answer and its retransmissions).
        var key: String
        var placement: CallPlacement
    }

    private struct PendingLocation {
        var call: Placing
        /// The LRQ as forwarded.
        var request: LocationRequest
        var target: SpillPlanner.Target
        var targetAddress: NIOCore.SocketAddress
        var timer: LoopTimer
    }

    init(
        identity: NodeIdentity, rasAddress: TransportAddress, callSignalAddress: TransportAddress, meter: WorkloadMeter,
        planner: SpillPlanner, configuration: NodeConfiguration, channel: any Channel, loop: any EventLoop,
        logger: Logger
    ) throws {
        self.identity = identity
        self.rasAddress = rasAddress
        self.callSignalAddress = callSignalAddress
        self.meter = meter
        self.planner = planner
        self.configuration = configuration
        let transport = RASTransport(channel: channel)
        server = RASServer(
            gatekeeperIdentifier: identity.id, rasAddress: rasAddress, callSignalAddresses: [callSignalAddress],
            transport: transport,
            logger: logger)
        self.loop = loop
        self.logger = logger
        monitorRegistration = try configuration.monitorRASAddress.map { monitor in
            MonitorRegistration(
                identity: identity, rasAddress: rasAddress, callSignalAddress: callSignalAddress, meter: meter,
                monitor: try NIOCore.SocketAddress(hostAndPort: monitor), transport: transport, logger: logger)
        }
    }

    // MARK: - Receiving

    func receive(_ datagram: [UInt8], from source: NIOCore.SocketAddress) {
        server.receive(datagram, from: source) { message, key, source in
            switch message {
            case .infoRequest(let request):
                server.answer(
                    key, .infoRequestResponse(describe(request)),
                    to: RASTransport.socketAddress(request.replyAddress, otherwise: source))
            case .locationRequest(let request):
                place(.location(request, source: source), key: key)
            case .admissionRequest(let request):
                guard server.isRegistered(request.endpointIdentifier) else {
                    server.count { $0.notRegistered += 1 }
                    return server.answer(
                        key,
                        .admissionReject(
                            AdmissionReject(requestSeqNum: request.requestSeqNum, rejectReason: .callerNotRegistered)),
                        to: source)
                }
                place(.admission(request, source: source), key: key)
            case .locationConfirm(let confirm):
                receiveAnswer(confirm.requestSeqNum, .located(confirm))
            case .locationReject(let reject):
                receiveAnswer(reject.requestSeqNum, .rejected(reject.rejectReason))
            case .requestInProgress(let progress):
                receiveAnswer(progress.requestSeqNum, .inProgress)
            case .registrationConfirm, .registrationReject, .resourcesAvailableConfirm:
                monitorRegistration?.receive(message)
            default:
                server.count { $0.unsupported += 1 }
                logger.debug(
                    "RAS message not handled by a relay node",
                    metadata: ["message": "\(message.name)", "from": "\(source)"])
            }
        }
    }

    /// Runs once per share interval: reports to the monitor in monitor mode.
    func tick() {
        monitorRegistration?.tick()
    }

    // MARK: - Information

    /// IRR: this node and its call capacity.
    private func describe(_ request: InfoRequest) -> InfoRequestResponse {
        InfoRequestResponse(
            requestSeqNum: request.requestSeqNum, endpointType: .spillwayNode, endpointIdentifier: identity.id,
            rasAddress: rasAddress,
            callSignalAddress: [callSignalAddress], endpointAlias: [.h323ID(identity.id)],
            capacity: RASCapacity(meter: meter).callCapacity)
    }

    // MARK: - Placing calls

    private func place(_ requester: Requester, key: String) {
        let call = Placing(requester: requester, key: key, placement: placement(of: requester))
        let admitsHere = meter.admitsNewCall
        // Retransmissions are absorbed while a poll round or the monitor's answer is awaited.
        if !admitsHere { server.beginWork(on: key) }
        planner.place(call.placement, admitsHere: admitsHere, reachedOn: .ras) { [self] in act(on: $0, for: call) }
    }

    /// How far a request may still travel, and where it has been: an LRQ's hopCount counts the
    /// gatekeepers it may still pass through, this one included, and Spillway's generic data names
    /// the nodes before this one.
    private func placement(of requester: Requester) -> CallPlacement {
        switch requester {
        case .location(let request, _):
            CallPlacement(
                hopsLeft: request.hopCount.map { Int($0) - 1 } ?? configuration.maxHops,
                visited: VisitedNodes(in: request.genericData)?.nodes ?? [])
        case .admission:
            CallPlacement(hopsLeft: configuration.maxHops)
        }
    }

    /// Carries out the steering outcome: LCF/ACF naming this node, an LRQ to the node chosen, or LRJ/ARJ.
    private func act(on outcome: SpillPlanner.Outcome, for call: Placing) {
        switch outcome {
        case .takeHere:
            server.count { $0.admitted += 1 }
            server.answer(
                call.key,
                confirmation(for: call.requester, callSignalAddress: callSignalAddress, rasAddress: rasAddress),
                to: call.requester.replyDestination)
        case .allBusy(let reason):
            refuse(call, because: reason)
        case .forward(let target, let address, let carried):
            forward(call, to: target, at: address, carrying: carried)
        }
    }

    /// Sends the request on as an LRQ carrying `carried` (hopCount and the visited nodes). A location
    /// request in direct mode keeps its sequence number and replyAddress and is forgotten; otherwise
    /// this node waits for the answer.
    private func forward(
        _ call: Placing, to target: SpillPlanner.Target, at address: NIOCore.SocketAddress,
        carrying carried: CallPlacement
    ) {
        server.count { $0.forwarded += 1 }
        tellToWait(call.requester, hopsLeft: carried.hopsLeft)
        var request: LocationRequest
        switch call.requester {
        case .location(let original, _):
            request = original
            if configuration.rasReply == .direct {
                request.carry(carried)
                server.send(.locationRequest(request), to: address)
                // The answer goes straight to the requester: nothing is left to wait for here.
                server.endWork(on: call.key)
                return
            }
        case .admission(let admission, _):
            request = LocationRequest(
                requestSeqNum: 0, destinationInfo: admission.destinationInfo ?? [], replyAddress: rasAddress,
                sourceInfo: admission.srcInfo, callIdentifier: admission.callIdentifier)
        }
        request.requestSeqNum = sequenceNumbers.next()
        request.replyAddress = rasAddress
        request.gatekeeperIdentifier = identity.id
        request.carry(carried)
        server.send(.locationRequest(request), to: address)
        pending[request.requestSeqNum] = PendingLocation(
            call: call, request: request, target: target, targetAddress: address, timer: watch(request, sentTo: address)
        )
    }

    /// RIP to the requester: wait for as many forward timeouts as the request may still travel hops.
    private func tellToWait(_ requester: Requester, hopsLeft: Int) {
        let delay = UInt16(min(65_535, Int(configuration.forwardTimeout * 1000) * (hopsLeft + 1)))
        server.send(
            .requestInProgress(RequestInProgress(requestSeqNum: requester.requestSeqNum, delay: delay)),
            to: requester.replyDestination)
    }

    /// Resends a forwarded LRQ once halfway to the forward timeout, and gives up on its target at the timeout.
    private func watch(_ request: LocationRequest, sentTo address: NIOCore.SocketAddress) -> LoopTimer {
        let half = TimeAmount.nanoseconds(Int64(configuration.forwardTimeout * 5e8))
        var attempts = 0
        return LoopTimer(on: loop, initialDelay: half, every: half) { [unowned self] in
            attempts += 1
            guard attempts >= 2 else { return server.send(.locationRequest(request), to: address) }
            forwardTimedOut(request.requestSeqNum)
        }
    }

    private func forwardTimedOut(_ sequenceNumber: UInt16) {
        guard let forwarded = pending.removeValue(forKey: sequenceNumber) else { return }
        forwarded.timer.cancel()
        server.count { $0.forwardTimeouts += 1 }
        logger.warning(
            "node did not answer a forwarded LRQ; marked down",
            metadata: ["peer": "\(forwarded.target.id)", "address": "\(forwarded.targetAddress)"])
        planner.retry(forwarded.call.placement, after: forwarded.target.id, reachedOn: .ras) { [self] in
            act(on: $0, for: forwarded.call)
        }
    }

    private enum Answer {
        case located(LocationConfirm)
        case rejected(LocationRejectReason)
        case inProgress
    }

    private func receiveAnswer(_ sequenceNumber: UInt16, _ answer: Answer) {
        guard var forwarded = pending[sequenceNumber] else {
            server.count { $0.lateAnswers += 1 }
            return
        }
        let requester = forwarded.call.requester
        switch answer {
        case .inProgress:
            // The target is forwarding in turn: wait longer, and tell the requester to.
            forwarded.timer.cancel()
            forwarded.timer = watch(forwarded.request, sentTo: forwarded.targetAddress)
            pending[sequenceNumber] = forwarded
            tellToWait(requester, hopsLeft: Int(forwarded.request.hopCount ?? 1))
            return
        case .located(let confirm):
            finish(sequenceNumber)
            server.answer(
                forwarded.call.key,
                confirmation(
                    for: requester, callSignalAddress: confirm.callSignalAddress, rasAddress: confirm.rasAddress),
                to: requester.replyDestination)
        case .rejected(let reason):
            finish(sequenceNumber)
            reject(forwarded.call, reason: reason, detail: "node '\(forwarded.target.id)' answered \(reason)")
        }
    }

    private func finish(_ sequenceNumber: UInt16) {
        pending.removeValue(forKey: sequenceNumber)?.timer.cancel()
    }

    private func confirmation(
        for requester: Requester, callSignalAddress: TransportAddress, rasAddress: TransportAddress
    ) -> RASMessage {
        switch requester {
        case .location(let request, _):
            .locationConfirm(
                LocationConfirm(
                    requestSeqNum: request.requestSeqNum, callSignalAddress: callSignalAddress, rasAddress: rasAddress))
        case .admission(let request, _):
            .admissionConfirm(
                AdmissionConfirm(
                    requestSeqNum: request.requestSeqNum, bandWidth: request.bandWidth, callModel: .gatekeeperRouted,
                    destCallSignalAddress: callSignalAddress))
        }
    }

    /// LRJ/ARJ for a call no node takes: `hopCountExceeded` when the hop limit stopped it,
    /// `resourceUnavailable` otherwise.
    private func refuse(_ call: Placing, because reason: AllBusyReason) {
        if reason == .hopLimitReached { server.count { $0.hopLimit += 1 } }
        reject(call, reason: reason == .hopLimitReached ? .hopCountExceeded : .resourceUnavailable, detail: "\(reason)")
    }

    /// LRJ with `reason`, or ARJ (`resourceUnavailable` whatever stopped the walk).
    private func reject(_ call: Placing, reason: LocationRejectReason, detail: String) {
        server.count { $0.allBusy += 1 }
        logger.notice(
            "refused a RAS call request: all nodes busy",
            metadata: [
                "request": "\(call.key)", "reason": "\(reason)", "detail": "\(detail)",
                "tried": "\(call.placement.visited + [identity.id])",
                "load": "\(ratioText(meter.workload.load))",
            ])
        let message: RASMessage =
            switch call.requester {
            case .location(let request, _):
                .locationReject(LocationReject(requestSeqNum: request.requestSeqNum, rejectReason: reason))
            case .admission(let request, _):
                .admissionReject(
                    AdmissionReject(requestSeqNum: request.requestSeqNum, rejectReason: .resourceUnavailable))
            }
        server.answer(call.key, message, to: call.requester.replyDestination)
    }
}

extension LocationRequest {
    /// Sets what a forwarded LRQ carries of its placement: hopCount (the gatekeepers it may still
    /// pass through, the next one included) and Spillway's visited nodes among its generic data.
    mutating func carry(_ placement: CallPlacement) {
        hopCount = UInt8(min(255, max(1, placement.hopsLeft + 1)))
        genericData =
            (genericData ?? []).filter { $0.id != VisitedNodes.identifier } + [
                VisitedNodes(placement.visited).genericData
            ]
    }
}

/// RAS requestSeqNum values for the requests a node originates: 1...65535, wrapping.
struct RequestSequence {
    private var last = UInt16.random(in: 1...UInt16.max)

    mutating func next() -> UInt16 {
        last = last == UInt16.max ? 1 : last + 1
        return last
    }
}

extension EndpointType {
    /// How a Spillway node describes itself: a gateway for H.323.
    static let spillwayNode = EndpointType(
        vendor: VendorIdentifier(
            vendor: H221NonStandard(t35CountryCode: 0, t35Extension: 0, manufacturerCode: 0),
            productID: Array("Spillway".utf8)),
        gatewayProtocols: [.h323])
}

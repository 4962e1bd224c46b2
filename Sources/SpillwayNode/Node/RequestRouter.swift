import Bencode
import CSpillwayShims
import Cluster
import Logging
import MediaPlane
import NGProtocol
import NIOCore

/// The parts of a node that make it a cluster member: its cluster port, what it knows of its peers,
/// what it tells them, and where it spills.
struct ClusterMembership {
    let link: ClusterLink
    let collector: WorkloadCollector
    let reporter: WorkloadReporter
}

/// Decides which node runs each NG command, and gets the reply back to whoever asked.
///
/// A new call (an `offer` for an unknown call-id) is run here when this node's load is below its
/// threshold; otherwise the steering policy picks another node and the command is forwarded there
/// with the hop count and the nodes visited, and the reply comes back along the same path. The node
/// that first received the call remembers its owner and proxies the call's later commands to it.
/// Everything runs on the node's event loop.
final class RequestRouter {
    let identity: NodeIdentity
    private let processor: NGProcessor
    let meter: WorkloadMeter
    let cluster: ClusterMembership?
    private let planner: SpillPlanner
    private let configuration: NodeConfiguration
    /// Where NG commands are taken from; a reloaded config file may change it.
    var ngClients: ClientNetworks
    private let logger: Logger
    private let loop: any EventLoop
    private let ngChannel: any Channel

    private var replies = ReplyCache<[UInt8]>()
    private var forwardedReplies = ReplyCache<ForwardedReply>()
    private var inFlight: Set<RequestKey> = []
    /// Calls first received here but anchored elsewhere: call-id -> the owning node.
    private var owners: [String: NodeIdentity] = [:]
    private var forwards: [UInt64: PendingForward] = [:]
    private var nextForwardID = UInt64.random(in: 1...UInt64.max / 2)
    private(set) var counters = RoutingCounters()
    /// The RAS port's counters for `statistics`, when the node answers RAS.
    var rasStatistics: (() -> BencodeValue)?
    /// The call-signalling port's counters, for `statistics`, when the node takes H.323 calls.
    var h323Statistics: (() -> BencodeValue)?

    /// Who is waiting for a command's reply.
    private enum Origin: CustomStringConvertible {
        /// An NG client, answered on the NG port with its cookie.
        case client(NIOCore.SocketAddress, cookie: String)
        /// A node that forwarded the command here, answered on the cluster port.
        case peer(NIOCore.SocketAddress, forwardID: UInt64)

        var description: String {
            switch self {
            case .client(let address, _): "\(address)"
            case .peer(let address, let id): "\(address) (forwarded request \(id))"
            }
        }

        var key: RequestKey {
            switch self {
            case .client(let address, let cookie): RequestKey(source: "ng:\(address)", id: cookie)
            case .peer(let address, let id): RequestKey(source: "cluster:\(address)", id: "\(id)")
            }
        }
    }

    private struct RequestKey: Hashable {
        var source: String
        var id: String
    }

    /// A command sent to another node, waiting for its reply.
    private struct PendingForward {
        enum Purpose {
            /// Placing a new call; on success the target's owner is remembered.
            case newCall(NewCall)
            /// A later command for a call anchored on `owner`.
            case proxy(callID: String, owner: NodeIdentity, isDelete: Bool)
        }
        var origin: Origin
        var message: ForwardedRequest
        var target: SpillPlanner.Target
        var purpose: Purpose
        var retransmissions: LoopTimer?
    }

    init(
        identity: NodeIdentity, processor: NGProcessor, meter: WorkloadMeter, cluster: ClusterMembership?, planner: SpillPlanner,
        configuration: NodeConfiguration, ngChannel: any Channel, loop: any EventLoop, logger: Logger
    ) {
        self.identity = identity
        self.processor = processor
        self.meter = meter
        self.cluster = cluster
        self.planner = planner
        self.configuration = configuration
        self.ngClients = configuration.ngClients
        self.ngChannel = ngChannel
        self.loop = loop
        self.logger = logger
    }

    // MARK: - Requests from NG clients

    func receiveClientDatagram(_ datagram: [UInt8], from address: NIOCore.SocketAddress) {
        guard ngClients.allows(address) else {
            counters.refusedClients += 1
            if counters.refusedClients % 1000 == 1 {
                logger.warning(
                    "NG datagram from outside ng-clients dropped; add the client's network to ng-clients if it should be served",
                    metadata: ["client": "\(address)", "ng-clients": "\(ngClients)", "dropped": "\(counters.refusedClients)"])
            }
            return
        }
        guard let (cookie, body) = NGMessage.splitCookie(datagram) else {
            counters.unframed += 1
            logger.warning("NG datagram without a cookie dropped", metadata: ["client": "\(address)", "bytes": "\(datagram.count)"])
            return
        }
        let origin = Origin.client(address, cookie: cookie)
        if let cached = replies.reply(client: origin.key.source, cookie: cookie) {
            counters.retransmissions += 1
            return sendNG(cached, to: address)
        }
        guard inFlight.insert(origin.key).inserted else {
            counters.retransmissions += 1
            return
        }
        let command: BencodeValue
        do {
            command = try BencodeDecoder().decode(body)
        } catch {
            counters.malformed += 1
            return complete(origin, reply: NGReply.error("\(NGError.malformedBencode(error))"), owner: nil)
        }
        route(command, origin: origin, placement: CallPlacement(hopsLeft: configuration.maxHops))
    }

    // MARK: - Cluster messages

    func receiveClusterDatagram(_ datagram: [UInt8], from address: NIOCore.SocketAddress) {
        guard let cluster, let envelope = cluster.link.open(datagram, from: address) else { return }
        switch envelope.message {
        case .report(let report):
            cluster.collector.receive(report, sender: envelope.sender, from: address)
        case .poll:
            cluster.reporter.answerPoll(from: address)
        case .subscribe(let interval, let lease):
            cluster.reporter.subscribe(address, intervalMillis: interval, leaseMillis: lease)
        case .forward(let request):
            receiveForward(request, from: address)
        case .forwardReply(let reply):
            receiveForwardReply(reply)
        case .located(let id, let node):
            planner.receiveLocated(id: id, node: node)
        case .locate:
            // Only the load monitor answers `locate`.
            cluster.link.refuse(.malformed, from: address)
        }
    }

    private func receiveForward(_ request: ForwardedRequest, from address: NIOCore.SocketAddress) {
        let origin = Origin.peer(address, forwardID: request.id)
        if let cached = forwardedReplies.reply(client: origin.key.source, cookie: origin.key.id) {
            cluster?.link.send(.forwardReply(cached), to: address)
            return
        }
        guard inFlight.insert(origin.key).inserted else { return }
        counters.forwardsReceived += 1
        route(request.command, origin: origin, placement: CallPlacement(hopsLeft: request.hopsLeft, visited: request.visited))
    }

    private func receiveForwardReply(_ reply: ForwardedReply) {
        guard let pending = forwards.removeValue(forKey: reply.id) else {
            counters.lateReplies += 1
            return
        }
        pending.retransmissions?.cancel()
        let succeeded = reply.reply["result"]?.stringValue == "ok"
        switch pending.purpose {
        case .newCall(let call):
            if succeeded, let owner = reply.owner, case .client = pending.origin { owners[call.callID] = owner }
        case .proxy(let callID, _, let isDelete):
            // Deleted, or gone from its owner (media timeout there): forget where it was.
            if isDelete || NGReply.isUnknownCall(reply.reply) { owners[callID] = nil }
        }
        complete(pending.origin, reply: reply.reply, owner: reply.owner)
    }

    // MARK: - Routing

    private func route(_ command: BencodeValue, origin: Origin, placement: CallPlacement) {
        let request: NGRequest
        switch processor.decode(command, client: origin.description) {
        case .failure(let error): return complete(origin, reply: NGReply.error("\(error)"), owner: nil)
        case .success(.call(let decoded)): request = decoded
        case .success(.workload(let change)):
            guard case .client = origin else {
                return complete(origin, reply: NGReply.error("workload changes only the node it is sent to; it is not forwarded"), owner: nil)
            }
            return complete(origin, reply: workloadControl(change), owner: nil)
        }
        if let callID = request.callID, !processor.registry.hasCall(callID) {
            if case .client = origin, let owner = owners[callID] {
                return proxy(command, request: request, callID: callID, to: owner, origin: origin)
            }
            if case .offer = request {
                let call = NewCall(command: command, request: request, origin: origin, placement: placement)
                return planner.place(placement, admitsHere: meter.admitsNewCall, reachedOn: .cluster) { [self] in act(on: $0, for: call) }
            }
        }
        runHere(request, hops: placement.hops) { [self] result in
            switch result {
            case .success(let reply): complete(origin, reply: reply, owner: identity)
            case .failure(let error): complete(origin, reply: processor.reply(to: error, of: request, client: origin.description), owner: nil)
            }
        }
    }

    /// An NG offer for a call no node anchors yet, as it arrived here.
    private struct NewCall {
        var command: BencodeValue
        var request: NGRequest
        var origin: Origin
        var placement: CallPlacement
        var callID: String { request.callID ?? "" }
    }

    /// Carries out the steering outcome for a new call: runs it here, forwards it, or answers all busy.
    private func act(on outcome: SpillPlanner.Outcome, for call: NewCall) {
        switch outcome {
        case .takeHere:
            runHere(call.request, hops: call.placement.hops) { [self] result in
                switch result {
                case .success(let reply):
                    cluster?.reporter.workloadChanged()
                    complete(call.origin, reply: reply, owner: identity)
                case .failure(.ports(let exhausted)) where cluster != nil:
                    // Out of media ports is as full as a node gets: the call goes elsewhere.
                    logger.warning("no media ports left for a new call; steering it to another node", metadata: ["reason": "\(exhausted)"])
                    planner.place(call.placement, admitsHere: false, reachedOn: .cluster) { [self] in act(on: $0, for: call) }
                case .failure(let error):
                    complete(call.origin, reply: processor.reply(to: error, of: call.request, client: call.origin.description), owner: nil)
                }
            }
        case .forward(let target, _, let carried):
            counters.spills[planner.mode, default: 0] += 1
            let message = ForwardedRequest(id: 0, hopsLeft: carried.hopsLeft, visited: carried.visited, command: call.command)
            forward(message, to: target, purpose: .newCall(call), origin: call.origin)
        case .allBusy(let reason):
            complete(call.origin, reply: allBusy(call.command, tried: call.placement.visited + [identity.id], reason: reason), owner: nil)
        }
    }

    private func proxy(_ command: BencodeValue, request: NGRequest, callID: String, to owner: NodeIdentity, origin: Origin) {
        guard cluster != nil, let address = try? NIOCore.SocketAddress(hostAndPort: owner.clusterAddress) else {
            return complete(origin, reply: NGReply.error("call '\(callID)' is anchored on node '\(owner.id)', which this node cannot reach"), owner: nil)
        }
        counters.proxied += 1
        var isDelete = false
        if case .delete = request { isDelete = true }
        let message = ForwardedRequest(id: 0, hopsLeft: 0, visited: [identity.id], command: command)
        forward(
            message, to: SpillPlanner.Target(id: owner.id, address: address, reported: owner),
            purpose: .proxy(callID: callID, owner: owner, isDelete: isDelete), origin: origin)
    }

    /// Sends a request to another node, resends it once halfway to the timeout, and gives up at the
    /// timeout: the target is marked down and a new call is steered elsewhere.
    private func forward(_ message: ForwardedRequest, to target: SpillPlanner.Target, purpose: PendingForward.Purpose, origin: Origin) {
        guard let cluster else { return }
        var message = message
        message.id = nextForwardID
        nextForwardID &+= 1
        let id = message.id
        counters.forwardsSent += 1
        cluster.link.send(.forward(message), to: target.address)
        var attempts = 0
        let halfTimeout = TimeAmount.nanoseconds(Int64(configuration.forwardTimeout * 5e8))
        let retransmissions = LoopTimer(on: loop, initialDelay: halfTimeout, every: halfTimeout) { [unowned self] in
            attempts += 1
            guard attempts >= 2 else {
                cluster.link.send(.forward(message), to: target.address)
                return
            }
            forwardTimedOut(id)
        }
        forwards[id] = PendingForward(origin: origin, message: message, target: target, purpose: purpose, retransmissions: retransmissions)
    }

    private func forwardTimedOut(_ id: UInt64) {
        guard let pending = forwards.removeValue(forKey: id) else { return }
        pending.retransmissions?.cancel()
        counters.forwardTimeouts += 1
        logger.warning(
            "node did not answer a forwarded request; marked down",
            metadata: [
                "peer": "\(pending.target.id)", "address": "\(pending.target.address)",
                "timeout-ms": "\(Int(configuration.forwardTimeout * 1000))",
            ])
        switch pending.purpose {
        case .newCall(let call):
            planner.retry(call.placement, after: pending.target.id, reachedOn: .cluster) { [self] in act(on: $0, for: call) }
        case .proxy(let callID, let owner, _):
            cluster?.collector.markDown(owner.id)
            complete(
                pending.origin,
                reply: NGReply.error(
                    "node '\(owner.id)' at \(owner.clusterAddress), which anchors call '\(callID)', did not answer within "
                        + "\(Int(configuration.forwardTimeout * 1000)) ms; the call's media stays there"),
                owner: nil)
        }
    }

    // MARK: - Replies

    /// Runs a command on this node. One that needs media ports while every free pair is still
    /// being closed by its worker (a call just ended) is tried again each millisecond for up to
    /// `portWait`, on the event loop's timer: the loop never blocks on it.
    private func runHere(
        _ request: NGRequest, hops: Int, giveUpAt deadline: NIODeadline? = nil, then body: @escaping (Result<BencodeValue, CallError>) -> Void
    ) {
        do throws(CallError) {
            body(.success(try runNow(request, hops: hops)))
        } catch .ports(.stillClosing) where deadline.map({ $0 > .now() }) ?? true {
            let deadline = deadline ?? .now() + Self.portWait
            loop.assumeIsolated().scheduleTask(in: .milliseconds(1)) { [self] in runHere(request, hops: hops, giveUpAt: deadline, then: body) }
        } catch {
            body(.failure(error))
        }
    }

    /// How long a command waits for the ports of calls just ended to be closed.
    private static let portWait = TimeAmount.milliseconds(50)

    /// Runs a command on this node now and marks the reply with this node's identity.
    private func runNow(_ request: NGRequest, hops: Int) throws(CallError) -> BencodeValue {
        let reply = try processor.run(request)
        guard var fields = reply.dictionaryValue else { return reply }
        switch request {
        case .offer, .answer, .delete, .query, .startRecording, .stopRecording:
            fields["spillway-node"] = .string(identity.id)
            fields["spillway-hops"] = .integer(Int64(hops))
            if case .offer = request, hops > 0 {
                logger.info("took a call spilled from another node", metadata: ["call-id": "\(request.callID ?? "")", "hops": "\(hops)"])
            }
        case .statistics:
            fields = withClusterStatistics(fields)
        case .ping, .list:
            break
        }
        return .dictionary(fields)
    }

    private func complete(_ origin: Origin, reply: BencodeValue, owner: NodeIdentity?) {
        inFlight.remove(origin.key)
        switch origin {
        case .client(let address, let cookie):
            let datagram = NGMessage(cookie: cookie, body: reply).encoded
            replies.store(datagram, client: origin.key.source, cookie: cookie, now: spw_monotonic_nanos())
            sendNG(datagram, to: address)
        case .peer(let address, let id):
            let message = ForwardedReply(id: id, owner: owner, reply: reply)
            forwardedReplies.store(message, client: origin.key.source, cookie: origin.key.id, now: spw_monotonic_nanos())
            cluster?.link.send(.forwardReply(message), to: address)
        }
    }

    /// "Every node is busy", as the client asked to hear it.
    private func allBusy(_ command: BencodeValue, tried path: [String], reason: AllBusyReason) -> BencodeValue {
        counters.allBusy += 1
        let load = meter.workload.load
        let reason =
            "all nodes busy: every node tried is at or over its load threshold (tried \(path.joined(separator: ", ")); "
            + "\(reason); this node's load \(ratioText(load)) vs threshold \(ratioText(meter.threshold.value))"
            + (meter.isDraining ? ", draining for shutdown" : "") + "); "
            + "add nodes or capacity, or raise the thresholds"
        logger.notice("refused a new call: all nodes busy", metadata: ["tried": "\(path)", "reason": "\(reason)"])
        return NGReply.clientSupportsLoadLimit(command) ? NGReply.loadLimit(reason) : NGReply.error(reason)
    }

    private func sendNG(_ datagram: [UInt8], to address: NIOCore.SocketAddress) {
        let buffer = ngChannel.allocator.buffer(bytes: datagram)
        ngChannel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
    }

    // MARK: - Workload control and reporting

    /// `workload`: reads, and optionally changes, the threshold and capacities at run time.
    private func workloadControl(_ change: WorkloadChange) -> BencodeValue {
        var changed = configuration
        changed.capacity = meter.capacity
        changed.threshold = meter.configuredThreshold.value
        do throws(ConfigurationError) {
            for setting in change.settings { try changed.set(setting.name, to: setting.value) }
            try changed.validate()
        } catch {
            return NGReply.error("\(error)")
        }
        if meter.isDraining, change.settings.contains(where: { $0.name == "threshold" }) {
            return NGReply.error("node '\(identity.id)' is draining for shutdown and takes no new calls; its threshold stays 0")
        }
        setLimits(capacity: changed.capacity, threshold: changed.threshold)
        var reply = workloadSummary()
        reply["result"] = "ok"
        return .dictionary(reply)
    }

    /// Sets the workload limits (from NG `workload` or a reloaded config file) and, when they
    /// change, tells the peers at once.
    func setLimits(capacity: ResourceCapacity, threshold: Double) {
        guard capacity != meter.capacity || threshold != meter.configuredThreshold.value else { return }
        logger.notice("workload limits changed", metadata: ["threshold": "\(threshold)", "max-sessions": "\(capacity.sessions)"])
        meter.capacity = capacity
        meter.threshold = AdmissionThreshold(threshold)
        cluster?.reporter.workloadChanged()
    }

    private func workloadSummary() -> [String: BencodeValue] {
        let workload = meter.workload
        return [
            "draining": .string(meter.isDraining ? "yes" : "no"),
            "node": .string(identity.id),
            "load": .string(ratioText(workload.load)),
            "threshold": .string(ratioText(meter.threshold.value)),
            "admits": .string(meter.admitsNewCall ? "yes" : "no"),
            "bottleneck": .string(workload.bottleneck?.rawValue ?? "none"),
            "sessions": .integer(Int64(workload.usage.sessions)),
            "max-sessions": .integer(Int64(workload.capacity.sessions)),
            "packet-rate": .integer(Int64(workload.usage.packetsPerSecond.rounded())),
            "bit-rate": .integer(Int64(workload.usage.bitsPerSecond.rounded())),
            "cpu": .string(ratioText(workload.usage.cpu)),
            "calls-ended-per-second": .string(ratioText(meter.callsEndedPerSecond)),
            "port-pairs-in-use": .integer(Int64(processor.registry.portPairsInUse)),
        ]
    }

    /// `statistics` gains this node's workload, its routing counters, and what it knows of its peers.
    private func withClusterStatistics(_ fields: [String: BencodeValue]) -> [String: BencodeValue] {
        var fields = fields
        if var statistics = fields["statistics"]?.dictionaryValue, var current = statistics["currentstatistics"]?.dictionaryValue {
            current["sessionsforeign"] = .integer(Int64(owners.count))
            current["sessionstotal"] = .integer(Int64(processor.registry.activeCallCount + owners.count))
            statistics["currentstatistics"] = .dictionary(current)
            fields["statistics"] = .dictionary(statistics)
        }
        var cluster = workloadSummary()
        cluster["policy"] = .string(configuration.policy.rawValue)
        cluster["share"] = .string(configuration.share.rawValue)
        cluster["counters"] = counters.bencoded
        if let membership = self.cluster {
            cluster["rejected"] = .dictionary(
                Dictionary(uniqueKeysWithValues: ClusterRejection.allCases.map { ($0.rawValue, .integer(Int64(membership.link.rejected[$0] ?? 0))) }))
            cluster["reports-sent"] = .integer(Int64(membership.reporter.reportsSent))
            cluster["reports-received"] = .integer(Int64(membership.collector.outcomes[.recorded] ?? 0))
            cluster["subscribers"] = .integer(Int64(membership.reporter.subscriberCount))
            cluster["peers"] = PeerStatus.bencoded(membership.collector.table)
        }
        if let rasStatistics { cluster["ras"] = rasStatistics() }
        if let h323Statistics { cluster["h323"] = h323Statistics() }
        fields["spillway"] = .dictionary(cluster)
        return fields
    }

    /// The deployment's steering policy.
    var steeringMode: SteeringMode { planner.mode }

    /// Calls first received here and anchored on other nodes.
    var foreignCallCount: Int { owners.count }
    var registry: CallRegistry { processor.registry }

}

/// What the router has done since the node started.
struct RoutingCounters {
    /// NG datagrams from outside `ng-clients`.
    var refusedClients: UInt64 = 0
    var unframed: UInt64 = 0
    var malformed: UInt64 = 0
    var retransmissions: UInt64 = 0
    /// New calls sent elsewhere, by policy.
    var spills: [SteeringMode: UInt64] = [:]
    var forwardsSent: UInt64 = 0
    var forwardsReceived: UInt64 = 0
    var forwardTimeouts: UInt64 = 0
    /// Replies to forwards that had already timed out.
    var lateReplies: UInt64 = 0
    var proxied: UInt64 = 0
    var allBusy: UInt64 = 0

    var bencoded: BencodeValue {
        var fields: [String: BencodeValue] = [
            "unframed": .integer(Int64(unframed)), "malformed": .integer(Int64(malformed)),
            "retransmissions": .integer(Int64(retransmissions)), "forwards-sent": .integer(Int64(forwardsSent)),
            "forwards-received": .integer(Int64(forwardsReceived)), "forward-timeouts": .integer(Int64(forwardTimeouts)),
            "late-replies": .integer(Int64(lateReplies)), "proxied": .integer(Int64(proxied)),
            "all-busy": .integer(Int64(allBusy)), "refused-clients": .integer(Int64(refusedClients)),
        ]
        for mode in SteeringMode.allCases { fields["spills-\(mode.rawValue)"] = .integer(Int64(spills[mode] ?? 0)) }
        return .dictionary(fields)
    }
}

import Bencode
import Cluster
import Logging
import MediaPlane
import NGProtocol
import NIOCore
import ServiceEdge

/// Decides which node runs each NG command, and gets the reply back to whoever asked.
///
/// A new call (an `offer` for an unknown call-id) goes to the steering planner: it is run here
/// when this node admits it, or forwarded to the node the planner picks, carrying the hops left
/// and the nodes visited, and the reply comes back along the same path. The node that first
/// received the call remembers its owner and proxies the call's later commands to it. Commands
/// for calls anchored here run here. Framing, forwarding and proxying are done by the types this
/// one drives; it holds no socket. Used on the event loop only.
final class RequestRouter {
    private(set) var placements = PlacementCounters()
    private let identity: NodeIdentity
    private let processor: NGProcessor
    private let frontEnd: NGFrontEnd
    private let forwards: ForwardedCommands?
    private let owners: OwnerProxy
    private let planner: SpillPlanner
    private let workload: WorkloadControl
    private let statistics: NodeStatistics
    private let reporter: WorkloadReporter?
    private let replication: CallReplication?
    private let maxHops: Int
    private let loop: any EventLoop
    private let logger: Logger

    /// Who is waiting for a command's reply.
    private enum Origin: CustomStringConvertible {
        /// An NG client, answered on the NG port.
        case client(NGFrontEnd.Request)
        /// A node that forwarded the command here, answered on the cluster port.
        case peer(ForwardedCommands.Incoming)

        var description: String {
            switch self {
            case .client(let request): request.description
            case .peer(let incoming): incoming.description
            }
        }
    }

    /// An NG offer for a call no node anchors yet, as it arrived here.
    private struct NewCall {
        var command: BencodeValue
        var request: NGRequest
        var origin: Origin
        var placement: CallPlacement
        /// Set when this node admitted the call by its load but had no media port pair left for it.
        var portsExhaustedHere: PortAllocationError?
        var callID: String { request.callID ?? "" }
    }

    init(
        identity: NodeIdentity, processor: NGProcessor, frontEnd: NGFrontEnd, forwards: ForwardedCommands?,
        owners: OwnerProxy, planner: SpillPlanner, workload: WorkloadControl, statistics: NodeStatistics,
        reporter: WorkloadReporter?, replication: CallReplication?, maxHops: Int, loop: any EventLoop, logger: Logger
    ) {
        self.identity = identity
        self.processor = processor
        self.frontEnd = frontEnd
        self.forwards = forwards
        self.owners = owners
        self.planner = planner
        self.workload = workload
        self.statistics = statistics
        self.reporter = reporter
        self.replication = replication
        self.maxHops = maxHops
        self.loop = loop
        self.logger = logger
    }

    /// A command from an NG client, placed with the node's full hop budget.
    func receive(_ command: BencodeValue, from request: NGFrontEnd.Request) {
        route(command, origin: .client(request), placement: CallPlacement(hopsLeft: maxHops))
    }

    /// A command another node forwarded here, placed with the hops and visited nodes it carries.
    func receive(_ forwarded: ForwardedRequest, from sender: NIOCore.SocketAddress) {
        guard let incoming = forwards?.receive(forwarded, from: sender) else { return }
        route(
            forwarded.command, origin: .peer(incoming),
            placement: CallPlacement(hopsLeft: forwarded.hopsLeft, visited: forwarded.visited))
    }

    // MARK: - Routing

    private func route(_ command: BencodeValue, origin: Origin, placement: CallPlacement) {
        let request: NGRequest
        switch processor.decode(command, client: origin.description) {
        case .failure(let error): return complete(origin, reply: NGReply.error("\(error)"), owner: nil)
        case .success(.call(let decoded)): request = decoded
        case .success(.workload(let change)):
            guard case .client = origin else {
                return complete(
                    origin, reply: NGReply.error("workload changes only the node it is sent to; it is not forwarded"),
                    owner: nil)
            }
            return complete(origin, reply: workload.apply(change), owner: nil)
        }
        if let callID = request.callID, !processor.registry.hasCall(callID) {
            let lastKnown: NodeIdentity? = if case .client = origin { owners.owner(of: callID) } else { nil }
            if let owner = lastKnown, replication == nil || owners.isReachable(owner) {
                return owners.pass(command, of: request, callID: callID, to: owner) { [self] reply, owner in
                    complete(origin, reply: reply, owner: owner)
                }
            }
            if case .offer = request, lastKnown == nil {
                let call = NewCall(command: command, request: request, origin: origin, placement: placement)
                return planner.place(placement, admitsHere: workload.meter.admitsNewCall, reachedOn: .cluster) {
                    [self] in
                    act(on: $0, for: call)
                }
            }
            if case .client = origin, let replication {
                // A call this node has not heard of may be anchored on a node whose primary is gone,
                // and one whose owner is down may have been taken over: the call store names its owner.
                return replication.owner(of: callID) { [self] found in
                    guard let owner = found ?? lastKnown, owner.id != identity.id else {
                        return answerHere(request, hops: 0, origin: origin)
                    }
                    owners.remember(owner, of: callID)
                    owners.pass(command, of: request, callID: callID, to: owner) { [self] reply, owner in
                        complete(origin, reply: reply, owner: owner)
                    }
                }
            }
        }
        answerHere(request, hops: placement.hops, origin: origin)
    }

    /// Runs a command here and answers whoever asked.
    private func answerHere(_ request: NGRequest, hops: Int, origin: Origin) {
        runHere(request, hops: hops) { [self] result in
            switch result {
            case .success(let reply): complete(origin, reply: reply, owner: identity)
            case .failure(let error):
                complete(origin, reply: processor.reply(to: error, of: request, client: origin.description), owner: nil)
            }
        }
    }

    /// Carries out the steering outcome for a new call: runs it here, forwards it, or answers all busy.
    private func act(on outcome: SpillPlanner.Outcome, for call: NewCall) {
        switch outcome {
        case .takeHere:
            runHere(call.request, hops: call.placement.hops) { [self] result in
                switch result {
                case .success(let reply):
                    reporter?.workloadChanged()
                    complete(call.origin, reply: reply, owner: identity)
                case .failure(.ports(let exhausted)) where forwards != nil:
                    // Out of media ports is as full as a node gets: the call goes elsewhere.
                    logger.warning(
                        "no media ports left for a new call; steering it to another node",
                        metadata: ["reason": "\(exhausted)"])
                    var call = call
                    call.portsExhaustedHere = exhausted
                    planner.place(call.placement, admitsHere: false, reachedOn: .cluster) { [self] in
                        act(on: $0, for: call)
                    }
                case .failure(let error):
                    complete(
                        call.origin,
                        reply: processor.reply(to: error, of: call.request, client: call.origin.description), owner: nil
                    )
                }
            }
        case .forward(let target, _, let carried):
            guard let forwards else { return }
            placements.spills[planner.mode, default: 0] += 1
            forwards.send(call.command, hopsLeft: carried.hopsLeft, visited: carried.visited, to: target) {
                [self] outcome in
                switch outcome {
                case .replied(let reply):
                    if reply.reply["result"]?.stringValue == "ok", let owner = reply.owner, case .client = call.origin {
                        owners.remember(owner, of: call.callID)
                    }
                    complete(call.origin, reply: reply.reply, owner: reply.owner)
                case .timedOut:
                    planner.retry(call.placement, after: target.id, reachedOn: .cluster) { [self] in
                        act(on: $0, for: call)
                    }
                }
            }
        case .allBusy(let reason):
            complete(
                call.origin,
                reply: allBusy(
                    call.command, tried: call.placement.visited + [identity.id], reason: reason,
                    portsExhaustedHere: call.portsExhaustedHere), owner: nil)
        }
    }

    // MARK: - Running here

    /// Runs a command on this node. One that needs media ports while every free pair is still
    /// being closed by its worker (a call just ended) is tried again each millisecond for up to
    /// `portWait`, on the event loop's timer: the loop never blocks on it.
    private func runHere(
        _ request: NGRequest, hops: Int, giveUpAt deadline: NIODeadline? = nil,
        then body: @escaping (Result<BencodeValue, CallError>) -> Void
    ) {
        do throws(CallError) {
            body(.success(try runNow(request, hops: hops)))
        } catch .ports(.stillClosing) where deadline.map({ $0 > .now() }) ?? true {
            let deadline = deadline ?? .now() + Self.portWait
            loop.assumeIsolated().scheduleTask(in: .milliseconds(1)) { [self] in
                runHere(request, hops: hops, giveUpAt: deadline, then: body)
            }
        } catch {
            body(.failure(error))
        }
    }

    /// How long a command waits for the ports of calls just ended to be closed.
    private static let portWait = TimeAmount.milliseconds(50)

    /// Runs a command on this node now and marks the reply with this node's identity.
    private func runNow(_ request: NGRequest, hops: Int) throws(CallError) -> BencodeValue {
        let reply = try processor.run(request)
        switch request {
        case .offer, .answer, .startRecording, .stopRecording:
            if let callID = request.callID { replication?.changed(callID) }
        default:
            break
        }
        guard var fields = reply.dictionaryValue else { return reply }
        switch request {
        case .offer, .answer, .delete, .query, .startRecording, .stopRecording:
            fields["spillway-node"] = .string(identity.id)
            fields["spillway-hops"] = .integer(Int64(hops))
            if case .offer = request, hops > 0 {
                logger.info(
                    "took a call spilled from another node",
                    metadata: ["call-id": "\(request.callID ?? "")", "hops": "\(hops)"])
            }
        case .statistics:
            fields = statistics.extending(fields, placements: placements)
        case .ping, .list:
            break
        }
        return .dictionary(fields)
    }

    // MARK: - Replies

    private func complete(_ origin: Origin, reply: BencodeValue, owner: NodeIdentity?) {
        switch origin {
        case .client(let request): frontEnd.answer(request, with: reply)
        case .peer(let incoming): forwards?.answer(incoming, with: reply, owner: owner)
        }
    }

    /// "Every node is busy", as the client asked to hear it. `portsExhaustedHere` says this node
    /// was below its threshold but out of media ports, which its load does not show.
    private func allBusy(
        _ command: BencodeValue, tried path: [String], reason: AllBusyReason,
        portsExhaustedHere: PortAllocationError? = nil
    ) -> BencodeValue {
        placements.allBusy += 1
        let meter = workload.meter
        let here =
            portsExhaustedHere.map { "this node is out of media ports: \($0)" }
            ?? "this node's load \(ratioText(meter.workload.load)) vs threshold \(ratioText(meter.threshold.value))"
        let reason =
            "all nodes busy: every node tried is at or over its load threshold or out of media ports "
            + "(tried \(path.joined(separator: ", ")); \(reason); \(here)"
            + (meter.isDraining ? ", draining for shutdown" : "") + "); "
            + "add nodes or capacity, or raise the thresholds"
        logger.notice("refused a new call: all nodes busy", metadata: ["tried": "\(path)", "reason": "\(reason)"])
        return NGReply.clientSupportsLoadLimit(command) ? NGReply.loadLimit(reason) : NGReply.error(reason)
    }
}

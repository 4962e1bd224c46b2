import Bencode
import CSpillwayShims
import Cluster
import NGProtocol
import NIOCore
import ServiceEdge

/// Calls first received here and anchored on another node, and the passing of their later
/// commands to that node, so that an NG client keeps talking to the one node it knows.
///
/// A call is forgotten when it is deleted, or when its owner no longer knows it (its media timed
/// out there). An owner that does not answer is marked down and the client hears why; the call's
/// media stays where it is. Used on the event loop only.
final class OwnerProxy {
    /// Commands passed to the calls' owners.
    private(set) var proxied: UInt64 = 0
    private var owners: [String: NodeIdentity] = [:]
    private let identity: NodeIdentity
    private let forwards: ForwardedCommands?
    private let collector: WorkloadCollector?
    private let timeoutMillis: Int

    /// - Parameters:
    ///   - forwards: the cluster port's forwarded commands; nil for a node without peers.
    ///   - timeoutNanos: how long an owner has to answer (`forward-timeout`), for the error text.
    init(identity: NodeIdentity, forwards: ForwardedCommands?, collector: WorkloadCollector?, timeoutNanos: UInt64) {
        self.identity = identity
        self.forwards = forwards
        self.collector = collector
        timeoutMillis = Int(timeoutNanos / 1_000_000)
    }

    /// How many calls this node knows to be anchored elsewhere.
    var count: Int { owners.count }

    /// The node that anchors `callID`, when another node does and the call was first received here.
    func owner(of callID: String) -> NodeIdentity? { owners[callID] }

    /// Whether `owner` is up by its latest workload report: when it is not, the call may have
    /// been taken over by its standby, and the call store is asked first.
    func isReachable(_ owner: NodeIdentity) -> Bool {
        guard let collector, let peer = collector.table.peer(owner.id) else { return true }
        return collector.table.isUsable(peer, now: spw_monotonic_nanos())
    }

    /// Remembers that `owner` took the new call `callID`, which was first received here.
    func remember(_ owner: NodeIdentity, of callID: String) { owners[callID] = owner }

    /// Passes a later command of `callID` to its owner; `then` gets the reply and the node that
    /// ran the command (nil when none did).
    func pass(
        _ command: BencodeValue, of request: NGRequest, callID: String, to owner: NodeIdentity,
        then: @escaping (BencodeValue, NodeIdentity?) -> Void
    ) {
        guard let forwards, let address = try? NIOCore.SocketAddress(hostAndPort: owner.clusterAddress) else {
            return then(
                NGReply.error("call '\(callID)' is anchored on node '\(owner.id)', which this node cannot reach"), nil)
        }
        proxied += 1
        let target = SpillPlanner.Target(id: owner.id, address: address, reported: owner)
        forwards.send(command, hopsLeft: 0, visited: [identity.id], to: target) { [self] outcome in
            switch outcome {
            case .replied(let reply):
                if case .delete = request { owners[callID] = nil }
                if NGReply.isUnknownCall(reply.reply) { owners[callID] = nil }
                then(reply.reply, reply.owner)
            case .timedOut:
                collector?.markDown(owner.id)
                then(
                    NGReply.error(
                        "node '\(owner.id)' at \(owner.clusterAddress), which anchors call '\(callID)', did not answer within "
                            + "\(timeoutMillis) ms; the call's media stays there"),
                    nil)
            }
        }
    }
}

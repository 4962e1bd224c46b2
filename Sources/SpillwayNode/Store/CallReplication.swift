import CSpillwayShims
import CallStore
import Cluster
import Logging
import NIOCore
import ServiceEdge

/// What a node keeps in Redis so that any node can reach the calls it anchors, and how it reads
/// what the others keep.
///
/// Each call anchored here is written under its owner key, with a TTL as a safety net, when it is
/// taken, and removed when it ends (deleted or timed out). Writes go through the link's bounded
/// queue and never hold up an NG reply or a packet. After every (re)connection, and every
/// `refreshInterval`, the node writes all of its calls anew, so that what Redis lost while it was
/// down or restarted comes back. Used on the event loop only.
final class CallReplication {
    /// A record's lifetime in Redis, renewed at every full write.
    static let recordLifetimeSeconds = 86_400
    /// The most writes that wait for Redis while it is unreachable; the full write on its return
    /// restores what was dropped.
    static let queueLimit = 10_000
    /// How long a lookup waits for Redis before the node answers without it.
    static let lookupTimeout = TimeAmount.milliseconds(200)

    let link: RedisLink
    /// Full writes of every call, and when the last one was sent.
    private(set) var fullWrites: UInt64 = 0
    private(set) var lastFullWriteWallNanos: UInt64?
    /// Calls whose owner was found in Redis by a node that had not heard of them.
    private(set) var ownersFound: UInt64 = 0
    private let keys: CallStoreKeys
    private let identity: NodeIdentity
    private let callIDs: () -> [String]
    private let loop: any EventLoop
    private let logger: Logger
    private var revisions: [String: UInt64] = [:]
    private var refreshTimer: LoopTimer?

    /// - Parameter callIDs: the calls anchored here now, for the full writes.
    init(
        link: RedisLink, keys: CallStoreKeys, identity: NodeIdentity, refreshInterval: TimeAmount,
        callIDs: @escaping () -> [String], loop: any EventLoop, logger: Logger
    ) {
        self.link = link
        self.keys = keys
        self.identity = identity
        self.callIDs = callIDs
        self.loop = loop
        self.logger = logger
        link.onReady = { [unowned self] in writeAll() }
        refreshTimer = LoopTimer(on: loop, initialDelay: refreshInterval, every: refreshInterval) { [unowned self] in
            if link.isConnected { writeAll() }
        }
    }

    /// Records that `callID` is anchored here.
    func anchored(_ callID: String) {
        let revision = (revisions[callID] ?? 0) + 1
        revisions[callID] = revision
        let record = OwnerRecord(node: identity, revision: revision, writtenAtWallNanos: spw_wall_nanos())
        link.send(bytes: [
            Array("SET".utf8), Array(keys.owner(of: callID).utf8), record.encoded, Array("EX".utf8),
            Array(String(Self.recordLifetimeSeconds).utf8),
        ])
    }

    /// Forgets `callID`, which ended here.
    func ended(_ callID: String) {
        guard revisions.removeValue(forKey: callID) != nil else { return }
        link.send(["DEL", keys.owner(of: callID)])
    }

    /// The node that anchors `callID` by the store, or nil: none is recorded, Redis is down, or it
    /// did not answer within `lookupTimeout`. `then` runs once.
    func owner(of callID: String, then: @escaping (NodeIdentity?) -> Void) {
        guard link.isConnected else { return then(nil) }
        var answered = false
        let timeout = loop.assumeIsolated().scheduleTask(in: Self.lookupTimeout) {
            guard !answered else { return }
            answered = true
            then(nil)
        }
        link.send(["GET", keys.owner(of: callID)]) { [self] result in
            guard !answered else { return }
            answered = true
            timeout.cancel()
            guard case .success(.bulkString(let bytes?)) = result else { return then(nil) }
            do {
                let record = try OwnerRecord(decoding: bytes)
                ownersFound += 1
                then(record.node)
            } catch {
                logger.warning(
                    "call-store record cannot be read; the call is treated as unknown",
                    metadata: ["call-id": "\(callID)", "reason": "\(error)"])
                then(nil)
            }
        }
    }

    /// Stops the refresh timer and the link.
    func stop() {
        refreshTimer?.cancel()
        link.stop()
    }

    private func writeAll() {
        fullWrites += 1
        lastFullWriteWallNanos = spw_wall_nanos()
        let calls = callIDs()
        for callID in calls { anchored(callID) }
        logger.info("wrote every call to Redis", metadata: ["calls": "\(calls.count)"])
    }
}

import Bencode
import CSpillwayShims
import CallStore
import Cluster
import Logging
import MediaPlane
import NIOCore
import ServiceEdge

/// What a node keeps in Redis so that any node can reach the calls it anchors and its standby can
/// carry them on, and how it reads what the others keep.
///
/// For each call anchored here (through NG) the node keeps three things: the call's owner record
/// (which node anchors it), its call record (everything needed to rebuild it elsewhere) and its
/// place in the node's set of calls. They are written when the call changes through NG, and again
/// when what the media taught the node changes (a latched peer, a new SSRC, an SRTP rollover); they
/// are removed when the call ends. Every key carries a TTL as a safety net. A heartbeat key with a
/// short expiry says the node is alive.
///
/// Writes go through the link's bounded queue and never hold up an NG reply or a packet. After
/// every (re)connection, and every `refreshInterval`, the node writes all of its calls anew, so
/// that what Redis lost while it was down or restarted comes back; first it reads their owners,
/// and a call another node took over while this one was cut off is released here, not reclaimed.
/// Used on the event loop only.
final class CallReplication {
    /// A record's lifetime in Redis, renewed at every write.
    static let recordLifetimeSeconds = 86_400
    /// The most writes that wait for Redis while it is unreachable; the full write on its return
    /// restores what was dropped.
    static let queueLimit = 10_000
    /// How long a lookup waits for Redis before the node answers without it.
    static let lookupTimeout = TimeAmount.milliseconds(200)
    /// How often the node renews its heartbeat, and how long the heartbeat outlives the last renewal.
    static let heartbeatInterval = TimeAmount.milliseconds(250)
    static let heartbeatLifetimeMilliseconds = 1_000
    /// How often calls are checked for what the media changed.
    static let progressInterval = TimeAmount.seconds(1)
    /// How long a call's NG change or end waits to be written with the others of that moment: the
    /// changes of a moment (an offer and its answer, other calls' set-ups and ends) go out
    /// together, each call's record once, ends as one DEL, in one system call.
    static let batchDelay = TimeAmount.milliseconds(10)

    /// What replication has done since the node started.
    struct Counters {
        /// Call records written (on NG changes, media changes and full writes).
        var recordsWritten: UInt64 = 0
        /// Full writes of every call.
        var fullWrites: UInt64 = 0
        /// Calls released here because another node took them over while this one was cut off.
        var released: UInt64 = 0
        /// Calls whose owner was found in Redis by a node that had not heard of them.
        var ownersFound: UInt64 = 0
    }

    let link: RedisLink
    let keys: CallStoreKeys
    let identity: NodeIdentity
    private(set) var counters = Counters()
    private(set) var lastFullWriteWallNanos: UInt64?
    private let registry: CallRegistry
    private let loop: any EventLoop
    private let logger: Logger
    /// The calls replicated from here, with their last revision and the media digest their last
    /// record was written with, to tell when the media changed something worth writing.
    private var written: [String: (revision: UInt64, mediaDigest: Int)] = [:]
    private var timers: [LoopTimer] = []
    /// Calls changed through NG, and calls ended, that wait for the next batch.
    private var pendingChanges: Set<String> = []
    private var pendingEnds: [String] = []
    private var batchScheduled = false
    /// When the TTL of this node's set of calls was last renewed (monotonic nanoseconds).
    private var setRenewedNanos: UInt64 = 0
    /// How often that TTL is renewed at most.
    private static let setRenewalNanos: UInt64 = 60_000_000_000

    init(
        link: RedisLink, keys: CallStoreKeys, identity: NodeIdentity, registry: CallRegistry,
        refreshInterval: TimeAmount, loop: any EventLoop, logger: Logger
    ) {
        self.link = link
        self.keys = keys
        self.identity = identity
        self.registry = registry
        self.loop = loop
        self.logger = logger
        link.onReady = { [unowned self] in writeAllAfterCheckingOwners() }
        timers = [
            LoopTimer(on: loop, initialDelay: refreshInterval, every: refreshInterval) { [unowned self] in
                if link.isConnected { writeAllAfterCheckingOwners() }
            },
            LoopTimer(on: loop, initialDelay: .zero, every: Self.heartbeatInterval) {
                // Only while connected: a heartbeat queued during an outage would be stale on arrival.
                guard link.isConnected else { return }
                link.send([
                    "SET", keys.heartbeat(of: identity.id), String(spw_wall_nanos()), "PX",
                    String(Self.heartbeatLifetimeMilliseconds),
                ])
            },
            LoopTimer(on: loop, initialDelay: Self.progressInterval, every: Self.progressInterval) { [unowned self] in
                writeWhatTheMediaChanged()
            },
        ]
    }

    /// Writes `callID`'s records: it is anchored here and NG just set it up or changed it. The
    /// write waits for the next batch (at most `batchDelay`).
    func changed(_ callID: String) {
        pendingChanges.insert(callID)
        scheduleBatch()
    }

    /// Records that this node carries on `record`'s call, taken over from the node that anchored it.
    func tookOver(_ record: CallRecord) {
        write(record.callID, after: record.owner.revision, whole: true)
        join([record.callID])
        link.send(["SREM", keys.calls(of: record.owner.node.id), record.callID])
    }

    /// Forgets `callID`, which ended here.
    func ended(_ callID: String) {
        pendingChanges.remove(callID)
        guard written.removeValue(forKey: callID) != nil else { return }
        pendingEnds.append(callID)
        scheduleBatch()
    }

    /// The node that anchors `callID` by the store, or nil: none is recorded, Redis is down, or it
    /// did not answer within `lookupTimeout`. `then` runs once.
    func owner(of callID: String, then: @escaping (NodeIdentity?) -> Void) {
        get(keys.owner(of: callID), decoding: OwnerRecord.init(decoding:)) { [self] record in
            if record != nil { counters.ownersFound += 1 }
            then(record?.node)
        }
    }

    /// Reads the value at `key` and decodes it; nil when there is none, Redis is down or has not
    /// answered within `timeout`, or it cannot be read (logged). `then` runs once.
    func get<Record>(
        _ key: String, decoding decode: @escaping ([UInt8]) throws(CallStoreError) -> Record,
        waiting timeout: TimeAmount = lookupTimeout, then: @escaping (Record?) -> Void
    ) {
        guard link.isConnected else { return then(nil) }
        var answered = false
        let timeout = loop.assumeIsolated().scheduleTask(in: timeout) {
            guard !answered else { return }
            answered = true
            then(nil)
        }
        link.send(["GET", key]) { [self] result in
            guard !answered else { return }
            answered = true
            timeout.cancel()
            guard case .success(.bulkString(let bytes?)) = result else { return then(nil) }
            do {
                then(try decode(bytes))
            } catch {
                logger.warning("call-store record cannot be read", metadata: ["key": "\(key)", "reason": "\(error)"])
                then(nil)
            }
        }
    }

    /// Stops the timers and the link.
    func stop() {
        for timer in timers { timer.cancel() }
        link.stop()
    }

    // MARK: - Writing

    private func scheduleBatch() {
        guard !batchScheduled else { return }
        batchScheduled = true
        loop.assumeIsolated().scheduleTask(in: Self.batchDelay) { [self] in
            batchScheduled = false
            writeBatch()
        }
    }

    private func writeBatch() {
        join(pendingChanges.filter { write($0) })
        pendingChanges = []
        guard !pendingEnds.isEmpty else { return }
        link.send(["DEL"] + pendingEnds.flatMap { [keys.owner(of: $0), keys.call($0)] })
        link.send(["SREM", keys.calls(of: identity.id)] + pendingEnds)
        pendingEnds = []
    }

    /// Adds calls to this node's set, and renews the set's TTL (at most once per `setRenewalNanos`).
    private func join(_ callIDs: [String]) {
        guard !callIDs.isEmpty else { return }
        link.send(["SADD", keys.calls(of: identity.id)] + callIDs)
        let now = spw_monotonic_nanos()
        if setRenewedNanos == 0 || now - setRenewedNanos > Self.setRenewalNanos {
            setRenewedNanos = now
            link.send(["EXPIRE", keys.calls(of: identity.id), String(Self.recordLifetimeSeconds)])
        }
    }

    /// Writes the call record of `callID`, at a revision past `previous` (the revision of the
    /// record it was taken over from), and its owner record with its first record and when
    /// `whole`; returns whether the owner record went too (the caller then adds the call to the
    /// node's set).
    @discardableResult
    private func write(_ callID: String, after previous: UInt64 = 0, whole: Bool = false) -> Bool {
        let last = written[callID]
        let revision = max(last?.revision ?? 0, previous) + 1
        let owner = OwnerRecord(node: identity, revision: revision, writtenAtWallNanos: spw_wall_nanos())
        guard let digest = registry.mediaDigest(of: callID), let record = registry.record(of: callID, owner: owner)
        else { return false }
        written[callID] = (revision, digest)
        let lifetime = Array(String(Self.recordLifetimeSeconds).utf8)
        link.send(bytes: [Array("SET".utf8), Array(keys.call(callID).utf8), record.encoded, Array("EX".utf8), lifetime])
        counters.recordsWritten += 1
        guard last == nil || whole else { return false }
        link.send(bytes: [
            Array("SET".utf8), Array(keys.owner(of: callID).utf8), owner.encoded, Array("EX".utf8), lifetime,
        ])
        return true
    }

    /// Writes the calls whose media changed what their record holds (a latched peer, an SSRC, an
    /// SRTP rollover counter), at most once per `progressInterval`.
    private func writeWhatTheMediaChanged() {
        guard link.isConnected else { return }
        for (callID, last) in written where registry.mediaDigest(of: callID) != last.mediaDigest {
            write(callID)
        }
    }

    /// After a (re)connection: reads the owners of the calls anchored here; those another node
    /// owns now (it took them over while this node was cut off) are released, the others written.
    private func writeAllAfterCheckingOwners() {
        counters.fullWrites += 1
        lastFullWriteWallNanos = spw_wall_nanos()
        let calls = Array(written.keys)
        logger.info("writing every call to Redis", metadata: ["calls": "\(calls.count)"])
        for callID in calls {
            get(keys.owner(of: callID), decoding: OwnerRecord.init(decoding:)) { [self] owner in
                guard let owner, owner.node.id != identity.id else {
                    write(callID, whole: true)
                    return join([callID])
                }
                counters.released += 1
                written[callID] = nil
                logger.warning(
                    "call taken over by another node while this one was cut off; releasing it here",
                    metadata: ["call-id": "\(callID)", "owner": "\(owner.node.id)"])
                _ = try? registry.delete(callID: callID)
            }
        }
    }
}

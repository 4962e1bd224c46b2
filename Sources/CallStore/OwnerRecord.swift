import Bencode
import Cluster

/// Where the call store keeps its keys in Redis: under one prefix, so that a database shared with
/// other applications keeps their keys untouched and a scan finds only Spillway's.
public struct CallStoreKeys: Sendable, Equatable {
    public let prefix: String

    public init(prefix: String = "spillway:") {
        self.prefix = prefix
    }

    /// The key naming the node that anchors `callID`.
    public func owner(of callID: String) -> String { prefix + "owner:" + callID }

    /// The pattern a scan for every call's owner uses.
    public var ownerPattern: String { prefix + "owner:*" }

    /// The key of the record a call's owner keeps of it (`CallRecord`).
    public func call(_ callID: String) -> String { prefix + "call:" + callID }

    /// The set of the calls `node` anchors: what its standby reads to take them over.
    public func calls(of node: String) -> String { prefix + "node:" + node + ":calls" }

    /// The key a standby sets (only if absent) to claim the takeover of dead `node`'s calls.
    public func takeover(of node: String) -> String { prefix + "node:" + node + ":takeover" }

    /// The key `node` keeps alive while it runs (with a short expiry): a node silent on the cluster
    /// whose heartbeat is still there is cut off from its peers, not dead, and is not taken over.
    public func heartbeat(of node: String) -> String { prefix + "node:" + node + ":alive" }
}

/// Which node anchors a call, as the call store keeps it: the node's identity (so that any node can
/// reach it without having heard of it), a schema version and a revision that grows with each
/// write of the same call, so that a reader can tell a record it cannot read from a stale one.
public struct OwnerRecord: Sendable, Equatable {
    /// The schema this build writes and reads.
    public static let schemaVersion: Int64 = 1

    public var node: NodeIdentity
    /// Grows with each write of this call's record by its owner.
    public var revision: UInt64
    /// When the record was written (wall-clock nanoseconds since the epoch).
    public var writtenAtWallNanos: UInt64

    public init(node: NodeIdentity, revision: UInt64, writtenAtWallNanos: UInt64) {
        self.node = node
        self.revision = revision
        self.writtenAtWallNanos = writtenAtWallNanos
    }

    /// The record as stored: a bencoded dictionary.
    public var encoded: [UInt8] { bencoded.encoded }

    /// Reads a stored record; an unreadable one, or one of another schema, is an error that says so.
    public init(decoding bytes: [UInt8]) throws(CallStoreError) {
        let value: BencodeValue
        do {
            value = try BencodeDecoder().decode(bytes)
        } catch {
            throw .unreadable("owner record is not bencode: \(error)")
        }
        try self.init(bencoded: value, path: "owner record")
    }

    /// Reads the record from its bencoded dictionary, found at `path` (for errors).
    init(bencoded value: BencodeValue, path: String) throws(CallStoreError) {
        let record = RecordReader(value, path: path)
        let version = try record.integer("v")
        guard version == Self.schemaVersion else {
            throw .unreadable("\(path) of schema \(version); this node reads schema \(Self.schemaVersion)")
        }
        do {
            node = try NodeIdentity(bencoded: try record.value("node"))
        } catch let error as CallStoreError {
            throw error
        } catch {
            throw .unreadable("\(path).node: \(error)")
        }
        revision = try record.unsigned("rev")
        writtenAtWallNanos = try record.unsigned("at")
    }
}

/// Why the call store could not be used.
public enum CallStoreError: Error, Equatable, CustomStringConvertible {
    case unreadable(String)

    public var description: String {
        switch self {
        case .unreadable(let reason): reason
        }
    }
}

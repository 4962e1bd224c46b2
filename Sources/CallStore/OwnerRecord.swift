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
    public var encoded: [UInt8] {
        BencodeValue.dictionary([
            "v": .integer(Self.schemaVersion), "node": node.bencoded,
            "rev": .integer(Int64(bitPattern: revision)), "at": .integer(Int64(bitPattern: writtenAtWallNanos)),
        ]).encoded
    }

    /// Reads a stored record; an unreadable one, or one of another schema, is an error that says so.
    public init(decoding bytes: [UInt8]) throws(CallStoreError) {
        let value: BencodeValue
        do {
            value = try BencodeDecoder().decode(bytes)
        } catch {
            throw .unreadable("owner record is not bencode: \(error)")
        }
        guard let version = value["v"]?.integerValue else { throw .unreadable("owner record without a schema version") }
        guard version == Self.schemaVersion else {
            throw .unreadable("owner record of schema \(version); this node reads schema \(Self.schemaVersion)")
        }
        guard let node = value["node"], let revision = value["rev"]?.integerValue, let at = value["at"]?.integerValue
        else { throw .unreadable("owner record without node, rev or at") }
        do {
            self.node = try NodeIdentity(bencoded: node)
        } catch {
            throw .unreadable("owner record's node: \(error)")
        }
        self.revision = UInt64(bitPattern: revision)
        writtenAtWallNanos = UInt64(bitPattern: at)
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

import CallStore
import Cluster
import Logging
import MediaPlane
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A call carried on from its call-store record, on a registry of another node: the dead node's
/// media IP is adopted, its ports bound exactly, and a record that cannot be carried on leaves
/// nothing behind.
@Suite struct CallRecordRestoreTests {
    static let owner = OwnerRecord(
        node: NodeIdentity(
            id: "dead", ngAddress: "127.0.0.61:2223", clusterAddress: "127.0.0.61:2224", mediaIP: "127.0.0.61",
            rasAddress: nil, callSignalAddress: nil),
        revision: 3, writtenAtWallNanos: 1)
    static let deadInterface = CallRecord.Interface(name: "default", localIP: "127.0.0.61", advertisedIP: "127.0.0.61")

    static func stream(port: UInt16, peer: UInt16) -> CallRecord.Stream {
        CallRecord.Stream(
            type: "audio", proto: "RTP/AVP", interface: deadInterface, port: port,
            advertisedRTP: "127.0.0.1:\(peer)", advertisedRTCP: "127.0.0.1:\(peer + 1)",
            latchedRTP: "127.0.0.1:\(peer)", latching: "symmetric", clockRate: 8000)
    }

    static func record(ports: (UInt16, UInt16)) -> CallRecord {
        CallRecord(
            callID: "taken", owner: owner, createdWallNanos: 42, recording: false,
            parties: [
                .init(tag: "A", streams: [stream(port: ports.0, peer: 41000)]),
                .init(tag: "B", streams: [stream(port: ports.1, peer: 41002)]),
            ])
    }

    static func registry(_ pool: WorkerPool) -> CallRegistry {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return CallRegistry(
            interfaces: MediaInterfaces([MediaInterface(name: "default", localIP: "127.0.0.60")]),
            portRange: 24600...24619, workers: pool, logger: logger)
    }

    @Test func aRecordIsCarriedOnAtTheDeadNodesAddressAndWrittenBackTheSame() throws {
        let pool = try WorkerPool(workerCount: 1, engine: .epoll, logger: Logger(label: "test"))
        defer { pool.shutdown() }
        let registry = Self.registry(pool)
        let record = Self.record(ports: (24640, 24642))
        try registry.restore(record)
        #expect(registry.hasCall("taken") && registry.portPairsInUse == 2)
        #expect(registry.interfaces.all.map(\.localIP) == ["127.0.0.60", "127.0.0.61"])
        #expect(registry.interfaces.configured.count == 1, "an adopted interface takes no new calls")
        // The worker starts the sides latched to the recorded peers as it takes their configuration.
        var written = try #require(registry.record(of: "taken", owner: Self.owner))
        for _ in 0..<100 where written.parties != record.parties {
            usleep(10_000)
            written = try #require(registry.record(of: "taken", owner: Self.owner))
        }
        #expect(written.parties == record.parties && written.createdWallNanos == 42, "\(written)")
        #expect(throws: CallError.self) { try registry.restore(record) }

        try registry.delete(callID: "taken")
        #expect(registry.portPairsInUse == 0)
    }

    @Test func aRecordThatCannotBeCarriedOnLeavesNothingBound() throws {
        let pool = try WorkerPool(workerCount: 1, engine: .epoll, logger: Logger(label: "test"))
        defer { pool.shutdown() }
        let registry = Self.registry(pool)
        // Another process holds the callee side's port.
        let holder = try PortAllocator.bindExactly(port: 24652, on: "127.0.0.61")
        defer {
            close(holder.rtpDescriptor)
            close(holder.rtcpDescriptor)
        }
        #expect {
            try registry.restore(Self.record(ports: (24650, 24652)))
        } throws: { error in
            "\(error)".contains("cannot bind the media ports 24652-24653 on 127.0.0.61")
        }
        #expect(!registry.hasCall("taken") && registry.portPairsInUse == 0)
        // The caller side's ports were let go again.
        let again = try PortAllocator.bindExactly(port: 24650, on: "127.0.0.61")
        close(again.rtpDescriptor)
        close(again.rtcpDescriptor)

        var unknownRule = Self.record(ports: (24654, 24656))
        unknownRule.parties[1].streams[0]?.latching = "sideways"
        #expect {
            try registry.restore(unknownRule)
        } throws: { error in
            "\(error)"
                == "call 'taken' cannot be carried on from its call-store record: unknown latching rule 'sideways'"
        }
        #expect(registry.portPairsInUse == 0)
    }
}

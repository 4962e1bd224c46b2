import Logging
import Testing

@testable import MediaPlane

#if canImport(Glibc)
import Glibc
#endif

/// The worker pool driven directly, where the NG layer cannot reach: a side removed and its slot
/// given to a new side in one command batch, while the old side's packets are still arriving.
/// Ports below Linux's ephemeral range.
@Suite(.serialized) struct WorkerPoolTests {
    static let sender = SocketAddress(ip: "127.0.0.1", port: 11_110)!
    static let receiver = SocketAddress(ip: "127.0.0.1", port: 11_112)!
    static let otherSide = SocketAddress(ip: "127.0.0.1", port: 11_114)!

    /// The side of each round binds 11,120 + 2 x round.
    static func sideAddress(_ round: Int) -> SocketAddress {
        SocketAddress(ip: "127.0.0.1", port: UInt16(11_120 + 2 * round))!
    }

    @Test(arguments: DataPlaneEngine.allCases)
    func packetsOfARemovedSideAreNeverCountedForTheSideThatTakesItsSlot(engine: DataPlaneEngine) throws {
        let pool = try WorkerPool(workerCount: 1, engine: engine, logger: Logger(label: "test"))
        defer { pool.shutdown() }
        let sender = try UDPSocket.bind(Self.sender).get()
        defer { close(sender) }
        let receiver = try UDPSocket.bind(Self.receiver).get()
        defer { close(receiver) }

        var current = pool.reserveSlot(on: 0)
        let other = pool.reserveSlot(on: 0)
        var currentCounters = StreamCounters(clockRate: 8000)
        pool.configure(
            current, side(try UDPSocket.bind(Self.sideAddress(0)).get(), opposite: other, counters: currentCounters))
        pool.configure(
            other,
            side(try UDPSocket.bind(Self.otherSide).get(), opposite: current, counters: StreamCounters(clockRate: 8000))
        )

        // Each round the worker is still working through a burst when the side is removed and its
        // slot configured for the next side, in one batch of commands; the race does not come
        // every time, so there are several rounds.
        for round in 0..<5 {
            var packet: [UInt8] =
                [0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, UInt8(round)] + [UInt8](repeating: 0xFF, count: 160)
            for sequence in 0..<3000 {
                packet[2] = UInt8(sequence >> 8)
                packet[3] = UInt8(sequence & 0xFF)
                send(sender, packet, to: Self.sideAddress(round))
            }
            let removal = pool.remove(current)
            let next = pool.reserveSlot(on: 0)
            #expect(next == current, "the freed slot is handed out again")
            let nextCounters = StreamCounters(clockRate: 8000)
            pool.configure(
                next,
                side(try UDPSocket.bind(Self.sideAddress(round + 1)).get(), opposite: other, counters: nextCounters))
            for _ in 0..<100 where !pool.isComplete(removal) { usleep(10_000) }
            usleep(100_000)

            #expect(currentCounters.snapshot().rtpPackets > 0, "round \(round): the burst reached the removed side")
            let taken = nextCounters.snapshot()
            #expect(
                taken.rtpPackets == 0 && taken.forwardedPackets == 0 && taken.drops.isEmpty, "round \(round): \(taken)")
            (current, currentCounters) = (next, nextCounters)
        }
    }

    private func side(_ descriptor: Int32, opposite: MediaSlot, counters: StreamCounters) -> MediaSideConfiguration {
        MediaSideConfiguration(
            rtpDescriptor: descriptor, rtcpDescriptor: -1, advertisedRTP: Self.receiver, advertisedRTCP: .unset,
            rtcpMux: true, isVideo: false, opposite: opposite.index, counters: counters)
    }

    private func send(_ descriptor: Int32, _ bytes: [UInt8], to destination: SocketAddress) {
        var storage = destination.storage
        _ = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(descriptor, bytes, bytes.count, 0, $0, destination.length)
            }
        }
    }
}

import CSpillwayShims
import SRTP

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A worker's arena for packets it writes itself rather than relays: transcoded RTP, translated
/// DTMF and the RTCP reports of a transcoded stream. One input packet can produce several (a 60 ms
/// Opus packet becomes three 20 ms G.711 packets), so they cannot always reuse the input's slot.
/// Nothing is allocated after `init`.
struct GeneratedPackets: ~Copyable {
    /// Enough for the most one packet can produce: 240 ms of G.711 (12 frames of 20 ms) after a
    /// concealed 100 ms gap (5 frames), and a sender report.
    static let capacity = 24
    private let slots: UnsafeMutableRawPointer
    private let lengths: UnsafeMutablePointer<Int>
    private let isRTCP: UnsafeMutablePointer<Bool>
    private let sends = SendQueue(capacity: capacity)
    /// Packets written since the last `reset`.
    private(set) var count = 0

    init() {
        slots = .allocate(byteCount: Self.capacity * PacketBatch.slotSize, alignment: 64)
        lengths = .allocate(capacity: Self.capacity)
        isRTCP = .allocate(capacity: Self.capacity)
    }

    deinit {
        slots.deallocate()
        lengths.deallocate()
        isRTCP.deallocate()
    }

    var isFull: Bool { count == Self.capacity }

    mutating func reset() { count = 0 }

    /// Appends a packet of at most `PacketBatch.receiveLimit` bytes written by `write`, which
    /// returns its length; returns false when the arena is full.
    @inline(__always)
    mutating func append(rtcp: Bool, _ write: (UnsafeMutableRawPointer) -> Int) -> Bool {
        guard count < Self.capacity else { return false }
        lengths[count] = write(slots + count * PacketBatch.slotSize)
        isRTCP[count] = rtcp
        count += 1
        return true
    }

    func isRTCP(_ index: Int) -> Bool { isRTCP[index] }

    /// Runs an in-place transform (SRTP protection) over packet `index`, which may change its length,
    /// and returns the transform's result.
    @inline(__always)
    func transform<Result>(_ index: Int, _ body: (UnsafeMutableRawPointer, inout Int) -> Result) -> Result {
        body(slots + index * PacketBatch.slotSize, &lengths[index])
    }

    /// Queues packet `index` as send entry `position`, addressed to `destination`.
    @inline(__always)
    func queue(_ position: Int, packet index: Int, to destination: SocketAddress) {
        sends.set(position, bytes: slots + index * PacketBatch.slotSize, length: lengths[index], to: destination)
    }

    /// Sends queue entries `0..<count` on `descriptor`; returns how many the kernel refused.
    func send(_ count: Int, on descriptor: Int32) -> Int {
        sends.send(count, on: descriptor)
    }
}

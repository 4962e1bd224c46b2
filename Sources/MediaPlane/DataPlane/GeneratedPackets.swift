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
    private let headers: UnsafeMutablePointer<spw_mmsghdr>
    private let vectors: UnsafeMutablePointer<iovec>
    private let names: UnsafeMutablePointer<sockaddr_in6>
    /// Packets written since the last `reset`.
    private(set) var count = 0

    init() {
        slots = .allocate(byteCount: Self.capacity * PacketBatch.slotSize, alignment: 64)
        lengths = .allocate(capacity: Self.capacity)
        isRTCP = .allocate(capacity: Self.capacity)
        headers = .allocate(capacity: Self.capacity)
        vectors = .allocate(capacity: Self.capacity)
        names = .allocate(capacity: Self.capacity)
        for index in 0..<Self.capacity {
            vectors[index] = iovec()
            names[index] = sockaddr_in6()
            headers[index] = spw_mmsghdr()
            headers[index].msg_hdr.msg_iov = vectors + index
            headers[index].msg_hdr.msg_iovlen = 1
            headers[index].msg_hdr.msg_name = UnsafeMutableRawPointer(names + index)
        }
    }

    deinit {
        slots.deallocate()
        lengths.deallocate()
        isRTCP.deallocate()
        headers.deallocate()
        vectors.deallocate()
        names.deallocate()
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

    /// Runs an in-place transform (SRTP protection) over packet `index`; returns false when it failed.
    @inline(__always)
    func transform(_ index: Int, _ body: (UnsafeMutableRawPointer, inout Int) -> Bool) -> Bool {
        body(slots + index * PacketBatch.slotSize, &lengths[index])
    }

    /// Sends packet `index` to `destination` on `descriptor` with the next ones queued for the same
    /// place: call `queue` for each, then `send`.
    @inline(__always)
    func queue(_ position: Int, packet index: Int, to destination: SocketAddress) {
        vectors[position] = iovec(iov_base: slots + index * PacketBatch.slotSize, iov_len: lengths[index])
        names[position] = destination.storage
        headers[position].msg_hdr.msg_namelen = destination.length
    }

    /// Sends queue entries `0..<count` on `descriptor`; returns how many the kernel refused.
    func send(_ count: Int, on descriptor: Int32) -> Int {
        sendEach(headers, count: count, on: descriptor)
    }
}

/// sendmmsg over `count` prepared headers, skipping any entry the kernel refuses (EAGAIN,
/// ECONNREFUSED...). Returns how many were refused.
func sendEach(_ headers: UnsafeMutablePointer<spw_mmsghdr>, count: Int, on descriptor: Int32) -> Int {
    var start = 0
    var refused = 0
    while start < count {
        let sent = spw_sendmmsg(descriptor, headers + start, UInt32(count - start), Int32(MSG_DONTWAIT))
        if sent > 0 {
            start += Int(sent)
        } else {
            refused += 1
            start += 1
        }
    }
    return refused
}

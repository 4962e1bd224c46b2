import CSpillwayShims
import SRTP

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The packets a worker handles in one go, all from one socket, and where each one lies: in the
/// batch's own arena when recvmmsg read them, or in the provided buffers of the worker's io_uring
/// when its multishot receive did.
///
/// A packet is inspected (and SRTP-transformed) in place and sent from where it lies: the send
/// headers only point their iovec at the packet's bytes and their name at a destination copied in.
/// Nothing is allocated after `init`.
struct PacketBatch: ~Copyable {
    /// Packets handled per batch (and read per recvmmsg call).
    static let capacity = 32
    /// Bytes per arena slot.
    static let slotSize = 2048
    /// The largest datagram received: a slot less the room SRTP protection may append in place.
    static let receiveLimit = slotSize - SRTPTransform.trailerRoom

    /// One received packet.
    struct Entry {
        var bytes: UnsafeMutableRawPointer
        var length: Int
        var truncated: Bool
        var source: UnsafeRawPointer
        var sourceLength: socklen_t
        /// The io_uring provided buffer the packet lies in; unused for recvmmsg.
        var buffer: UInt16
    }

    private let slots: UnsafeMutableRawPointer
    private let receiveHeaders: UnsafeMutablePointer<spw_mmsghdr>
    private let receiveVectors: UnsafeMutablePointer<iovec>
    private let receiveNames: UnsafeMutablePointer<sockaddr_in6>
    private let entries: UnsafeMutablePointer<Entry>
    let sends = SendQueue(capacity: capacity)

    init() {
        let count = Self.capacity
        slots = UnsafeMutableRawPointer.allocate(byteCount: count * Self.slotSize, alignment: 64)
        receiveHeaders = .allocate(capacity: count)
        receiveVectors = .allocate(capacity: count)
        receiveNames = .allocate(capacity: count)
        entries = .allocate(capacity: count)
        for index in 0..<count {
            receiveVectors[index] = iovec(iov_base: slots + index * Self.slotSize, iov_len: Self.receiveLimit)
            receiveNames[index] = sockaddr_in6()
            receiveHeaders[index] = spw_mmsghdr()
            receiveHeaders[index].msg_hdr.msg_iov = receiveVectors + index
            receiveHeaders[index].msg_hdr.msg_iovlen = 1
            receiveHeaders[index].msg_hdr.msg_name = UnsafeMutableRawPointer(receiveNames + index)
            entries[index] = Entry(
                bytes: slots + index * Self.slotSize, length: 0, truncated: false, source: receiveNames + index,
                sourceLength: 0, buffer: 0)
        }
    }

    deinit {
        slots.deallocate()
        receiveHeaders.deallocate()
        receiveVectors.deallocate()
        receiveNames.deallocate()
        entries.deallocate()
    }

    /// Reads up to `capacity` datagrams from `descriptor` into the arena as entries `0..<n`.
    /// Returns how many arrived (0 on EAGAIN).
    func receive(from descriptor: Int32) -> Int {
        for index in 0..<Self.capacity {
            receiveHeaders[index].msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_in6>.size)
            receiveHeaders[index].msg_hdr.msg_flags = 0
        }
        let received = Int(max(0, spw_recvmmsg(descriptor, receiveHeaders, UInt32(Self.capacity), Int32(MSG_DONTWAIT))))
        for index in 0..<received {
            let header = receiveHeaders[index]
            entries[index] = Entry(
                bytes: slots + index * Self.slotSize, length: Int(header.msg_len),
                truncated: header.msg_hdr.msg_flags & Int32(MSG_TRUNC) != 0, source: receiveNames + index,
                sourceLength: header.msg_hdr.msg_namelen, buffer: 0)
        }
        return received
    }

    /// Makes entry `index` the datagram an io_uring receive left in provided buffer `buffer`.
    func set(_ index: Int, to datagram: spw_datagram, buffer: UInt16) {
        entries[index] = Entry(
            bytes: UnsafeMutableRawPointer(datagram.payload), length: Int(datagram.length),
            truncated: datagram.truncated != 0, source: datagram.name, sourceLength: socklen_t(datagram.name_length),
            buffer: buffer)
    }

    /// Received packet `index` and where it lies.
    @inline(__always)
    func entry(_ index: Int) -> Entry { entries[index] }

    /// The bytes of received packet `index`.
    @inline(__always)
    func packet(_ index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: entries[index].bytes, count: entries[index].length)
    }

    /// The writable start of packet `index`, for in-place SRTP transforms (`SRTPTransform.trailerRoom`
    /// bytes may follow its end).
    @inline(__always)
    func mutableBytes(_ index: Int) -> UnsafeMutableRawPointer { entries[index].bytes }

    /// Records that an in-place transform changed packet `index`'s length.
    @inline(__always)
    func setLength(_ index: Int, _ length: Int) { entries[index].length = length }

    @inline(__always)
    func wasTruncated(_ index: Int) -> Bool { entries[index].truncated }

    /// The source address of received packet `index`.
    @inline(__always)
    func source(_ index: Int) -> SocketAddress {
        SocketAddress(copying: entries[index].source, length: entries[index].sourceLength)
    }

    /// Whether received packet `index` came from `address`, compared in place.
    @inline(__always)
    func came(_ index: Int, from address: SocketAddress) -> Bool {
        address.matches(entries[index].source, length: entries[index].sourceLength)
    }

    /// Queues received packet `index` as send entry `position`, addressed to `destination`.
    @inline(__always)
    func prepareSend(_ position: Int, packet index: Int, to destination: SocketAddress) {
        sends.set(position, bytes: entries[index].bytes, length: entries[index].length, to: destination)
    }

    /// Sends entries `0..<count` on `descriptor`. Returns how many the kernel refused.
    func send(_ count: Int, on descriptor: Int32) -> Int {
        sends.send(count, on: descriptor)
    }
}

/// sendmmsg headers for up to `capacity` packets: each entry points at bytes that live elsewhere
/// (a batch slot, a generated packet) and carries a copy of its destination.
struct SendQueue: ~Copyable {
    private let headers: UnsafeMutablePointer<spw_mmsghdr>
    private let vectors: UnsafeMutablePointer<iovec>
    private let names: UnsafeMutablePointer<sockaddr_in6>

    init(capacity: Int) {
        headers = .allocate(capacity: capacity)
        vectors = .allocate(capacity: capacity)
        names = .allocate(capacity: capacity)
        for index in 0..<capacity {
            vectors[index] = iovec()
            names[index] = sockaddr_in6()
            headers[index] = spw_mmsghdr()
            headers[index].msg_hdr.msg_iov = vectors + index
            headers[index].msg_hdr.msg_iovlen = 1
            headers[index].msg_hdr.msg_name = UnsafeMutableRawPointer(names + index)
        }
    }

    deinit {
        headers.deallocate()
        vectors.deallocate()
        names.deallocate()
    }

    /// Points entry `position` at `length` bytes from `bytes`, addressed to `destination`.
    @inline(__always)
    func set(_ position: Int, bytes: UnsafeMutableRawPointer, length: Int, to destination: SocketAddress) {
        vectors[position] = iovec(iov_base: bytes, iov_len: length)
        names[position] = destination.storage
        headers[position].msg_hdr.msg_namelen = destination.length
    }

    /// Sends entries `0..<count` on `descriptor`, skipping any entry the kernel refuses (EAGAIN,
    /// EMSGSIZE...). Returns how many were refused.
    ///
    /// A connected socket reports the ICMP error an earlier packet drew (its peer's port was closed)
    /// on the next send, as ECONNREFUSED, and sends nothing: that entry is tried again, as an
    /// unconnected socket would have sent it. Every such report is spent by the failing call and
    /// each sent packet draws at most one, so this ends.
    func send(_ count: Int, on descriptor: Int32) -> Int {
        var start = 0
        var refused = 0
        while start < count {
            let sent = spw_sendmmsg(descriptor, headers + start, UInt32(count - start), Int32(MSG_DONTWAIT))
            if sent > 0 {
                start += Int(sent)
            } else if errno != ECONNREFUSED {
                refused += 1
                start += 1
            }
        }
        return refused
    }
}

import CSpillwayShims
import SRTP

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A worker's preallocated packet arena and the recvmmsg/sendmmsg headers that point into it.
///
/// A packet is received into a slot, inspected (and SRTP-transformed) in place, and sent from the
/// same slot: the send headers only point their iovec at the packet's bytes and their name at a
/// destination copied in. Nothing is allocated after `init`.
struct PacketBatch: ~Copyable {
    /// Packets read per recvmmsg call.
    static let capacity = 32
    /// Bytes per slot.
    static let slotSize = 2048
    /// The largest datagram received: a slot less the room SRTP protection may append in place.
    static let receiveLimit = slotSize - SRTPTransform.trailerRoom

    let slots: UnsafeMutableRawPointer
    let receiveHeaders: UnsafeMutablePointer<spw_mmsghdr>
    let receiveVectors: UnsafeMutablePointer<iovec>
    let receiveNames: UnsafeMutablePointer<sockaddr_in6>
    let sendHeaders: UnsafeMutablePointer<spw_mmsghdr>
    let sendVectors: UnsafeMutablePointer<iovec>
    let sendNames: UnsafeMutablePointer<sockaddr_in6>

    init() {
        let count = Self.capacity
        slots = UnsafeMutableRawPointer.allocate(byteCount: count * Self.slotSize, alignment: 64)
        receiveHeaders = .allocate(capacity: count)
        receiveVectors = .allocate(capacity: count)
        receiveNames = .allocate(capacity: count)
        sendHeaders = .allocate(capacity: count)
        sendVectors = .allocate(capacity: count)
        sendNames = .allocate(capacity: count)
        for index in 0..<count {
            receiveVectors[index] = iovec(iov_base: slots + index * Self.slotSize, iov_len: Self.receiveLimit)
            receiveNames[index] = sockaddr_in6()
            receiveHeaders[index] = spw_mmsghdr()
            receiveHeaders[index].msg_hdr.msg_iov = receiveVectors + index
            receiveHeaders[index].msg_hdr.msg_iovlen = 1
            receiveHeaders[index].msg_hdr.msg_name = UnsafeMutableRawPointer(receiveNames + index)
            sendVectors[index] = iovec()
            sendNames[index] = sockaddr_in6()
            sendHeaders[index] = spw_mmsghdr()
            sendHeaders[index].msg_hdr.msg_iov = sendVectors + index
            sendHeaders[index].msg_hdr.msg_iovlen = 1
            sendHeaders[index].msg_hdr.msg_name = UnsafeMutableRawPointer(sendNames + index)
        }
    }

    deinit {
        slots.deallocate()
        receiveHeaders.deallocate()
        receiveVectors.deallocate()
        receiveNames.deallocate()
        sendHeaders.deallocate()
        sendVectors.deallocate()
        sendNames.deallocate()
    }

    /// Reads up to `capacity` datagrams from `descriptor`. Returns how many arrived (0 on EAGAIN).
    func receive(from descriptor: Int32) -> Int {
        for index in 0..<Self.capacity {
            receiveHeaders[index].msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_in6>.size)
            receiveHeaders[index].msg_hdr.msg_flags = 0
        }
        let count = spw_recvmmsg(descriptor, receiveHeaders, UInt32(Self.capacity), Int32(MSG_DONTWAIT))
        return count > 0 ? Int(count) : 0
    }

    /// The bytes of received packet `index`.
    @inline(__always)
    func packet(_ index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: slots + index * Self.slotSize, count: Int(receiveHeaders[index].msg_len))
    }

    /// The writable start of packet `index`'s slot, for in-place SRTP transforms.
    @inline(__always)
    func mutableBytes(_ index: Int) -> UnsafeMutableRawPointer {
        slots + index * Self.slotSize
    }

    /// Records that an in-place transform changed packet `index`'s length.
    @inline(__always)
    func setLength(_ index: Int, _ length: Int) {
        receiveHeaders[index].msg_len = UInt32(length)
    }

    @inline(__always)
    func wasTruncated(_ index: Int) -> Bool {
        receiveHeaders[index].msg_hdr.msg_flags & Int32(MSG_TRUNC) != 0
    }

    /// The source address of received packet `index`.
    @inline(__always)
    func source(_ index: Int) -> SocketAddress {
        SocketAddress(copying: receiveNames + index, length: receiveHeaders[index].msg_hdr.msg_namelen)
    }

    /// Queues received packet `index` as send entry `position`, addressed to `destination`.
    @inline(__always)
    func prepareSend(_ position: Int, packet index: Int, to destination: SocketAddress) {
        sendVectors[position] = iovec(iov_base: slots + index * Self.slotSize, iov_len: Int(receiveHeaders[index].msg_len))
        sendNames[position] = destination.storage
        sendHeaders[position].msg_hdr.msg_namelen = destination.length
    }

    /// Sends entries `0..<count` on `descriptor`. Returns how many the kernel refused.
    func send(_ count: Int, on descriptor: Int32) -> Int {
        sendEach(sendHeaders, count: count, on: descriptor)
    }
}

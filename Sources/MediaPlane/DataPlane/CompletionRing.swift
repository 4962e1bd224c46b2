import CSpillwayShims

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// How a media worker learns about packets.
public enum DataPlaneEngine: String, Sendable, CaseIterable, CustomStringConvertible {
    /// io_uring: a multishot receive stays armed on every socket, taking its buffers from a ring the
    /// kernel shares with the worker, and packets go out as queued sends from the buffer they came
    /// in, so one system call per pass receives and sends for every socket.
    case ioUring = "io_uring"
    /// epoll, then recvmmsg and sendmmsg per ready socket: for kernels or sandboxes without io_uring.
    case epoll

    public var description: String { rawValue }
}

/// A media worker's io_uring (see `spw_ring.h`): where its sockets' receives stay armed, where it
/// queues sends, and the provided buffers packets arrive in. A thin, copyable handle: the worker
/// that opened it closes it, and only that worker's thread uses it.
struct CompletionRing {
    /// Submission entries; the completion queue has four times as many.
    static let entries: UInt32 = 1024
    /// Provided buffers, enough for every packet of a full completion queue to be in flight.
    static let bufferCount: UInt32 = 4096
    static let bufferSize = UInt32(PacketBatch.slotSize)
    /// What the kernel may fill of a buffer: the header, source address and datagram of a receive,
    /// leaving the room SRTP protection appends in place.
    static let bufferFill = UInt32(PacketBatch.receiveLimit)

    private let ring: OpaquePointer

    /// Opens a ring, or returns the errno of the step that failed (ENOSYS or EPERM where io_uring
    /// is unavailable or disabled, ENOMEM where locked memory is short).
    static func open() -> Result<CompletionRing, SystemError> {
        guard let ring = spw_ring_open(entries, bufferCount, bufferSize, bufferFill) else {
            return .failure(SystemError(errno: errno))
        }
        return .success(CompletionRing(ring: ring))
    }

    func close() { spw_ring_close(ring) }

    /// Makes the calling thread the ring's only submitter; the worker's thread calls it before its
    /// first submission. Returns 0 or an errno.
    func enable() -> Int32 { -spw_ring_enable(ring) }

    /// Arms a multishot receive on `descriptor`.
    @inline(__always)
    func receive(on descriptor: Int32, token: WorkerToken) { spw_ring_receive(ring, descriptor, token.rawValue) }

    /// Arms a multishot poll for input on `descriptor`.
    func poll(_ descriptor: Int32, token: WorkerToken) { spw_ring_poll(ring, descriptor, token.rawValue) }

    /// Queues a send of `packet` (which lies in a provided buffer) from `descriptor` to
    /// `destination`, or to the socket's connected peer when `destination` is unset.
    @inline(__always)
    func send(_ packet: PacketBatch.Entry, from descriptor: Int32, to destination: SocketAddress, token: WorkerToken) {
        let offset = UInt32(packet.bytes - UnsafeMutableRawPointer(spw_ring_buffer(ring, UInt32(packet.buffer))))
        withUnsafePointer(to: destination.storage) { name in
            spw_ring_send(
                ring, descriptor, UInt32(packet.buffer), offset, UInt32(packet.length), name,
                UInt32(destination.length),
                token.rawValue)
        }
    }

    /// Queues the last send of `buffer` again.
    func resend(_ buffer: UInt16, token: WorkerToken) { spw_ring_resend(ring, UInt32(buffer), token.rawValue) }

    /// Queues the cancellation of the requests with `token`.
    func cancel(_ token: WorkerToken) { spw_ring_cancel(ring, token.rawValue, WorkerToken.cancellation.rawValue) }

    /// Submits what is queued and, with `wait`, blocks for a completion. Returns 0 or an errno.
    @inline(__always)
    func submit(wait: Bool) -> Int32 { -spw_ring_submit(ring, wait ? 1 : 0) }

    /// Moves up to `capacity` completions into `completions`. Returns how many.
    @inline(__always)
    func reap(into completions: UnsafeMutablePointer<spw_completion>, capacity: Int) -> Int {
        Int(spw_ring_reap(ring, completions, Int32(capacity)))
    }

    /// The datagram a receive completion left in `buffer`, nil when the buffer holds none.
    @inline(__always)
    func datagram(in buffer: UInt16, result: Int32) -> spw_datagram? {
        var datagram = spw_datagram()
        return spw_ring_datagram(ring, UInt32(buffer), result, &datagram) != 0 ? datagram : nil
    }

    /// Hands a buffer back to the kernel; it sees it after `publishBuffers`.
    @inline(__always)
    func giveBack(_ buffer: UInt16) { spw_ring_give_back(ring, UInt32(buffer)) }

    @inline(__always)
    func publishBuffers() { spw_ring_publish_buffers(ring) }
}

extension spw_completion {
    /// The provided buffer the completion used, if any.
    @inline(__always)
    var buffer: UInt16? {
        flags & UInt32(SPW_COMPLETION_BUFFER) != 0
            ? UInt16(truncatingIfNeeded: flags >> SPW_COMPLETION_BUFFER_SHIFT) : nil
    }

    /// Whether the request stays armed (multishot) after this completion.
    @inline(__always)
    var staysArmed: Bool { flags & UInt32(SPW_COMPLETION_MORE) != 0 }
}

/// A failed system call's errno, readable.
public struct SystemError: Error, Sendable, CustomStringConvertible {
    public var errno: Int32

    public var description: String { "\(String(cString: strerror(errno))) (errno \(errno))" }
}

/// What a worker's epoll event or io_uring completion is about: a side's socket (by slot, the
/// slot's generation and the socket's role), a send of a provided buffer for a side, the wake-up
/// eventfd, or a cancellation. The generation tells a completion for a side that has since been
/// removed, whose slot a new side may already hold, from one for the current side.
struct WorkerToken: RawRepresentable, Equatable {
    var rawValue: UInt64

    /// Which of a side's sockets a receive is on, or that the token is a send's.
    enum Kind: UInt64 {
        case rtp = 0
        case rtcp = 1
        case connectedRTP = 2
        case send = 3
    }

    /// The largest slot index a token can carry.
    static let slotLimit = 1 << 24

    static let wake = WorkerToken(rawValue: .max)
    static let cancellation = WorkerToken(rawValue: .max - 1)

    init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bits 0-1 the kind, 2-25 the slot, 26-41 the generation, 42-57 a send's buffer.
    init(_ kind: Kind, slot: Int, generation: UInt16, buffer: UInt16 = 0) {
        rawValue = kind.rawValue | UInt64(slot) << 2 | UInt64(generation) << 26 | UInt64(buffer) << 42
    }

    var kind: Kind { Kind(rawValue: rawValue & 3)! }
    var slot: Int { Int(truncatingIfNeeded: rawValue >> 2 & 0xFF_FFFF) }
    var generation: UInt16 { UInt16(truncatingIfNeeded: rawValue >> 26) }
    var buffer: UInt16 { UInt16(truncatingIfNeeded: rawValue >> 42) }
}

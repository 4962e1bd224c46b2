#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Hands out RTP/RTCP port pairs from a configured range: RTP on an even port, RTCP on the next
/// odd one (RFC 3550 section 11). Both sockets are bound before a pair is handed out, so a port
/// taken by another process is skipped. Allocation walks the range round-robin so a freed pair is
/// reused as late as possible and stray packets of an old call do not reach a new one.
public struct PortAllocator: Sendable {
    public let range: ClosedRange<UInt16>
    private var inUse: Set<UInt16> = []
    private var cursor: UInt16

    /// A bound pair of sockets: RTP on `port`, RTCP on `port + 1`.
    public struct Pair: Sendable, Equatable {
        public var port: UInt16
        public var rtpDescriptor: Int32
        public var rtcpDescriptor: Int32
    }

    /// - Parameter range: inclusive port range; it must hold at least one even/odd pair.
    public init(range: ClosedRange<UInt16>) {
        self.range = range
        self.cursor = Self.firstEven(in: range)
    }

    private static func firstEven(in range: ClosedRange<UInt16>) -> UInt16 {
        range.lowerBound % 2 == 0 ? range.lowerBound : range.lowerBound &+ 1
    }

    /// Number of pairs the range can hold.
    public var capacity: Int {
        let first = Int(Self.firstEven(in: range))
        let last = Int(range.upperBound)
        return last > first ? (last - first + 1) / 2 : 0
    }

    public var pairsInUse: Int { inUse.count }

    /// Binds a pair on `ip`. Throws `.exhausted` when every pair is in use or cannot be bound.
    public mutating func allocate(on ip: String) throws(PortAllocationError) -> Pair {
        let capacity = self.capacity
        guard capacity > 0 else { throw .exhausted(range: range) }
        for _ in 0..<capacity {
            let port = cursor
            advanceCursor()
            guard !inUse.contains(port) else { continue }
            switch try Self.bindPair(port: port, on: ip) {
            case .success(let pair):
                inUse.insert(port)
                return pair
            case .failure(let error):
                try Self.stopIfOutOfDescriptors(error)
            }
        }
        throw .exhausted(range: range)
    }

    /// Binds the pair at `port` on `ip` exactly, outside the range's bookkeeping: the sockets of a
    /// call taken over from another node, on that node's media IP.
    public static func bindExactly(port: UInt16, on ip: String) throws(PortAllocationError) -> Pair {
        switch try bindPair(port: port, on: ip) {
        case .success(let pair): return pair
        case .failure(let error):
            try stopIfOutOfDescriptors(error)
            throw .cannotBind(ip: ip, port: port, reason: "\(error)")
        }
    }

    private static func bindPair(port: UInt16, on ip: String) throws(PortAllocationError) -> Result<Pair, SocketError> {
        guard let rtpAddress = SocketAddress(ip: ip, port: port),
            let rtcpAddress = SocketAddress(ip: ip, port: port + 1)
        else { throw .invalidAddress(ip) }
        let rtp: Int32
        switch UDPSocket.bind(rtpAddress) {
        case .success(let descriptor): rtp = descriptor
        case .failure(let error): return .failure(error)
        }
        switch UDPSocket.bind(rtcpAddress) {
        case .success(let rtcp):
            return .success(Pair(port: port, rtpDescriptor: rtp, rtcpDescriptor: rtcp))
        case .failure(let error):
            close(rtp)
            return .failure(error)
        }
    }

    /// A port taken by another process is skipped; running out of descriptors ends the search,
    /// since no other port would do better.
    private static func stopIfOutOfDescriptors(_ error: SocketError) throws(PortAllocationError) {
        guard error.errno == EMFILE || error.errno == ENFILE else { return }
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        throw .outOfDescriptors(limit: error.errno == EMFILE ? Int(limit.rlim_cur) : nil)
    }

    /// Returns a pair's port to the pool once the worker that owned its sockets has closed them.
    public mutating func release(port: UInt16) {
        inUse.remove(port)
    }

    /// Closes the sockets of a pair that was never handed to a worker and returns its port.
    public mutating func discard(_ pair: Pair) {
        close(pair.rtpDescriptor)
        close(pair.rtcpDescriptor)
        inUse.remove(pair.port)
    }

    private mutating func advanceCursor() {
        let next = Int(cursor) + 2
        cursor = next + 1 <= Int(range.upperBound) ? UInt16(next) : Self.firstEven(in: range)
    }
}

/// Why no port pair could be had.
public enum PortAllocationError: Error, Equatable, Sendable, CustomStringConvertible {
    case exhausted(range: ClosedRange<UInt16>)
    /// No pair is free now, but `pairs` of calls that just ended are being closed by their
    /// workers and will be free in a moment.
    case stillClosing(pairs: Int)
    /// The process (`limit`, its descriptor limit) or the system (nil) has no descriptor left.
    case outOfDescriptors(limit: Int?)
    case invalidAddress(String)
    /// The pair of a call taken over could not be bound where the call's record says.
    case cannotBind(ip: String, port: UInt16, reason: String)

    public var description: String {
        switch self {
        case .exhausted(let range):
            "no free RTP/RTCP port pair in \(range.lowerBound)-\(range.upperBound); widen --port-range or wait for calls to end"
        case .stillClosing(let pairs):
            "no free RTP/RTCP port pair yet: \(pairs) of calls that just ended are still being closed; try again in a moment, or widen --port-range"
        case .outOfDescriptors(let limit?):
            "no file descriptor left for a media socket (the limit is \(limit); a call takes four, and one more for each peer whose media has arrived): raise the node's hard limit (ulimit -Hn, LimitNOFILE=) or wait for calls to end"
        case .outOfDescriptors(nil):
            "the system has no file descriptor left for a media socket (fs.file-max): raise it or wait for calls to end"
        case .cannotBind(let ip, let port, let reason):
            "cannot bind the media ports \(port)-\(port + 1) on \(ip) that the call's record names (\(reason)): "
                + "the address must be on this host (VRRP/keepalived moves it to the standby) and the ports free"
        case .invalidAddress(let ip):
            "media address '\(ip)' is not a numeric IPv4 or IPv6 address"
        }
    }
}

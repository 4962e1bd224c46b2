import PacketIO
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A network device (link) of this host: its name and kernel index.
public struct NetworkDevice: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var index: Int32

    public var description: String { name }

    /// The device named `name`, nil when the host has none.
    public init?(named name: String) {
        let index = if_nametoindex(name)
        guard index != 0 else { return nil }
        self.name = name
        self.index = Int32(index)
    }

    /// The device an address of this host lies on (within one of its prefixes), nil when none
    /// does. Loopback addresses (127.0.0.0/8, ::1) lie on `lo`.
    public static func holding(ip: String) -> NetworkDevice? {
        guard let wanted = IPBytes(ip) else { return nil }
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return nil }
        defer { freeifaddrs(list) }
        var entry: UnsafeMutablePointer<ifaddrs>? = first
        while let current = entry {
            defer { entry = current.pointee.ifa_next }
            guard let address = current.pointee.ifa_addr, let mask = current.pointee.ifa_netmask,
                let own = IPBytes(address), let prefix = IPBytes(mask), own.bytes.count == wanted.bytes.count
            else { continue }
            let inside = zip(zip(own.bytes, prefix.bytes), wanted.bytes).allSatisfy { pair, byte in
                pair.0 & pair.1 == byte & pair.1
            }
            if inside { return NetworkDevice(named: String(cString: current.pointee.ifa_name)) }
        }
        return nil
    }
}

/// An IPv4 or IPv6 address as its bytes.
private struct IPBytes {
    var bytes: [UInt8]

    init?(_ text: String) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: v4) { Array($0) }
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            bytes = withUnsafeBytes(of: v6) { Array($0) }
        } else {
            return nil
        }
    }

    init?(_ address: UnsafeMutablePointer<sockaddr>) {
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            bytes = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                withUnsafeBytes(of: pointer.pointee.sin_addr) { Array($0) }
            }
        case AF_INET6:
            bytes = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
            }
        default:
            return nil
        }
    }
}

/// Which way a forwarded packet leaves this host: the device the kernel routes its destination
/// through, or lo when the destination is one of the host's own addresses. The routing table is
/// read through a connected UDP socket (the source address the kernel picks names the device),
/// and answers are kept for a while: installs come in bursts and ask about the same few gateways.
final class EgressDevices: Sendable {
    /// A device index, and whether it is lo.
    struct Egress: Equatable {
        var device: Int32
        var isLoopback: Bool
    }

    private struct Answer {
        var egress: Egress
        var expiresNanos: UInt64
    }

    private let loopback = Egress(device: Int32(if_nametoindex("lo")), isLoopback: true)

    private let answers = Mutex<[String: Answer]>([:])
    private static let lifetimeNanos: UInt64 = 10_000_000_000

    /// The device packets to `destination` leave by.
    func egress(toward destination: SocketAddress) -> Egress {
        let ip = destination.ip
        let now = Self.monotonicNanos()
        if let answer = answers.withLock({ $0[ip] }), answer.expiresNanos > now { return answer.egress }
        let egress = resolve(destination)
        answers.withLock { answers in
            if answers.count > 4096 { answers.removeAll(keepingCapacity: true) }
            answers[ip] = Answer(egress: egress, expiresNanos: now + Self.lifetimeNanos)
        }
        return egress
    }

    private func resolve(_ destination: SocketAddress) -> Egress {
        let ip = destination.ip
        if ip.hasPrefix("127.") || ip == "::1" || ip.hasPrefix("::ffff:127.") { return loopback }
        // A destination that is one of the host's addresses: the connected socket's source is
        // the destination itself.
        let descriptor = socket(destination.isIPv6 ? AF_INET6 : AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { return loopback }
        defer { close(descriptor) }
        var target = destination
        if target.port == 0 { target.port = 9 }
        var storage = target.storage
        let connected = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, target.length) }
        }
        guard connected == 0 else { return loopback }
        var local = sockaddr_in6()
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        let named = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { return loopback }
        let source = SocketAddress(copying: &local, length: length)
        guard !source.hasSameHost(as: destination), let device = NetworkDevice.holding(ip: source.ip) else {
            return loopback
        }
        return Egress(device: device.index, isLoopback: device.index == loopback.device)
    }

    private static func monotonicNanos() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}

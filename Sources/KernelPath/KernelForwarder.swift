import CSpillwayKernel
import PacketIO
import RTP
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Whether a node forwards latched plain streams in the kernel.
public enum KernelForwardingMode: String, Sendable, CaseIterable {
    /// Required: the node does not start without the program attached.
    case on
    /// Userspace only.
    case off
    /// In the kernel where the program loads and attaches, otherwise userspace (the reason is logged).
    case auto
}

/// The kernel fast path of one node: its eBPF program loaded, attached to the TC ingress hook of
/// the network devices its media arrives on, and the forwarding map the media workers keep.
///
/// The map's calls are system calls on descriptors the kernel serialises, so one forwarder is
/// shared by every worker and the control plane.
public final class KernelForwarder: Sendable {
    /// The devices the program is attached to.
    public let devices: [NetworkDevice]
    /// The TC filter handle, from the node's owner name: the same for every start of one node,
    /// different between nodes, so that several nodes share a host and a restarted node replaces
    /// what it left behind.
    public let filterHandle: UInt32
    /// How many programs of nodes that are gone (crashed, killed) this start detached.
    public let removedOrphans: Int
    private let object: Mutex<OpaquePointer?>
    private let forwardsDescriptor: Int32
    private let countsDescriptor: Int32
    private let totalsDescriptor: Int32
    private let egress = EgressDevices()

    /// The TC filter priority every node uses.
    public static let filterPriority: UInt32 = 0x5350

    /// Loads the program with a map of `capacity` entries and attaches it to `devices` as `owner`'s
    /// filter. `owner` names the node on this host (its ID and NG address: no two running nodes
    /// share both). The filters of Spillway programs whose node is gone (crashed, killed) are
    /// removed first: their maps would otherwise go on forwarding old calls' ports.
    public init(devices: [NetworkDevice], capacity: Int, owner: String) throws(KernelForwardingError) {
        precondition(!devices.isEmpty, "the kernel fast path needs a device to attach to")
        var object: OpaquePointer?
        var program: Int32 = -1
        var forwards: Int32 = -1
        var counts: Int32 = -1
        var totals: Int32 = -1
        var ownerRecord: Int32 = -1
        let loaded = spw_kernel_load(
            UInt32(clamping: max(capacity, 1)), &object, &program, &forwards, &counts, &totals, &ownerRecord)
        guard loaded == 0, let object else { throw .loadFailed(errno: -loaded, detail: Self.libbpfMessage()) }
        removedOrphans = Self.removeOrphans()
        let handle = Self.filterHandle(for: owner)
        // The record first: a node that dies while attaching leaves filters the next start finds.
        let indices = devices.map { $0.index }
        let recorded = spw_kernel_set_owner(ownerRecord, handle, Self.filterPriority, indices, UInt32(indices.count))
        guard recorded == 0 else {
            spw_kernel_unload(object)
            throw .loadFailed(errno: -recorded, detail: "writing the owner record")
        }
        for device in devices {
            let attached = spw_kernel_attach(device.index, program, handle, Self.filterPriority)
            guard attached == 0 else {
                let detail = Self.libbpfMessage()
                for done in devices.prefix(while: { $0 != device }) {
                    _ = spw_kernel_detach(done.index, handle, Self.filterPriority)
                }
                spw_kernel_unload(object)
                throw .attachFailed(device: device.name, errno: -attached, detail: detail)
            }
        }
        self.devices = devices
        self.filterHandle = handle
        self.object = Mutex(object)
        forwardsDescriptor = forwards
        countsDescriptor = counts
        totalsDescriptor = totals
    }

    /// Detaches the program from every device and unloads it with its maps. Later calls do nothing.
    /// The clsact qdiscs stay: other nodes' filters (and other programs') may hang on them, and an
    /// empty one costs nothing.
    public func stop() {
        object.withLock { object in
            guard let loaded = object else { return }
            for device in devices {
                _ = spw_kernel_detach(device.index, filterHandle, Self.filterPriority)
            }
            spw_kernel_unload(loaded)
            object = nil
        }
    }

    deinit { stop() }

    /// Installs (or replaces) the entry for `route`, its RTP reception carried on from `reception`;
    /// the address's counters are created with its first route. Returns the errno when the map
    /// refused it (full: E2BIG).
    public func install(_ route: KernelRoute, continuing reception: ReceptionStatistics.Continuation?) -> Int32? {
        var key = route.key
        var entry = route.entry(continuing: reception, egress: egress.egress(toward:))
        let result = spw_kernel_install(forwardsDescriptor, countsDescriptor, &key, &entry)
        return result == 0 ? nil : -result
    }

    /// Removes the route at `local` (packets there go up to the node again) and returns where its
    /// reception got to; nil when there was none.
    public func withdraw(_ local: SocketAddress) -> KernelReception? {
        var key = KernelRoute.key(for: local)
        var entry = spw_forward_entry()
        return spw_kernel_take(forwardsDescriptor, &key, &entry) == 0 ? KernelReception(state: entry.reception) : nil
    }

    /// Where the reception of the route at `local` stands; nil when there is none.
    public func reception(at local: SocketAddress) -> KernelReception? {
        var key = KernelRoute.key(for: local)
        var entry = spw_forward_entry()
        return spw_kernel_read(forwardsDescriptor, &key, &entry) == 0 ? KernelReception(state: entry.reception) : nil
    }

    /// What the program has counted at `local`; nil when no route was ever there.
    public func counts(at local: SocketAddress) -> KernelCounts? {
        var key = KernelRoute.key(for: local)
        var counts = spw_forward_counters()
        return spw_kernel_counts(countsDescriptor, &key, &counts) == 0 ? KernelCounts(counts) : nil
    }

    /// Removes the counters at `local` (the side is gone).
    public func forget(_ local: SocketAddress) {
        var key = KernelRoute.key(for: local)
        _ = spw_kernel_forget(countsDescriptor, &key)
    }

    /// Packets and payload bytes the program has forwarded since it was loaded.
    public func totals() -> (packets: UInt64, bytes: UInt64) {
        var totals = spw_forward_totals()
        guard spw_kernel_totals(totalsDescriptor, &totals) == 0 else { return (0, 0) }
        return (totals.packets, totals.bytes)
    }

    /// The name of the program attached to `device` as `owner`'s filter; nil when none is.
    public static func attachedProgram(on device: NetworkDevice, owner: String) -> String? {
        var programID: UInt32 = 0
        guard spw_kernel_attached_program(device.index, filterHandle(for: owner), filterPriority, &programID) == 0
        else { return nil }
        var name = [CChar](repeating: 0, count: 64)
        guard spw_kernel_program_name(programID, &name, UInt32(name.count)) == 0 else { return nil }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Removes the filters of Spillway programs whose node is gone (crashed, killed) from every
    /// device they were attached to, so their maps stop forwarding those nodes' calls; returns how
    /// many such programs there were.
    public static func removeOrphans() -> Int { Int(spw_kernel_remove_orphans()) }

    /// FNV-1a of the owner's name, never 0 (which asks the kernel to pick a handle).
    static func filterHandle(for owner: String) -> UInt32 {
        var hash: UInt32 = 0x811C_9DC5
        for byte in owner.utf8 { hash = (hash ^ UInt32(byte)) &* 0x0100_0193 }
        return hash == 0 ? 1 : hash
    }

    private static func libbpfMessage() -> String { String(cString: spw_kernel_last_message()) }
}

/// Why the kernel fast path could not start.
public enum KernelForwardingError: Error, Sendable, CustomStringConvertible {
    case loadFailed(errno: Int32, detail: String)
    case attachFailed(device: String, errno: Int32, detail: String)
    case noDevice(address: String)
    case unknownDevice(name: String)

    public var description: String {
        switch self {
        case .loadFailed(let code, let detail):
            "the kernel fast path's eBPF program did not load: \(Self.reason(code, detail)). It needs Linux 5.14 or later, root or CAP_BPF with CAP_NET_ADMIN, and bpf() allowed by the container's seccomp profile"
        case .attachFailed(let device, let code, let detail):
            "the kernel fast path could not attach to the TC ingress hook of \(device): \(Self.reason(code, detail)). It needs CAP_NET_ADMIN; check that the device exists and is not managed by a tool that removes foreign TC filters"
        case .noDevice(let address):
            "no network device holds the media address \(address), so the kernel fast path has nowhere to attach; name the devices with kernel-device"
        case .unknownDevice(let name):
            "kernel-device names \(name), which this host has no network device called; `ip link` lists them"
        }
    }

    private static func reason(_ code: Int32, _ detail: String) -> String {
        let text = String(cString: strerror(code))
        return detail.isEmpty ? text : "\(text) (libbpf: \(detail))"
    }
}

import KernelPath
import Logging
import MediaPlane
import ServiceEdge
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Starts the kernel fast path as a node's settings ask: `off` never, `auto` where it loads and
/// attaches (otherwise the node says why and runs in userspace), `on` or the node does not start.
enum KernelPathStart {
    static func open(_ configuration: NodeConfiguration, logger: Logger) throws(StartError) -> KernelForwarder? {
        guard configuration.kernelForwarding != .off else { return nil }
        do throws(KernelForwardingError) {
            let devices = try devices(for: configuration)
            // Every port of the range on every interface can be a route's key.
            let capacity = min(configuration.portRange.count * configuration.mediaInterfaces.count, 1 << 22)
            let forwarder = try KernelForwarder(
                devices: devices, capacity: capacity, owner: kernelOwner(of: configuration))
            if forwarder.removedOrphans > 0 {
                logger.notice(
                    "removed the kernel fast path filters of \(forwarder.removedOrphans) Spillway node(s) that are no longer running"
                )
            }
            logger.info(
                "kernel fast path attached",
                metadata: ["devices": "\(devices.map(\.name).joined(separator: ","))", "entries": "\(capacity)"])
            return forwarder
        } catch {
            if configuration.kernelForwarding == .on { throw .kernelForwarding(reason: "\(error)") }
            logger.notice("media is forwarded in userspace only: \(error)")
            return nil
        }
    }

    /// Nodes this process started with an NG port left to the kernel.
    private static let ephemeralStarts = Atomic<Int>(0)

    /// What names the node's filter on this host: its ID and NG address, which no two running
    /// nodes share. When the NG port is left to the kernel, the node cannot restart as itself, and
    /// several such nodes may share the address text (tests start many in one process): the
    /// process and the start are added.
    static func kernelOwner(of configuration: NodeConfiguration) -> String {
        let owner = "\(configuration.nodeID)@\(configuration.ngAddress)"
        guard configuration.ngAddress.hasSuffix(":0") else { return owner }
        return "\(owner)/\(getpid())/\(ephemeralStarts.wrappingAdd(1, ordering: .relaxed).oldValue)"
    }

    /// The configured devices, or those holding the media interfaces' addresses.
    private static func devices(for configuration: NodeConfiguration) throws(KernelForwardingError) -> [NetworkDevice] {
        var devices: [NetworkDevice] = []
        if configuration.kernelDevices.isEmpty {
            for interface in configuration.mediaInterfaces {
                guard let device = NetworkDevice.holding(ip: interface.localIP) else {
                    throw .noDevice(address: interface.localIP)
                }
                if !devices.contains(device) { devices.append(device) }
            }
        } else {
            for name in configuration.kernelDevices {
                guard let device = NetworkDevice(named: name) else { throw .unknownDevice(name: name) }
                if !devices.contains(device) { devices.append(device) }
            }
        }
        return devices
    }
}

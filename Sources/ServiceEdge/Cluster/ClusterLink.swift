import CSpillwayShims
import Cluster
import Logging
import NIOCore

/// The sending and receiving end of a node's (or the monitor's) cluster UDP port: seals outgoing
/// messages, opens incoming ones, and counts what it refuses. Used on the event loop only.
package final class ClusterLink {
    package let sender: String
    private let seal: ClusterSeal
    private let channel: any Channel
    private let logger: Logger
    package private(set) var rejected: [ClusterRejection: UInt64] = [:]

    package init(sender: String, seal: ClusterSeal, channel: any Channel, logger: Logger) {
        self.sender = sender
        self.seal = seal
        self.channel = channel
        self.logger = logger
    }

    package func send(_ message: ClusterMessage, to address: NIOCore.SocketAddress) {
        let datagram = seal.seal(ClusterEnvelope(sender: sender, sentAtWallNanos: spw_wall_nanos(), message: message))
        let buffer = channel.allocator.buffer(bytes: datagram)
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
    }

    /// The envelope in a received datagram, or nil when it is refused (counted and logged).
    package func open(_ datagram: [UInt8], from address: NIOCore.SocketAddress) -> ClusterEnvelope? {
        switch seal.open(datagram, nowWallNanos: spw_wall_nanos()) {
        case .success(let envelope):
            return envelope
        case .failure(let reason):
            refuse(reason, from: address)
            return nil
        }
    }

    /// Counts a refused message. Logged at the 1st, 2nd, 4th, 8th... of each kind, so a flood of
    /// forged datagrams cannot flood the log.
    package func refuse(_ reason: ClusterRejection, from address: NIOCore.SocketAddress) {
        let count = rejected[reason, default: 0] + 1
        rejected[reason] = count
        guard count & (count - 1) == 0 else { return }
        logger.warning(
            "cluster message ignored",
            metadata: [
                "from": "\(address)", "reason": "\(reason.rawValue)", "count": "\(count)",
                "hint": "check that every node and the monitor use the same cluster key file and synchronised clocks",
            ])
    }
}

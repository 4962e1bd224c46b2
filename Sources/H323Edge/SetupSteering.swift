import Cluster
import NIOCore

/// How a node over its threshold hands an H.323 call to the node its steering chose (`--h323-reply`).
public enum H323ReplyMode: String, CaseIterable, Sendable {
    /// The caller is told the chosen node (Facility `callForwarded` naming its call-signalling
    /// address) and sends its Setup there; this node leaves the call.
    case direct
    /// This node forwards the Setup to the chosen node and relays the call's signalling both ways;
    /// the media is anchored on the chosen node, never here.
    case reverse
}

/// Where the node's steering sends a new H.323 call.
public enum SetupPlacement: Sendable {
    case takeHere
    /// To node `node` at its call-signalling address, the forwarded Setup carrying `placement`.
    case forward(node: String, callSignalAddress: NIOCore.SocketAddress, placement: CallPlacement)
    case allBusy(AllBusyReason)
}

/// The node's steering, as the call-signalling port asks it: a placement in, an outcome out (at
/// once, or after a poll round or the monitor's answer).
public typealias SetupSteering = (CallPlacement, _ then: @escaping (SetupPlacement) -> Void) -> Void

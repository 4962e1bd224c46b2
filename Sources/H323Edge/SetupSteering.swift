import Cluster
import H323
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
/// once, or after a poll round or the monitor's answer). `unanswered` names the node a forwarded
/// Setup could not reach, when the call is placed again: the node is marked down and left out.
public typealias SetupSteering = (CallPlacement, _ unanswered: String?, _ then: @escaping (SetupPlacement) -> Void) ->
    Void

/// Authenticates the Spillway element of the Setups a node forwards to another, under the cluster
/// key, and checks it on those it receives: without it, any caller could claim to have been
/// steered already, with a destination and hops of its choosing.
public struct SetupElementSeal: Sendable {
    private let seal: ClusterSeal
    private let wallNanos: @Sendable () -> UInt64

    /// `wallNanos` is the wall clock, in nanoseconds since the epoch, that stamps and judges elements.
    public init(seal: ClusterSeal, wallNanos: @escaping @Sendable () -> UInt64) {
        self.seal = seal
        self.wallNanos = wallNanos
    }

    /// An element for the Setup of call `callIdentifier`, stamped now and tagged.
    func element(hopsLeft: Int, visited: [String], destination: String?, callIdentifier: [UInt8])
        -> SpillwaySetupElement
    {
        var element = SpillwaySetupElement(
            hopsLeft: hopsLeft, visited: visited, destination: destination, madeAtWallNanos: wallNanos())
        element.tag = seal.authenticationTag(for: element.authenticatedBytes(callIdentifier: callIdentifier))
        return element
    }

    /// Whether a received element was made by a node of this cluster for this call, lately.
    func isAuthentic(_ element: SpillwaySetupElement, callIdentifier: [UInt8]) -> Bool {
        seal.authenticates(element.tag, for: element.authenticatedBytes(callIdentifier: callIdentifier))
            && seal.isFresh(madeAtWallNanos: element.madeAtWallNanos, nowWallNanos: wallNanos())
    }
}

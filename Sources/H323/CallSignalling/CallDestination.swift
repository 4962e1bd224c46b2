/// A static route for H.323 calls (`--h323-route PREFIX=HOST:PORT`): calls whose dialled digits
/// or H.323-ID start with `prefix` go to `destination`.
public struct H323Route: Equatable, Sendable, CustomStringConvertible {
    public var prefix: String
    public var destination: TransportAddress

    public init(prefix: String, destination: TransportAddress) {
        self.prefix = prefix
        self.destination = destination
    }

    public var description: String { "\(prefix)=\(destination)" }
}

/// Where a routed Setup goes, and why (H.323 gatekeeper-routed signalling), in the order a node
/// looks: an endpoint registered with it under a destination alias, the longest matching static
/// route, the Setup's own destCallSignalAddress.
public enum CallDestination: Equatable, Sendable, CustomStringConvertible {
    case registered(endpointIdentifier: String, TransportAddress)
    case route(H323Route)
    case signalled(TransportAddress)
    /// Resolved by the Spillway node that forwarded the Setup here (`SpillwaySetupElement`).
    case resolvedByForwarder(TransportAddress)

    public var address: TransportAddress {
        switch self {
        case .registered(_, let address), .signalled(let address), .resolvedByForwarder(let address): address
        case .route(let route): route.destination
        }
    }

    public var description: String {
        switch self {
        case .registered(let endpoint, let address): "registered endpoint \(endpoint) at \(address)"
        case .route(let route): "route \(route)"
        case .signalled(let address): "destCallSignalAddress \(address)"
        case .resolvedByForwarder(let address): "\(address), resolved by the forwarding node"
        }
    }

    /// The destination of a Setup addressed to `aliases` (and `signalled`, its
    /// destCallSignalAddress), or nil when none is known. `registered` finds the endpoint
    /// registered under any of the aliases.
    public static func find(
        aliases: [AliasAddress], signalled: TransportAddress?, routes: [H323Route],
        registered: ([AliasAddress]) -> RegistrationTable.Registration?
    ) -> CallDestination? {
        if let registration = registered(aliases), let address = registration.callSignalAddress {
            return .registered(endpointIdentifier: registration.endpointIdentifier, address)
        }
        let names = aliases.compactMap { alias -> String? in
            switch alias {
            case .dialledDigits(let digits): digits
            case .h323ID(let name): name
            default: nil
            }
        }
        let matching = routes.filter { route in names.contains { $0.hasPrefix(route.prefix) } }
        if let longest = matching.max(by: { $0.prefix.count < $1.prefix.count }) { return .route(longest) }
        return signalled.map(CallDestination.signalled)
    }
}

extension RegistrationTable {
    /// The live registration holding any of `aliases`, if one does.
    public mutating func registration(matchingAnyOf aliases: [AliasAddress], now: UInt64) -> Registration? {
        guard !aliases.isEmpty else { return nil }
        return registeredEndpoints(now: now).first { registration in
            registration.aliases.contains { aliases.contains($0) }
        }
    }
}

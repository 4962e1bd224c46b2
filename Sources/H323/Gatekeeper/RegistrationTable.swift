/// The endpoints registered with a gatekeeper (H.225.0 §7.8): their identifiers, addresses and
/// aliases, each until its time to live runs out. Pure state: times are passed in (monotonic
/// nanoseconds).
public struct RegistrationTable: Sendable {
    /// One registered endpoint.
    public struct Registration: Equatable, Sendable {
        public var endpointIdentifier: String
        public var aliases: [AliasAddress]
        public var rasAddress: TransportAddress?
        public var callSignalAddress: TransportAddress?
        public var expiresAt: UInt64
    }

    /// Seconds a registration lasts unless renewed; sent in every RCF.
    public let timeToLive: UInt32
    /// The most endpoints registered at once; more are refused with `resourceUnavailable`.
    public let capacity: Int
    private var registrations: [String: Registration] = [:]
    private var nextNumber = 1

    public init(timeToLive: UInt32 = 300, capacity: Int = 10_000) {
        self.timeToLive = timeToLive
        self.capacity = capacity
    }

    public var count: Int { registrations.count }

    /// Registers or renews. A new registration is identified by its first H.323-ID alias when no
    /// other endpoint holds it, otherwise by a generated `ep-N`.
    public mutating func register(_ request: RegistrationRequest, now: UInt64) -> Result<
        Registration, RegistrationRejectReason
    > {
        expire(now: now)
        let expiresAt = now + UInt64(timeToLive) * 1_000_000_000
        if request.keepAlive {
            guard let identifier = request.endpointIdentifier, var registration = registrations[identifier] else {
                return .failure(.fullRegistrationRequired)
            }
            registration.expiresAt = expiresAt
            registrations[identifier] = registration
            return .success(registration)
        }
        let aliases = request.terminalAlias ?? []
        guard let callSignal = request.callSignalAddress.first else { return .failure(.invalidCallSignalAddress) }
        let ras = request.rasAddress.first
        // The same endpoint registering again (a restart) keeps its identifier.
        if let existing = registrations.values.first(where: {
            $0.callSignalAddress == callSignal && $0.rasAddress == ras
        }) {
            registrations[existing.endpointIdentifier] = nil
        }
        guard registrations.count < capacity else { return .failure(.resourceUnavailable) }
        let identifier = preferredIdentifier(aliases) ?? generatedIdentifier()
        let registration = Registration(
            endpointIdentifier: identifier, aliases: aliases, rasAddress: ras, callSignalAddress: callSignal,
            expiresAt: expiresAt)
        registrations[identifier] = registration
        return .success(registration)
    }

    /// Ends a registration; false when there was none.
    public mutating func unregister(_ endpointIdentifier: String) -> Bool {
        registrations.removeValue(forKey: endpointIdentifier) != nil
    }

    /// The live registration of `endpointIdentifier`, if any.
    public mutating func registration(_ endpointIdentifier: String, now: UInt64) -> Registration? {
        expire(now: now)
        return registrations[endpointIdentifier]
    }

    /// The live registrations, in no particular order.
    public mutating func registeredEndpoints(now: UInt64) -> [Registration] {
        expire(now: now)
        return Array(registrations.values)
    }

    private func preferredIdentifier(_ aliases: [AliasAddress]) -> String? {
        for case .h323ID(let name) in aliases where registrations[name] == nil && (1...128).contains(name.utf16.count) {
            return name
        }
        return nil
    }

    private mutating func generatedIdentifier() -> String {
        while registrations["ep-\(nextNumber)"] != nil { nextNumber += 1 }
        defer { nextNumber += 1 }
        return "ep-\(nextNumber)"
    }

    private mutating func expire(now: UInt64) {
        registrations = registrations.filter { $0.value.expiresAt > now }
    }
}

/// A registration refused for this reason is the failure of `RegistrationTable.register`.
extension RegistrationRejectReason: Error {}

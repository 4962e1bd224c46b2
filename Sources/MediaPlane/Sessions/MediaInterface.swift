import SDP

/// A network interface the relay's media sockets bind to, as rtpengine names one:
/// `NAME/IP[!ADVERTISED]`. The sockets bind `localIP`; the SDP the relay writes names
/// `advertisedIP`, which differs behind 1:1 NAT. Calls pick an interface per leg (NG `direction`,
/// `address-family`); one port range is shared by all interfaces.
public struct MediaInterface: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var localIP: String
    public var advertisedIP: String

    public init(name: String, localIP: String, advertisedIP: String? = nil) {
        self.name = name
        self.localIP = localIP
        self.advertisedIP = advertisedIP ?? localIP
    }

    /// Parses `NAME/IP` or `NAME/IP!ADVERTISED`; the addresses must be numeric, of one family.
    public init?(parsing text: String) {
        guard let slash = text.firstIndex(of: "/") else { return nil }
        let name = String(text[..<slash])
        let addresses = text[text.index(after: slash)...].split(separator: "!", omittingEmptySubsequences: false)
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }),
            addresses.count == 1 || addresses.count == 2,
            let local = SocketAddress(ip: String(addresses[0]), port: 0)
        else { return nil }
        if addresses.count == 2 {
            guard let advertised = SocketAddress(ip: String(addresses[1]), port: 0), advertised.isIPv6 == local.isIPv6
            else {
                return nil
            }
        }
        self.init(
            name: name, localIP: String(addresses[0]), advertisedIP: addresses.count == 2 ? String(addresses[1]) : nil)
    }

    public var isIPv6: Bool { localIP.contains(":") }

    /// The address the SDP names for this interface.
    public var connection: ConnectionAddress { ConnectionAddress(numeric: advertisedIP) }

    public var description: String {
        advertisedIP == localIP ? "\(name)/\(localIP)" : "\(name)/\(localIP)!\(advertisedIP)"
    }
}

/// The interfaces of a node, and which one faces each party of a call.
public struct MediaInterfaces: Sendable {
    /// In configuration order (the first is the default), then those adopted with calls taken
    /// over from other nodes.
    public private(set) var all: [MediaInterface]
    /// How many of `all` were configured: only those take new calls.
    public let configuredCount: Int

    /// At least one interface; names are unique.
    public init(_ interfaces: [MediaInterface]) {
        precondition(!interfaces.isEmpty, "a node has at least one media interface")
        all = interfaces
        configuredCount = interfaces.count
    }

    /// The configured interfaces.
    public var configured: ArraySlice<MediaInterface> { all[..<configuredCount] }

    /// The position of `interface`, added when no interface binds and advertises the same
    /// addresses: another node's, whose calls this node took over.
    mutating func adopt(_ interface: MediaInterface) -> Int {
        if let position = all.firstIndex(where: {
            $0.localIP == interface.localIP && $0.advertisedIP == interface.advertisedIP
        }) {
            return position
        }
        all.append(interface)
        return all.count - 1
    }

    /// The interface called `name`, or an error naming the ones there are.
    func position(named name: String) throws(CallError) -> Int {
        guard let position = configured.firstIndex(where: { $0.name == name }) else {
            throw .unknownInterface(name, known: configured.map(\.name))
        }
        return position
    }

    /// The first interface of `family`, or an error when there is none.
    func position(of family: ConnectionAddress.Family) throws(CallError) -> Int {
        guard let position = configured.firstIndex(where: { $0.isIPv6 == (family == .ipv6) }) else {
            throw .noInterface(family: family, known: configured.map(\.description))
        }
        return position
    }

    /// The interfaces facing the offerer and the recipient of a new call. `direction` (NG, as
    /// rtpengine reads it) names both; otherwise the offerer's faces it in the family of its SDP,
    /// and the recipient's is the same one unless `addressFamily` asks for the other family.
    func forNewCall(
        direction: [String], addressFamily: ConnectionAddress.Family?, offererFamily: ConnectionAddress.Family?
    ) throws(CallError) -> (offerer: Int, recipient: Int) {
        if !direction.isEmpty {
            guard direction.count == 2 else { throw .badDirection(direction) }
            let offerer = try position(named: direction[0])
            let recipient = try position(named: direction[1])
            if let addressFamily, (addressFamily == .ipv6) != all[recipient].isIPv6 {
                throw .noInterface(family: addressFamily, known: [all[recipient].description])
            }
            return (offerer, recipient)
        }
        // An offerer in a family no interface has could not be reached: refused, not relayed into nothing.
        let offerer = try offererFamily.map { family throws(CallError) in try position(of: family) } ?? 0
        let recipient = try addressFamily.map { family throws(CallError) in try position(of: family) } ?? offerer
        return (offerer, recipient)
    }
}

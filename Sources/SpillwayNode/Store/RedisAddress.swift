import MediaPlane

/// Where the call store is: `HOST:PORT` with a numeric host, and optionally `/DB`, the database
/// number (0 by default).
public struct RedisAddress: Sendable, Equatable, CustomStringConvertible {
    public var hostAndPort: String
    public var database: Int

    public init?(parsing text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        hostAndPort = String(parts[0])
        database = 0
        if parts.count == 2 {
            guard let number = Int(parts[1]), (0...1023).contains(number) else { return nil }
            database = number
        }
        guard MediaPlane.SocketAddress(hostAndPort: hostAndPort) != nil else { return nil }
    }

    public var description: String { database == 0 ? hostAndPort : "\(hostAndPort)/\(database)" }
}

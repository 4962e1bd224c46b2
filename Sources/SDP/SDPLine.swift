/// One `<type>=<value>` line of a session description (RFC 8866 section 5).
public struct SDPLine: Equatable, Sendable {
    /// The one-letter type, e.g. `m`, `c`, `a`.
    public var type: Character
    /// Everything after the `=`.
    public var value: String

    public init(_ type: Character, _ value: String) {
        self.type = type
        self.value = value
    }

    /// For an `a=` line, the attribute name (before the first `:`).
    public var attributeName: Substring? {
        guard type == "a" else { return nil }
        return value.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first
    }

    /// For an `a=name:value` line, the value after the first `:`; nil for a flag attribute.
    public var attributeValue: Substring? {
        guard type == "a", let colon = value.firstIndex(of: ":") else { return nil }
        return value[value.index(after: colon)...]
    }

    public var text: String { "\(type)=\(value)" }
}

/// Network address of a `c=` or `o=` line (RFC 8866 5.7).
public struct ConnectionAddress: Equatable, Sendable {
    public enum Family: String, Sendable {
        case ipv4 = "IP4"
        case ipv6 = "IP6"
    }

    public var family: Family
    /// The address, without any `/ttl` or `/count` suffix.
    public var address: String

    public init(family: Family, address: String) {
        self.family = family
        self.address = address
    }

    /// A numeric address, IPv6 when it holds a colon, else IPv4.
    public init(numeric address: String) {
        self.init(family: address.contains(":") ? .ipv6 : .ipv4, address: address)
    }

    /// Parses `IN IP4 192.0.2.1` (the part of a `c=` line after `c=`).
    public init?(connectionValue: String) {
        let fields = connectionValue.split(separator: " ")
        guard fields.count == 3, fields[0] == "IN", let family = Family(rawValue: String(fields[1])) else {
            return nil
        }
        self.family = family
        self.address = String(fields[2].split(separator: "/").first ?? fields[2])
    }

    /// The value of a `c=` line: `IN IP4 192.0.2.1`.
    public var connectionValue: String { "IN \(family.rawValue) \(address)" }
}

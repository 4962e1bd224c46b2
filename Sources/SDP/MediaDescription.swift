/// One media section of a session description: the `m=` line and the lines after it up to the
/// next `m=` (RFC 8866 section 5.14).
public struct MediaDescription: Equatable, Sendable {
    /// The media type: `audio`, `video`, `application`, ...
    public var media: String
    public var port: Int
    /// The `/<number of ports>` suffix of the port field, if present.
    public var portCount: Int?
    /// The transport protocol, e.g. `RTP/AVP`, `RTP/SAVPF`.
    public var proto: String
    /// The media formats (RTP payload types for RTP profiles).
    public var formats: [String]
    /// Every line after the `m=` line, in order, kept verbatim unless rewritten.
    public var lines: [SDPLine]

    public init(
        media: String, port: Int, portCount: Int? = nil, proto: String, formats: [String], lines: [SDPLine] = []
    ) {
        self.media = media
        self.port = port
        self.portCount = portCount
        self.proto = proto
        self.formats = formats
        self.lines = lines
    }

    init(mediaLineValue value: String, lineNumber: Int) throws(SDPError) {
        let fields = value.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 3 else {
            throw .invalidLine(number: lineNumber, line: "m=\(value)", reason: "an m= line needs media, port, proto")
        }
        let portField = fields[1].split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let port = Int(portField[0]), (0...65535).contains(port) else {
            throw .invalidLine(number: lineNumber, line: "m=\(value)", reason: "the port is not a number in 0...65535")
        }
        var portCount: Int?
        if portField.count == 2 {
            guard let count = Int(portField[1]), count > 0 else {
                throw .invalidLine(
                    number: lineNumber, line: "m=\(value)", reason: "the port count is not a positive number")
            }
            portCount = count
        }
        self.init(
            media: String(fields[0]), port: port, portCount: portCount, proto: String(fields[2]),
            formats: fields.dropFirst(3).map(String.init)
        )
    }

    /// The `m=` line's value.
    public var mediaLineValue: String {
        let portField = portCount.map { "\(port)/\($0)" } ?? "\(port)"
        return ([media, portField, proto] + formats).joined(separator: " ")
    }

    /// Whether this section is RTP (an `RTP/...` profile, possibly over DTLS/TLS).
    public var isRTP: Bool { proto.contains("RTP/") }

    /// The media-level `c=` address, if the section has one.
    public var connection: ConnectionAddress? {
        lines.first { $0.type == "c" }.flatMap { ConnectionAddress(connectionValue: $0.value) }
    }

    /// Values of every `a=<name>` or `a=<name>:<value>` line (nil values for flag attributes).
    public func attributes(named name: String) -> [Substring?] {
        lines.filter { $0.attributeName == name[...] }.map(\.attributeValue)
    }

    public func hasAttribute(_ name: String) -> Bool {
        lines.contains { $0.attributeName == name[...] }
    }

    /// The `a=rtcp:` attribute (RFC 3605): the RTCP port and optionally its address.
    public var rtcpAttribute: (port: Int, address: ConnectionAddress?)? {
        guard let value = attributes(named: "rtcp").compactMap({ $0 }).first else { return nil }
        let fields = value.split(separator: " ")
        guard let first = fields.first, let port = Int(first), (1...65535).contains(port) else { return nil }
        let address = fields.count == 4 ? ConnectionAddress(connectionValue: fields[1...].joined(separator: " ")) : nil
        return (port, address)
    }

    /// The RTP clock rate of one of the m= line's payload types: from `a=rtpmap`, else from RFC 3551's
    /// static table.
    public func clockRate(ofPayloadType payloadType: String) -> Int? {
        guard let format = payloadFormats.first(where: { String($0.payloadType) == payloadType }), format.clockRate > 0
        else { return nil }
        return format.clockRate
    }

    /// Removes every `a=` line whose attribute name satisfies `predicate`.
    public mutating func removeAttributes(where predicate: (Substring) -> Bool) {
        lines.removeAll { line in line.attributeName.map(predicate) ?? false }
    }

    /// Sets the media-level `c=` line, inserting it after any `i=` line as RFC 8866's order requires.
    public mutating func setConnection(_ address: ConnectionAddress) {
        if let index = lines.firstIndex(where: { $0.type == "c" }) {
            lines[index].value = address.connectionValue
            lines.removeAll { $0.type == "c" && $0.value != address.connectionValue }
        } else {
            let position = lines.firstIndex { $0.type != "i" } ?? lines.endIndex
            lines.insert(SDPLine("c", address.connectionValue), at: position)
        }
    }

    /// Sets a flag or value attribute, replacing the first existing one or appending it.
    public mutating func setAttribute(_ name: String, value: String?) {
        let line = SDPLine("a", value.map { "\(name):\($0)" } ?? name)
        if let index = lines.firstIndex(where: { $0.attributeName == name[...] }) {
            lines[index] = line
            lines.removeAll { $0.attributeName == name[...] && $0 != line }
        } else {
            lines.append(line)
        }
    }
}

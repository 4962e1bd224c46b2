/// What one Spillway node tells the next in a Setup it forwards (`--h323-reply reverse`): how
/// many more times the call may be forwarded, the nodes it has been through, and the destination
/// the first node resolved (an endpoint registered there is unknown to the others), stamped with
/// when it was made and authenticated under the cluster key.
///
/// It travels as a user-specific information element (Q.931 §4.5.3: a non-locking shift to codeset
/// 7, then the element), which the node taking the call removes before the Setup goes on, so no
/// endpoint ever sees it. Contents: a version octet (2), hops left, the destination as a
/// length-prefixed `HOST:PORT` (empty when the forwarder resolved none), the visited nodes, each as
/// a length octet and its id, then the making time (8 octets, wall nanoseconds) and the tag
/// (16 octets). The tag covers everything before it and the call's identifier
/// (`authenticatedBytes(callIdentifier:)`): a caller cannot make one up, and one lifted from a
/// Setup authenticates no other call. Computing and checking it is the node's (H323Edge) job.
public struct SpillwaySetupElement: Equatable, Sendable {
    public var hopsLeft: Int
    public var visited: [String]
    /// `HOST:PORT` of the callee, as the first node resolved it.
    public var destination: String?
    /// When the forwarding node made the element (wall nanoseconds).
    public var madeAtWallNanos: UInt64
    /// The forwarding node's tag over `authenticatedBytes(callIdentifier:)`.
    public var tag: [UInt8]

    /// Non-locking shift to codeset 7 (user-specific information elements).
    static let shiftToCodeset7: UInt8 = 0x9F
    /// The element's identifier within codeset 7; chosen outside the codeset-0 identifiers H.225.0
    /// uses, so a reader unaware of the shift mistakes it for nothing it knows.
    static let identifier: UInt8 = 0x53
    private static let version: UInt8 = 2
    /// The length of the tag at the end of the contents.
    public static let tagLength = 16

    /// A Q.931 element's contents are at most 255 octets: a visited list too long for them keeps
    /// its most recent nodes (the hop limit still ends the walk).
    public init(hopsLeft: Int, visited: [String], destination: String?, madeAtWallNanos: UInt64, tag: [UInt8] = []) {
        self.hopsLeft = hopsLeft
        self.visited = visited
        self.destination = destination
        self.madeAtWallNanos = madeAtWallNanos
        self.tag = tag
        while fields.count + Self.tagLength > Self.maximumContents, !self.visited.isEmpty { self.visited.removeFirst() }
    }

    /// The most octets an information element's contents can hold.
    static let maximumContents = 255
    /// The longest destination: `[IPv6]:PORT` is at most 47 octets.
    static let maximumDestination = 64

    /// The element in `message`, if it has one that reads.
    public init?(in message: Q931Message) {
        guard let position = Self.position(in: message) else { return nil }
        let contents = message.elements[position + 1].contents
        let trailer = 8 + Self.tagLength
        guard contents.count >= 3 + trailer, contents[0] == Self.version else { return nil }
        let fieldsEnd = contents.count - trailer
        let destinationEnd = 3 + Int(contents[2])
        guard Int(contents[2]) <= Self.maximumDestination, destinationEnd <= fieldsEnd,
            let visited = VisitedNodes(listing: Array(contents[destinationEnd..<fieldsEnd]))
        else { return nil }
        hopsLeft = Int(contents[1])
        destination = destinationEnd > 3 ? String(decoding: contents[3..<destinationEnd], as: UTF8.self) : nil
        self.visited = visited.nodes
        madeAtWallNanos = contents[fieldsEnd..<(fieldsEnd + 8)].reduce(0) { $0 << 8 | UInt64($1) }
        tag = Array(contents[(fieldsEnd + 8)...])
    }

    /// The fields and the making time, as the element carries them before its tag.
    private var fields: [UInt8] {
        let destinationOctets = Array((destination ?? "").utf8.prefix(Self.maximumDestination))
        return [Self.version, UInt8(clamping: hopsLeft), UInt8(destinationOctets.count)] + destinationOctets
            + VisitedNodes(visited).listing
            + (0..<8).reversed().map { UInt8(truncatingIfNeeded: madeAtWallNanos >> (8 * $0)) }
    }

    /// What the tag covers: the element's fields and making time, and the call's identifier
    /// (empty for a Setup without one).
    public func authenticatedBytes(callIdentifier: [UInt8]) -> [UInt8] { fields + callIdentifier }

    /// Adds the element to `message` (replacing one already there).
    public func add(to message: inout Q931Message) {
        Self.remove(from: &message)
        message.elements.append(Q931Message.InformationElement(Self.shiftToCodeset7))
        message.elements.append(Q931Message.InformationElement(Self.identifier, fields + tag))
    }

    /// Takes the element (and its shift) out of `message`.
    public static func remove(from message: inout Q931Message) {
        guard let position = position(in: message) else { return }
        message.elements.removeSubrange(position...(position + 1))
    }

    private static func position(in message: Q931Message) -> Int? {
        message.elements.indices.dropLast().first { index in
            message.elements[index].identifier == shiftToCodeset7
                && message.elements[index + 1].identifier == identifier
        }
    }
}

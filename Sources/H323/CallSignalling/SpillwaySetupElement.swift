/// What one Spillway node tells the next in a Setup it forwards (`--h323-reply reverse`): how
/// many more times the call may be forwarded, the nodes it has been through, and the destination
/// the first node resolved (an endpoint registered there is unknown to the others).
///
/// It travels as a user-specific information element (Q.931 §4.5.3: a non-locking shift to codeset
/// 7, then the element), which the node taking the call removes before the Setup goes on, so no
/// endpoint ever sees it. Contents: a version octet (1), hops left, the destination as a
/// length-prefixed `HOST:PORT` (empty when the forwarder resolved none), then the visited nodes,
/// each as a length octet and its id.
public struct SpillwaySetupElement: Equatable, Sendable {
    public var hopsLeft: Int
    public var visited: [String]
    /// `HOST:PORT` of the callee, as the first node resolved it.
    public var destination: String?

    /// Non-locking shift to codeset 7 (user-specific information elements).
    static let shiftToCodeset7: UInt8 = 0x9F
    /// The element's identifier within codeset 7; chosen outside the codeset-0 identifiers H.225.0
    /// uses, so a reader unaware of the shift mistakes it for nothing it knows.
    static let identifier: UInt8 = 0x53
    private static let version: UInt8 = 1

    public init(hopsLeft: Int, visited: [String], destination: String?) {
        self.hopsLeft = hopsLeft
        self.visited = visited
        self.destination = destination
    }

    /// The element in `message`, if it has one that reads.
    public init?(in message: Q931Message) {
        guard let position = Self.position(in: message) else { return nil }
        let contents = message.elements[position + 1].contents
        guard contents.count >= 3, contents[0] == Self.version else { return nil }
        let destinationEnd = 3 + Int(contents[2])
        guard destinationEnd <= contents.count,
            let visited = VisitedNodes(listing: Array(contents[destinationEnd...]))
        else { return nil }
        hopsLeft = Int(contents[1])
        destination = destinationEnd > 3 ? String(decoding: contents[3..<destinationEnd], as: UTF8.self) : nil
        self.visited = visited.nodes
    }

    /// Adds the element to `message` (replacing one already there).
    public func add(to message: inout Q931Message) {
        Self.remove(from: &message)
        let destinationOctets = Array((destination ?? "").utf8.prefix(255))
        let contents =
            [Self.version, UInt8(clamping: hopsLeft), UInt8(destinationOctets.count)] + destinationOctets
            + VisitedNodes(visited).listing
        message.elements.append(Q931Message.InformationElement(Self.shiftToCodeset7))
        message.elements.append(Q931Message.InformationElement(Self.identifier, contents))
    }

    /// Takes the element (and its shift) out of `message`.
    public static func remove(from message: inout Q931Message) {
        guard let position = position(in: message) else { return }
        message.elements.removeSubrange(position...(position + 1))
    }

    private static func position(in message: Q931Message) -> Int? {
        message.elements.indices.dropLast().first { index in
            message.elements[index].identifier == shiftToCodeset7 && message.elements[index + 1].identifier == identifier
        }
    }
}

/// The Spillway nodes a call request has been through, as one node tells the next in the LRQ (and
/// the Setup) it forwards, so that no node is visited twice. It travels as generic data under
/// Spillway's own GloballyUniqueID, which other gatekeepers ignore.
public struct VisitedNodes: Equatable, Sendable {
    /// Node ids, in the order the request went through them.
    public var nodes: [String]

    /// Spillway's GenericIdentifier: a GloballyUniqueID chosen for it (a random UUID).
    public static let identifier = GenericIdentifier.nonStandard([
        0x8D, 0x7E, 0xA1, 0xA7, 0xF7, 0xC9, 0x43, 0x26, 0xAA, 0xF3, 0xD7, 0xF5, 0x80, 0x43, 0xE4, 0x52,
    ])
    /// The parameter holding the node list: each id as one length octet and its UTF-8 octets.
    private static let nodesParameter = GenericIdentifier.standard(1)

    public init(_ nodes: [String]) {
        self.nodes = nodes
    }

    /// Spillway's entry among a message's generic data, if it has one that reads.
    public init?(in entries: [GenericData]?) {
        guard let entry = entries?.first(where: { $0.id == Self.identifier }),
            let raw = entry.parameters?.first(where: { $0.id == Self.nodesParameter })?.raw
        else { return nil }
        self.init(listing: raw)
    }

    /// Reads `listing`'s form; nil when an id runs past the end.
    public init?(listing: [UInt8]) {
        var nodes: [String] = []
        var position = listing.startIndex
        while position < listing.endIndex {
            let end = position + 1 + Int(listing[position])
            guard end <= listing.endIndex else { return nil }
            nodes.append(String(decoding: listing[(position + 1)..<end], as: UTF8.self))
            position = end
        }
        self.nodes = nodes
    }

    /// The ids, each as one length octet and its UTF-8 octets (an id longer than 255 octets is cut there).
    public var listing: [UInt8] {
        nodes.flatMap { node in
            let octets = Array(node.utf8.prefix(255))
            return [UInt8(octets.count)] + octets
        }
    }

    /// The generic data entry carrying the list.
    public var genericData: GenericData {
        GenericData(id: Self.identifier, parameters: [EnumeratedParameter(id: Self.nodesParameter, raw: listing)])
    }
}

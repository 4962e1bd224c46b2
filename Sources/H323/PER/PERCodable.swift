/// A value that decodes itself from an ALIGNED PER encoding.
public protocol PERDecodable {
    init(from reader: inout PERReader) throws(PERError)
}

/// A value that encodes itself in ALIGNED PER.
public protocol PEREncodable {
    func encode(to writer: inout PERWriter)
}

/// A value that goes both ways: the H.225.0 types.
public typealias PERCodable = PERDecodable & PEREncodable

extension PERDecodable {
    /// Decodes a complete encoding (a message, or an open type's contents).
    public init(perEncoded bytes: [UInt8]) throws(PERError) {
        var reader = PERReader(bytes)
        self = try Self(from: &reader)
    }
}

extension PEREncodable {
    /// The complete encoding.
    public var perEncoded: [UInt8] {
        var writer = PERWriter()
        encode(to: &writer)
        return writer.encoded
    }
}

/// The presence bits of a SEQUENCE's root OPTIONAL fields (X.691 §19.2), taken in field order.
public struct OptionalFields: Sendable {
    private var bits: UInt64
    private var left: Int

    init(bits: UInt64, count: Int) {
        self.bits = bits
        self.left = count
    }

    /// Whether the next OPTIONAL field is present.
    public mutating func next() -> Bool {
        precondition(left > 0, "more OPTIONAL fields read than the SEQUENCE declares")
        left -= 1
        return bits >> UInt64(left) & 1 == 1
    }
}

extension PERReader {
    /// The start of a SEQUENCE: its extension bit when `extensible`, then one presence bit per root
    /// OPTIONAL field. Returns whether extension additions follow the root, and the presence bits.
    public mutating func readSequenceHeader(extensible: Bool, optionalFields count: Int) throws(PERError) -> (
        extended: Bool, optionals: OptionalFields
    ) {
        let extended = extensible ? try readBit() : false
        return (extended, OptionalFields(bits: try readBits(count), count: count))
    }

    /// The extension additions after a SEQUENCE's root (§19.7–9): each present one's index and the
    /// bytes of its open type. Additions this implementation does not know are skipped this way.
    public mutating func readExtensionAdditions() throws(PERError) -> [Int: [UInt8]] {
        try readExtensionAdditionSpans().mapValues(\.contents)
    }

    /// A CHOICE index (§23): the root alternative, or an extension alternative after the extension bit.
    public mutating func readChoiceIndex(rootCount: Int, extensible: Bool) throws(PERError) -> ChoiceIndex {
        if extensible, try readBit() { return .extension(try readNormallySmallNumber()) }
        return .root(try readConstrainedWholeNumber(in: 0...rootCount - 1))
    }

    /// A SEQUENCE OF with `size` as its SIZE constraint (nil when unconstrained).
    public mutating func readSequenceOf<Element>(
        size: ClosedRange<Int>? = nil, _ element: (inout PERReader) throws(PERError) -> Element
    ) throws(PERError) -> [Element] {
        let count = if let size { try readLength(in: size) } else { try readLengthDeterminant() }
        var elements: [Element] = []
        elements.reserveCapacity(min(count, 64))
        for index in 0..<count {
            elements.append(try field("\(index)") { reader throws(PERError) in try element(&reader) })
        }
        return elements
    }
}

/// Which alternative of a CHOICE was encoded.
public enum ChoiceIndex: Equatable, Sendable {
    case root(Int)
    /// An extension alternative; its value follows as an open type.
    case `extension`(Int)
}

extension PERWriter {
    /// The start of a SEQUENCE: the extension bit when `extensible`, then the root OPTIONAL fields' presence.
    public mutating func writeSequenceHeader(extensible: Bool, extended: Bool = false, optionals: [Bool]) {
        if extensible { writeBit(extended) }
        for present in optionals { writeBit(present) }
    }

    /// The extension additions of a SEQUENCE whose type has `count` of them: a bitmap, then each
    /// present addition's encoding (from `additions`, by index) as an open type.
    public mutating func writeExtensionAdditions(_ additions: [Int: [UInt8]], count: Int) {
        precondition(additions.keys.allSatisfy { $0 < count })
        if count <= 64 {
            writeBit(false)
            writeBits(UInt64(count - 1), count: 6)
        } else {
            writeBit(true)
            writeLengthDeterminant(count)
        }
        for index in 0..<count { writeBit(additions[index] != nil) }
        for index in 0..<count {
            guard let contents = additions[index] else { continue }
            writeLengthDeterminant(contents.count)
            writeOctets(contents)
        }
    }

    /// A CHOICE index.
    public mutating func writeChoiceIndex(_ index: ChoiceIndex, rootCount: Int, extensible: Bool) {
        switch index {
        case .root(let position):
            if extensible { writeBit(false) }
            writeConstrainedWholeNumber(position, in: 0...rootCount - 1)
        case .extension(let position):
            precondition(extensible)
            writeBit(true)
            writeNormallySmallNumber(position)
        }
    }

    /// A SEQUENCE OF with `size` as its SIZE constraint (nil when unconstrained).
    public mutating func writeSequenceOf<Element>(
        _ elements: [Element], size: ClosedRange<Int>? = nil, _ element: (Element, inout PERWriter) -> Void
    ) {
        if let size { writeLength(elements.count, in: size) } else { writeLengthDeterminant(elements.count) }
        for value in elements { element(value, &self) }
    }
}

extension PERWriter {
    /// An extension alternative of a CHOICE that was decoded without being understood, written
    /// back as it came (its index, then its encoding as an open type).
    public mutating func writeUnknownExtensionAlternative(index: Int, encoding: [UInt8]) {
        writeExtensionAlternative(index: index) { $0.writeOctets(encoding) }
    }

    /// An extension alternative of a CHOICE: its index, then its value as an open type.
    public mutating func writeExtensionAlternative(index: Int, _ value: (inout PERWriter) -> Void) {
        writeChoiceIndex(.extension(index), rootCount: 1, extensible: true)
        writeOpenType(value)
    }
}

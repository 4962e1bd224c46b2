/// A value's bits lifted out of the ALIGNED PER encoding it was read from, so it can be written
/// into a new encoding exactly as its author encoded it (an H.245 DataType with every codec
/// parameter, say) without a codec for its whole type.
///
/// Alignment points inside a value fall at absolute positions of the encoding, so the bits stay
/// valid only where they start at the same offset within an octet as they did in the original.
public struct PERFragment: Sendable, Equatable {
    private let encoding: [UInt8]
    private let span: Range<Int>

    /// The bits `span` of `encoding`.
    public init(_ encoding: [UInt8], span: Range<Int>) {
        precondition(span.upperBound <= encoding.count * 8, "a fragment lies inside its encoding")
        self.encoding = encoding
        self.span = span
    }

    /// How many bits the value takes.
    public var bitCount: Int { span.count }

    /// Where in an octet the value started in its original encoding (0-7).
    public var phase: Int { span.lowerBound & 7 }

    public static func == (lhs: PERFragment, rhs: PERFragment) -> Bool {
        lhs.span.count == rhs.span.count && lhs.phase == rhs.phase && lhs.bits == rhs.bits
    }

    /// The value's bits, left-aligned in octets.
    private var bits: [UInt8] {
        var writer = PERWriter()
        var reader = PERReader(encoding)
        reader.skip(bits: span.lowerBound)
        writer.copy(bitCount, bitsFrom: &reader)
        return writer.encoded
    }

    /// Writes the value at the writer's position, which must have the original's phase.
    public func write(to writer: inout PERWriter, field: String) throws(PERError) {
        guard writer.bitCount & 7 == phase else {
            throw PERError(
                .unsupported(
                    "\(field) was encoded \(phase) bits into an octet and cannot be copied to \(writer.bitCount & 7)"),
                field: field, bitOffset: writer.bitCount)
        }
        var reader = PERReader(encoding)
        reader.skip(bits: span.lowerBound)
        writer.copy(bitCount, bitsFrom: &reader)
    }
}

extension PERWriter {
    /// Copies the next `count` bits of `reader`, which must hold them.
    mutating func copy(_ count: Int, bitsFrom reader: inout PERReader) {
        var left = count
        while left > 0 {
            let take = min(left, 64)
            writeBits((try? reader.readBits(take)) ?? 0, count: take)
            left -= take
        }
    }
}

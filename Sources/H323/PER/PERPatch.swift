/// A replacement of one span of bits in an ALIGNED PER encoding, so that a relay can rewrite the
/// fields it owns (transport addresses, the OLCs of fastStart, tunnelled H.245) and carry every
/// other bit of a message through exactly as the peer encoded it.
///
/// Only two kinds of patch keep the rest of an aligned encoding valid, and only those can be made:
/// - `sameSize`: the new value takes exactly the bits the old one took, at the same position, so
///   every later alignment point stays where it was (an IPv4 address for an IPv4 address);
/// - `openType`: an open type (an extension addition, an extension alternative) replaced whole.
///   It starts on an octet boundary and both old and new spans are whole octets, so everything
///   after it moves by whole octets and its padding is unchanged.
public struct PERPatch: Sendable, Equatable {
    /// The bits replaced, as positions in the original encoding.
    public let span: Range<Int>
    /// The new bits, most significant first, left-aligned in these octets.
    let bits: [UInt8]
    let bitCount: Int

    /// A value re-encoded in place: `encode` writes it as if at `span.lowerBound`, and must take
    /// exactly `span.count` bits. Throws `unsupported` when it does not (for example an IPv6
    /// address in place of an IPv4 one).
    public static func sameSize(
        _ span: Range<Int>, field: String, encode: (inout PERWriter) -> Void
    ) throws(PERError) -> PERPatch {
        var writer = PERWriter()
        let phase = span.lowerBound & 7
        writer.writeBits(0, count: phase)
        encode(&writer)
        let written = writer.bitCount - phase
        guard written == span.count else {
            throw PERError(
                .unsupported(
                    "\(field) would take \(written) bits in place of \(span.count) (a different address family?)"),
                field: field, bitOffset: span.lowerBound)
        }
        var bits = PERWriter()
        var reader = PERReader(writer.encoded)
        reader.skip(bits: phase)
        bits.copy(written, bitsFrom: &reader)
        return PERPatch(span: span, bits: bits.encoded, bitCount: written)
    }

    /// An open type replaced whole: `span` covers its length determinant and contents (as
    /// `PERReader.readOpenTypeSpan` reports them), and `contents` is the new complete encoding.
    public static func openType(_ span: Range<Int>, contents: [UInt8]) -> PERPatch {
        precondition(span.lowerBound & 7 == 0 && span.count & 7 == 0, "an open type spans whole octets")
        var writer = PERWriter()
        writer.writeLengthDeterminant(contents.count)
        writer.writeOctets(contents)
        return PERPatch(span: span, bits: writer.encoded, bitCount: writer.bitCount)
    }
}

extension Array where Element == UInt8 {
    /// This encoding with `patches` applied; they must not overlap.
    public func applying(_ patches: [PERPatch]) -> [UInt8] {
        guard !patches.isEmpty else { return self }
        let ordered = patches.sorted { $0.span.lowerBound < $1.span.lowerBound }
        var writer = PERWriter()
        var reader = PERReader(self)
        // The spans lie inside the encoding they were read from, so the copies cannot run out.
        for patch in ordered {
            precondition(patch.span.lowerBound >= reader.bitPosition, "overlapping PER patches")
            writer.copy(patch.span.lowerBound - reader.bitPosition, bitsFrom: &reader)
            var replacement = PERReader(patch.bits)
            writer.copy(patch.bitCount, bitsFrom: &replacement)
            reader.skip(bits: patch.span.count)
        }
        writer.copy(reader.remainingBits, bitsFrom: &reader)
        return writer.encoded
    }
}

extension PERReader {
    /// An open type, with the span it takes in this encoding (its length determinant and
    /// contents), so that it can be replaced with `PERPatch.openType`.
    public mutating func readOpenTypeSpan() throws(PERError) -> (contents: [UInt8], span: Range<Int>) {
        align()
        let start = bitPosition
        let contents = try readOpenType()
        return (contents, start..<bitPosition)
    }

    /// The extension additions after a SEQUENCE's root, each with its span (see
    /// `readExtensionAdditions`).
    public mutating func readExtensionAdditionSpans() throws(PERError) -> [Int: (contents: [UInt8], span: Range<Int>)] {
        let count: Int
        if try !readBit() {
            count = Int(try readBits(6)) + 1
        } else {
            count = try readLengthDeterminant()
            guard count > 0 else { throw error(.badLength(count)) }
        }
        var present: [Int] = []
        for index in 0..<count where try readBit() { present.append(index) }
        var additions: [Int: (contents: [UInt8], span: Range<Int>)] = [:]
        for index in present {
            additions[index] = try field("extension-\(index)") { reader throws(PERError) in
                try reader.readOpenTypeSpan()
            }
        }
        return additions
    }

    /// Reads `body` and returns what it read with the span of bits it took.
    public mutating func measuring<T>(_ body: (inout PERReader) throws(PERError) -> T) throws(PERError) -> (
        value: T, span: Range<Int>
    ) {
        let start = bitPosition
        let value = try body(&self)
        return (value, start..<bitPosition)
    }

    /// Reads `body` and returns what it read with its bits, to be written into another encoding.
    public mutating func measuringFragment<T>(_ body: (inout PERReader) throws(PERError) -> T) throws(PERError) -> (
        value: T, fragment: PERFragment
    ) {
        let (value, span) = try measuring(body)
        return (value, PERFragment(bytes, span: span))
    }
}

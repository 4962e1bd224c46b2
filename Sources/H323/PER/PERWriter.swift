/// Writes an ALIGNED PER encoding (ITU-T X.691): the primitive fields the H.225.0 types encode
/// themselves with. The mirror of `PERReader`.
public struct PERWriter: Sendable {
    private var bytes: [UInt8] = []
    /// Bits written so far.
    public private(set) var bitCount = 0

    public init() {}

    /// The complete encoding (§11.1): padded to whole octets, and one zero octet when empty.
    public var encoded: [UInt8] { bytes.isEmpty ? [0] : bytes }

    // MARK: - Bits

    public mutating func writeBit(_ bit: Bool) {
        writeBits(bit ? 1 : 0, count: 1)
    }

    /// Writes the low `count` bits of `value`, most significant first.
    public mutating func writeBits(_ value: UInt64, count: Int) {
        var left = count
        while left > 0 {
            if bitCount & 7 == 0 { bytes.append(0) }
            let free = 8 - (bitCount & 7)
            let take = min(free, left)
            let chunk = UInt8(truncatingIfNeeded: (value >> UInt64(left - take)) & ((1 << UInt64(take)) - 1))
            bytes[bytes.count - 1] |= chunk << UInt8(free - take)
            bitCount += take
            left -= take
        }
    }

    /// Pads with zero bits to the next octet boundary.
    public mutating func align() {
        bitCount = (bitCount + 7) & ~7
    }

    /// Writes whole octets, after aligning.
    public mutating func writeOctets(_ octets: some Collection<UInt8>) {
        align()
        bytes.append(contentsOf: octets)
        bitCount += octets.count * 8
    }

    // MARK: - Whole numbers and lengths (X.691 §11)

    /// A constrained whole number (§11.5.7, ALIGNED). `value` must lie in `range`.
    public mutating func writeConstrainedWholeNumber(_ value: Int, in range: ClosedRange<Int>) {
        precondition(range.contains(value), "\(value) outside \(range)")
        let span = UInt64(range.upperBound - range.lowerBound)
        let offset = UInt64(value - range.lowerBound)
        switch span {
        case 0:
            return
        case 1...254:
            writeBits(offset, count: PERReader.bitWidth(span))
        case 255:
            align()
            writeBits(offset, count: 8)
        case 256...65_535:
            align()
            writeBits(offset, count: 16)
        default:
            let octets = max(1, PERReader.octetWidth(offset))
            writeConstrainedWholeNumber(octets, in: 1...PERReader.octetWidth(span))
            align()
            writeBits(offset, count: octets * 8)
        }
    }

    /// An unconstrained length determinant (§11.9.3.6–7); RAS never needs 16K or more.
    public mutating func writeLengthDeterminant(_ length: Int) {
        precondition(length < 16_384, "fragmented PER lengths are not supported")
        align()
        if length < 128 {
            writeBits(UInt64(length), count: 8)
        } else {
            writeBits(0x8000 | UInt64(length), count: 16)
        }
    }

    /// A length with a SIZE constraint (§11.9.3.3–5).
    public mutating func writeLength(_ length: Int, in size: ClosedRange<Int>) {
        if size.upperBound < 65_536 {
            writeConstrainedWholeNumber(length, in: size)
        } else {
            writeLengthDeterminant(length)
        }
    }

    /// A semi-constrained whole number (§11.7, INTEGER (lb..MAX)); `value` must not be below `lowerBound`.
    public mutating func writeSemiConstrainedWholeNumber(_ value: Int, from lowerBound: Int) {
        precondition(value >= lowerBound, "\(value) below \(lowerBound)")
        let offset = UInt64(value - lowerBound)
        let octets = max(1, PERReader.octetWidth(offset))
        writeLengthDeterminant(octets)
        align()
        writeBits(offset, count: octets * 8)
    }

    /// A normally small non-negative whole number (§11.6).
    public mutating func writeNormallySmallNumber(_ value: Int) {
        if value < 64 {
            writeBit(false)
            writeBits(UInt64(value), count: 6)
        } else {
            writeBit(true)
            writeSemiConstrainedWholeNumber(value, from: 0)
        }
    }

    /// An open type (§11.2): the complete encoding `body` writes, preceded by its length.
    public mutating func writeOpenType(_ body: (inout PERWriter) -> Void) {
        var inner = PERWriter()
        body(&inner)
        let contents = inner.encoded
        writeLengthDeterminant(contents.count)
        writeOctets(contents)
    }
}

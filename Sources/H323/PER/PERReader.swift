/// Reads an ALIGNED PER encoding (ITU-T X.691) bit by bit: the primitive fields out of which the
/// H.225.0 types decode themselves.
///
/// Every read checks the bits left, so a truncated or hostile message ends in a `PERError` naming
/// the field and the bit offset, never in a trap.
public struct PERReader: Sendable {
    let bytes: [UInt8]
    /// The next bit to read, counted from the first byte's most significant bit.
    public private(set) var bitPosition = 0
    private var fieldPath: [String] = []

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    public var remainingBits: Int { bytes.count * 8 - bitPosition }

    /// Decodes `body` as the value of field `name`, so an error inside it names the path.
    public mutating func field<T>(_ name: String, _ body: (inout PERReader) throws(PERError) -> T) throws(PERError) -> T
    {
        fieldPath.append(name)
        defer { fieldPath.removeLast() }
        return try body(&self)
    }

    /// An error at the current position and field.
    public func error(_ reason: PERError.Reason) -> PERError {
        PERError(reason, field: fieldPath.joined(separator: "."), bitOffset: bitPosition)
    }

    // MARK: - Bits

    public mutating func readBit() throws(PERError) -> Bool {
        try readBits(1) == 1
    }

    /// Reads `count` (at most 64) bits as an unsigned number, most significant first.
    public mutating func readBits(_ count: Int) throws(PERError) -> UInt64 {
        precondition(count <= 64)
        guard count <= remainingBits else { throw error(.truncated(neededBits: count, availableBits: remainingBits)) }
        var value: UInt64 = 0
        var left = count
        while left > 0 {
            let byte = bytes[bitPosition >> 3]
            let offset = bitPosition & 7
            let take = min(8 - offset, left)
            let chunk = (UInt64(byte) >> UInt64(8 - offset - take)) & ((1 << UInt64(take)) - 1)
            value = value << UInt64(take) | chunk
            bitPosition += take
            left -= take
        }
        return value
    }

    /// Moves past `count` bits (at most those left) without reading them.
    mutating func skip(bits count: Int) {
        bitPosition += min(count, remainingBits)
    }

    /// Skips to the next octet boundary (the ALIGNED variant's padding bits).
    public mutating func align() {
        bitPosition = (bitPosition + 7) & ~7
    }

    /// Reads `count` whole octets, after aligning.
    public mutating func readOctets(_ count: Int) throws(PERError) -> [UInt8] {
        align()
        guard count >= 0, count * 8 <= remainingBits else {
            throw error(.truncated(neededBits: count * 8, availableBits: remainingBits))
        }
        let start = bitPosition >> 3
        bitPosition += count * 8
        return Array(bytes[start..<start + count])
    }

    // MARK: - Whole numbers and lengths (X.691 §11)

    /// A constrained whole number (§11.5.7, ALIGNED): a minimal bit-field up to a range of 255, one
    /// aligned octet for 256, two for up to 64K, otherwise a length in octets then aligned octets.
    public mutating func readConstrainedWholeNumber(in range: ClosedRange<Int>) throws(PERError) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound)
        let offset: UInt64
        switch span {
        case 0:
            return range.lowerBound
        case 1...254:
            offset = try readBits(Self.bitWidth(span))
        case 255:
            align()
            offset = try readBits(8)
        case 256...65_535:
            align()
            offset = try readBits(16)
        default:
            let octets = try readConstrainedWholeNumber(in: 1...Self.octetWidth(span)) as Int
            align()
            offset = try readBits(octets * 8)
        }
        guard offset <= span else {
            throw error(.outOfRange(value: range.lowerBound + Int(truncatingIfNeeded: offset), allowed: range))
        }
        return range.lowerBound + Int(offset)
    }

    /// An unconstrained length determinant (§11.9.3.6–8). Fragmented lengths (16K and over) are not
    /// used by RAS and are refused.
    public mutating func readLengthDeterminant() throws(PERError) -> Int {
        align()
        let first = try readBits(8)
        if first & 0x80 == 0 { return Int(first) }
        guard first & 0x40 == 0 else { throw error(.badLength(16_384)) }
        return Int((first & 0x3F) << 8 | (try readBits(8)))
    }

    /// A length with a SIZE constraint: nothing when fixed, a constrained whole number below 64K,
    /// otherwise a length determinant (§11.9.3.3–5).
    public mutating func readLength(in size: ClosedRange<Int>) throws(PERError) -> Int {
        let length = size.upperBound < 65_536 ? try readConstrainedWholeNumber(in: size) : try readLengthDeterminant()
        guard size.contains(length) else { throw error(.outOfRange(value: length, allowed: size)) }
        return length
    }

    /// A semi-constrained whole number (§11.7, INTEGER (lb..MAX)): a length in octets, then the
    /// offset from `lowerBound` in that many aligned octets. Offsets wider than 62 bits are refused.
    public mutating func readSemiConstrainedWholeNumber(from lowerBound: Int) throws(PERError) -> Int {
        let octets = try readLengthDeterminant()
        guard (1...7).contains(octets) else { throw error(.badLength(octets)) }
        align()
        let offset = try readBits(octets * 8)
        guard offset <= UInt64(Int.max - max(lowerBound, 0)) else {
            throw error(.outOfRange(value: Int.max, allowed: lowerBound...Int.max))
        }
        return lowerBound + Int(offset)
    }

    /// A normally small non-negative whole number (§11.6): extension choice indices.
    public mutating func readNormallySmallNumber() throws(PERError) -> Int {
        if try !readBit() { return Int(try readBits(6)) }
        return try readSemiConstrainedWholeNumber(from: 0)
    }

    /// An open type (§11.2): a length, then that many octets holding a complete encoding.
    public mutating func readOpenType() throws(PERError) -> [UInt8] {
        let length = try readLengthDeterminant()
        return try readOctets(length)
    }

    /// Decodes an open type's contents with `body`, in a reader of their own (their alignment
    /// restarts at their first octet).
    public mutating func readOpenType<T>(_ body: (inout PERReader) throws(PERError) -> T) throws(PERError) -> T {
        var inner = PERReader(try readOpenType())
        inner.fieldPath = fieldPath
        return try body(&inner)
    }

    static func bitWidth(_ span: UInt64) -> Int { 64 - span.leadingZeroBitCount }
    static func octetWidth(_ span: UInt64) -> Int { (bitWidth(span) + 7) / 8 }
}

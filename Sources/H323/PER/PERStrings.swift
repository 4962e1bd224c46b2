/// The characters a restricted character string may carry (a PermittedAlphabet constraint), and
/// how ALIGNED PER packs them (X.691 §30.5): the bits per character rounded up to a power of two,
/// each character as its own code when the largest fits in those bits, otherwise as its index.
public struct PermittedAlphabet: Sendable {
    /// The permitted characters in ascending order.
    public let characters: [UInt8]
    let bitsPerCharacter: Int
    let encodesIndex: Bool

    /// - Parameter characters: the alphabet; duplicates and order do not matter.
    public init(_ characters: String) {
        self.init(codes: Array(Set(characters.utf8)).sorted(), naturalBits: nil)
    }

    private init(codes: [UInt8], naturalBits: Int?) {
        characters = codes
        let needed = naturalBits ?? PERReader.bitWidth(UInt64(max(codes.count - 1, 1)))
        bitsPerCharacter = needed <= 1 ? 1 : needed <= 2 ? 2 : needed <= 4 ? 4 : 8
        encodesIndex = UInt64(codes.last ?? 0) >= 1 << UInt64(bitsPerCharacter)
    }

    /// IA5String with no alphabet constraint: seven-bit characters, eight bits each when aligned.
    public static let ia5 = PermittedAlphabet(codes: Array(0...127), naturalBits: 7)
    /// H.225.0's dialledDigits alphabet: four bits a digit.
    public static let dialledDigits = PermittedAlphabet("0123456789#*,")
}

extension PERReader {
    /// An OCTET STRING with `size` as its SIZE constraint (nil when unconstrained).
    public mutating func readOctetString(size: ClosedRange<Int>? = nil) throws(PERError) -> [UInt8] {
        if let size, size.lowerBound == size.upperBound, size.upperBound <= 2 {
            return try (0..<size.upperBound).map { _ throws(PERError) in UInt8(try readBits(8)) }
        }
        let count = if let size { try readLength(in: size) } else { try readLengthDeterminant() }
        return try readOctets(count)
    }

    /// A BMPString (16-bit characters) with a SIZE constraint.
    public mutating func readBMPString(size: ClosedRange<Int>) throws(PERError) -> String {
        let count = try readLength(in: size)
        if size.upperBound * 16 > 16 { align() }
        var units: [UInt16] = []
        units.reserveCapacity(count)
        for _ in 0..<count { units.append(UInt16(try readBits(16))) }
        return String(decoding: units, as: UTF16.self)
    }

    /// A restricted character string (IA5String, with or without a permitted alphabet) with a SIZE constraint.
    public mutating func readCharacterString(_ alphabet: PermittedAlphabet, size: ClosedRange<Int>) throws(PERError)
        -> String
    {
        let count = try readLength(in: size)
        if size.upperBound * alphabet.bitsPerCharacter > 16 { align() }
        var text: [UInt8] = []
        text.reserveCapacity(count)
        for _ in 0..<count {
            let code = try readBits(alphabet.bitsPerCharacter)
            if alphabet.encodesIndex {
                guard code < alphabet.characters.count else { throw error(.badCharacter(UInt32(code))) }
                text.append(alphabet.characters[Int(code)])
            } else {
                guard alphabet.characters.contains(UInt8(code)) else { throw error(.badCharacter(UInt32(code))) }
                text.append(UInt8(code))
            }
        }
        return String(decoding: text, as: UTF8.self)
    }
}

extension PERWriter {
    /// An OCTET STRING with `size` as its SIZE constraint (nil when unconstrained).
    public mutating func writeOctetString(_ octets: [UInt8], size: ClosedRange<Int>? = nil) {
        if let size, size.lowerBound == size.upperBound, size.upperBound <= 2 {
            for octet in octets { writeBits(UInt64(octet), count: 8) }
            return
        }
        if let size { writeLength(octets.count, in: size) } else { writeLengthDeterminant(octets.count) }
        writeOctets(octets)
    }

    /// A BMPString with a SIZE constraint; `text` is cut to the constraint's upper bound.
    public mutating func writeBMPString(_ text: String, size: ClosedRange<Int>) {
        let units = Array(text.utf16.prefix(size.upperBound))
        writeLength(units.count, in: size)
        if size.upperBound * 16 > 16 { align() }
        for unit in units { writeBits(UInt64(unit), count: 16) }
    }

    /// A restricted character string with a SIZE constraint. Characters outside the alphabet are
    /// left out, and the text is cut to the constraint's upper bound.
    public mutating func writeCharacterString(_ text: String, _ alphabet: PermittedAlphabet, size: ClosedRange<Int>) {
        let codes = Array(text.utf8.filter { alphabet.characters.contains($0) }.prefix(size.upperBound))
        writeLength(codes.count, in: size)
        if size.upperBound * alphabet.bitsPerCharacter > 16 { align() }
        for code in codes {
            let value = alphabet.encodesIndex ? UInt64(alphabet.characters.firstIndex(of: code)!) : UInt64(code)
            writeBits(value, count: alphabet.bitsPerCharacter)
        }
    }
}

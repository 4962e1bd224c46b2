/// Why an aligned-PER encoding could not be decoded: what was being read, and where.
///
/// A RAS endpoint turns these into a log line and a counted drop; they never escape as a crash.
public struct PERError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        /// The encoding ended inside a value.
        case truncated(neededBits: Int, availableBits: Int)
        /// A constrained value decoded outside its range (for example a choice index past the last alternative).
        case outOfRange(value: Int, allowed: ClosedRange<Int>)
        /// A length that cannot be right: fragmented (16K or more), or longer than the bytes left.
        case badLength(Int)
        /// A character outside the type's permitted alphabet.
        case badCharacter(UInt32)
        /// A well-formed value this implementation does not decode (for example H.235 security tokens).
        case unsupported(String)
        /// A required extension addition of a message was missing, or a value contradicts the specification.
        case invalid(String)
    }

    public var reason: Reason
    /// The field path being decoded when it failed, outermost first (e.g. `locationRequest.replyAddress`).
    public var field: String
    /// Bit offset into the encoding being read.
    public var bitOffset: Int

    public init(_ reason: Reason, field: String = "", bitOffset: Int = 0) {
        self.reason = reason
        self.field = field
        self.bitOffset = bitOffset
    }

    public var description: String {
        let location = "\(field.isEmpty ? "" : "in \(field) ")at bit \(bitOffset)"
        switch reason {
        case .truncated(let needed, let available):
            return "truncated PER \(location): needed \(needed) more bits, \(available) left"
        case .outOfRange(let value, let allowed):
            return "PER value \(value) \(location) is outside \(allowed.lowerBound)...\(allowed.upperBound)"
        case .badLength(let length):
            return "PER length \(length) \(location) is fragmented or longer than the message"
        case .badCharacter(let character):
            return "PER character 0x\(String(character, radix: 16)) \(location) is outside the type's alphabet"
        case .unsupported(let what):
            return "unsupported PER content \(location): \(what)"
        case .invalid(let what):
            return "invalid PER content \(location): \(what)"
        }
    }
}

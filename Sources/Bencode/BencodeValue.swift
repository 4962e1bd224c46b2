/// A bencode value (BitTorrent BEP 3): integers, byte strings, lists and dictionaries.
///
/// The rtpengine NG protocol carries one dictionary per message. Dictionary keys are byte strings
/// on the wire; they are held here as Swift strings (NG keys are ASCII) and written sorted by their
/// bytes, as bencode requires.
public enum BencodeValue: Hashable, Sendable {
    case integer(Int64)
    case bytes([UInt8])
    case list([BencodeValue])
    case dictionary([String: BencodeValue])

    /// A byte string holding the UTF-8 of `text`.
    public static func string(_ text: String) -> BencodeValue { .bytes(Array(text.utf8)) }

    /// The byte string as UTF-8 text, or nil for other kinds (invalid UTF-8 is repaired).
    public var stringValue: String? {
        guard case .bytes(let bytes) = self else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    public var integerValue: Int64? {
        guard case .integer(let value) = self else { return nil }
        return value
    }

    public var listValue: [BencodeValue]? {
        guard case .list(let values) = self else { return nil }
        return values
    }

    public var dictionaryValue: [String: BencodeValue]? {
        guard case .dictionary(let values) = self else { return nil }
        return values
    }

    /// Looks a key up in a dictionary value; nil for other kinds.
    public subscript(key: String) -> BencodeValue? {
        dictionaryValue?[key]
    }
}

extension BencodeValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(arrayLiteral elements: BencodeValue...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, BencodeValue)...) {
        self = .dictionary(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension BencodeValue: CustomStringConvertible {
    /// A readable rendering for logs: strings quoted, binary shown by length.
    public var description: String {
        switch self {
        case .integer(let value): return "\(value)"
        case .bytes(let bytes):
            if let text = String(validating: bytes, as: UTF8.self), !text.contains(where: { $0.isNewline }) {
                return "\"\(text)\""
            }
            return "<\(bytes.count) bytes>"
        case .list(let values): return "[" + values.map(\.description).joined(separator: ", ") + "]"
        case .dictionary(let values):
            return "{" + values.keys.sorted().map { "\($0): \(values[$0]!)" }.joined(separator: ", ") + "}"
        }
    }
}

extension BencodeValue {
    /// The value's bencode bytes; dictionary keys are written in ascending byte order.
    public var encoded: [UInt8] {
        var output: [UInt8] = []
        encode(into: &output)
        return output
    }

    /// Appends the value's bencode bytes to `output`.
    public func encode(into output: inout [UInt8]) {
        switch self {
        case .integer(let value):
            output.append(UInt8(ascii: "i"))
            output.append(contentsOf: String(value).utf8)
            output.append(UInt8(ascii: "e"))
        case .bytes(let bytes):
            Self.encodeByteString(bytes, into: &output)
        case .list(let values):
            output.append(UInt8(ascii: "l"))
            for value in values { value.encode(into: &output) }
            output.append(UInt8(ascii: "e"))
        case .dictionary(let values):
            output.append(UInt8(ascii: "d"))
            for key in values.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
                Self.encodeByteString(Array(key.utf8), into: &output)
                values[key]!.encode(into: &output)
            }
            output.append(UInt8(ascii: "e"))
        }
    }

    private static func encodeByteString(_ bytes: [UInt8], into output: inout [UInt8]) {
        output.append(contentsOf: String(bytes.count).utf8)
        output.append(UInt8(ascii: ":"))
        output.append(contentsOf: bytes)
    }
}

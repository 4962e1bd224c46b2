/// A RESP2 value, as Redis answers (the Redis serialization protocol, version 2).
public enum RESPValue: Sendable, Equatable {
    case simpleString(String)
    case error(String)
    case integer(Int64)
    /// A bulk string; nil is the null bulk string (`$-1`), a missing key's value.
    case bulkString([UInt8]?)
    /// An array; nil is the null array (`*-1`).
    case array([RESPValue]?)

    /// The value as text, for a simple or bulk string.
    public var text: String? {
        switch self {
        case .simpleString(let text): text
        case .bulkString(let bytes?): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }
}

/// Why bytes from Redis are not RESP2.
public enum RESPError: Error, Equatable, CustomStringConvertible {
    case unknownType(UInt8)
    case badLength(String)
    case tooLarge(Int, limit: Int)
    case tooDeep(limit: Int)
    case missingTerminator

    public var description: String {
        switch self {
        case .unknownType(let byte): "not a RESP2 type byte: 0x\(String(byte, radix: 16))"
        case .badLength(let text): "not a RESP2 length: '\(text)'"
        case .tooLarge(let size, let limit): "RESP2 element of \(size) bytes or items, over the limit of \(limit)"
        case .tooDeep(let limit): "RESP2 arrays nested deeper than \(limit)"
        case .missingTerminator: "RESP2 line or bulk string without its CRLF"
        }
    }
}

/// RESP2 without I/O: commands out as arrays of bulk strings, replies in from a byte stream that
/// may stop anywhere.
public enum RESP {
    /// The most bytes of one bulk string, or elements of one array, accepted from the server.
    public static let elementLimit = 1 << 20
    /// The deepest nesting of arrays accepted.
    public static let depthLimit = 8

    /// A command as Redis reads it: `*N` then each argument as a bulk string.
    public static func command(_ arguments: [String]) -> [UInt8] {
        command(arguments.map { Array($0.utf8) })
    }

    /// A command whose arguments are bytes.
    public static func command(_ arguments: [[UInt8]]) -> [UInt8] {
        var bytes = Array("*\(arguments.count)\r\n".utf8)
        for argument in arguments {
            bytes += Array("$\(argument.count)\r\n".utf8)
            bytes += argument
            bytes += [13, 10]
        }
        return bytes
    }

    /// The first complete value in `bytes` and how many bytes it took; nil when more bytes are needed.
    public static func decode(_ bytes: ArraySlice<UInt8>) throws(RESPError) -> (value: RESPValue, consumed: Int)? {
        var reader = Reader(bytes: bytes)
        guard let value = try reader.value(depth: 0) else { return nil }
        return (value, reader.offset - bytes.startIndex)
    }

    private struct Reader {
        let bytes: ArraySlice<UInt8>
        var offset: Int

        init(bytes: ArraySlice<UInt8>) {
            self.bytes = bytes
            offset = bytes.startIndex
        }

        mutating func value(depth: Int) throws(RESPError) -> RESPValue? {
            guard offset < bytes.endIndex else { return nil }
            let type = bytes[offset]
            offset += 1
            guard let line = try line() else { return nil }
            switch type {
            case UInt8(ascii: "+"): return .simpleString(line)
            case UInt8(ascii: "-"): return .error(line)
            case UInt8(ascii: ":"):
                guard let number = Int64(line) else { throw .badLength(line) }
                return .integer(number)
            case UInt8(ascii: "$"):
                let length = try Self.length(line)
                guard length >= 0 else { return .bulkString(nil) }
                guard bytes.endIndex - offset >= length + 2 else { return nil }
                let body = Array(bytes[offset..<offset + length])
                guard bytes[offset + length] == 13, bytes[offset + length + 1] == 10 else { throw .missingTerminator }
                offset += length + 2
                return .bulkString(body)
            case UInt8(ascii: "*"):
                let count = try Self.length(line)
                guard count >= 0 else { return .array(nil) }
                guard depth < RESP.depthLimit else { throw .tooDeep(limit: RESP.depthLimit) }
                var elements: [RESPValue] = []
                for _ in 0..<count {
                    guard let element = try value(depth: depth + 1) else { return nil }
                    elements.append(element)
                }
                return .array(elements)
            default:
                throw .unknownType(type)
            }
        }

        /// The text up to the next CRLF, which is consumed; nil when no CRLF has arrived yet.
        private mutating func line() throws(RESPError) -> String? {
            var index = offset
            while index < bytes.endIndex, bytes[index] != 13 {
                index += 1
                if index - offset > RESP.elementLimit { throw .tooLarge(index - offset, limit: RESP.elementLimit) }
            }
            guard index + 1 < bytes.endIndex else { return nil }
            guard bytes[index + 1] == 10 else { throw .missingTerminator }
            let text = String(decoding: bytes[offset..<index], as: UTF8.self)
            offset = index + 2
            return text
        }

        private static func length(_ text: String) throws(RESPError) -> Int {
            guard let length = Int(text), length >= -1 else { throw .badLength(text) }
            guard length <= RESP.elementLimit else { throw .tooLarge(length, limit: RESP.elementLimit) }
            return length
        }
    }
}

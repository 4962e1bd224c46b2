/// Decodes bencode from bytes, with limits that keep hostile input from exhausting the stack or memory.
public struct BencodeDecoder: Sendable {
    /// The deepest nesting of lists and dictionaries accepted.
    public var maximumDepth: Int

    public init(maximumDepth: Int = 32) {
        self.maximumDepth = maximumDepth
    }

    /// Decodes exactly one value that spans all of `bytes`.
    public func decode(_ bytes: some Collection<UInt8>) throws(BencodeError) -> BencodeValue {
        let buffer = Array(bytes)
        var parser = Parser(bytes: buffer, maximumDepth: maximumDepth)
        let value = try parser.parseValue(depth: 0)
        guard parser.offset == buffer.count else { throw .trailingBytes(offset: parser.offset) }
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        let maximumDepth: Int
        var offset = 0

        mutating func parseValue(depth: Int) throws(BencodeError) -> BencodeValue {
            guard offset < bytes.count else { throw .unexpectedEnd(offset: offset) }
            switch bytes[offset] {
            case UInt8(ascii: "i"):
                offset += 1
                return .integer(try parseInteger(until: UInt8(ascii: "e")))
            case UInt8(ascii: "l"):
                try checkDepth(depth)
                offset += 1
                var values: [BencodeValue] = []
                while try peek() != UInt8(ascii: "e") {
                    values.append(try parseValue(depth: depth + 1))
                }
                offset += 1
                return .list(values)
            case UInt8(ascii: "d"):
                try checkDepth(depth)
                offset += 1
                var values: [String: BencodeValue] = [:]
                while try peek() != UInt8(ascii: "e") {
                    let keyOffset = offset
                    guard case .bytes(let key) = try parseByteString() else {
                        throw .invalidKey(offset: keyOffset)
                    }
                    values[String(decoding: key, as: UTF8.self)] = try parseValue(depth: depth + 1)
                }
                offset += 1
                return .dictionary(values)
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                return try parseByteString()
            case let byte:
                throw .unexpectedByte(byte, offset: offset)
            }
        }

        mutating func checkDepth(_ depth: Int) throws(BencodeError) {
            guard depth < maximumDepth else { throw .nestingTooDeep(offset: offset, limit: maximumDepth) }
        }

        func peek() throws(BencodeError) -> UInt8 {
            guard offset < bytes.count else { throw .unexpectedEnd(offset: offset) }
            return bytes[offset]
        }

        mutating func parseByteString() throws(BencodeError) -> BencodeValue {
            guard case let first = try peek(), (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
                throw .invalidKey(offset: offset)
            }
            let lengthOffset = offset
            let length = try parseInteger(until: UInt8(ascii: ":"))
            guard length >= 0, length <= bytes.count - offset else {
                throw .lengthOutOfRange(length, offset: lengthOffset)
            }
            let value = Array(bytes[offset..<offset + Int(length)])
            offset += Int(length)
            return .bytes(value)
        }

        /// Reads a decimal integer up to `terminator` and consumes the terminator.
        mutating func parseInteger(until terminator: UInt8) throws(BencodeError) -> Int64 {
            let start = offset
            var negative = false
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "-") {
                negative = true
                offset += 1
            }
            var value: Int64 = 0
            var digits = 0
            while offset < bytes.count, bytes[offset] != terminator {
                let byte = bytes[offset]
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else {
                    throw .unexpectedByte(byte, offset: offset)
                }
                let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = shifted.addingReportingOverflow(Int64(byte - UInt8(ascii: "0")))
                guard !overflow1, !overflow2 else { throw .invalidInteger(offset: start) }
                value = sum
                digits += 1
                offset += 1
            }
            guard offset < bytes.count else { throw .unexpectedEnd(offset: offset) }
            guard digits > 0 else { throw .invalidInteger(offset: start) }
            offset += 1
            return negative ? -value : value
        }
    }
}

/// Why bytes are not valid bencode; every case names the byte offset where decoding stopped.
public enum BencodeError: Error, Equatable, Sendable, CustomStringConvertible {
    case unexpectedEnd(offset: Int)
    case unexpectedByte(UInt8, offset: Int)
    case invalidInteger(offset: Int)
    case invalidKey(offset: Int)
    case lengthOutOfRange(Int64, offset: Int)
    case nestingTooDeep(offset: Int, limit: Int)
    case trailingBytes(offset: Int)

    public var description: String {
        switch self {
        case .unexpectedEnd(let offset): "bencode ends early at byte \(offset)"
        case .unexpectedByte(let byte, let offset): "unexpected byte 0x\(String(byte, radix: 16)) at byte \(offset)"
        case .invalidInteger(let offset): "invalid integer at byte \(offset)"
        case .invalidKey(let offset): "dictionary key at byte \(offset) is not a byte string"
        case .lengthOutOfRange(let length, let offset):
            "string length \(length) at byte \(offset) runs past the message"
        case .nestingTooDeep(let offset, let limit): "nesting deeper than \(limit) at byte \(offset)"
        case .trailingBytes(let offset): "extra bytes after the value, from byte \(offset)"
        }
    }
}

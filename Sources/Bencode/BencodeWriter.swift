/// Writes bencode straight into bytes, for encoders that know their values' shape: no `BencodeValue`
/// tree, no dictionary to hash and no keys to sort. A dictionary's keys must be written in
/// ascending byte order, as bencode asks; debug builds check it.
public struct BencodeWriter {
    public fileprivate(set) var bytes: [UInt8] = []

    public init(reservingCapacity capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
    }

    public mutating func integer(_ value: Int64) {
        bytes.append(UInt8(ascii: "i"))
        appendDecimal(value)
        bytes.append(UInt8(ascii: "e"))
    }

    /// An unsigned value, stored as the signed integer of the same bits (as `BencodeValue` users do).
    public mutating func integer(bitPattern value: UInt64) {
        integer(Int64(bitPattern: value))
    }

    public mutating func string(_ text: String) {
        var text = text
        text.withUTF8 { byteString($0) }
    }

    public mutating func byteString(_ value: some Collection<UInt8>) {
        appendDecimal(Int64(value.count))
        bytes.append(UInt8(ascii: ":"))
        bytes.append(contentsOf: value)
    }

    /// A value built the general way, inside a written one.
    public mutating func value(_ value: BencodeValue) {
        value.encode(into: &bytes)
    }

    public mutating func list(_ body: (inout BencodeWriter) -> Void) {
        bytes.append(UInt8(ascii: "l"))
        body(&self)
        bytes.append(UInt8(ascii: "e"))
    }

    public mutating func dictionary(_ body: (inout DictionaryWriter) -> Void) {
        bytes.append(UInt8(ascii: "d"))
        // The entries are written into this writer's buffer, moved (not copied) there and back.
        var entries = DictionaryWriter(writer: BencodeWriter(reservingCapacity: 0))
        swap(&bytes, &entries.writer.bytes)
        body(&entries)
        swap(&bytes, &entries.writer.bytes)
        bytes.append(UInt8(ascii: "e"))
    }

    /// Writes a dictionary's entries, each key once and in ascending order.
    public struct DictionaryWriter {
        fileprivate var writer: BencodeWriter
        private var lastKey: StaticString?

        fileprivate init(writer: BencodeWriter) {
            self.writer = writer
        }

        /// Writes `key`, then its value through `body`.
        public mutating func entry(_ key: StaticString, _ body: (inout BencodeWriter) -> Void) {
            assert(
                lastKey.map { Self.precedes($0, key) } ?? true,
                "bencode dictionary keys must ascend: '\(key)' after '\(lastKey.map { "\($0)" } ?? "")'")
            lastKey = key
            writer.byteString(UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
            body(&writer)
        }

        public mutating func entry(_ key: StaticString, _ value: Int64) { entry(key) { $0.integer(value) } }

        public mutating func entry(_ key: StaticString, bitPattern value: UInt64) {
            entry(key) { $0.integer(bitPattern: value) }
        }

        public mutating func entry(_ key: StaticString, _ value: Bool) { entry(key) { $0.integer(value ? 1 : 0) } }

        public mutating func entry(_ key: StaticString, _ text: String) { entry(key) { $0.string(text) } }

        /// Writes the entry only when `text` is there.
        public mutating func entry(_ key: StaticString, ifPresent text: String?) {
            if let text { entry(key, text) }
        }

        private static func precedes(_ first: StaticString, _ second: StaticString) -> Bool {
            UnsafeBufferPointer(start: first.utf8Start, count: first.utf8CodeUnitCount).lexicographicallyPrecedes(
                UnsafeBufferPointer(start: second.utf8Start, count: second.utf8CodeUnitCount))
        }
    }

    private mutating func appendDecimal(_ value: Int64) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits = 1
        var scale: UInt64 = 10
        while magnitude >= scale, digits < 19 {
            digits += 1
            scale &*= 10
        }
        var index = bytes.count + digits - 1
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: digits))
        repeat {
            bytes[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
            index -= 1
        } while magnitude > 0
    }
}

/// An ASN.1 OBJECT IDENTIFIER, such as H.225.0's protocolIdentifier `0.0.8.2250.0.4`.
/// PER carries it as a length and its BER contents octets (X.691 §24, X.690 §8.19).
public struct ASN1ObjectIdentifier: Hashable, Sendable, CustomStringConvertible, PERCodable {
    public var arcs: [UInt64]

    public init(_ arcs: [UInt64]) {
        precondition(arcs.count >= 2 && arcs[0] <= 2, "an OBJECT IDENTIFIER has at least two arcs, the first 0, 1 or 2")
        self.arcs = arcs
    }

    public var description: String { arcs.map(String.init).joined(separator: ".") }

    public init(from reader: inout PERReader) throws(PERError) {
        let contents = try reader.readOctetString()
        var values: [UInt64] = []
        var value: UInt64 = 0
        for (position, octet) in contents.enumerated() {
            guard value >> 57 == 0 else {
                throw reader.error(.unsupported("an OBJECT IDENTIFIER arc wider than 64 bits"))
            }
            value = value << 7 | UInt64(octet & 0x7F)
            if octet & 0x80 == 0 {
                values.append(value)
                value = 0
            } else if position == contents.count - 1 {
                throw reader.error(.invalid("OBJECT IDENTIFIER ends inside an arc"))
            }
        }
        guard let first = values.first else { throw reader.error(.invalid("empty OBJECT IDENTIFIER")) }
        let top = min(first / 40, 2)
        arcs = [top, first - top * 40] + values.dropFirst()
    }

    public func encode(to writer: inout PERWriter) {
        var contents: [UInt8] = []
        for arc in [arcs[0] * 40 + arcs[1]] + arcs.dropFirst(2) {
            var groups = [UInt8(arc & 0x7F)]
            var rest = arc >> 7
            while rest > 0 {
                groups.append(UInt8(rest & 0x7F) | 0x80)
                rest >>= 7
            }
            contents.append(contentsOf: groups.reversed())
        }
        writer.writeOctetString(contents)
    }
}

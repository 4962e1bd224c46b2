/// The protocol identifier Spillway puts in RAS messages: H.225.0 version 4,
/// `{itu-t(0) recommendation(0) h(8) 2250 version(0) 4}`.
extension ASN1ObjectIdentifier {
    public static let h225Version4 = ASN1ObjectIdentifier([0, 0, 8, 2250, 0, 4])
}

/// The simple field types the RAS messages share (H.225.0 §7), read and written by name.
extension PERReader {
    mutating func readRequestSeqNum() throws(PERError) -> UInt16 {
        UInt16(
            try field("requestSeqNum") { reader throws(PERError) in
                try reader.readConstrainedWholeNumber(in: 1...65_535)
            })
    }

    /// EndpointIdentifier and GatekeeperIdentifier: BMPString (SIZE(1..128)).
    mutating func readIdentifier(_ name: String) throws(PERError) -> String {
        try field(name) { reader throws(PERError) in try reader.readBMPString(size: 1...128) }
    }

    mutating func readBandWidth() throws(PERError) -> UInt32 {
        UInt32(
            try field("bandWidth") { reader throws(PERError) in
                try reader.readConstrainedWholeNumber(in: 0...4_294_967_295)
            })
    }

    mutating func readCallReferenceValue() throws(PERError) -> UInt16 {
        UInt16(
            try field("callReferenceValue") { reader throws(PERError) in
                try reader.readConstrainedWholeNumber(in: 0...65_535)
            })
    }

    mutating func readConferenceID() throws(PERError) -> [UInt8] {
        try field("conferenceID") { reader throws(PERError) in try reader.readOctetString(size: 16...16) }
    }

    mutating func readTransportAddress(_ name: String) throws(PERError) -> TransportAddress {
        try field(name) { reader throws(PERError) in try TransportAddress(from: &reader) }
    }

    mutating func readTransportAddresses(_ name: String) throws(PERError) -> [TransportAddress] {
        try field(name) { reader throws(PERError) in
            try reader.readSequenceOf { reader throws(PERError) in try TransportAddress(from: &reader) }
        }
    }

    mutating func readAliases(_ name: String) throws(PERError) -> [AliasAddress] {
        try field(name) { reader throws(PERError) in
            try reader.readSequenceOf { reader throws(PERError) in try AliasAddress(from: &reader) }
        }
    }

    mutating func readProtocolIdentifier() throws(PERError) -> ASN1ObjectIdentifier {
        try field("protocolIdentifier") { reader throws(PERError) in try ASN1ObjectIdentifier(from: &reader) }
    }

    /// Root OPTIONAL H.235 security fields (tokens, cryptoTokens, integrityCheckValue): Spillway
    /// does not check H.235 security, and says so rather than misreading what follows.
    mutating func refuseSecurityFields(present: Bool, name: String) throws(PERError) {
        if present {
            throw error(.unsupported("H.235 \(name) (RAS security is not supported; send the message without it)"))
        }
    }

    /// Decodes an extension addition's open type contents.
    static func decodeAddition<T>(_ bytes: [UInt8]?, _ body: (inout PERReader) throws(PERError) -> T) throws(PERError)
        -> T?
    {
        guard let bytes else { return nil }
        var reader = PERReader(bytes)
        return try body(&reader)
    }
}

extension PERWriter {
    mutating func writeRequestSeqNum(_ value: UInt16) {
        writeConstrainedWholeNumber(Int(value), in: 1...65_535)
    }

    mutating func writeIdentifier(_ value: String) {
        writeBMPString(value, size: 1...128)
    }

    mutating func writeBandWidth(_ value: UInt32) {
        writeConstrainedWholeNumber(Int(value), in: 0...4_294_967_295)
    }

    mutating func writeCallReferenceValue(_ value: UInt16) {
        writeConstrainedWholeNumber(Int(value), in: 0...65_535)
    }

    mutating func writeTransportAddresses(_ addresses: [TransportAddress]) {
        writeSequenceOf(addresses) { $0.encode(to: &$1) }
    }

    mutating func writeAliases(_ aliases: [AliasAddress]) {
        writeSequenceOf(aliases) { $0.encode(to: &$1) }
    }
}

/// The encoding of one extension addition's value, for `PERWriter.writeExtensionAdditions`.
func additionEncoding(_ body: (inout PERWriter) -> Void) -> [UInt8] {
    var writer = PERWriter()
    body(&writer)
    return writer.encoded
}

extension Bool {
    /// A BOOLEAN extension addition.
    var additionEncoding: [UInt8] { H323.additionEncoding { $0.writeBit(self) } }
}

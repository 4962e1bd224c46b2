/// LRQ (H.225.0 §7.12.1): a request for the addresses of the entity that will take a call to
/// `destinationInfo`. A gatekeeper that cannot answer may forward it with `hopCount` decremented;
/// the answer goes to `replyAddress`.
public struct LocationRequest: Equatable, Sendable, PERCodable {
    public var requestSeqNum: UInt16
    public var endpointIdentifier: String?
    public var destinationInfo: [AliasAddress]
    public var nonStandardData: NonStandardParameter?
    public var replyAddress: TransportAddress
    /// Extension additions.
    public var sourceInfo: [AliasAddress]?
    public var canMapAlias = false
    public var gatekeeperIdentifier: String?
    /// Generic data in the forms Spillway reads (`GenericData`); nil when absent or in other forms.
    public var genericData: [GenericData]?
    /// How many more gatekeepers the request may pass through (1...255).
    public var hopCount: UInt8?
    public var callIdentifier: CallIdentifier?

    private static let additionCount = 17

    public init(
        requestSeqNum: UInt16, endpointIdentifier: String? = nil, destinationInfo: [AliasAddress],
        replyAddress: TransportAddress,
        sourceInfo: [AliasAddress]? = nil, gatekeeperIdentifier: String? = nil, hopCount: UInt8? = nil,
        callIdentifier: CallIdentifier? = nil
    ) {
        self.requestSeqNum = requestSeqNum
        self.endpointIdentifier = endpointIdentifier
        self.destinationInfo = destinationInfo
        self.replyAddress = replyAddress
        self.sourceInfo = sourceInfo
        self.gatekeeperIdentifier = gatekeeperIdentifier
        self.hopCount = hopCount
        self.callIdentifier = callIdentifier
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 2)
        requestSeqNum = try reader.readRequestSeqNum()
        endpointIdentifier = optionals.next() ? try reader.readIdentifier("endpointIdentifier") : nil
        destinationInfo = try reader.readAliases("destinationInfo")
        nonStandardData = try reader.readNonStandardData(if: optionals.next())
        replyAddress = try reader.readTransportAddress("replyAddress")
        guard extended else { return }
        let additions = try reader.readExtensionAdditions()
        sourceInfo = try PERReader.decodeAddition(additions[0]) { reader throws(PERError) in
            try reader.readSequenceOf { reader throws(PERError) in try AliasAddress(from: &reader) }
        }
        canMapAlias =
            try PERReader.decodeAddition(additions[1]) { reader throws(PERError) in try reader.readBit() } ?? false
        gatekeeperIdentifier = try PERReader.decodeAddition(additions[2]) { reader throws(PERError) in
            try reader.readBMPString(size: 1...128)
        }
        // Another vendor's generic data in forms Spillway does not read is left out, not an error.
        genericData = try? PERReader.decodeAddition(additions[9]) { reader throws(PERError) in
            try reader.readSequenceOf { reader throws(PERError) in try GenericData(from: &reader) }
        }
        hopCount = try PERReader.decodeAddition(additions[10]) { reader throws(PERError) in
            UInt8(try reader.readConstrainedWholeNumber(in: 1...255))
        }
        callIdentifier = try PERReader.decodeAddition(additions[12]) { reader throws(PERError) in
            try CallIdentifier(from: &reader)
        }
    }

    public func encode(to writer: inout PERWriter) {
        let extended =
            sourceInfo != nil || canMapAlias || gatekeeperIdentifier != nil || genericData != nil || hopCount != nil
            || callIdentifier != nil
        writer.writeSequenceHeader(
            extensible: true, extended: extended, optionals: [endpointIdentifier != nil, nonStandardData != nil])
        writer.writeRequestSeqNum(requestSeqNum)
        if let endpointIdentifier { writer.writeIdentifier(endpointIdentifier) }
        writer.writeAliases(destinationInfo)
        nonStandardData?.encode(to: &writer)
        replyAddress.encode(to: &writer)
        guard extended else { return }
        // canMapAlias and canMapSrcAlias are mandatory additions.
        var additions = [1: canMapAlias.additionEncoding, 15: false.additionEncoding]
        if let sourceInfo { additions[0] = additionEncoding { $0.writeAliases(sourceInfo) } }
        if let gatekeeperIdentifier { additions[2] = additionEncoding { $0.writeIdentifier(gatekeeperIdentifier) } }
        if let genericData {
            additions[9] = additionEncoding { $0.writeSequenceOf(genericData) { $0.encode(to: &$1) } }
        }
        if let hopCount {
            additions[10] = additionEncoding { $0.writeConstrainedWholeNumber(Int(hopCount), in: 1...255) }
        }
        if let callIdentifier { additions[12] = callIdentifier.perEncoded }
        writer.writeExtensionAdditions(additions, count: Self.additionCount)
    }
}

/// LCF: the addresses of the entity that takes the call: its call signalling and RAS addresses.
public struct LocationConfirm: Equatable, Sendable, PERCodable {
    public var requestSeqNum: UInt16
    public var callSignalAddress: TransportAddress
    public var rasAddress: TransportAddress
    public var nonStandardData: NonStandardParameter?

    public init(requestSeqNum: UInt16, callSignalAddress: TransportAddress, rasAddress: TransportAddress) {
        self.requestSeqNum = requestSeqNum
        self.callSignalAddress = callSignalAddress
        self.rasAddress = rasAddress
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 1)
        requestSeqNum = try reader.readRequestSeqNum()
        callSignalAddress = try reader.readTransportAddress("callSignalAddress")
        rasAddress = try reader.readTransportAddress("rasAddress")
        nonStandardData = try reader.readNonStandardData(if: optionals.next())
        if extended { _ = try reader.readExtensionAdditions() }
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(extensible: true, optionals: [nonStandardData != nil])
        writer.writeRequestSeqNum(requestSeqNum)
        callSignalAddress.encode(to: &writer)
        rasAddress.encode(to: &writer)
        nonStandardData?.encode(to: &writer)
    }
}

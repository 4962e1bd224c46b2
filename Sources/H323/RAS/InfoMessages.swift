/// IRQ (H.225.0 §7.15.1): a gatekeeper polling an endpoint; with `capacityInfoRequested`, for its
/// call capacity.
public struct InfoRequest: Equatable, Sendable, PERCodable {
    public var requestSeqNum: UInt16
    /// 0 asks about the endpoint rather than one call.
    public var callReferenceValue: UInt16
    public var nonStandardData: NonStandardParameter?
    public var replyAddress: TransportAddress?
    /// Extension additions.
    public var callIdentifier: CallIdentifier?
    public var capacityInfoRequested = false

    private static let additionCount = 12

    public init(
        requestSeqNum: UInt16, callReferenceValue: UInt16 = 0, replyAddress: TransportAddress?,
        capacityInfoRequested: Bool = false
    ) {
        self.requestSeqNum = requestSeqNum
        self.callReferenceValue = callReferenceValue
        self.replyAddress = replyAddress
        self.capacityInfoRequested = capacityInfoRequested
        // callIdentifier is mandatory once additions are sent; all zeros means no particular call.
        if capacityInfoRequested { callIdentifier = CallIdentifier(guid: Array(repeating: 0, count: 16)) }
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 2)
        requestSeqNum = try reader.readRequestSeqNum()
        callReferenceValue = try reader.readCallReferenceValue()
        nonStandardData = try reader.readNonStandardData(if: optionals.next())
        replyAddress = optionals.next() ? try reader.readTransportAddress("replyAddress") : nil
        guard extended else { return }
        let additions = try reader.readExtensionAdditions()
        callIdentifier = try PERReader.decodeAddition(additions[0]) { reader throws(PERError) in
            try CallIdentifier(from: &reader)
        }
        capacityInfoRequested = additions[9] != nil
    }

    public func encode(to writer: inout PERWriter) {
        let extended = callIdentifier != nil
        writer.writeSequenceHeader(
            extensible: true, extended: extended, optionals: [nonStandardData != nil, replyAddress != nil])
        writer.writeRequestSeqNum(requestSeqNum)
        writer.writeCallReferenceValue(callReferenceValue)
        nonStandardData?.encode(to: &writer)
        replyAddress?.encode(to: &writer)
        guard let callIdentifier else { return }
        var additions = [0: callIdentifier.perEncoded]
        if capacityInfoRequested { additions[9] = additionEncoding { _ in } }
        writer.writeExtensionAdditions(additions, count: Self.additionCount)
    }
}

/// IRR: an endpoint describing itself to its gatekeeper, here with its call capacity. Per-call
/// information is not modelled: an IRR carrying it is refused with a clear error.
public struct InfoRequestResponse: Equatable, Sendable, PERCodable {
    public var nonStandardData: NonStandardParameter?
    public var requestSeqNum: UInt16
    public var endpointType: EndpointType
    public var endpointIdentifier: String
    public var rasAddress: TransportAddress
    public var callSignalAddress: [TransportAddress]
    public var endpointAlias: [AliasAddress]?
    /// Extension additions.
    public var needResponse = false
    public var capacity: CallCapacity?
    public var unsolicited = false

    private static let additionCount = 8

    public init(
        requestSeqNum: UInt16, endpointType: EndpointType, endpointIdentifier: String, rasAddress: TransportAddress,
        callSignalAddress: [TransportAddress], endpointAlias: [AliasAddress]? = nil, capacity: CallCapacity? = nil
    ) {
        self.requestSeqNum = requestSeqNum
        self.endpointType = endpointType
        self.endpointIdentifier = endpointIdentifier
        self.rasAddress = rasAddress
        self.callSignalAddress = callSignalAddress
        self.endpointAlias = endpointAlias
        self.capacity = capacity
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 3)
        nonStandardData = try reader.readNonStandardData(if: optionals.next())
        requestSeqNum = try reader.readRequestSeqNum()
        endpointType = try reader.field("endpointType") { reader throws(PERError) in try EndpointType(from: &reader) }
        endpointIdentifier = try reader.readIdentifier("endpointIdentifier")
        rasAddress = try reader.readTransportAddress("rasAddress")
        callSignalAddress = try reader.readTransportAddresses("callSignalAddress")
        endpointAlias = optionals.next() ? try reader.readAliases("endpointAlias") : nil
        if optionals.next() {
            throw reader.error(
                .unsupported("IRR perCallInfo (per-call reports are not read; Spillway polls for capacity only)"))
        }
        guard extended else { return }
        let additions = try reader.readExtensionAdditions()
        needResponse =
            try PERReader.decodeAddition(additions[3]) { reader throws(PERError) in try reader.readBit() } ?? false
        capacity = try PERReader.decodeAddition(additions[4]) { reader throws(PERError) in
            try CallCapacity(from: &reader)
        }
        unsolicited =
            try PERReader.decodeAddition(additions[6]) { reader throws(PERError) in try reader.readBit() } ?? false
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(
            extensible: true, extended: capacity != nil,
            optionals: [nonStandardData != nil, endpointAlias != nil, false])
        nonStandardData?.encode(to: &writer)
        writer.writeRequestSeqNum(requestSeqNum)
        endpointType.encode(to: &writer)
        writer.writeIdentifier(endpointIdentifier)
        rasAddress.encode(to: &writer)
        writer.writeTransportAddresses(callSignalAddress)
        if let endpointAlias { writer.writeAliases(endpointAlias) }
        guard let capacity else { return }
        // needResponse and unsolicited are mandatory additions.
        writer.writeExtensionAdditions(
            [3: needResponse.additionEncoding, 4: capacity.perEncoded, 6: unsolicited.additionEncoding],
            count: Self.additionCount)
    }
}

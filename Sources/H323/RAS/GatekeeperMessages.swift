/// GRQ (H.225.0 §7.7.1): an endpoint looking for a gatekeeper.
public struct GatekeeperRequest: Equatable, Sendable, PERCodable {
    public var requestSeqNum: UInt16
    public var protocolIdentifier = ASN1ObjectIdentifier.h225Version4
    public var nonStandardData: NonStandardParameter?
    public var rasAddress: TransportAddress
    public var endpointType: EndpointType
    public var gatekeeperIdentifier: String?
    public var endpointAlias: [AliasAddress]?

    public init(
        requestSeqNum: UInt16, rasAddress: TransportAddress, endpointType: EndpointType,
        gatekeeperIdentifier: String? = nil, endpointAlias: [AliasAddress]? = nil
    ) {
        self.requestSeqNum = requestSeqNum
        self.rasAddress = rasAddress
        self.endpointType = endpointType
        self.gatekeeperIdentifier = gatekeeperIdentifier
        self.endpointAlias = endpointAlias
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 4)
        requestSeqNum = try reader.readRequestSeqNum()
        protocolIdentifier = try reader.readProtocolIdentifier()
        nonStandardData = try reader.readNonStandardData(if: optionals.next())
        rasAddress = try reader.readTransportAddress("rasAddress")
        endpointType = try reader.field("endpointType") { reader throws(PERError) in try EndpointType(from: &reader) }
        gatekeeperIdentifier = optionals.next() ? try reader.readIdentifier("gatekeeperIdentifier") : nil
        if optionals.next() { try reader.field("callServices", QseriesOptions.skip) }
        endpointAlias = optionals.next() ? try reader.readAliases("endpointAlias") : nil
        if extended { _ = try reader.readExtensionAdditions() }
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(
            extensible: true,
            optionals: [nonStandardData != nil, gatekeeperIdentifier != nil, false, endpointAlias != nil])
        writer.writeRequestSeqNum(requestSeqNum)
        protocolIdentifier.encode(to: &writer)
        nonStandardData?.encode(to: &writer)
        rasAddress.encode(to: &writer)
        endpointType.encode(to: &writer)
        if let gatekeeperIdentifier { writer.writeIdentifier(gatekeeperIdentifier) }
        if let endpointAlias { writer.writeAliases(endpointAlias) }
    }
}

/// GCF: the gatekeeper's answer to a GRQ, naming itself and its RAS address.
public struct GatekeeperConfirm: Equatable, Sendable, PERCodable {
    public var requestSeqNum: UInt16
    public var protocolIdentifier = ASN1ObjectIdentifier.h225Version4
    public var nonStandardData: NonStandardParameter?
    public var gatekeeperIdentifier: String?
    public var rasAddress: TransportAddress

    public init(requestSeqNum: UInt16, gatekeeperIdentifier: String?, rasAddress: TransportAddress) {
        self.requestSeqNum = requestSeqNum
        self.gatekeeperIdentifier = gatekeeperIdentifier
        self.rasAddress = rasAddress
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 2)
        requestSeqNum = try reader.readRequestSeqNum()
        protocolIdentifier = try reader.readProtocolIdentifier()
        nonStandardData = try reader.readNonStandardData(if: optionals.next())
        gatekeeperIdentifier = optionals.next() ? try reader.readIdentifier("gatekeeperIdentifier") : nil
        rasAddress = try reader.readTransportAddress("rasAddress")
        if extended { _ = try reader.readExtensionAdditions() }
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(extensible: true, optionals: [nonStandardData != nil, gatekeeperIdentifier != nil])
        writer.writeRequestSeqNum(requestSeqNum)
        protocolIdentifier.encode(to: &writer)
        nonStandardData?.encode(to: &writer)
        if let gatekeeperIdentifier { writer.writeIdentifier(gatekeeperIdentifier) }
        rasAddress.encode(to: &writer)
    }
}

/// GRJ: a gatekeeper refusing an endpoint.
public struct GatekeeperReject: Equatable, Sendable, PERCodable {
    public var requestSeqNum: UInt16
    public var protocolIdentifier = ASN1ObjectIdentifier.h225Version4
    public var nonStandardData: NonStandardParameter?
    public var gatekeeperIdentifier: String?
    public var rejectReason: GatekeeperRejectReason

    public init(requestSeqNum: UInt16, gatekeeperIdentifier: String?, rejectReason: GatekeeperRejectReason) {
        self.requestSeqNum = requestSeqNum
        self.gatekeeperIdentifier = gatekeeperIdentifier
        self.rejectReason = rejectReason
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 2)
        requestSeqNum = try reader.readRequestSeqNum()
        protocolIdentifier = try reader.readProtocolIdentifier()
        nonStandardData = try reader.readNonStandardData(if: optionals.next())
        gatekeeperIdentifier = optionals.next() ? try reader.readIdentifier("gatekeeperIdentifier") : nil
        rejectReason = try reader.field("rejectReason") { reader throws(PERError) in
            try GatekeeperRejectReason(from: &reader)
        }
        if extended { _ = try reader.readExtensionAdditions() }
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(extensible: true, optionals: [nonStandardData != nil, gatekeeperIdentifier != nil])
        writer.writeRequestSeqNum(requestSeqNum)
        protocolIdentifier.encode(to: &writer)
        nonStandardData?.encode(to: &writer)
        if let gatekeeperIdentifier { writer.writeIdentifier(gatekeeperIdentifier) }
        rejectReason.encode(to: &writer)
    }
}

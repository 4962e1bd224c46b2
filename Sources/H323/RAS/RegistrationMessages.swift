/// RRQ (H.225.0 §7.8.1): an endpoint registering its addresses and aliases with a gatekeeper, or,
/// with `keepAlive`, refreshing a registration before its time to live runs out.
public struct RegistrationRequest: Equatable, Sendable, PERCodable {
    public var requestSeqNum: UInt16
    public var protocolIdentifier = ASN1ObjectIdentifier.h225Version4
    public var nonStandardData: NonStandardParameter?
    public var discoveryComplete: Bool
    public var callSignalAddress: [TransportAddress]
    public var rasAddress: [TransportAddress]
    public var terminalType: EndpointType
    public var terminalAlias: [AliasAddress]?
    public var gatekeeperIdentifier: String?
    public var endpointVendor: VendorIdentifier
    /// Seconds the registration lasts (extension addition).
    public var timeToLive: UInt32?
    /// A lightweight re-registration (extension addition).
    public var keepAlive = false
    /// The identifier a previous RCF assigned (extension addition, with keepAlive).
    public var endpointIdentifier: String?

    private static let additionCount = 27

    public init(
        requestSeqNum: UInt16, discoveryComplete: Bool, callSignalAddress: [TransportAddress],
        rasAddress: [TransportAddress],
        terminalType: EndpointType, terminalAlias: [AliasAddress]?, endpointVendor: VendorIdentifier,
        timeToLive: UInt32? = nil, keepAlive: Bool = false, endpointIdentifier: String? = nil
    ) {
        self.requestSeqNum = requestSeqNum
        self.discoveryComplete = discoveryComplete
        self.callSignalAddress = callSignalAddress
        self.rasAddress = rasAddress
        self.terminalType = terminalType
        self.terminalAlias = terminalAlias
        self.endpointVendor = endpointVendor
        self.timeToLive = timeToLive
        self.keepAlive = keepAlive
        self.endpointIdentifier = endpointIdentifier
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 3)
        requestSeqNum = try reader.readRequestSeqNum()
        protocolIdentifier = try reader.readProtocolIdentifier()
        nonStandardData = try reader.readNonStandardData(if: optionals.next())
        discoveryComplete = try reader.readBit()
        callSignalAddress = try reader.readTransportAddresses("callSignalAddress")
        rasAddress = try reader.readTransportAddresses("rasAddress")
        terminalType = try reader.field("terminalType") { reader throws(PERError) in try EndpointType(from: &reader) }
        terminalAlias = optionals.next() ? try reader.readAliases("terminalAlias") : nil
        gatekeeperIdentifier = optionals.next() ? try reader.readIdentifier("gatekeeperIdentifier") : nil
        endpointVendor = try reader.field("endpointVendor") { reader throws(PERError) in
            try VendorIdentifier(from: &reader)
        }
        guard extended else { return }
        let additions = try reader.readExtensionAdditions()
        timeToLive = try PERReader.decodeAddition(additions[1]) { reader throws(PERError) in
            UInt32(try reader.readConstrainedWholeNumber(in: 1...4_294_967_295))
        }
        keepAlive =
            try PERReader.decodeAddition(additions[5]) { reader throws(PERError) in try reader.readBit() } ?? false
        endpointIdentifier = try PERReader.decodeAddition(additions[6]) { reader throws(PERError) in
            try reader.readBMPString(size: 1...128)
        }
    }

    public func encode(to writer: inout PERWriter) {
        let extended = timeToLive != nil || keepAlive || endpointIdentifier != nil
        writer.writeSequenceHeader(
            extensible: true, extended: extended,
            optionals: [nonStandardData != nil, terminalAlias != nil, gatekeeperIdentifier != nil])
        writer.writeRequestSeqNum(requestSeqNum)
        protocolIdentifier.encode(to: &writer)
        nonStandardData?.encode(to: &writer)
        writer.writeBit(discoveryComplete)
        writer.writeTransportAddresses(callSignalAddress)
        writer.writeTransportAddresses(rasAddress)
        terminalType.encode(to: &writer)
        if let terminalAlias { writer.writeAliases(terminalAlias) }
        if let gatekeeperIdentifier { writer.writeIdentifier(gatekeeperIdentifier) }
        endpointVendor.encode(to: &writer)
        guard extended else { return }
        // keepAlive, willSupplyUUIEs, maintainConnection and supportsAssignedGK are mandatory additions.
        var additions = [
            5: keepAlive.additionEncoding, 7: false.additionEncoding, 8: false.additionEncoding,
            23: false.additionEncoding,
        ]
        if let timeToLive {
            additions[1] = additionEncoding { $0.writeConstrainedWholeNumber(Int(timeToLive), in: 1...4_294_967_295) }
        }
        if let endpointIdentifier { additions[6] = additionEncoding { $0.writeIdentifier(endpointIdentifier) } }
        writer.writeExtensionAdditions(additions, count: Self.additionCount)
    }
}

/// RCF: the gatekeeper accepting a registration and assigning the endpoint its identifier.
public struct RegistrationConfirm: Equatable, Sendable, PERCodable {
    public var requestSeqNum: UInt16
    public var protocolIdentifier = ASN1ObjectIdentifier.h225Version4
    public var nonStandardData: NonStandardParameter?
    public var callSignalAddress: [TransportAddress]
    public var terminalAlias: [AliasAddress]?
    public var gatekeeperIdentifier: String?
    public var endpointIdentifier: String
    /// Seconds until the endpoint must re-register (extension addition).
    public var timeToLive: UInt32?

    private static let additionCount = 20

    public init(
        requestSeqNum: UInt16, callSignalAddress: [TransportAddress], terminalAlias: [AliasAddress]?,
        gatekeeperIdentifier: String?,
        endpointIdentifier: String, timeToLive: UInt32? = nil
    ) {
        self.requestSeqNum = requestSeqNum
        self.callSignalAddress = callSignalAddress
        self.terminalAlias = terminalAlias
        self.gatekeeperIdentifier = gatekeeperIdentifier
        self.endpointIdentifier = endpointIdentifier
        self.timeToLive = timeToLive
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 3)
        requestSeqNum = try reader.readRequestSeqNum()
        protocolIdentifier = try reader.readProtocolIdentifier()
        nonStandardData = try reader.readNonStandardData(if: optionals.next())
        callSignalAddress = try reader.readTransportAddresses("callSignalAddress")
        terminalAlias = optionals.next() ? try reader.readAliases("terminalAlias") : nil
        gatekeeperIdentifier = optionals.next() ? try reader.readIdentifier("gatekeeperIdentifier") : nil
        endpointIdentifier = try reader.readIdentifier("endpointIdentifier")
        guard extended else { return }
        let additions = try reader.readExtensionAdditions()
        timeToLive = try PERReader.decodeAddition(additions[1]) { reader throws(PERError) in
            UInt32(try reader.readConstrainedWholeNumber(in: 1...4_294_967_295))
        }
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(
            extensible: true, extended: timeToLive != nil,
            optionals: [nonStandardData != nil, terminalAlias != nil, gatekeeperIdentifier != nil])
        writer.writeRequestSeqNum(requestSeqNum)
        protocolIdentifier.encode(to: &writer)
        nonStandardData?.encode(to: &writer)
        writer.writeTransportAddresses(callSignalAddress)
        if let terminalAlias { writer.writeAliases(terminalAlias) }
        if let gatekeeperIdentifier { writer.writeIdentifier(gatekeeperIdentifier) }
        writer.writeIdentifier(endpointIdentifier)
        guard let timeToLive else { return }
        // willRespondToIRR and maintainConnection are mandatory additions.
        writer.writeExtensionAdditions(
            [
                1: additionEncoding { $0.writeConstrainedWholeNumber(Int(timeToLive), in: 1...4_294_967_295) },
                5: false.additionEncoding, 7: false.additionEncoding,
            ],
            count: Self.additionCount)
    }
}

/// RRJ: the gatekeeper refusing a registration.
public struct RegistrationReject: Equatable, Sendable, PERCodable {
    public var requestSeqNum: UInt16
    public var protocolIdentifier = ASN1ObjectIdentifier.h225Version4
    public var nonStandardData: NonStandardParameter?
    public var rejectReason: RegistrationRejectReason
    public var gatekeeperIdentifier: String?

    public init(requestSeqNum: UInt16, rejectReason: RegistrationRejectReason, gatekeeperIdentifier: String?) {
        self.requestSeqNum = requestSeqNum
        self.rejectReason = rejectReason
        self.gatekeeperIdentifier = gatekeeperIdentifier
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 2)
        requestSeqNum = try reader.readRequestSeqNum()
        protocolIdentifier = try reader.readProtocolIdentifier()
        nonStandardData = try reader.readNonStandardData(if: optionals.next())
        rejectReason = try reader.field("rejectReason") { reader throws(PERError) in
            try RegistrationRejectReason(from: &reader)
        }
        gatekeeperIdentifier = optionals.next() ? try reader.readIdentifier("gatekeeperIdentifier") : nil
        if extended { _ = try reader.readExtensionAdditions() }
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(extensible: true, optionals: [nonStandardData != nil, gatekeeperIdentifier != nil])
        writer.writeRequestSeqNum(requestSeqNum)
        protocolIdentifier.encode(to: &writer)
        nonStandardData?.encode(to: &writer)
        rejectReason.encode(to: &writer)
        if let gatekeeperIdentifier { writer.writeIdentifier(gatekeeperIdentifier) }
    }
}

/// URQ (H.225.0 §7.9.1): an endpoint (or the gatekeeper) ending a registration.
public struct UnregistrationRequest: Equatable, Sendable, PERCodable {
    public var requestSeqNum: UInt16
    public var callSignalAddress: [TransportAddress]
    public var endpointAlias: [AliasAddress]?
    public var nonStandardData: NonStandardParameter?
    public var endpointIdentifier: String?

    public init(
        requestSeqNum: UInt16, callSignalAddress: [TransportAddress], endpointAlias: [AliasAddress]? = nil,
        endpointIdentifier: String?
    ) {
        self.requestSeqNum = requestSeqNum
        self.callSignalAddress = callSignalAddress
        self.endpointAlias = endpointAlias
        self.endpointIdentifier = endpointIdentifier
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 3)
        requestSeqNum = try reader.readRequestSeqNum()
        callSignalAddress = try reader.readTransportAddresses("callSignalAddress")
        endpointAlias = optionals.next() ? try reader.readAliases("endpointAlias") : nil
        nonStandardData = try reader.readNonStandardData(if: optionals.next())
        endpointIdentifier = optionals.next() ? try reader.readIdentifier("endpointIdentifier") : nil
        if extended { _ = try reader.readExtensionAdditions() }
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(
            extensible: true, optionals: [endpointAlias != nil, nonStandardData != nil, endpointIdentifier != nil])
        writer.writeRequestSeqNum(requestSeqNum)
        writer.writeTransportAddresses(callSignalAddress)
        if let endpointAlias { writer.writeAliases(endpointAlias) }
        nonStandardData?.encode(to: &writer)
        if let endpointIdentifier { writer.writeIdentifier(endpointIdentifier) }
    }
}

/// A confirmation whose root is the request's sequence number and optional non-standard data:
/// UCF and DCF.
public struct PlainConfirm: Equatable, Sendable, PERCodable {
    public var requestSeqNum: UInt16
    public var nonStandardData: NonStandardParameter?

    public init(requestSeqNum: UInt16) {
        self.requestSeqNum = requestSeqNum
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 1)
        requestSeqNum = try reader.readRequestSeqNum()
        nonStandardData = try reader.readNonStandardData(if: optionals.next())
        if extended { _ = try reader.readExtensionAdditions() }
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(extensible: true, optionals: [nonStandardData != nil])
        writer.writeRequestSeqNum(requestSeqNum)
        nonStandardData?.encode(to: &writer)
    }
}

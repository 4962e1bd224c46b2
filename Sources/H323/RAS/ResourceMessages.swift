/// RAI (H.225.0 §7.16): an endpoint telling its gatekeeper whether it is almost out of resources,
/// and its call capacity: Spillway's workload report in monitor mode.
public struct ResourcesAvailableIndicate: Equatable, Sendable, PERCodable {
    public var requestSeqNum: UInt16
    public var protocolIdentifier = ASN1ObjectIdentifier.h225Version4
    public var nonStandardData: NonStandardParameter?
    public var endpointIdentifier: String
    public var protocols: [SupportedProtocol]
    public var almostOutOfResources: Bool
    /// Extension addition.
    public var capacity: CallCapacity?

    private static let additionCount = 2

    public init(
        requestSeqNum: UInt16, endpointIdentifier: String, protocols: [SupportedProtocol], almostOutOfResources: Bool,
        capacity: CallCapacity?
    ) {
        self.requestSeqNum = requestSeqNum
        self.endpointIdentifier = endpointIdentifier
        self.protocols = protocols
        self.almostOutOfResources = almostOutOfResources
        self.capacity = capacity
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 4)
        requestSeqNum = try reader.readRequestSeqNum()
        protocolIdentifier = try reader.readProtocolIdentifier()
        nonStandardData = try reader.readNonStandardData(if: optionals.next())
        endpointIdentifier = try reader.readIdentifier("endpointIdentifier")
        protocols = try reader.field("protocols") { reader throws(PERError) in
            try reader.readSequenceOf { reader throws(PERError) in try SupportedProtocol(from: &reader) }
        }
        almostOutOfResources = try reader.readBit()
        try reader.refuseSecurityFields(
            present: optionals.next() || optionals.next() || optionals.next(), name: "tokens")
        guard extended else { return }
        let additions = try reader.readExtensionAdditions()
        capacity = try PERReader.decodeAddition(additions[0]) { reader throws(PERError) in
            try CallCapacity(from: &reader)
        }
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(
            extensible: true, extended: capacity != nil, optionals: [nonStandardData != nil, false, false, false])
        writer.writeRequestSeqNum(requestSeqNum)
        protocolIdentifier.encode(to: &writer)
        nonStandardData?.encode(to: &writer)
        writer.writeIdentifier(endpointIdentifier)
        writer.writeSequenceOf(protocols) { $0.encode(to: &$1) }
        writer.writeBit(almostOutOfResources)
        guard let capacity else { return }
        writer.writeExtensionAdditions([0: capacity.perEncoded], count: Self.additionCount)
    }
}

/// RAC: the gatekeeper acknowledging an RAI.
public struct ResourcesAvailableConfirm: Equatable, Sendable, PERCodable {
    public var requestSeqNum: UInt16
    public var protocolIdentifier = ASN1ObjectIdentifier.h225Version4
    public var nonStandardData: NonStandardParameter?

    public init(requestSeqNum: UInt16) {
        self.requestSeqNum = requestSeqNum
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 4)
        requestSeqNum = try reader.readRequestSeqNum()
        protocolIdentifier = try reader.readProtocolIdentifier()
        nonStandardData = try reader.readNonStandardData(if: optionals.next())
        try reader.refuseSecurityFields(
            present: optionals.next() || optionals.next() || optionals.next(), name: "tokens")
        if extended { _ = try reader.readExtensionAdditions() }
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(extensible: true, optionals: [nonStandardData != nil, false, false, false])
        writer.writeRequestSeqNum(requestSeqNum)
        protocolIdentifier.encode(to: &writer)
        nonStandardData?.encode(to: &writer)
    }
}

/// RIP (H.225.0 §7.17): "still working on it; wait up to `delay` milliseconds more", sent while a
/// request is being forwarded.
public struct RequestInProgress: Equatable, Sendable, PERCodable {
    public var requestSeqNum: UInt16
    public var nonStandardData: NonStandardParameter?
    /// Milliseconds (1...65535).
    public var delay: UInt16

    public init(requestSeqNum: UInt16, delay: UInt16) {
        self.requestSeqNum = requestSeqNum
        self.delay = delay
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 4)
        requestSeqNum = try reader.readRequestSeqNum()
        nonStandardData = try reader.readNonStandardData(if: optionals.next())
        try reader.refuseSecurityFields(
            present: optionals.next() || optionals.next() || optionals.next(), name: "tokens")
        delay = UInt16(
            try reader.field("delay") { reader throws(PERError) in try reader.readConstrainedWholeNumber(in: 1...65_535)
            })
        if extended { _ = try reader.readExtensionAdditions() }
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(extensible: true, optionals: [nonStandardData != nil, false, false, false])
        writer.writeRequestSeqNum(requestSeqNum)
        nonStandardData?.encode(to: &writer)
        writer.writeConstrainedWholeNumber(Int(delay), in: 1...65_535)
    }
}

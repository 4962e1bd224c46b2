/// ARQ (H.225.0 §7.10.1): an endpoint asking its gatekeeper to admit a call, naming the callee.
public struct AdmissionRequest: Equatable, Sendable, PERCodable {
    public var requestSeqNum: UInt16
    public var callType: CallType
    public var callModel: CallModel?
    public var endpointIdentifier: String
    public var destinationInfo: [AliasAddress]?
    public var destCallSignalAddress: TransportAddress?
    public var destExtraCallInfo: [AliasAddress]?
    public var srcInfo: [AliasAddress]
    public var srcCallSignalAddress: TransportAddress?
    /// Requested bandwidth in units of 100 bit/s.
    public var bandWidth: UInt32
    public var callReferenceValue: UInt16
    public var nonStandardData: NonStandardParameter?
    public var conferenceID: [UInt8]
    public var activeMC: Bool
    public var answerCall: Bool
    /// Extension additions.
    public var canMapAlias = false
    public var callIdentifier: CallIdentifier?
    public var gatekeeperIdentifier: String?

    private static let additionCount = 19

    public init(
        requestSeqNum: UInt16, callType: CallType = .pointToPoint, callModel: CallModel? = nil,
        endpointIdentifier: String,
        destinationInfo: [AliasAddress]?, srcInfo: [AliasAddress], srcCallSignalAddress: TransportAddress? = nil,
        bandWidth: UInt32, callReferenceValue: UInt16, conferenceID: [UInt8], answerCall: Bool = false,
        callIdentifier: CallIdentifier? = nil
    ) {
        self.requestSeqNum = requestSeqNum
        self.callType = callType
        self.callModel = callModel
        self.endpointIdentifier = endpointIdentifier
        self.destinationInfo = destinationInfo
        self.srcInfo = srcInfo
        self.srcCallSignalAddress = srcCallSignalAddress
        self.bandWidth = bandWidth
        self.callReferenceValue = callReferenceValue
        self.conferenceID = conferenceID
        self.activeMC = false
        self.answerCall = answerCall
        self.callIdentifier = callIdentifier
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 7)
        requestSeqNum = try reader.readRequestSeqNum()
        callType = try reader.field("callType") { reader throws(PERError) in try CallType(from: &reader) }
        callModel =
            optionals.next()
            ? try reader.field("callModel") { reader throws(PERError) in try CallModel(from: &reader) } : nil
        endpointIdentifier = try reader.readIdentifier("endpointIdentifier")
        destinationInfo = optionals.next() ? try reader.readAliases("destinationInfo") : nil
        destCallSignalAddress = optionals.next() ? try reader.readTransportAddress("destCallSignalAddress") : nil
        destExtraCallInfo = optionals.next() ? try reader.readAliases("destExtraCallInfo") : nil
        srcInfo = try reader.readAliases("srcInfo")
        srcCallSignalAddress = optionals.next() ? try reader.readTransportAddress("srcCallSignalAddress") : nil
        bandWidth = try reader.readBandWidth()
        callReferenceValue = try reader.readCallReferenceValue()
        nonStandardData = try reader.readNonStandardData(if: optionals.next())
        if optionals.next() { try reader.field("callServices", QseriesOptions.skip) }
        conferenceID = try reader.readConferenceID()
        activeMC = try reader.readBit()
        answerCall = try reader.readBit()
        guard extended else { return }
        let additions = try reader.readExtensionAdditions()
        canMapAlias =
            try PERReader.decodeAddition(additions[0]) { reader throws(PERError) in try reader.readBit() } ?? false
        callIdentifier = try PERReader.decodeAddition(additions[1]) { reader throws(PERError) in
            try CallIdentifier(from: &reader)
        }
        gatekeeperIdentifier = try PERReader.decodeAddition(additions[4]) { reader throws(PERError) in
            try reader.readBMPString(size: 1...128)
        }
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(
            extensible: true, extended: callIdentifier != nil,
            optionals: [
                callModel != nil, destinationInfo != nil, destCallSignalAddress != nil, destExtraCallInfo != nil,
                srcCallSignalAddress != nil, nonStandardData != nil, false,
            ])
        writer.writeRequestSeqNum(requestSeqNum)
        callType.encode(to: &writer)
        callModel?.encode(to: &writer)
        writer.writeIdentifier(endpointIdentifier)
        if let destinationInfo { writer.writeAliases(destinationInfo) }
        destCallSignalAddress?.encode(to: &writer)
        if let destExtraCallInfo { writer.writeAliases(destExtraCallInfo) }
        writer.writeAliases(srcInfo)
        srcCallSignalAddress?.encode(to: &writer)
        writer.writeBandWidth(bandWidth)
        writer.writeCallReferenceValue(callReferenceValue)
        nonStandardData?.encode(to: &writer)
        writer.writeOctetString(conferenceID, size: 16...16)
        writer.writeBit(activeMC)
        writer.writeBit(answerCall)
        guard let callIdentifier else { return }
        // canMapAlias, callIdentifier, willSupplyUUIEs and canMapSrcAlias are mandatory additions.
        var additions = [
            0: canMapAlias.additionEncoding, 1: callIdentifier.perEncoded, 9: false.additionEncoding,
            18: false.additionEncoding,
        ]
        if let gatekeeperIdentifier { additions[4] = additionEncoding { $0.writeIdentifier(gatekeeperIdentifier) } }
        writer.writeExtensionAdditions(additions, count: Self.additionCount)
    }
}

/// ACF: the gatekeeper admitting a call, with the call signalling address to set it up at.
public struct AdmissionConfirm: Equatable, Sendable, PERCodable {
    public var requestSeqNum: UInt16
    public var bandWidth: UInt32
    public var callModel: CallModel
    public var destCallSignalAddress: TransportAddress
    public var irrFrequency: UInt16?
    public var nonStandardData: NonStandardParameter?

    public init(requestSeqNum: UInt16, bandWidth: UInt32, callModel: CallModel, destCallSignalAddress: TransportAddress)
    {
        self.requestSeqNum = requestSeqNum
        self.bandWidth = bandWidth
        self.callModel = callModel
        self.destCallSignalAddress = destCallSignalAddress
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 2)
        requestSeqNum = try reader.readRequestSeqNum()
        bandWidth = try reader.readBandWidth()
        callModel = try reader.field("callModel") { reader throws(PERError) in try CallModel(from: &reader) }
        destCallSignalAddress = try reader.readTransportAddress("destCallSignalAddress")
        irrFrequency = optionals.next() ? UInt16(try reader.readConstrainedWholeNumber(in: 1...65_535)) : nil
        nonStandardData = try reader.readNonStandardData(if: optionals.next())
        if extended { _ = try reader.readExtensionAdditions() }
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(extensible: true, optionals: [irrFrequency != nil, nonStandardData != nil])
        writer.writeRequestSeqNum(requestSeqNum)
        writer.writeBandWidth(bandWidth)
        callModel.encode(to: &writer)
        destCallSignalAddress.encode(to: &writer)
        if let irrFrequency { writer.writeConstrainedWholeNumber(Int(irrFrequency), in: 1...65_535) }
        nonStandardData?.encode(to: &writer)
    }
}

/// A rejection whose root is the sequence number, the reason and optional non-standard data:
/// ARJ (`AdmissionRejectReason`) and LRJ (`LocationRejectReason`).
public struct RequestReject<Reason: NullChoice>: Equatable, Sendable, PERCodable {
    public var requestSeqNum: UInt16
    public var rejectReason: Reason
    public var nonStandardData: NonStandardParameter?

    public init(requestSeqNum: UInt16, rejectReason: Reason) {
        self.requestSeqNum = requestSeqNum
        self.rejectReason = rejectReason
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 1)
        requestSeqNum = try reader.readRequestSeqNum()
        rejectReason = try reader.field("rejectReason") { reader throws(PERError) in try Reason(from: &reader) }
        nonStandardData = try reader.readNonStandardData(if: optionals.next())
        if extended { _ = try reader.readExtensionAdditions() }
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(extensible: true, optionals: [nonStandardData != nil])
        writer.writeRequestSeqNum(requestSeqNum)
        rejectReason.encode(to: &writer)
        nonStandardData?.encode(to: &writer)
    }
}

public typealias AdmissionReject = RequestReject<AdmissionRejectReason>
public typealias LocationReject = RequestReject<LocationRejectReason>

/// DRQ (H.225.0 §7.11.1): an endpoint telling its gatekeeper a call has ended.
public struct DisengageRequest: Equatable, Sendable, PERCodable {
    public var requestSeqNum: UInt16
    public var endpointIdentifier: String
    public var conferenceID: [UInt8]
    public var callReferenceValue: UInt16
    public var disengageReason: DisengageReason
    public var nonStandardData: NonStandardParameter?
    /// Extension additions.
    public var callIdentifier: CallIdentifier?
    public var answeredCall = false

    private static let additionCount = 13

    public init(
        requestSeqNum: UInt16, endpointIdentifier: String, conferenceID: [UInt8], callReferenceValue: UInt16,
        disengageReason: DisengageReason, callIdentifier: CallIdentifier? = nil
    ) {
        self.requestSeqNum = requestSeqNum
        self.endpointIdentifier = endpointIdentifier
        self.conferenceID = conferenceID
        self.callReferenceValue = callReferenceValue
        self.disengageReason = disengageReason
        self.callIdentifier = callIdentifier
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 1)
        requestSeqNum = try reader.readRequestSeqNum()
        endpointIdentifier = try reader.readIdentifier("endpointIdentifier")
        conferenceID = try reader.readConferenceID()
        callReferenceValue = try reader.readCallReferenceValue()
        disengageReason = try reader.field("disengageReason") { reader throws(PERError) in
            try DisengageReason(from: &reader)
        }
        nonStandardData = try reader.readNonStandardData(if: optionals.next())
        guard extended else { return }
        let additions = try reader.readExtensionAdditions()
        callIdentifier = try PERReader.decodeAddition(additions[0]) { reader throws(PERError) in
            try CallIdentifier(from: &reader)
        }
        answeredCall =
            try PERReader.decodeAddition(additions[5]) { reader throws(PERError) in try reader.readBit() } ?? false
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(
            extensible: true, extended: callIdentifier != nil, optionals: [nonStandardData != nil])
        writer.writeRequestSeqNum(requestSeqNum)
        writer.writeIdentifier(endpointIdentifier)
        writer.writeOctetString(conferenceID, size: 16...16)
        writer.writeCallReferenceValue(callReferenceValue)
        disengageReason.encode(to: &writer)
        nonStandardData?.encode(to: &writer)
        guard let callIdentifier else { return }
        writer.writeExtensionAdditions(
            [0: callIdentifier.perEncoded, 5: answeredCall.additionEncoding], count: Self.additionCount)
    }
}

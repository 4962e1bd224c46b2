/// The H.225.0 `H323-UserInformation` a Q.931 message's User-user element carries (H.225.0 §7.6),
/// read as far as a routing proxy needs: which UUIE it is, the call's identity, its addresses,
/// fastStart and tunnelled H.245. The positions of the fields a proxy rewrites are kept, so that
/// `rewriting` changes those and carries every other bit (extension additions Spillway does not
/// know included) exactly as the peer encoded it.
public struct H323UserInformation: Sendable {
    /// The `h323-message-body` alternative.
    public enum Body: Equatable, Sendable {
        case setup, callProceeding, connect, alerting, information, releaseComplete, facility
        case progress, empty, status, statusInquiry, setupAcknowledge, notify
        case unknownExtension(Int)

        static let root: [Body] = [
            .setup, .callProceeding, .connect, .alerting, .information, .releaseComplete, .facility,
        ]
        static let extensions: [Body] = [.progress, .empty, .status, .statusInquiry, .setupAcknowledge, .notify]
    }

    public let body: Body
    /// The message as it came.
    public let encoding: [UInt8]
    public private(set) var callIdentifier: CallIdentifier?
    public private(set) var conferenceID: [UInt8]?
    /// Where the writer listens for a separate H.245 connection.
    public private(set) var h245Address: TransportAddress?
    /// The fastStart OpenLogicalChannel proposals or answers, each a bare OLC encoding.
    public private(set) var fastStart: [[UInt8]]?
    public private(set) var sourceAddress: [AliasAddress] = []
    public private(set) var destinationAddress: [AliasAddress] = []
    public private(set) var destCallSignalAddress: TransportAddress?
    public private(set) var sourceCallSignalAddress: TransportAddress?
    public private(set) var h245Tunnelling = false
    /// Tunnelled H.245 messages, each a MultimediaSystemControlMessage encoding.
    public private(set) var h245Control: [[UInt8]]?
    /// ReleaseComplete's reason: a root alternative's index, or 12 + an extension alternative's.
    public private(set) var releaseReason: Int?
    /// Facility's reason: a root alternative's index, or 4 + an extension alternative's.
    public private(set) var facilityReason: Int?
    /// Facility's alternativeAddress: where a forwarded call is to go.
    public private(set) var alternativeAddress: TransportAddress?

    /// Where a rewritable field sits: a root field is replaced in place with a value of the same
    /// size; an extension addition is an open type, replaced whole.
    private enum Location {
        case root(Range<Int>)
        case openType(Range<Int>)
    }

    private enum Field: Hashable {
        case h245Address, fastStart, destCallSignalAddress
    }

    /// Locations of the body's fields, relative to `bodyEnvelope`'s contents when the body is an
    /// extension alternative (an open type of its own), else to `encoding`.
    private var bodyLocations: [Field: Location] = [:]
    private var bodyEnvelope: (contents: [UInt8], span: Range<Int>)?
    private var h245ControlSpan: Range<Int>?

    public init(perEncoded bytes: [UInt8]) throws(PERError) {
        encoding = bytes
        var reader = PERReader(bytes)
        var (_, userOptionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 1)
        _ = userOptionals.next()
        var (pduExtended, pduOptionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 1)
        switch try reader.readChoiceIndex(rootCount: 7, extensible: true) {
        case .root(let index):
            body = Body.root[index]
            try reader.field("\(body)") { reader throws(PERError) in try readBody(&reader) }
        case .extension(let index):
            body = index < Body.extensions.count ? Body.extensions[index] : .unknownExtension(index)
            let envelope = try reader.readOpenTypeSpan()
            var inner = PERReader(envelope.contents)
            try inner.field("\(body)") { reader throws(PERError) in try readBody(&reader) }
            bodyEnvelope = envelope
        }
        if pduOptionals.next() { _ = try NonStandardParameter(from: &reader) }
        guard pduExtended else { return }
        let additions = try reader.field("h323-uu-pdu") { reader throws(PERError) in
            try reader.readExtensionAdditionSpans()
        }
        if let tunnelling = additions[1] {
            var inner = PERReader(tunnelling.contents)
            h245Tunnelling = try inner.readBit()
        }
        if let control = additions[2] {
            h245Control = try Self.octetStrings(control.contents, field: "h245Control")
            h245ControlSpan = control.span
        }
    }

    // MARK: - The UUIEs

    private mutating func readBody(_ reader: inout PERReader) throws(PERError) {
        switch body {
        case .setup: try readSetup(&reader)
        case .callProceeding:
            var (extended, optionals) = try readHeader(&reader, optionals: 1)
            _ = try EndpointType(from: &reader)
            if optionals.next() { try readH245Address(&reader) }
            if extended { try readAdditions(&reader, callIdentifier: 0, fastStart: 4) }
        case .connect:
            var (extended, optionals) = try readHeader(&reader, optionals: 1)
            if optionals.next() { try readH245Address(&reader) }
            _ = try EndpointType(from: &reader)
            conferenceID = try reader.readConferenceID()
            if extended { try readAdditions(&reader, callIdentifier: 0, fastStart: 4) }
        case .alerting:
            var (extended, optionals) = try readHeader(&reader, optionals: 1)
            _ = try EndpointType(from: &reader)
            if optionals.next() { try readH245Address(&reader) }
            if extended { try readAdditions(&reader, callIdentifier: 0, fastStart: 4) }
        case .information:
            let (extended, _) = try readHeader(&reader, optionals: 0)
            if extended { try readAdditions(&reader, callIdentifier: 0, fastStart: 3) }
        case .releaseComplete:
            var (extended, optionals) = try readHeader(&reader, optionals: 1)
            if optionals.next() { releaseReason = try Self.readNullChoice(&reader, rootCount: 12) }
            if extended { try readAdditions(&reader, callIdentifier: 0) }
        case .facility: try readFacility(&reader)
        case .progress: try readProgress(&reader)
        case .status, .statusInquiry, .setupAcknowledge, .notify:
            _ = try readHeader(&reader, optionals: 2)
            callIdentifier = try CallIdentifier(from: &reader)
        case .empty, .unknownExtension:
            break
        }
    }

    private mutating func readSetup(_ reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try readHeader(&reader, optionals: 7)
        if optionals.next() { try readH245Address(&reader) }
        if optionals.next() { sourceAddress = try reader.readAliases("sourceAddress") }
        _ = try reader.field("sourceInfo") { reader throws(PERError) in try EndpointType(from: &reader) }
        if optionals.next() { destinationAddress = try reader.readAliases("destinationAddress") }
        if optionals.next() {
            let (address, span) = try reader.measuring { reader throws(PERError) in
                try reader.readTransportAddress("destCallSignalAddress")
            }
            destCallSignalAddress = address
            bodyLocations[.destCallSignalAddress] = .root(span)
        }
        if optionals.next() { _ = try reader.readAliases("destExtraCallInfo") }
        if optionals.next() {
            _ = try reader.readSequenceOf { reader throws(PERError) in try reader.readCallReferenceValue() }
        }
        _ = try reader.readBit()  // activeMC
        conferenceID = try reader.readConferenceID()
        _ = try Self.readNullChoice(&reader, rootCount: 3)  // conferenceGoal
        if optionals.next() { try reader.field("callServices", QseriesOptions.skip) }
        _ = try Self.readNullChoice(&reader, rootCount: 4)  // callType
        guard extended else { return }
        let additions = try reader.readExtensionAdditionSpans()
        if let source = additions[0] { sourceCallSignalAddress = try TransportAddress(perEncoded: source.contents) }
        try takeAdditions(additions, callIdentifier: 2, fastStart: 6)
    }

    private mutating func readFacility(_ reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try readHeader(&reader, optionals: 3)
        if optionals.next() { alternativeAddress = try reader.readTransportAddress("alternativeAddress") }
        if optionals.next() { _ = try reader.readAliases("alternativeAliasAddress") }
        if optionals.next() { conferenceID = try reader.readConferenceID() }
        facilityReason = try Self.readNullChoice(&reader, rootCount: 4)
        guard extended else { return }
        let additions = try reader.readExtensionAdditionSpans()
        if let address = additions[6] {
            h245Address = try TransportAddress(perEncoded: address.contents)
            bodyLocations[.h245Address] = .openType(address.span)
        }
        try takeAdditions(additions, callIdentifier: 0, fastStart: 7)
    }

    /// Progress-UUIE has its callIdentifier, security fields and fastStart in the root.
    private mutating func readProgress(_ reader: inout PERReader) throws(PERError) {
        var (_, optionals) = try readHeader(&reader, optionals: 5)
        _ = try EndpointType(from: &reader)
        if optionals.next() { try readH245Address(&reader) }
        callIdentifier = try CallIdentifier(from: &reader)
        guard !optionals.next(), !optionals.next(), !optionals.next() else {
            throw reader.error(.unsupported("H.235 security mode or tokens in a Progress message"))
        }
        if optionals.next() {
            let (elements, span) = try reader.measuring { reader throws(PERError) in
                try reader.readSequenceOf { reader throws(PERError) in try reader.readOctetString() }
            }
            fastStart = elements
            bodyLocations[.fastStart] = .root(span)
        }
    }

    private func readHeader(_ reader: inout PERReader, optionals: Int) throws(PERError) -> (
        extended: Bool, optionals: OptionalFields
    ) {
        let header = try reader.readSequenceHeader(extensible: true, optionalFields: optionals)
        _ = try reader.field("protocolIdentifier") { reader throws(PERError) in try ASN1ObjectIdentifier(from: &reader)
        }
        return header
    }

    private mutating func readH245Address(_ reader: inout PERReader) throws(PERError) {
        let (address, span) = try reader.measuring { reader throws(PERError) in
            try reader.readTransportAddress("h245Address")
        }
        h245Address = address
        bodyLocations[.h245Address] = .root(span)
    }

    private mutating func readAdditions(_ reader: inout PERReader, callIdentifier: Int, fastStart: Int? = nil)
        throws(PERError)
    {
        try takeAdditions(try reader.readExtensionAdditionSpans(), callIdentifier: callIdentifier, fastStart: fastStart)
    }

    private mutating func takeAdditions(
        _ additions: [Int: (contents: [UInt8], span: Range<Int>)], callIdentifier index: Int,
        fastStart fastStartIndex: Int?
    ) throws(PERError) {
        if let identifier = additions[index] { callIdentifier = try CallIdentifier(perEncoded: identifier.contents) }
        if let fastStartIndex, let proposals = additions[fastStartIndex] {
            fastStart = try Self.octetStrings(proposals.contents, field: "fastStart")
            bodyLocations[.fastStart] = .openType(proposals.span)
        }
    }

    /// A CHOICE of NULLs (reasons, goals, call types): the root index, or rootCount + the extension index.
    private static func readNullChoice(_ reader: inout PERReader, rootCount: Int) throws(PERError) -> Int {
        switch try reader.readChoiceIndex(rootCount: rootCount, extensible: true) {
        case .root(let index): return index
        case .extension(let index):
            _ = try reader.readOpenType()
            return rootCount + index
        }
    }

    private static func octetStrings(_ contents: [UInt8], field: String) throws(PERError) -> [[UInt8]] {
        var reader = PERReader(contents)
        return try reader.field(field) { reader throws(PERError) in
            try reader.readSequenceOf { reader throws(PERError) in try reader.readOctetString() }
        }
    }

    private static func encodeOctetStrings(_ elements: [[UInt8]], to writer: inout PERWriter) {
        writer.writeSequenceOf(elements) { element, writer in writer.writeOctetString(element) }
    }

    // MARK: - Rewriting

    /// The fields a proxy replaces; nil leaves a field as it came. A field can only be replaced
    /// where the message has it.
    public struct Rewrite: Sendable {
        public var h245Address: TransportAddress?
        public var fastStart: [[UInt8]]?
        public var h245Control: [[UInt8]]?
        public var destCallSignalAddress: TransportAddress?

        public init(
            h245Address: TransportAddress? = nil, fastStart: [[UInt8]]? = nil, h245Control: [[UInt8]]? = nil,
            destCallSignalAddress: TransportAddress? = nil
        ) {
            self.h245Address = h245Address
            self.fastStart = fastStart
            self.h245Control = h245Control
            self.destCallSignalAddress = destCallSignalAddress
        }
    }

    /// The message with `rewrite`'s fields in place of its own and every other bit as it came.
    public func rewriting(_ rewrite: Rewrite) throws(PERError) -> [UInt8] {
        var bodyPatches: [PERPatch] = []
        func replace(_ field: Field, name: String, _ encode: (inout PERWriter) -> Void) throws(PERError) {
            guard let location = bodyLocations[field] else {
                throw PERError(.invalid("the \(body) message has no \(name) to replace"), field: name)
            }
            switch location {
            case .root(let span): bodyPatches.append(try PERPatch.sameSize(span, field: name, encode: encode))
            case .openType(let span):
                var writer = PERWriter()
                encode(&writer)
                bodyPatches.append(PERPatch.openType(span, contents: writer.encoded))
            }
        }
        if let address = rewrite.h245Address {
            try replace(.h245Address, name: "h245Address") { address.encode(to: &$0) }
        }
        if let address = rewrite.destCallSignalAddress {
            try replace(.destCallSignalAddress, name: "destCallSignalAddress") { address.encode(to: &$0) }
        }
        if let proposals = rewrite.fastStart {
            try replace(.fastStart, name: "fastStart") { Self.encodeOctetStrings(proposals, to: &$0) }
        }
        var patches: [PERPatch]
        if let envelope = bodyEnvelope, !bodyPatches.isEmpty {
            patches = [PERPatch.openType(envelope.span, contents: envelope.contents.applying(bodyPatches))]
        } else {
            patches = bodyPatches
        }
        if let control = rewrite.h245Control {
            guard let span = h245ControlSpan else {
                throw PERError(.invalid("the message tunnels no H.245 to replace"), field: "h245Control")
            }
            patches.append(PERPatch.openType(span, contents: Self.octetStringsEncoding(control)))
        }
        return encoding.applying(patches)
    }

    // MARK: - Messages the proxy sends itself

    /// The ReleaseCompleteReason alternatives a proxy gives (H.225.0 §7.6.4), by their root index.
    public enum ReleaseReason: Int, Sendable {
        case unreachableDestination = 2
        case gatewayResources = 7
        case undefinedReason = 11
    }

    /// A ReleaseComplete-UUIE for `callIdentifier`.
    public static func releaseComplete(callIdentifier: CallIdentifier?, reason: ReleaseReason) -> [UInt8] {
        encode(body: .root(5)) { writer in
            writer.writeSequenceHeader(extensible: true, extended: callIdentifier != nil, optionals: [true])
            ASN1ObjectIdentifier.h225Version4.encode(to: &writer)
            writer.writeChoiceIndex(.root(reason.rawValue), rootCount: 12, extensible: true)
            if let callIdentifier { writer.writeExtensionAdditions([0: callIdentifier.perEncoded], count: 1) }
        }
    }

    /// A Facility-UUIE, reason `callForwarded`: the caller is to send its Setup to `address`
    /// (and `aliases`) instead. callIdentifier, multipleCalls and maintainConnection are the
    /// additions the reason needs (the latter two mandatory once any addition is sent).
    public static func callForwarded(
        to address: TransportAddress, aliases: [AliasAddress]?, conferenceID: [UInt8]?, callIdentifier: CallIdentifier?
    ) -> [UInt8] {
        encode(body: .root(6)) { writer in
            writer.writeSequenceHeader(
                extensible: true, extended: callIdentifier != nil,
                optionals: [true, aliases != nil, conferenceID != nil])
            ASN1ObjectIdentifier.h225Version4.encode(to: &writer)
            address.encode(to: &writer)
            if let aliases { writer.writeAliases(aliases) }
            if let conferenceID { writer.writeOctetString(conferenceID, size: 16...16) }
            // FacilityReason: callForwarded, the second of four root alternatives.
            writer.writeChoiceIndex(.root(1), rootCount: 4, extensible: true)
            if let callIdentifier {
                writer.writeExtensionAdditions(
                    [0: callIdentifier.perEncoded, 8: false.additionEncoding, 9: false.additionEncoding], count: 16)
            }
        }
    }

    /// A Status-UUIE, the answer to a StatusInquiry.
    public static func status(callIdentifier: CallIdentifier) -> [UInt8] {
        encode(body: .extension(2)) { writer in
            writer.writeSequenceHeader(extensible: true, optionals: [false, false])
            ASN1ObjectIdentifier.h225Version4.encode(to: &writer)
            callIdentifier.encode(to: &writer)
        }
    }

    /// A Setup-UUIE placing call `callIdentifier` with fastStart `proposals` (bare OLC encodings)
    /// to `aliases` at `destination` (its destCallSignalAddress), from an H.323 terminal.
    public static func setup(
        callIdentifier: CallIdentifier, conferenceID: [UInt8], aliases: [AliasAddress], destination: TransportAddress?,
        fastStart proposals: [[UInt8]]
    ) -> [UInt8] {
        encode(body: .root(0)) { writer in
            writer.writeSequenceHeader(
                extensible: true, extended: true,
                optionals: [false, false, !aliases.isEmpty, destination != nil, false, false, false])
            ASN1ObjectIdentifier.h225Version4.encode(to: &writer)
            EndpointType(isTerminal: true).encode(to: &writer)
            if !aliases.isEmpty { writer.writeAliases(aliases) }
            destination?.encode(to: &writer)
            writer.writeBit(false)  // activeMC
            writer.writeOctetString(conferenceID, size: 16...16)
            writer.writeChoiceIndex(.root(0), rootCount: 3, extensible: true)  // conferenceGoal: create
            writer.writeChoiceIndex(.root(0), rootCount: 4, extensible: true)  // callType: pointToPoint
            // callIdentifier, fastStart, then the BOOLEAN additions every Setup carries: mediaWaitForConnect,
            // canOverlapSend, multipleCalls, maintainConnection.
            writer.writeExtensionAdditions(
                [
                    2: callIdentifier.perEncoded, 6: octetStringsEncoding(proposals), 7: false.additionEncoding,
                    8: false.additionEncoding, 10: false.additionEncoding, 11: false.additionEncoding,
                ], count: 12)
        }
    }

    /// A Connect-UUIE answering call `callIdentifier` with fastStart `answers` (bare OLC encodings),
    /// from an H.323 terminal.
    public static func connect(callIdentifier: CallIdentifier, conferenceID: [UInt8], fastStart answers: [[UInt8]])
        -> [UInt8]
    {
        encode(body: .root(2)) { writer in
            writer.writeSequenceHeader(extensible: true, extended: true, optionals: [false])
            ASN1ObjectIdentifier.h225Version4.encode(to: &writer)
            EndpointType(isTerminal: true).encode(to: &writer)
            writer.writeOctetString(conferenceID, size: 16...16)
            // callIdentifier, fastStart, multipleCalls, maintainConnection.
            writer.writeExtensionAdditions(
                [
                    0: callIdentifier.perEncoded, 4: octetStringsEncoding(answers), 5: false.additionEncoding,
                    6: false.additionEncoding,
                ], count: 7)
        }
    }

    private static func octetStringsEncoding(_ elements: [[UInt8]]) -> [UInt8] {
        var writer = PERWriter()
        encodeOctetStrings(elements, to: &writer)
        return writer.encoded
    }

    /// A UUIE of body `empty` that tunnels `h245Control`: how H.245 travels between other messages.
    public static func tunnelling(_ h245Control: [[UInt8]]) -> [UInt8] {
        encode(body: .extension(1), h245Control: h245Control) { _ in }
    }

    private static func encode(body: ChoiceIndex, h245Control: [[UInt8]]? = nil, _ uuie: (inout PERWriter) -> Void)
        -> [UInt8]
    {
        var writer = PERWriter()
        writer.writeSequenceHeader(extensible: true, optionals: [false])
        writer.writeSequenceHeader(extensible: true, extended: h245Control != nil, optionals: [false])
        writer.writeChoiceIndex(body, rootCount: 7, extensible: true)
        if case .extension = body { writer.writeOpenType(uuie) } else { uuie(&writer) }
        if let h245Control {
            var tunnelling = PERWriter()
            tunnelling.writeBit(true)
            writer.writeExtensionAdditions([1: tunnelling.encoded, 2: octetStringsEncoding(h245Control)], count: 3)
        }
        return writer.encoded
    }
}

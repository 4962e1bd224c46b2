/// H.225.0 CallCapacity: how many calls an endpoint can carry at most and can still take, by kind
/// of call. Spillway reports its figures as terminal calls.
public struct CallCapacity: Equatable, Sendable, PERCodable {
    public var maximum: CallCapacityInfo?
    public var current: CallCapacityInfo?

    public init(maximum: CallCapacityInfo?, current: CallCapacityInfo?) {
        self.maximum = maximum
        self.current = current
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 2)
        maximum =
            optionals.next()
            ? try reader.field("maximumCallCapacity") { reader throws(PERError) in try CallCapacityInfo(from: &reader) }
            : nil
        current =
            optionals.next()
            ? try reader.field("currentCallCapacity") { reader throws(PERError) in try CallCapacityInfo(from: &reader) }
            : nil
        if extended { _ = try reader.readExtensionAdditions() }
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(extensible: true, optionals: [maximum != nil, current != nil])
        maximum?.encode(to: &writer)
        current?.encode(to: &writer)
    }
}

/// H.225.0 CallCapacityInfo: calls available per kind of call.
public struct CallCapacityInfo: Equatable, Sendable, PERCodable {
    /// The kinds of call, in the order of the type's root fields.
    public enum Kind: Int, CaseIterable, Sendable {
        case voiceGateway, h310Gateway, h320Gateway, h321Gateway, h322Gateway, h323Gateway, h324Gateway
        case t120OnlyGateway, t38FaxAnnexbOnlyGateway, terminal, mcu
    }

    public var callsAvailable: [Kind: [CallsAvailable]]

    public init(_ callsAvailable: [Kind: [CallsAvailable]]) {
        self.callsAvailable = callsAvailable
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: Kind.allCases.count)
        callsAvailable = [:]
        for kind in Kind.allCases where optionals.next() {
            callsAvailable[kind] = try reader.field("\(kind)CallsAvailable") { reader throws(PERError) in
                try reader.readSequenceOf { reader throws(PERError) in try CallsAvailable(from: &reader) }
            }
        }
        if extended { _ = try reader.readExtensionAdditions() }
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(extensible: true, optionals: Kind.allCases.map { callsAvailable[$0] != nil })
        for kind in Kind.allCases {
            guard let calls = callsAvailable[kind] else { continue }
            writer.writeSequenceOf(calls) { $0.encode(to: &$1) }
        }
    }
}

/// H.225.0 CallsAvailable: a number of calls, optionally for a named group.
public struct CallsAvailable: Equatable, Sendable, PERCodable {
    public var calls: UInt32
    public var group: String?

    public init(calls: UInt32, group: String? = nil) {
        self.calls = calls
        self.group = group
    }

    public init(from reader: inout PERReader) throws(PERError) {
        var (extended, optionals) = try reader.readSequenceHeader(extensible: true, optionalFields: 1)
        calls = UInt32(try reader.readConstrainedWholeNumber(in: 0...4_294_967_295))
        group = optionals.next() ? try reader.readCharacterString(.ia5, size: 1...128) : nil
        if extended { _ = try reader.readExtensionAdditions() }
    }

    public func encode(to writer: inout PERWriter) {
        writer.writeSequenceHeader(extensible: true, optionals: [group != nil])
        writer.writeConstrainedWholeNumber(Int(calls), in: 0...4_294_967_295)
        if let group { writer.writeCharacterString(group, .ia5, size: 1...128) }
    }
}

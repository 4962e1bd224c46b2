import Bencode

/// Everything another node needs to carry a call on, as its owner keeps it in Redis: the parties'
/// tags and, per stream and party, the relay's socket, what the party advertised and latched to,
/// the SRTP keys and rollover state, the transcoding decisions, and the recording state.
///
/// Addresses are kept as text (`IP:PORT`, `[IPv6]:PORT`) and SRTP keys as SDES `a=crypto` values,
/// so that a record read with `redis-cli` explains itself and this module stays free of the media
/// plane's types.
public struct CallRecord: Sendable, Equatable {
    /// The schema this build writes and reads.
    public static let schemaVersion: Int64 = 1

    public var callID: String
    /// The node that anchors the call, and the record's revision and write time.
    public var owner: OwnerRecord
    /// When the call was created (wall-clock nanoseconds since the epoch).
    public var createdWallNanos: UInt64
    /// Whether the call's media is being recorded.
    public var recording: Bool
    /// The offerer's party first, the recipient's second.
    public var parties: [Party]

    public init(
        callID: String, owner: OwnerRecord, createdWallNanos: UInt64, recording: Bool, parties: [Party]
    ) {
        self.callID = callID
        self.owner = owner
        self.createdWallNanos = createdWallNanos
        self.recording = recording
        self.parties = parties
    }

    /// One party of the call: its tag, the SDP the relay last sent it (as answered: pointing it at
    /// the relay), and its side of each stream (nil: a stream it rejected).
    public struct Party: Sendable, Equatable {
        public var tag: String?
        public var sdp: String?
        public var streams: [Stream?]

        public init(tag: String?, sdp: String? = nil, streams: [Stream?]) {
            self.tag = tag
            self.sdp = sdp
            self.streams = streams
        }
    }

    /// The relay's side of one stream towards one party.
    public struct Stream: Sendable, Equatable {
        /// The m= line's media type and this party's transport protocol.
        public var type: String
        public var proto: String
        /// The interface the relay's sockets are bound on, and the RTP port (RTCP is the next one).
        public var interface: Interface
        public var port: UInt16
        /// Where the party said it receives RTP and RTCP; nil while unknown.
        public var advertisedRTP: String?
        public var advertisedRTCP: String?
        /// Where the party's RTP and RTCP were latched from; nil before its first packet.
        public var latchedRTP: String?
        public var latchedRTCP: String?
        public var rtcpMux: Bool
        /// The latching rule (`LatchingRule`'s raw value).
        public var latching: String
        /// The RTP clock rate of what the party sends.
        public var clockRate: UInt32
        /// The SSRC the party last sent and its extended highest sequence number (the SRTP
        /// rollover counter is the upper half).
        public var ssrc: UInt32
        public var extendedSequence: UInt32
        public var security: Security
        /// Set when what this party sends is transcoded for the other.
        public var transcoding: Transcoding?
        /// The codec the party sends, as signalling without SDP named it.
        public var signalledCodec: String?

        public init(
            type: String, proto: String, interface: Interface, port: UInt16, advertisedRTP: String? = nil,
            advertisedRTCP: String? = nil, latchedRTP: String? = nil, latchedRTCP: String? = nil, rtcpMux: Bool = false,
            latching: String = "symmetric", clockRate: UInt32 = 8000, ssrc: UInt32 = 0, extendedSequence: UInt32 = 0,
            security: Security = .plain, transcoding: Transcoding? = nil, signalledCodec: String? = nil
        ) {
            self.type = type
            self.proto = proto
            self.interface = interface
            self.port = port
            self.advertisedRTP = advertisedRTP
            self.advertisedRTCP = advertisedRTCP
            self.latchedRTP = latchedRTP
            self.latchedRTCP = latchedRTCP
            self.rtcpMux = rtcpMux
            self.latching = latching
            self.clockRate = clockRate
            self.ssrc = ssrc
            self.extendedSequence = extendedSequence
            self.security = security
            self.transcoding = transcoding
            self.signalledCodec = signalledCodec
        }
    }

    /// A media interface as a record names it: the taker binds `localIP` (moved to it by VRRP in
    /// production) and keeps advertising `advertisedIP`.
    public struct Interface: Sendable, Equatable {
        public var name: String
        public var localIP: String
        public var advertisedIP: String

        public init(name: String, localIP: String, advertisedIP: String) {
            self.name = name
            self.localIP = localIP
            self.advertisedIP = advertisedIP
        }
    }

    /// How a stream's side is secured.
    public enum Security: Sendable, Equatable {
        case plain
        /// SRTP relayed untouched (the relay holds no key).
        case passThrough
        /// SDES-keyed SRTP the relay terminates: the keys it offered the party, the one agreed for
        /// what it sends the party, and the party's own (each an `a=crypto` value).
        case sdes(offered: [String], relayKey: String?, partyKey: String?)
    }

    /// One direction's transcoding: the codecs the party's payload types decode from, what they are
    /// encoded into, and where the output stream stood when the record was written.
    public struct Transcoding: Sendable, Equatable {
        public struct Input: Sendable, Equatable {
            public var payloadType: UInt8
            public var codec: String

            public init(payloadType: UInt8, codec: String) {
                self.payloadType = payloadType
                self.codec = codec
            }
        }

        public var inputs: [Input]
        public var outputCodec: String
        public var outputPayloadType: UInt8
        /// RFC 4733 events: input payload type and clock, output payload type and clock.
        public var events: [Int]?
        /// The Opus encoder's bit rate, in-band FEC, stereo and complexity.
        public var opusBitRate: Int
        public var opusInbandFEC: Bool
        public var opusStereo: Bool
        public var opusComplexity: Int
        /// The output stream's SSRC, next extended sequence number and next timestamp, as of
        /// `positionWallNanos`.
        public var outputSSRC: UInt32
        public var outputSequence: UInt32
        public var outputTimestamp: UInt32
        public var positionWallNanos: UInt64

        public init(
            inputs: [Input], outputCodec: String, outputPayloadType: UInt8, events: [Int]?, opusBitRate: Int,
            opusInbandFEC: Bool, opusStereo: Bool, opusComplexity: Int, outputSSRC: UInt32, outputSequence: UInt32,
            outputTimestamp: UInt32, positionWallNanos: UInt64
        ) {
            self.inputs = inputs
            self.outputCodec = outputCodec
            self.outputPayloadType = outputPayloadType
            self.events = events
            self.opusBitRate = opusBitRate
            self.opusInbandFEC = opusInbandFEC
            self.opusStereo = opusStereo
            self.opusComplexity = opusComplexity
            self.outputSSRC = outputSSRC
            self.outputSequence = outputSequence
            self.outputTimestamp = outputTimestamp
            self.positionWallNanos = positionWallNanos
        }
    }
}

// MARK: - Bencode

extension CallRecord {
    /// The record as stored: a bencoded dictionary, written directly (it is written at every call
    /// set-up, so it builds no `BencodeValue` tree).
    public var encoded: [UInt8] {
        var writer = BencodeWriter(reservingCapacity: 1024)
        writer.dictionary { record in
            record.entry("call", callID)
            record.entry("created", bitPattern: createdWallNanos)
            record.entry("owner") { $0.value(owner.bencoded) }
            record.entry("parties") {
                $0.list { list in for party in parties { party.write(into: &list) } }
            }
            record.entry("rec", recording)
            record.entry("v", Self.schemaVersion)
        }
        return writer.bytes
    }

    /// Reads a stored record; an unreadable one, or one of another schema, is an error that says
    /// what is wrong with it.
    public init(decoding bytes: [UInt8]) throws(CallStoreError) {
        let value: BencodeValue
        do {
            value = try BencodeDecoder().decode(bytes)
        } catch {
            throw .unreadable("call record is not bencode: \(error)")
        }
        let record = RecordReader(value, path: "call record")
        let version = try record.integer("v")
        guard version == Self.schemaVersion else {
            throw .unreadable("call record of schema \(version); this node reads schema \(Self.schemaVersion)")
        }
        callID = try record.string("call")
        owner = try OwnerRecord(bencoded: try record.value("owner"), path: "call record.owner")
        createdWallNanos = try record.unsigned("created")
        recording = try record.flag("rec")
        parties = try record.list("parties").map { reader throws(CallStoreError) in try Party(reader) }
        guard parties.count == 2 else {
            throw .unreadable("call record has \(parties.count) parties; a call has two")
        }
    }
}

extension CallRecord.Party {
    func write(into writer: inout BencodeWriter) {
        writer.dictionary { party in
            party.entry("sdp", ifPresent: sdp)
            party.entry("streams") {
                $0.list { list in
                    for stream in streams {
                        if let stream { stream.write(into: &list) } else { list.dictionary { _ in } }
                    }
                }
            }
            party.entry("tag", ifPresent: tag)
        }
    }

    init(_ reader: RecordReader) throws(CallStoreError) {
        tag = try reader.optionalString("tag")
        sdp = try reader.optionalString("sdp")
        streams = try reader.list("streams").map { stream throws(CallStoreError) in
            try stream.isEmpty ? nil : CallRecord.Stream(stream)
        }
    }
}

extension CallRecord.Stream {
    func write(into writer: inout BencodeWriter) {
        writer.dictionary { stream in
            stream.entry("adv-ip", interface.advertisedIP)
            stream.entry("adv-rtcp", ifPresent: advertisedRTCP)
            stream.entry("adv-rtp", ifPresent: advertisedRTP)
            stream.entry("clock", Int64(clockRate))
            stream.entry("codec", ifPresent: signalledCodec)
            stream.entry("if", interface.name)
            stream.entry("ip", interface.localIP)
            stream.entry("latch", latching)
            stream.entry("mux", rtcpMux)
            if case .sdes(let offered, _, _) = security {
                stream.entry("offered") { $0.list { list in for key in offered { list.string(key) } } }
            }
            if case .sdes(_, _, let partyKey) = security { stream.entry("party-key", ifPresent: partyKey) }
            stream.entry("peer-rtcp", ifPresent: latchedRTCP)
            stream.entry("peer-rtp", ifPresent: latchedRTP)
            stream.entry("port", Int64(port))
            stream.entry("proto", proto)
            if case .sdes(_, let relayKey, _) = security { stream.entry("relay-key", ifPresent: relayKey) }
            stream.entry("seq", Int64(extendedSequence))
            switch security {
            case .plain: stream.entry("srtp", "plain")
            case .passThrough: stream.entry("srtp", "pass-through")
            case .sdes: stream.entry("srtp", "sdes")
            }
            stream.entry("ssrc", Int64(ssrc))
            if let transcoding { stream.entry("transcoding") { transcoding.write(into: &$0) } }
            stream.entry("type", type)
        }
    }

    init(_ reader: RecordReader) throws(CallStoreError) {
        type = try reader.string("type")
        proto = try reader.string("proto")
        interface = CallRecord.Interface(
            name: try reader.string("if"), localIP: try reader.string("ip"), advertisedIP: try reader.string("adv-ip"))
        port = try reader.integer("port", in: 1...65534)
        advertisedRTP = try reader.optionalString("adv-rtp")
        advertisedRTCP = try reader.optionalString("adv-rtcp")
        latchedRTP = try reader.optionalString("peer-rtp")
        latchedRTCP = try reader.optionalString("peer-rtcp")
        signalledCodec = try reader.optionalString("codec")
        rtcpMux = try reader.flag("mux")
        latching = try reader.string("latch")
        clockRate = try reader.integer("clock", in: 1...UInt32.max)
        ssrc = try reader.integer("ssrc", in: 0...UInt32.max)
        extendedSequence = try reader.integer("seq", in: 0...UInt32.max)
        switch try reader.string("srtp") {
        case "plain": security = .plain
        case "pass-through": security = .passThrough
        case "sdes":
            security = .sdes(
                offered: try reader.list("offered").map { item throws(CallStoreError) in try item.text() },
                relayKey: try reader.optionalString("relay-key"), partyKey: try reader.optionalString("party-key"))
        case let other:
            throw .unreadable("\(reader.path).srtp is '\(other)'; expected plain, pass-through or sdes")
        }
        transcoding = try reader.optionalValue("transcoding").map { value throws(CallStoreError) in
            try CallRecord.Transcoding(RecordReader(value, path: reader.path + ".transcoding"))
        }
    }
}

extension CallRecord.Transcoding {
    func write(into writer: inout BencodeWriter) {
        writer.dictionary { transcoding in
            transcoding.entry("at", bitPattern: positionWallNanos)
            if let events {
                transcoding.entry("events") { $0.list { list in for value in events { list.integer(Int64(value)) } } }
            }
            transcoding.entry("in") {
                $0.list { list in
                    for input in inputs {
                        list.list { pair in
                            pair.integer(Int64(input.payloadType))
                            pair.string(input.codec)
                        }
                    }
                }
            }
            transcoding.entry("opus") {
                $0.list { list in
                    list.integer(Int64(opusBitRate))
                    list.integer(opusInbandFEC ? 1 : 0)
                    list.integer(opusStereo ? 1 : 0)
                    list.integer(Int64(opusComplexity))
                }
            }
            transcoding.entry("out", outputCodec)
            transcoding.entry("pt", Int64(outputPayloadType))
            transcoding.entry("seq", Int64(outputSequence))
            transcoding.entry("ssrc", Int64(outputSSRC))
            transcoding.entry("ts", Int64(outputTimestamp))
        }
    }

    init(_ reader: RecordReader) throws(CallStoreError) {
        inputs = try reader.list("in").map { input throws(CallStoreError) in
            let pair = try input.items(count: 2)
            return Input(payloadType: try pair[0].integer(in: 0...127), codec: try pair[1].text())
        }
        guard !inputs.isEmpty else { throw .unreadable("\(reader.path).in is empty; a transcoding has an input") }
        outputCodec = try reader.string("out")
        outputPayloadType = try reader.integer("pt", in: 0...127)
        events = try reader.optionalValue("events").map { value throws(CallStoreError) in
            try RecordReader(value, path: reader.path + ".events").items(count: 4).map {
                item throws(CallStoreError) in try item.integer(in: 0...Int(Int32.max))
            }
        }
        let opus = try RecordReader(try reader.value("opus"), path: reader.path + ".opus").items(count: 4)
        opusBitRate = try opus[0].integer(in: 500...512_000)
        opusInbandFEC = try opus[1].integer(in: 0...1) == 1
        opusStereo = try opus[2].integer(in: 0...1) == 1
        opusComplexity = try opus[3].integer(in: 0...10)
        outputSSRC = try reader.integer("ssrc", in: 0...UInt32.max)
        outputSequence = try reader.integer("seq", in: 0...UInt32.max)
        outputTimestamp = try reader.integer("ts", in: 0...UInt32.max)
        positionWallNanos = try reader.unsigned("at")
    }
}

extension OwnerRecord {
    /// The owner part of a call record (or a whole owner record).
    var bencoded: BencodeValue {
        .dictionary([
            "v": .integer(Self.schemaVersion), "node": node.bencoded, "rev": .unsigned(revision),
            "at": .unsigned(writtenAtWallNanos),
        ])
    }
}

extension BencodeValue {
    static func unsigned(_ value: UInt64) -> BencodeValue { .integer(Int64(bitPattern: value)) }
}

/// Reads one bencoded value of a record, naming where it is (`path`) in every error.
struct RecordReader {
    let value: BencodeValue
    let path: String

    init(_ value: BencodeValue, path: String) {
        self.value = value
        self.path = path
    }

    var isEmpty: Bool { value.dictionaryValue?.isEmpty ?? false }

    func optionalValue(_ key: String) throws(CallStoreError) -> BencodeValue? {
        guard let dictionary = value.dictionaryValue else { throw .unreadable("\(path) is not a dictionary") }
        return dictionary[key]
    }

    func value(_ key: String) throws(CallStoreError) -> BencodeValue {
        guard let value = try optionalValue(key) else { throw .unreadable("\(path) has no '\(key)'") }
        return value
    }

    func string(_ key: String) throws(CallStoreError) -> String {
        try RecordReader(try value(key), path: "\(path).\(key)").text()
    }

    func optionalString(_ key: String) throws(CallStoreError) -> String? {
        try optionalValue(key).map { value throws(CallStoreError) in
            try RecordReader(value, path: "\(path).\(key)").text()
        }
    }

    func integer(_ key: String) throws(CallStoreError) -> Int64 {
        guard let integer = try value(key).integerValue else { throw .unreadable("\(path).\(key) is not an integer") }
        return integer
    }

    func integer<Number: FixedWidthInteger>(_ key: String, in range: ClosedRange<Number>) throws(CallStoreError)
        -> Number
    {
        try RecordReader(try value(key), path: "\(path).\(key)").integer(in: range)
    }

    func unsigned(_ key: String) throws(CallStoreError) -> UInt64 {
        UInt64(bitPattern: try integer(key))
    }

    func flag(_ key: String) throws(CallStoreError) -> Bool {
        try integer(key, in: 0...1) == 1
    }

    func list(_ key: String) throws(CallStoreError) -> [RecordReader] {
        guard let items = try value(key).listValue else { throw .unreadable("\(path).\(key) is not a list") }
        return items.enumerated().map { RecordReader($1, path: "\(path).\(key)[\($0)]") }
    }

    func text() throws(CallStoreError) -> String {
        guard let text = value.stringValue else { throw .unreadable("\(path) is not a UTF-8 string") }
        return text
    }

    func integer<Number: FixedWidthInteger>(in range: ClosedRange<Number>) throws(CallStoreError) -> Number {
        guard let integer = value.integerValue, let number = Number(exactly: integer), range.contains(number) else {
            throw .unreadable("\(path) is not an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return number
    }

    func items(count: Int) throws(CallStoreError) -> [RecordReader] {
        guard let items = value.listValue, items.count == count else {
            throw .unreadable("\(path) is not a list of \(count)")
        }
        return items.enumerated().map { RecordReader($1, path: "\(path)[\($0)]") }
    }
}

import Bencode
import Codecs
import MediaPlane
import SDP
import SRTP

/// An NG command, decoded and checked, as rtpengine clients (Kamailio, OpenSIPS) send it.
public enum NGRequest: Sendable, Equatable {
    case ping
    case offer(Negotiation)
    case answer(Negotiation)
    case delete(CallSelector)
    case query(CallSelector)
    case list(limit: Int)
    case statistics
    case startRecording(CallSelector)
    case stopRecording(CallSelector)

    /// The keys of `offer` and `answer`.
    public struct Negotiation: Sendable, Equatable {
        public var callID: String
        public var fromTag: String
        /// Required for `answer`.
        public var toTag: String?
        public var sdp: String
        public var options: NegotiationOptions
        /// `record call: yes`: start recording the call with this command.
        public var recordCall: Bool
        /// Flags this node does not act on, echoed in the reply's `warning`.
        public var ignoredFlags: [String]
    }

    /// The keys that name a call for `delete` and `query`.
    public struct CallSelector: Sendable, Equatable {
        public var callID: String
        public var fromTag: String?
        public var toTag: String?
    }

    /// Decodes a request body.
    public init(_ body: BencodeValue) throws(NGError) {
        guard let dictionary = body.dictionaryValue else { throw .notADictionary }
        let keys = NGDictionary(dictionary)
        let command = try keys.requiredString("command")
        switch command {
        case "ping":
            self = .ping
        case "offer":
            self = .offer(try Negotiation(keys, requiresToTag: false))
        case "answer":
            self = .answer(try Negotiation(keys, requiresToTag: true))
        case "delete":
            self = .delete(try CallSelector(keys))
        case "query":
            self = .query(try CallSelector(keys))
        case "list":
            self = .list(limit: try keys.integer("limit").map(Int.init) ?? 32)
        case "statistics":
            self = .statistics
        case "start recording":
            self = .startRecording(try CallSelector(keys))
        case "stop recording":
            self = .stopRecording(try CallSelector(keys))
        default:
            throw .unknownCommand(command)
        }
    }

    /// The call-id the request is about, if any.
    public var callID: String? {
        switch self {
        case .offer(let negotiation), .answer(let negotiation): negotiation.callID
        case .delete(let selector), .query(let selector), .startRecording(let selector), .stopRecording(let selector):
            selector.callID
        case .ping, .list, .statistics: nil
        }
    }
}

extension NGRequest.CallSelector {
    init(_ keys: NGDictionary) throws(NGError) {
        callID = try keys.requiredString("call-id")
        fromTag = try keys.string("from-tag")
        toTag = try keys.string("to-tag")
    }
}

extension NGRequest.Negotiation {
    init(_ keys: NGDictionary, requiresToTag: Bool) throws(NGError) {
        callID = try keys.requiredString("call-id")
        fromTag = try keys.requiredString("from-tag")
        toTag = requiresToTag ? try keys.requiredString("to-tag") : try keys.string("to-tag")
        sdp = try keys.requiredString("sdp")
        recordCall = ["yes", "on", "true"].contains(try keys.string("record call")?.lowercased() ?? "")
        var ignored: [String] = []
        options = try NegotiationOptions(keys, ignoredFlags: &ignored)
        ignoredFlags = ignored
    }
}

extension NegotiationOptions {
    /// Reads `flags`, `replace`, `ICE`, `rtcp-mux`, `transport-protocol`, `received-from`, `direction`,
    /// `address-family` and `media-address`.
    init(_ keys: NGDictionary, ignoredFlags: inout [String]) throws(NGError) {
        self.init()
        var useSIPSource = false
        for flag in try keys.stringList("flags") {
            switch flag.lowercased() {
            case let lowered where LatchingRule(flag: lowered) != nil:
                let rule = LatchingRule(flag: lowered)!
                latching = [latching, rule].compactMap { $0 }.max { $0.precedence < $1.precedence }
            case "sip-source-address", "sip source address": useSIPSource = true
            case "trust-address", "trust address", "port-latching", "port latching":
                break  // the default behaviour here, or one this relay always has
            case let lowered where lowered.hasPrefix("sdes-"):
                try sdes.apply(String(flag.dropFirst(5)), ignoredFlags: &ignoredFlags)
            case let lowered where lowered.hasPrefix("codec-"):
                // rtpengine's flag form of the codec dictionary: codec-<operation>-<codec>.
                let rest = flag.dropFirst(6)
                guard let dash = rest.firstIndex(of: "-") else {
                    ignoredFlags.append(flag)
                    continue
                }
                try codecs.add(
                    String(rest[..<dash]), String(rest[rest.index(after: dash)...]), ignoredFlags: &ignoredFlags)
            default: ignoredFlags.append(flag)
            }
        }
        for item in try keys.stringList("replace") {
            switch item.lowercased() {
            case "origin": replaceOrigin = true
            case "session-connection", "session connection": replaceSessionConnection = true
            default: ignoredFlags.append("replace-\(item)")
            }
        }
        if let ice = try keys.string("ICE") {
            switch ice.lowercased() {
            case "remove": removeICE = true
            case "default": break
            default:
                throw .unsupported(
                    key: "ICE", value: ice, reason: "this relay does not act as an ICE agent; use 'remove'")
            }
        }
        for item in try keys.stringList("rtcp-mux") {
            switch item.lowercased() {
            case "offer": rtcpMux.insert(.offer)
            case "accept": rtcpMux.insert(.accept)
            case "demux": rtcpMux.insert(.demux)
            case "reject": rtcpMux.insert(.reject)
            case "require": rtcpMux.formUnion([.offer, .accept])
            default:
                throw .invalidValue(key: "rtcp-mux", value: item, expected: "offer, accept, demux, reject or require")
            }
        }
        if let codec = keys.values["codec"] {
            guard let operations = codec.dictionaryValue else {
                throw .invalidValue(
                    key: "codec", value: "\(codec)",
                    expected: "a dictionary of codec lists (transcode, strip, mask, accept, set)")
            }
            let codecKeys = NGDictionary(operations)
            for operation in operations.keys.sorted() {
                for item in try codecKeys.stringList(operation) {
                    try codecs.add(operation, item, ignoredFlags: &ignoredFlags)
                }
            }
        }
        for item in try keys.stringList("SDES") {
            try sdes.apply(item, ignoredFlags: &ignoredFlags)
        }
        if let proto = try keys.string("transport-protocol") {
            switch proto {
            case "RTP/AVP", "RTP/AVPF", "RTP/SAVP", "RTP/SAVPF": transportProtocol = proto
            case "accept": break
            case "UDP/TLS/RTP/SAVP", "UDP/TLS/RTP/SAVPF":
                throw .unsupported(
                    key: "transport-protocol", value: proto,
                    reason: "DTLS-SRTP is not available on this node; use RTP/SAVP or RTP/SAVPF with SDES")
            default:
                throw .invalidValue(
                    key: "transport-protocol", value: proto,
                    expected: "RTP/AVP, RTP/AVPF, RTP/SAVP, RTP/SAVPF or accept")
            }
        }
        if useSIPSource {
            let receivedFrom = try keys.stringList("received-from")
            guard receivedFrom.count == 2 else { throw .missingKey("received-from") }
            mediaSourceOverride = receivedFrom[1]
        }
        direction = try keys.stringList("direction")
        if let family = try keys.string("address-family") {
            guard let parsed = ConnectionAddress.Family(rawValue: family.uppercased()) else {
                throw .invalidValue(key: "address-family", value: family, expected: "IP4 or IP6")
            }
            addressFamily = parsed
        }
        if let address = try keys.string("media-address") {
            guard SocketAddress(ip: address, port: 0) != nil else {
                throw .invalidValue(key: "media-address", value: address, expected: "a numeric IPv4 or IPv6 address")
            }
            mediaAddress = address
        }
    }
}

extension CodecOptions {
    /// Adds one codec to the list of `operation` (a key of the `codec` dictionary). Operations this
    /// relay does not act on (`offer`, `except`, `consume`...) are reported back as not acted on.
    mutating func add(_ operation: String, _ item: String, ignoredFlags: inout [String]) throws(NGError) {
        guard let request = CodecRequest(parsing: item) else {
            throw .invalidValue(
                key: "codec \(operation)", value: item,
                expected: "name[/clock rate[/channels[/bit rate[/format parameters[/encoder options]]]]]")
        }
        switch operation.lowercased() {
        case "transcode":
            guard request.audioCodec != nil else {
                throw .unsupported(
                    key: "codec transcode", value: item,
                    reason:
                        "this relay transcodes \(AudioCodec.allCases.map(\.rtpmapEncoding).joined(separator: ", ")) only"
                )
            }
            transcode.append(request)
        case "strip": strip.append(request)
        case "mask": mask.append(request)
        case "accept": accept.append(request)
        case "set": set.append(request)
        default: ignoredFlags.append("codec-\(operation)-\(item)")
        }
    }
}

extension SDESOptions {
    /// Applies one item of the `SDES` list, or a `SDES-<item>` flag: `off`, `pad`, `no-<suite>`,
    /// `only-<suite>`. Other rtpengine items are reported back as not acted on.
    mutating func apply(_ item: String, ignoredFlags: inout [String]) throws(NGError) {
        func suite(_ name: Substring) throws(NGError) -> SRTPSuite {
            guard let suite = SRTPSuite(rawValue: name.uppercased()) else {
                throw .invalidValue(
                    key: "SDES", value: item,
                    expected:
                        "a suite of \(SRTPSuite.allCases.map(\.rawValue).joined(separator: ", ")) after no- or only-")
            }
            return suite
        }
        let lowered = item.lowercased()
        if ["off", "no", "disable"].contains(lowered) {
            passThrough = true
        } else if lowered == "pad" {
            padKeys = true
        } else if lowered.hasPrefix("no-") {
            excludedSuites.insert(try suite(item.dropFirst(3)))
        } else if lowered.hasPrefix("only-") {
            onlySuites = (onlySuites ?? []).union([try suite(item.dropFirst(5))])
        } else {
            ignoredFlags.append("SDES-\(item)")
        }
    }
}

/// Typed look-ups in a request dictionary, with errors that name the key.
struct NGDictionary {
    let values: [String: BencodeValue]

    init(_ values: [String: BencodeValue]) { self.values = values }

    func string(_ key: String) throws(NGError) -> String? {
        guard let value = values[key] else { return nil }
        guard let text = value.stringValue else {
            throw .invalidValue(key: key, value: "\(value)", expected: "a string")
        }
        return text
    }

    func requiredString(_ key: String) throws(NGError) -> String {
        guard let text = try string(key), !text.isEmpty else { throw .missingKey(key) }
        return text
    }

    func integer(_ key: String) throws(NGError) -> Int64? {
        guard let value = values[key] else { return nil }
        if let number = value.integerValue { return number }
        if let text = value.stringValue, let number = Int64(text) { return number }
        throw .invalidValue(key: key, value: "\(value)", expected: "an integer")
    }

    /// A list of strings; a single string is taken as a one-element list, as rtpengine does.
    func stringList(_ key: String) throws(NGError) -> [String] {
        guard let value = values[key] else { return [] }
        if let text = value.stringValue { return [text] }
        guard let list = value.listValue else {
            throw .invalidValue(key: key, value: "\(value)", expected: "a list of strings")
        }
        var strings: [String] = []
        for item in list {
            guard let text = item.stringValue else {
                throw .invalidValue(key: key, value: "\(item)", expected: "a list of strings")
            }
            strings.append(text)
        }
        return strings
    }
}

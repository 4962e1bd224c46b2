/// One RTP payload format of an m= line: its payload type with what `a=rtpmap` and `a=fmtp` say of
/// it (RFC 8866 6.6 and 6.15), or RFC 3551's static assignment when there is no `a=rtpmap`.
public struct PayloadFormat: Equatable, Sendable {
    public var payloadType: UInt8
    /// The encoding name as written (`PCMU`, `opus`, `telephone-event`); empty when unknown.
    public var encodingName: String
    public var clockRate: Int
    /// The rtpmap's channel count, when it gives one.
    public var channels: Int?
    /// The `a=fmtp` parameters, if any.
    public var parameters: String?

    public init(
        payloadType: UInt8, encodingName: String, clockRate: Int, channels: Int? = nil, parameters: String? = nil
    ) {
        self.payloadType = payloadType
        self.encodingName = encodingName
        self.clockRate = clockRate
        self.channels = channels
        self.parameters = parameters
    }

    /// Whether this is RFC 4733's `telephone-event` (DTMF).
    public var isTelephoneEvent: Bool { encodingName.lowercased() == "telephone-event" }
    /// Whether this is RFC 3389 comfort noise.
    public var isComfortNoise: Bool { encodingName.uppercased() == "CN" }

    /// `name/rate[/channels]`, the rtpmap encoding.
    public var rtpmapEncoding: String {
        "\(encodingName)/\(clockRate)" + (channels.map { "/\($0)" } ?? "")
    }

    /// Whether `self` names the same codec as `other` (encoding name case-insensitively, and rate).
    public func isSameCodec(as other: PayloadFormat) -> Bool {
        encodingName.lowercased() == other.encodingName.lowercased() && clockRate == other.clockRate
    }

    /// RFC 3551 tables 4 and 5: the static audio and video assignments, by payload type.
    static let staticTypes: [UInt8: (String, Int)] = [
        0: ("PCMU", 8000), 3: ("GSM", 8000), 4: ("G723", 8000), 5: ("DVI4", 8000), 6: ("DVI4", 16000),
        7: ("LPC", 8000), 8: ("PCMA", 8000), 9: ("G722", 8000), 10: ("L16", 44100), 11: ("L16", 44100),
        12: ("QCELP", 8000), 13: ("CN", 8000), 14: ("MPA", 90000), 15: ("G728", 8000), 16: ("DVI4", 11025),
        17: ("DVI4", 22050), 18: ("G729", 8000), 25: ("CelB", 90000), 26: ("JPEG", 90000), 28: ("nv", 90000),
        31: ("H261", 90000), 32: ("MPV", 90000), 33: ("MP2T", 90000), 34: ("H263", 90000),
    ]
}

extension MediaDescription {
    /// The m= line's payload formats in order, with their rtpmap and fmtp. Formats that are not
    /// numbers (non-RTP sections) are skipped.
    public var payloadFormats: [PayloadFormat] {
        var maps: [UInt8: (name: String, rate: Int, channels: Int?)] = [:]
        var parameters: [UInt8: String] = [:]
        for value in attributes(named: "rtpmap").compactMap({ $0 }) {
            let parts = value.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let type = UInt8(parts[0]) else { continue }
            let encoding = parts[1].split(separator: "/")
            guard encoding.count >= 2, let rate = Int(encoding[1]), rate > 0 else { continue }
            maps[type] = (String(encoding[0]), rate, encoding.count >= 3 ? Int(encoding[2]) : nil)
        }
        for value in attributes(named: "fmtp").compactMap({ $0 }) {
            let parts = value.split(separator: " ", maxSplits: 1)
            guard parts.count == 2, let type = UInt8(parts[0]) else { continue }
            parameters[type] = String(parts[1])
        }
        return formats.compactMap { format in
            guard let type = UInt8(format), type < 128 else { return nil }
            if let map = maps[type] {
                return PayloadFormat(
                    payloadType: type, encodingName: map.name, clockRate: map.rate, channels: map.channels,
                    parameters: parameters[type])
            }
            let known = PayloadFormat.staticTypes[type]
            return PayloadFormat(
                payloadType: type, encodingName: known?.0 ?? "", clockRate: known?.1 ?? 0, parameters: parameters[type])
        }
    }

    /// Replaces the m= line's formats with `formats`, and its rtpmap and fmtp lines with theirs
    /// (rtpmap for every format, so static types are explicit too). Other lines are kept.
    public mutating func setPayloadFormats(_ formats: [PayloadFormat]) {
        let firstMapping = lines.firstIndex { $0.attributeName == "rtpmap" || $0.attributeName == "fmtp" }
        removeAttributes { $0 == "rtpmap" || $0 == "fmtp" }
        var mappings: [SDPLine] = []
        for format in formats {
            mappings.append(SDPLine("a", "rtpmap:\(format.payloadType) \(format.rtpmapEncoding)"))
            if let parameters = format.parameters {
                mappings.append(SDPLine("a", "fmtp:\(format.payloadType) \(parameters)"))
            }
        }
        let position = min(firstMapping ?? lines.endIndex, lines.endIndex)
        lines.insert(contentsOf: mappings, at: position)
        self.formats = formats.map { String($0.payloadType) }
    }
}

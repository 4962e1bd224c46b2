import Codecs
import SDP

/// A codec named in the NG `codec` dictionary, as rtpengine clients write it:
/// `name[/clock rate[/channels[/bit rate[/format parameters[/encoder options]]]]]`, e.g. `opus`,
/// `PCMA/8000`, `opus/48000/2/32000`, `opus/48000/2//useinbandfec=1`, `opus/48000/2///complexity=10`;
/// `all` matches every codec.
public struct CodecRequest: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var clockRate: Int?
    public var bitRate: Int?
    public var parameters: String?
    /// Encoder options, `key=value` separated by `;` (Opus: `complexity=0`...`10`).
    public var encoderOptions: String?

    /// Parses one entry; nil when a numeric field is not a number.
    public init?(parsing text: String) {
        let fields = text.split(separator: "/", maxSplits: 5, omittingEmptySubsequences: false).map(String.init)
        guard let first = fields.first, !first.isEmpty else { return nil }
        name = first
        func number(_ index: Int) -> Int?? {
            guard index < fields.count, !fields[index].isEmpty else { return .some(nil) }
            guard let value = Int(fields[index]), value > 0 else { return nil }
            return .some(value)
        }
        guard let rate = number(1), number(2) != nil, let bits = number(3) else { return nil }
        clockRate = rate
        bitRate = bits
        parameters = fields.count > 4 && !fields[4].isEmpty ? fields[4] : nil
        encoderOptions = fields.count > 5 && !fields[5].isEmpty ? fields[5] : nil
    }

    public var matchesEverything: Bool { name.lowercased() == "all" }

    /// Whether this entry names `format`'s codec.
    public func matches(_ format: PayloadFormat) -> Bool {
        matchesEverything
            || (name.lowercased() == format.encodingName.lowercased()
                && (clockRate ?? format.clockRate) == format.clockRate)
    }

    /// The codec this relay transcodes with, if it is one.
    public var audioCodec: AudioCodec? {
        AudioCodec.allCases.first { AudioCodec(encodingName: name, clockRate: clockRate ?? $0.clockRate) == $0 }
    }

    public var description: String {
        var fields = [
            name, clockRate.map(String.init) ?? "", "", bitRate.map(String.init) ?? "", parameters ?? "",
            encoderOptions ?? "",
        ]
        while fields.count > 1, fields.last!.isEmpty { fields.removeLast() }
        return fields.joined(separator: "/")
    }
}

/// The NG `codec` dictionary of an offer (rtpengine's semantics).
public struct CodecOptions: Sendable, Equatable {
    /// Codecs to add to the offer, transcoded from the offerer's when the answerer picks them.
    public var transcode: [CodecRequest] = []
    /// Codecs removed from the offer, and not accepted from the offerer either.
    public var strip: [CodecRequest] = []
    /// Codecs removed from the offer but still accepted from the offerer, transcoded.
    public var mask: [CodecRequest] = []
    /// Offerer codecs kept in the answer to the offerer when transcoding, so it may send any of them.
    public var accept: [CodecRequest] = []
    /// Encoder options (bit rate, format parameters, encoder options) for codecs the relay encodes.
    public var set: [CodecRequest] = []
    /// The node's Opus encoder settings (`--opus-bitrate`, `--opus-complexity`), which the NG
    /// options and the receiver's fmtp start from. Not an NG key.
    public var opusDefaults = OpusEncoderSettings()

    public init() {}

    public var isEmpty: Bool { transcode.isEmpty && strip.isEmpty && mask.isEmpty && accept.isEmpty && set.isEmpty }

    /// Opus encoder settings towards a receiver whose SDP gave `receiverParameters`: the node's
    /// defaults, then the `set` and `transcode` options, then the receiver's fmtp (which can only
    /// lower the bit rate).
    func opusSettings(receiverParameters: String?) -> OpusEncoderSettings {
        var settings = opusDefaults
        for request in transcode + set where request.audioCodec == .opus {
            if let bitRate = request.bitRate {
                settings.bitRate = min(
                    max(bitRate, OpusEncoderSettings.bitRates.lowerBound), OpusEncoderSettings.bitRates.upperBound)
            }
            if let parameters = request.parameters { settings.apply(formatParameters: parameters) }
            if let options = request.encoderOptions { settings.apply(encoderOptions: options) }
        }
        if let receiverParameters { settings.apply(formatParameters: receiverParameters) }
        return settings
    }
}

/// What an offer's codec options made of one m= line: the offerer's formats, the formats offered
/// on to the recipient, and which of those the relay added so that it can transcode into them.
struct CodecOffer {
    let offererFormats: [PayloadFormat]
    let recipientFormats: [PayloadFormat]
    let addedPayloadTypes: Set<UInt8>
    /// Offerer formats the relay can transcode from and to (not stripped), in the offer's order.
    let transcodableOffererFormats: [PayloadFormat]
    let options: CodecOptions

    /// Applies `options` to m= line `index` (1-based, for errors).
    init(section: MediaDescription, index: Int, options: CodecOptions) throws(CallError) {
        self.options = options
        offererFormats = section.payloadFormats
        let stripped = { (format: PayloadFormat) in options.strip.contains { $0.matches(format) } }
        let masked = { (format: PayloadFormat) in options.mask.contains { $0.matches(format) } }
        var recipient = offererFormats.filter { !stripped($0) && !masked($0) }
        transcodableOffererFormats = offererFormats.filter {
            !stripped($0) && AudioCodec($0) != nil
        }
        var used = Set(offererFormats.map(\.payloadType))
        var added: Set<UInt8> = []
        func freePayloadType(preferring preferred: UInt8?) throws(CallError) -> UInt8 {
            if let preferred, !used.contains(preferred) { return preferred }
            guard let free = (96...127).map(UInt8.init).first(where: { !used.contains($0) }) else {
                throw .noFreePayloadType(mediaIndex: index)
            }
            return free
        }
        for request in options.transcode where section.media == "audio" {
            guard let codec = request.audioCodec else {
                throw .cannotTranscode(
                    request.description, mediaIndex: index, reason: "this relay transcodes only \(Self.supportedCodecs)"
                )
            }
            let format = PayloadFormat(
                payloadType: 0, encodingName: codec.encodingName, clockRate: codec.clockRate,
                channels: codec == .opus ? 2 : nil)
            guard !recipient.contains(where: { $0.isSameCodec(as: format) }) else { continue }
            guard !transcodableOffererFormats.isEmpty else {
                throw .cannotTranscode(
                    request.description, mediaIndex: index,
                    reason: "the offer has no codec this relay decodes (\(Self.supportedCodecs)); it offers "
                        + offererFormats.map(\.rtpmapEncoding).joined(separator: ", "))
            }
            var addition = format
            addition.payloadType = try freePayloadType(preferring: codec.staticPayloadType)
            used.insert(addition.payloadType)
            added.insert(addition.payloadType)
            recipient.append(addition)
            // DTMF follows the audio's clock (RFC 4733 2.1): offer telephone-event at the new rate too.
            if let events = offererFormats.first(where: \.isTelephoneEvent),
                !recipient.contains(where: { $0.isTelephoneEvent && $0.clockRate == codec.clockRate })
            {
                var translated = events
                translated.clockRate = codec.clockRate
                translated.payloadType = try freePayloadType(preferring: nil)
                used.insert(translated.payloadType)
                added.insert(translated.payloadType)
                recipient.append(translated)
            }
        }
        guard recipient.contains(where: { !$0.isTelephoneEvent && !$0.isComfortNoise }) else {
            throw .noCodecLeft(mediaIndex: index, offered: offererFormats.map(\.rtpmapEncoding))
        }
        recipientFormats = recipient
        addedPayloadTypes = added
    }

    static let supportedCodecs = AudioCodec.allCases.map(\.rtpmapEncoding).joined(separator: ", ")

    /// Decides from the answerer's formats whether the stream is transcoded; nil when the answerer
    /// picked a codec the offerer offered, which is relayed untouched.
    func transcoding(answer answerFormats: [PayloadFormat]) -> StreamTranscoding? {
        guard let chosen = answerFormats.first(where: { !$0.isTelephoneEvent && !$0.isComfortNoise }),
            let offered = recipientFormats.first(where: { $0.isSameCodec(as: chosen) }),
            addedPayloadTypes.contains(offered.payloadType),
            let answererCodec = AudioCodec(chosen),
            let offererFormat = transcodableOffererFormats.first, let offererCodec = AudioCodec(offererFormat)
        else { return nil }
        let answererEvents = answerFormats.first(where: \.isTelephoneEvent)
        return StreamTranscoding(
            offererFormat: offererFormat,
            offererCodec: offererCodec,
            acceptedOffererFormats: transcodableOffererFormats.dropFirst().filter { format in
                options.accept.contains { $0.matches(format) }
            },
            answererFormat: chosen, answererCodec: answererCodec,
            answererSendPayloadType: offered.payloadType,
            offererEvents: answererEvents == nil ? nil : offererFormats.first(where: \.isTelephoneEvent),
            answererEvents: answererEvents,
            answererEventsSendPayloadType: answererEvents.flatMap { events in
                recipientFormats.first { $0.isTelephoneEvent && $0.clockRate == events.clockRate }?.payloadType
            },
            options: options)
    }
}

/// A stream the relay transcodes: which codec and payload types each party sends and receives.
struct StreamTranscoding {
    /// The offerer's codec, with its payload type and fmtp from the offer.
    let offererFormat: PayloadFormat
    let offererCodec: AudioCodec
    /// Further offerer codecs the answer to the offerer keeps (`accept`), also decoded.
    let acceptedOffererFormats: [PayloadFormat]
    /// The answerer's codec, with the payload type and fmtp of its answer (what it receives).
    let answererFormat: PayloadFormat
    let answererCodec: AudioCodec
    /// The payload type the answerer sends it with: the one the relay's offer gave it.
    let answererSendPayloadType: UInt8
    /// telephone-event on each side, when both have it.
    let offererEvents: PayloadFormat?
    let answererEvents: PayloadFormat?
    let answererEventsSendPayloadType: UInt8?
    let options: CodecOptions

    /// The formats of the answer sent to the offerer.
    var answerFormatsForOfferer: [PayloadFormat] {
        [offererFormat] + acceptedOffererFormats + (offererEvents.map { [$0] } ?? [])
    }

    /// The stage for what the offerer sends: its codec(s) into the answerer's.
    func offererStage() throws(CallError) -> TranscodingStage {
        // Every accepted format is one `transcodableOffererFormats` kept, so it has a codec.
        try Self.stage(
            decoding: ([offererFormat] + acceptedOffererFormats).map { ($0.payloadType, AudioCodec($0)!) },
            into: answererFormat, codec: answererCodec, receiving: offererEvents.map { ($0.payloadType, $0.clockRate) },
            sending: answererEvents, options: options)
    }

    /// The stage for what the answerer sends: its codec into the offerer's, under the payload type
    /// the relay's offer gave it or the one its answer used.
    func answererStage() throws(CallError) -> TranscodingStage {
        let payloadTypes = Set([answererSendPayloadType, answererFormat.payloadType]).sorted()
        return try Self.stage(
            decoding: payloadTypes.map { ($0, answererCodec) }, into: offererFormat, codec: offererCodec,
            receiving: answererEvents.map { (answererEventsSendPayloadType ?? $0.payloadType, $0.clockRate) },
            sending: offererEvents, options: options)
    }

    /// A stage decoding `inputs` (payload type and codec) into `output`, with the receiver's fmtp for
    /// the encoder; DTMF is translated when both `receivedEvents` (payload type, clock) and
    /// `sentEvents` are known.
    private static func stage(
        decoding inputs: [(UInt8, AudioCodec)], into output: PayloadFormat, codec: AudioCodec,
        receiving receivedEvents: (UInt8, Int)?, sending sentEvents: PayloadFormat?, options: CodecOptions
    ) throws(CallError) -> TranscodingStage {
        let settings = options.opusSettings(receiverParameters: output.parameters)
        var stageInputs: [TranscodingStage.Input] = []
        for (payloadType, source) in inputs {
            stageInputs.append(.init(payloadType: payloadType, transcoder: try transcoder(source, codec, settings)))
        }
        var events: TranscodingStage.EventMapping?
        if let (payloadType, clockRate) = receivedEvents, let sentEvents {
            events = .init(
                inputPayloadType: payloadType, inputClockRate: clockRate,
                outputPayloadType: sentEvents.payloadType, outputClockRate: sentEvents.clockRate)
        }
        return TranscodingStage(
            inputs: stageInputs, output: codec, outputPayloadType: output.payloadType, events: events)
    }

    private static func transcoder(
        _ source: AudioCodec, _ target: AudioCodec, _ settings: OpusEncoderSettings
    ) throws(CallError) -> AudioTranscoder {
        do throws(TranscodingError) {
            return try AudioTranscoder(from: source, to: target, opusSettings: settings)
        } catch {
            throw .transcoderSetup("\(source) to \(target): \(error)")
        }
    }
}

extension AudioCodec {
    /// The codec of an SDP payload format, if the relay transcodes it.
    init?(_ format: PayloadFormat) {
        self.init(encodingName: format.encodingName, clockRate: format.clockRate)
    }
}

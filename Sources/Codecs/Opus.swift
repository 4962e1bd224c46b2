import COpus

/// How the relay's Opus encoder towards one peer is set up: the node's defaults, the NG `codec`
/// `set` and `transcode` options, and that peer's `a=fmtp` (RFC 7587 section 6.1).
public struct OpusEncoderSettings: Sendable, Equatable {
    /// Target bit rate in bits per second; `maxaveragebitrate` caps it.
    public var bitRate: Int = defaultBitRate
    /// Encode in-band FEC (`useinbandfec=1`): the receiver can rebuild a lost frame from the next.
    public var inbandFEC = false
    /// Encode two channels (`stereo=1`): the receiver prefers stereo.
    public var stereo = false
    /// libopus complexity, 0...10.
    public var complexity = defaultComplexity

    /// The defaults, chosen by `bench/voice_quality.py` and `bench/transcoding.py` (see bench/README).
    public static let defaultBitRate = 32_000
    public static let defaultComplexity = 5
    public static let bitRates = 6000...510_000
    public static let complexities = 0...10

    public init() {}

    /// Applies NG encoder options (`key=value;...`, the sixth field of a codec entry). `complexity`
    /// (0-10) is read; other keys are left alone, and values out of range are clamped.
    public mutating func apply(encoderOptions: some StringProtocol) {
        for option in encoderOptions.split(separator: ";") {
            let pair = option.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces }
            guard pair.count == 2, pair[0].lowercased() == "complexity", let value = Int(pair[1]) else { continue }
            complexity = min(max(value, Self.complexities.lowerBound), Self.complexities.upperBound)
        }
    }

    /// Applies the receiver's `a=fmtp` parameters for Opus. Unknown parameters are left alone, as
    /// RFC 7587 asks; values outside Opus's range are clamped to it.
    public mutating func apply(formatParameters: some StringProtocol) {
        for parameter in formatParameters.split(separator: ";") {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces }
            guard pair.count == 2 else { continue }
            switch pair[0].lowercased() {
            case "maxaveragebitrate":
                if let value = Int(pair[1]) {
                    bitRate = min(bitRate, min(max(value, Self.bitRates.lowerBound), Self.bitRates.upperBound))
                }
            case "useinbandfec": inbandFEC = pair[1] == "1"
            case "stereo": stereo = pair[1] == "1"
            default: break
            }
        }
    }
}

/// Failures of libopus, with its own message.
public struct OpusError: Error, Sendable, CustomStringConvertible {
    public let operation: String
    public let code: Int32

    public var description: String {
        "Opus \(operation) failed: \(String(cString: opus_strerror(code))) (libopus error \(code))"
    }
}

/// One libopus encoder: float PCM in, one Opus packet out per call.
public final class OpusEncoder: @unchecked Sendable {
    public let sampleRate: Int
    public let channels: Int
    public let settings: OpusEncoderSettings
    private let state: OpaquePointer

    /// An encoder for voice (OPUS_APPLICATION_VOIP, signal hint voice) at `sampleRate`.
    public init(sampleRate: Int, settings: OpusEncoderSettings) throws(OpusError) {
        self.sampleRate = sampleRate
        self.settings = settings
        channels = settings.stereo ? 2 : 1
        var error: Int32 = 0
        guard let state = opus_encoder_create(Int32(sampleRate), Int32(channels), OPUS_APPLICATION_VOIP, &error),
            error == OPUS_OK
        else { throw OpusError(operation: "encoder creation at \(sampleRate) Hz", code: error) }
        self.state = state
        for (operation, result) in [
            ("setting the bit rate \(settings.bitRate)", spw_opus_set_bitrate(state, Int32(settings.bitRate))),
            ("setting complexity \(settings.complexity)", spw_opus_set_complexity(state, Int32(settings.complexity))),
            ("setting in-band FEC", spw_opus_set_inband_fec(state, settings.inbandFEC ? 1 : 0)),
            (
                "setting the expected loss",
                spw_opus_set_packet_loss_percent(state, settings.inbandFEC ? Self.expectedLossPercent : 0)
            ),
            ("setting the voice signal hint", spw_opus_set_signal_voice(state)),
        ] where result != OPUS_OK {
            opus_encoder_destroy(state)
            throw OpusError(operation: operation, code: result)
        }
    }

    deinit { opus_encoder_destroy(state) }

    /// The input rates libopus encodes from (RFC 6716 2).
    public static let inputRates: Set<Int> = [8000, 12000, 16000, 24000, 48000]

    /// The loss libopus is told to expect when in-band FEC is on: FEC is only coded for an expected
    /// loss, and its bits come out of the audio's.
    static let expectedLossPercent: Int32 = 5

    /// Encodes one frame (2.5 to 60 ms; `samples` interleaved if stereo) into `packet` and returns
    /// the packet's length.
    public func encode(_ samples: UnsafeBufferPointer<Float>, into packet: UnsafeMutableRawBufferPointer)
        throws(OpusError) -> Int
    {
        let length = opus_encode_float(
            state, samples.baseAddress!, Int32(samples.count / channels),
            packet.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(packet.count))
        guard length > 0 else { throw OpusError(operation: "encoding", code: length) }
        return Int(length)
    }
}

/// One libopus decoder: Opus packets in, mono float PCM at the decoder's rate out.
public final class OpusDecoder: @unchecked Sendable {
    public let sampleRate: Int
    private let state: OpaquePointer

    /// The most samples one packet can decode to (120 ms).
    public var maximumFrame: Int { sampleRate * 120 / 1000 }

    public init(sampleRate: Int) throws(OpusError) {
        self.sampleRate = sampleRate
        var error: Int32 = 0
        guard let state = opus_decoder_create(Int32(sampleRate), 1, &error), error == OPUS_OK else {
            throw OpusError(operation: "decoder creation at \(sampleRate) Hz", code: error)
        }
        self.state = state
    }

    deinit { opus_decoder_destroy(state) }

    /// Decodes one packet into `samples` and returns how many were written.
    public func decode(_ packet: UnsafeRawBufferPointer, into samples: UnsafeMutableBufferPointer<Float>)
        throws(OpusError) -> Int
    {
        let count = opus_decode_float(
            state, packet.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(packet.count),
            samples.baseAddress!, Int32(samples.count), 0)
        guard count >= 0 else { throw OpusError(operation: "decoding a \(packet.count)-byte packet", code: count) }
        return Int(count)
    }

    /// Conceals `count` lost samples (libopus packet loss concealment) and returns how many were written.
    public func conceal(_ count: Int, into samples: UnsafeMutableBufferPointer<Float>) -> Int {
        let written = opus_decode_float(state, nil, 0, samples.baseAddress!, Int32(min(count, samples.count)), 0)
        return written > 0 ? Int(written) : 0
    }
}

extension StringProtocol {
    var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}

/// Why a payload could not be transcoded.
public enum TranscodingError: Error, Sendable, CustomStringConvertible {
    case opus(OpusError)
    /// A G.711 or G.722 payload longer than `AudioTranscoder.maximumInputMilliseconds`.
    case payloadTooLong(bytes: Int)

    public var description: String {
        switch self {
        case .opus(let error): "\(error)"
        case .payloadTooLong(let bytes):
            "G.711 or G.722 payload of \(bytes) bytes is longer than \(AudioTranscoder.maximumInputMilliseconds) ms"
        }
    }
}

/// Turns one codec's payloads into another's: decode, resample to the encoder's rate, and encode
/// fixed frames (20 ms by default) from a sample FIFO, so a sender's packetisation (10, 30, 60 ms...)
/// does not have to match the receiver's.
///
/// Towards G.711 and G.722, Opus is decoded at their rate (8 and 16 kHz): libopus band-limits and
/// resamples inside its decoder, so no resampler runs. Between G.722 (16 kHz) and G.711 the
/// resampler does. Towards Opus, libopus is given the source's own
/// rate when it accepts it (8, 12, 16, 24 or 48 kHz): from G.711 that is 8 kHz, libopus's native
/// narrowband input, which costs less than half the encoder time of upsampled 48 kHz input and
/// codes the same 4 kHz band; other rates are resampled to 48 kHz first.
///
/// Works on payloads only; RTP headers, timestamps and sequence numbers are the caller's. One
/// instance per direction of a stream; not thread-safe. Nothing is allocated after `init`.
public final class AudioTranscoder {
    public let source: AudioCodec
    public let target: AudioCodec
    /// The rate samples are decoded at: the source's sample rate, or for Opus towards another codec
    /// that codec's.
    public let decodeRate: Int
    /// The rate frames are encoded from.
    public let encodeRate: Int
    /// Samples per encoded frame, at `encodeRate`.
    public let frameSamples: Int
    /// One frame's duration in the target's RTP clock.
    public let frameClockTicks: Int
    /// The encoder's settings (used when the target is Opus).
    public let opusSettings: OpusEncoderSettings
    private let decoder: OpusDecoder?
    private let encoder: OpusEncoder?
    private let g722Decoder: G722Decoder?
    private let g722Encoder: G722Encoder?
    private var resampler: Resampler?
    /// Decoded samples at the source rate.
    private let decoded: UnsafeMutableBufferPointer<Float>
    private let pcmScratch: UnsafeMutableBufferPointer<Int16>
    /// Samples at the target rate not yet encoded, from `pending[0]`.
    private let pending: UnsafeMutableBufferPointer<Float>
    private var pendingCount = 0
    /// One frame, interleaved when the Opus encoder is stereo.
    private let frame: UnsafeMutableBufferPointer<Float>
    private let encoded: UnsafeMutableRawBufferPointer

    /// The longest payload duration handled at once, in milliseconds: more than any datagram the
    /// relay receives holds in G.711 (ffmpeg's RTP muxer, for one, sends 128 ms), and more than
    /// Opus's 120 ms.
    public static let maximumInputMilliseconds = 240
    /// Room for one encoded frame: enough for G.711 at 120 ms and any Opus frame (RFC 6716 3.4).
    static let encodedCapacity = 1500

    public init(
        from source: AudioCodec, to target: AudioCodec, opusSettings: OpusEncoderSettings = OpusEncoderSettings(),
        frameMilliseconds: Int = 20
    ) throws(TranscodingError) {
        self.source = source
        self.target = target
        self.opusSettings = opusSettings
        decodeRate =
            source == .opus && target != .opus && OpusEncoder.inputRates.contains(target.sampleRate)
            ? target.sampleRate : source.sampleRate
        if target == .opus {
            encodeRate = OpusEncoder.inputRates.contains(decodeRate) ? decodeRate : target.sampleRate
        } else {
            encodeRate = target.sampleRate
        }
        frameSamples = encodeRate * frameMilliseconds / 1000
        frameClockTicks = target.clockRate * frameMilliseconds / 1000
        do throws(OpusError) {
            decoder = source == .opus ? try OpusDecoder(sampleRate: decodeRate) : nil
            encoder = target == .opus ? try OpusEncoder(sampleRate: encodeRate, settings: opusSettings) : nil
        } catch {
            throw .opus(error)
        }
        g722Decoder = source == .g722 ? G722Decoder() : nil
        g722Encoder = target == .g722 ? G722Encoder() : nil
        if decodeRate != encodeRate {
            resampler = Resampler(from: decodeRate, to: encodeRate)
        }
        let maximumDecoded = decodeRate * Self.maximumInputMilliseconds / 1000
        let maximumResampled = encodeRate * Self.maximumInputMilliseconds / 1000 + 1
        decoded = .allocate(capacity: maximumDecoded)
        pcmScratch = .allocate(capacity: max(maximumDecoded, frameSamples))
        pending = .allocate(capacity: maximumResampled + 2 * frameSamples)
        frame = .allocate(capacity: frameSamples * 2)
        encoded = .allocate(byteCount: Self.encodedCapacity, alignment: 8)
    }

    deinit {
        decoded.deallocate()
        pcmScratch.deallocate()
        pending.deallocate()
        frame.deallocate()
        encoded.deallocate()
    }

    /// Samples waiting for a full frame, at `encodeRate`.
    public var pendingSamples: Int { pendingCount }

    /// How long the samples waiting for a full frame last, in the target's RTP clock.
    public var pendingClockTicks: Int { pendingCount * target.clockRate / encodeRate }

    /// Decodes `payload`, and calls `emit` with each frame it completes, encoded. Returns the
    /// payload's duration in the source's RTP clock.
    @discardableResult
    public func transcode(
        _ payload: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) -> Void
    ) throws(TranscodingError) -> Int {
        let count: Int
        if let law = source.g711Law {
            guard payload.count <= decoded.count else { throw .payloadTooLong(bytes: payload.count) }
            law.decode(payload, into: pcmScratch)
            count = payload.count
            for index in 0..<count { decoded[index] = Float(pcmScratch[index]) * (1 / 32768) }
        } else if let g722Decoder {
            guard payload.count * 2 <= decoded.count else { throw .payloadTooLong(bytes: payload.count) }
            count = g722Decoder.decode(payload, into: pcmScratch)
            for index in 0..<count { decoded[index] = Float(pcmScratch[index]) * (1 / 32768) }
        } else {
            do throws(OpusError) {
                count = try decoder!.decode(payload, into: decoded)
            } catch {
                throw .opus(error)
            }
        }
        try accept(count, emit: emit)
        return count * source.clockRate / decodeRate
    }

    /// Fills a gap of `ticks` of the source's RTP clock: Opus conceals it, G.711 and G.722 with silence.
    public func conceal(_ ticks: Int, emit: (UnsafeRawBufferPointer) -> Void) throws(TranscodingError) {
        var remaining = min(ticks * decodeRate / source.clockRate, decoded.count)
        while remaining > 0 {
            let count: Int
            if let decoder {
                // libopus conceals in whole 2.5 ms steps.
                let step = decoder.sampleRate / 400
                let wanted = remaining / step * step
                guard wanted > 0 else { return }
                count = decoder.conceal(wanted, into: decoded)
                guard count > 0 else { return }
            } else {
                count = remaining
                decoded.baseAddress!.update(repeating: 0, count: count)
            }
            try accept(count, emit: emit)
            remaining -= count
        }
    }

    /// Drops samples waiting for a full frame (after a discontinuity in the source).
    public func discardPending() {
        pendingCount = 0
    }

    private func accept(_ count: Int, emit: (UnsafeRawBufferPointer) -> Void) throws(TranscodingError) {
        let input = UnsafeBufferPointer(rebasing: decoded[0..<count])
        let free = UnsafeMutableBufferPointer(rebasing: pending[pendingCount...])
        if resampler != nil {
            pendingCount += resampler!.process(input, into: free)
        } else {
            free.baseAddress!.update(from: input.baseAddress!, count: count)
            pendingCount += count
        }
        var start = 0
        while pendingCount - start >= frameSamples {
            let length = try encodeFrame(UnsafeBufferPointer(rebasing: pending[start..<(start + frameSamples)]))
            emit(UnsafeRawBufferPointer(rebasing: encoded[0..<length]))
            start += frameSamples
        }
        if start > 0 {
            pendingCount -= start
            pending.baseAddress!.update(from: pending.baseAddress! + start, count: pendingCount)
        }
    }

    private func encodeFrame(_ samples: UnsafeBufferPointer<Float>) throws(TranscodingError) -> Int {
        if target != .opus {
            for index in samples.indices {
                let scaled = (samples[index] * 32768).rounded()
                pcmScratch[index] = Int16(max(-32768, min(32767, scaled)))
            }
            let pcm = UnsafeBufferPointer(rebasing: pcmScratch[0..<samples.count])
            if let law = target.g711Law {
                law.encode(pcm, into: encoded)
                return samples.count
            }
            return g722Encoder!.encode(pcm, into: encoded)
        }
        let encoder = encoder!
        var input = samples
        if encoder.channels == 2 {
            for index in samples.indices {
                frame[2 * index] = samples[index]
                frame[2 * index + 1] = samples[index]
            }
            input = UnsafeBufferPointer(rebasing: frame[0..<(2 * samples.count)])
        }
        do throws(OpusError) {
            return try encoder.encode(input, into: encoded)
        } catch {
            throw .opus(error)
        }
    }
}

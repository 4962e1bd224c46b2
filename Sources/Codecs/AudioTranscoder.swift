/// Why a payload could not be transcoded.
public enum TranscodingError: Error, Sendable, CustomStringConvertible {
    case opus(OpusError)
    /// A G.711 payload longer than `AudioTranscoder.maximumInputMilliseconds`.
    case payloadTooLong(bytes: Int)

    public var description: String {
        switch self {
        case .opus(let error): "\(error)"
        case .payloadTooLong(let bytes):
            "G.711 payload of \(bytes) bytes is longer than \(AudioTranscoder.maximumInputMilliseconds) ms"
        }
    }
}

/// Turns one codec's payloads into another's: decode, resample to the encoder's rate, and encode
/// fixed frames (20 ms by default) from a sample FIFO, so a sender's packetisation (10, 30, 60 ms...)
/// does not have to match the receiver's.
///
/// Opus is decoded at 48 kHz, its RTP clock, whatever band it carries; towards G.711 the resampler
/// (an 80 dB anti-alias filter) takes it to 8 kHz. Towards Opus, libopus is given the source's own
/// rate when it accepts it (8, 12, 16, 24 or 48 kHz): from G.711 that is 8 kHz, libopus's native
/// narrowband input, which costs less than half the encoder time of upsampled 48 kHz input and
/// codes the same 4 kHz band; other rates are resampled to 48 kHz first.
///
/// Works on payloads only; RTP headers, timestamps and sequence numbers are the caller's. One
/// instance per direction of a stream; not thread-safe. Nothing is allocated after `init`.
public final class AudioTranscoder {
    public let source: AudioCodec
    public let target: AudioCodec
    /// The rate samples are decoded at (the source's RTP clock).
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
    private var resampler: Resampler?
    /// Decoded samples at the source rate.
    private let decoded: UnsafeMutableBufferPointer<Float>
    private let g711Scratch: UnsafeMutableBufferPointer<Int16>
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
        decodeRate = source.clockRate
        if target == .opus {
            encodeRate = OpusEncoder.inputRates.contains(decodeRate) ? decodeRate : target.clockRate
        } else {
            encodeRate = target.clockRate
        }
        frameSamples = encodeRate * frameMilliseconds / 1000
        frameClockTicks = target.clockRate * frameMilliseconds / 1000
        do throws(OpusError) {
            decoder = source == .opus ? try OpusDecoder(sampleRate: decodeRate) : nil
            encoder = target == .opus ? try OpusEncoder(sampleRate: encodeRate, settings: opusSettings) : nil
        } catch {
            throw .opus(error)
        }
        if decodeRate != encodeRate {
            resampler = Resampler(from: decodeRate, to: encodeRate)
        }
        let maximumDecoded = decodeRate * Self.maximumInputMilliseconds / 1000
        let maximumResampled = encodeRate * Self.maximumInputMilliseconds / 1000 + 1
        decoded = .allocate(capacity: maximumDecoded)
        g711Scratch = .allocate(capacity: max(maximumDecoded, frameSamples))
        pending = .allocate(capacity: maximumResampled + 2 * frameSamples)
        frame = .allocate(capacity: frameSamples * 2)
        encoded = .allocate(byteCount: Self.encodedCapacity, alignment: 8)
    }

    deinit {
        decoded.deallocate()
        g711Scratch.deallocate()
        pending.deallocate()
        frame.deallocate()
        encoded.deallocate()
    }

    /// Samples waiting for a full frame, at `encodeRate`.
    public var pendingSamples: Int { pendingCount }

    /// How long the samples waiting for a full frame last, in the target's RTP clock.
    public var pendingClockTicks: Int { pendingCount * target.clockRate / encodeRate }

    /// Decodes `payload`, and calls `emit` with each frame it completes, encoded. Returns how many
    /// samples the payload decoded to at `decodeRate`, which is its duration in the source's RTP clock.
    @discardableResult
    public func transcode(
        _ payload: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) -> Void
    ) throws(TranscodingError) -> Int {
        let count: Int
        if let law = source.g711Law {
            guard payload.count <= decoded.count else { throw .payloadTooLong(bytes: payload.count) }
            law.decode(payload, into: g711Scratch)
            for index in 0..<payload.count { decoded[index] = Float(g711Scratch[index]) * (1 / 32768) }
            count = payload.count
        } else {
            do throws(OpusError) {
                count = try decoder!.decode(payload, into: decoded)
            } catch {
                throw .opus(error)
            }
        }
        try accept(count, emit: emit)
        return count
    }

    /// Fills `samples` lost source samples (at `decodeRate`): Opus conceals them, G.711 with silence.
    public func conceal(_ samples: Int, emit: (UnsafeRawBufferPointer) -> Void) throws(TranscodingError) {
        var remaining = min(samples, decoded.count)
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
        if let law = target.g711Law {
            for index in samples.indices {
                let scaled = (samples[index] * 32768).rounded()
                g711Scratch[index] = Int16(max(-32768, min(32767, scaled)))
            }
            law.encode(UnsafeBufferPointer(rebasing: g711Scratch[0..<samples.count]), into: encoded)
            return samples.count
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

import CSpanDSP

/// G.722 at 64 kbit/s (ITU-T G.722, sub-band ADPCM) through spandsp: 16 kHz samples, two per octet.
/// Its RTP clock is 8000 all the same (RFC 3551 4.5.2), a historical error every implementation keeps.
public final class G722Encoder: @unchecked Sendable {
    private let state: OpaquePointer

    public init() {
        // With no state passed in, spandsp allocates one; it fails only when memory does.
        state = g722_encode_init(nil, 64000, 0)!
    }

    deinit { g722_encode_free(state) }

    /// Encodes `samples` (16 kHz) into `codes`, which must hold `samples.count / 2` octets; returns
    /// how many it wrote.
    public func encode(_ samples: UnsafeBufferPointer<Int16>, into codes: UnsafeMutableRawBufferPointer) -> Int {
        Int(
            g722_encode(
                state, codes.baseAddress!.assumingMemoryBound(to: UInt8.self), samples.baseAddress!,
                Int32(samples.count)))
    }
}

/// A G.722 decoder (64 kbit/s) through spandsp: each octet gives two 16 kHz samples.
public final class G722Decoder: @unchecked Sendable {
    private let state: OpaquePointer

    public init() {
        state = g722_decode_init(nil, 64000, 0)!
    }

    deinit { g722_decode_free(state) }

    /// Decodes `codes` into `samples`, which must hold `codes.count * 2`; returns how many it wrote.
    public func decode(_ codes: UnsafeRawBufferPointer, into samples: UnsafeMutableBufferPointer<Int16>) -> Int {
        Int(
            g722_decode(
                state, samples.baseAddress!, codes.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(codes.count)
            ))
    }
}

/// ITU-T G.711 companding: µ-law (PCMU, RTP payload type 0) and A-law (PCMA, payload type 8).
///
/// Both directions are table lookups. The decode tables hold the 256 code words' linear values
/// (16-bit, as G.711 Appendix I's reference decoder scales them); the encode tables are indexed by
/// the linear sample with the bits G.711 discards already dropped (2 for µ-law's 14-bit input,
/// 3 for A-law's 13-bit input). The tables are computed once from the recommendation's segment
/// rules.
public enum G711Law: String, Sendable, CaseIterable {
    case muLaw = "PCMU"
    case aLaw = "PCMA"

    /// Encodes `samples` into one code word each.
    @inline(__always)
    public func encode(_ samples: UnsafeBufferPointer<Int16>, into codes: UnsafeMutableRawBufferPointer) {
        precondition(codes.count >= samples.count, "G.711 output shorter than its input")
        switch self {
        case .muLaw:
            let table = G711Tables.muLawEncode
            for index in samples.indices { codes[index] = table[Int(samples[index] >> 2) + 8192] }
        case .aLaw:
            let table = G711Tables.aLawEncode
            for index in samples.indices { codes[index] = table[Int(samples[index] >> 3) + 4096] }
        }
    }

    /// Decodes one linear sample per code word.
    @inline(__always)
    public func decode(_ codes: UnsafeRawBufferPointer, into samples: UnsafeMutableBufferPointer<Int16>) {
        precondition(samples.count >= codes.count, "G.711 output shorter than its input")
        let table = self == .muLaw ? G711Tables.muLawDecode : G711Tables.aLawDecode
        for index in codes.indices { samples[index] = table[Int(codes[index])] }
    }

    /// Encodes one sample (for tests and tools; the data plane uses the buffer form).
    public func encode(_ sample: Int16) -> UInt8 {
        self == .muLaw
            ? G711Tables.muLawEncode[Int(sample >> 2) + 8192] : G711Tables.aLawEncode[Int(sample >> 3) + 4096]
    }

    /// Decodes one code word.
    public func decode(_ code: UInt8) -> Int16 {
        self == .muLaw ? G711Tables.muLawDecode[Int(code)] : G711Tables.aLawDecode[Int(code)]
    }
}

/// The lookup tables, computed from G.711's segment rules on first use.
enum G711Tables {
    static let muLawDecode: [Int16] = (0...255).map { muLawToLinear(UInt8($0)) }
    static let aLawDecode: [Int16] = (0...255).map { aLawToLinear(UInt8($0)) }
    /// Indexed by `(sample >> 2) + 8192`.
    static let muLawEncode: [UInt8] = (-8192..<8192).map { linearToMuLaw(Int32($0) << 2) }
    /// Indexed by `(sample >> 3) + 4096`.
    static let aLawEncode: [UInt8] = (-4096..<4096).map { linearToALaw(Int32($0) << 3) }

    /// µ-law's bias: added before finding the segment so every segment has the same shape.
    private static let muLawBias: Int32 = 0x84
    private static let muLawClip: Int32 = 32635

    static func linearToMuLaw(_ sample: Int32) -> UInt8 {
        let sign: Int32 = sample < 0 ? 0x80 : 0
        var magnitude = min(sample < 0 ? -sample : sample, muLawClip) + muLawBias
        var exponent: Int32 = 7
        var mask: Int32 = 0x4000
        while exponent > 0, magnitude & mask == 0 {
            exponent -= 1
            mask >>= 1
        }
        magnitude = (magnitude >> (exponent + 3)) & 0x0F
        return UInt8(truncatingIfNeeded: ~(sign | exponent << 4 | magnitude))
    }

    static func muLawToLinear(_ code: UInt8) -> Int16 {
        let inverted = Int32(~code)
        let exponent = (inverted >> 4) & 0x07
        let mantissa = inverted & 0x0F
        let magnitude = ((mantissa << 3) + muLawBias) << exponent - muLawBias
        return Int16(inverted & 0x80 != 0 ? -magnitude : magnitude)
    }

    static func linearToALaw(_ sample: Int32) -> UInt8 {
        // A-law works on 13 bits; negative values are coded as one's complement magnitudes.
        var value = sample >> 3
        let mask: Int32
        if value >= 0 {
            mask = 0xD5
        } else {
            mask = 0x55
            value = -value - 1
        }
        var segment: Int32 = 0
        while segment < 8 && value >= (0x20 << segment) { segment += 1 }
        if segment >= 8 { return UInt8(0x7F ^ mask) }
        let shift = segment < 2 ? 1 : segment
        let mantissa = (value >> shift) & 0x0F
        return UInt8((segment << 4 | mantissa) ^ mask)
    }

    static func aLawToLinear(_ code: UInt8) -> Int16 {
        let value = Int32(code ^ 0x55)
        var magnitude = (value & 0x0F) << 4
        let segment = (value & 0x70) >> 4
        switch segment {
        case 0: magnitude += 8
        case 1: magnitude += 0x108
        default: magnitude = (magnitude + 0x108) << (segment - 1)
        }
        return Int16(value & 0x80 != 0 ? magnitude : -magnitude)
    }
}

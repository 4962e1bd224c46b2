/// The fixed header of an RTP packet (RFC 3550 section 5.1), read in place from a datagram.
///
/// `RTPHeader.parse` validates the version, the CSRC list, the header extension and the padding
/// against the datagram's length, so a packet that parses is safe to forward and to account.
public struct RTPHeader: Equatable, Sendable {
    public var padding: Bool
    public var hasExtension: Bool
    public var csrcCount: UInt8
    public var marker: Bool
    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    /// Bytes before the payload: the fixed header, the CSRC list and the extension.
    public var headerLength: Int
    /// Bytes of payload, excluding padding.
    public var payloadLength: Int

    /// The size of the fixed RTP header.
    public static let fixedLength = 12

    public init(
        padding: Bool = false, hasExtension: Bool = false, csrcCount: UInt8 = 0, marker: Bool = false,
        payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32,
        headerLength: Int = 12, payloadLength: Int = 0
    ) {
        self.padding = padding
        self.hasExtension = hasExtension
        self.csrcCount = csrcCount
        self.marker = marker
        self.payloadType = payloadType
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.headerLength = headerLength
        self.payloadLength = payloadLength
    }

    /// Reads and validates the header at the start of `packet`.
    public static func parse(_ packet: UnsafeRawBufferPointer) -> Result<RTPHeader, PacketDropReason> {
        guard packet.count >= fixedLength else { return .failure(.tooShort) }
        let first = packet[0]
        guard first >> 6 == 2 else { return .failure(.notRTP) }
        let second = packet[1]
        let csrcCount = first & 0x0F
        var headerLength = fixedLength + Int(csrcCount) * 4
        let hasExtension = first & 0x10 != 0
        if hasExtension {
            guard packet.count >= headerLength + 4 else { return .failure(.malformed) }
            let words = Int(packet.loadBigEndianUInt16(at: headerLength + 2))
            headerLength += 4 + words * 4
        }
        guard packet.count >= headerLength else { return .failure(.malformed) }
        var paddingLength = 0
        let padding = first & 0x20 != 0
        if padding {
            paddingLength = Int(packet[packet.count - 1])
            guard paddingLength > 0, headerLength + paddingLength <= packet.count else {
                return .failure(.malformed)
            }
        }
        return .success(
            RTPHeader(
                padding: padding,
                hasExtension: hasExtension,
                csrcCount: csrcCount,
                marker: second & 0x80 != 0,
                payloadType: second & 0x7F,
                sequenceNumber: packet.loadBigEndianUInt16(at: 2),
                timestamp: packet.loadBigEndianUInt32(at: 4),
                ssrc: packet.loadBigEndianUInt32(at: 8),
                headerLength: headerLength,
                payloadLength: packet.count - headerLength - paddingLength
            )
        )
    }

    /// Writes this header's fixed part (no CSRCs, no extension) as 12 bytes.
    public func fixedHeaderBytes() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.fixedLength)
        bytes[0] = 0x80 | (padding ? 0x20 : 0) | (hasExtension ? 0x10 : 0) | (csrcCount & 0x0F)
        bytes[1] = (marker ? 0x80 : 0) | (payloadType & 0x7F)
        bytes[2] = UInt8(sequenceNumber >> 8)
        bytes[3] = UInt8(sequenceNumber & 0xFF)
        for i in 0..<4 {
            bytes[4 + i] = UInt8(truncatingIfNeeded: timestamp >> (24 - 8 * i))
            bytes[8 + i] = UInt8(truncatingIfNeeded: ssrc >> (24 - 8 * i))
        }
        return bytes
    }
}

/// Why a datagram on a media port was not forwarded. Each reason has its own counter.
public enum PacketDropReason: Int, Error, CaseIterable, Sendable, CustomStringConvertible {
    /// Shorter than the smallest valid RTP (12 bytes) or RTCP (8 bytes) packet.
    case tooShort
    /// Not RTP version 2, or an RTCP packet type outside RFC 3550/4585/5761's range.
    case notRTP
    /// Version 2, but the CSRC list, extension, padding or RTCP lengths overrun the datagram.
    case malformed
    /// Larger than the receive buffer; the kernel truncated it.
    case truncated
    /// From a source other than the latched peer, and not the peer moving to a new address.
    case notLatched
    /// The other side's address is not known yet (no answer, nothing learned).
    case noDestination
    /// The kernel refused to send it (socket buffer full, unreachable).
    case sendFailed
    /// SRTP or SRTCP whose authentication tag does not match: a wrong key, or a forged or damaged packet.
    case srtpAuthentication
    /// SRTP or SRTCP whose packet index was already received or is behind the replay window.
    case srtpReplay
    /// SRTP protection or unprotection failed otherwise (a malformed header, an exhausted key).
    case srtpFailed
    /// SRTP must be terminated on this stream but its keys are not agreed yet (no answer).
    case awaitingKeys
    /// A payload type the stream's negotiation does not cover: on a transcoded stream, one that is
    /// neither an input codec nor the negotiated telephone-event.
    case unsupportedPayloadType
    /// A transcoded stream's payload that would not decode, or arrived after the audio it belongs
    /// to was already re-encoded (reordered or duplicated).
    case transcodingFailed

    public var description: String {
        switch self {
        case .tooShort: "too-short"
        case .notRTP: "not-rtp"
        case .malformed: "malformed"
        case .truncated: "truncated"
        case .notLatched: "not-latched"
        case .noDestination: "no-destination"
        case .sendFailed: "send-failed"
        case .srtpAuthentication: "srtp-auth-failed"
        case .srtpReplay: "srtp-replayed"
        case .srtpFailed: "srtp-failed"
        case .awaitingKeys: "awaiting-keys"
        case .unsupportedPayloadType: "payload-type-not-negotiated"
        case .transcodingFailed: "transcoding-failed"
        }
    }
}

extension UnsafeRawBufferPointer {
    /// The big-endian 16-bit value at `offset`.
    @inline(__always)
    public func loadBigEndianUInt16(at offset: Int) -> UInt16 {
        UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }

    /// The big-endian 32-bit value at `offset`.
    @inline(__always)
    public func loadBigEndianUInt32(at offset: Int) -> UInt32 {
        UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16 | UInt32(self[offset + 2]) << 8
            | UInt32(self[offset + 3])
    }
}

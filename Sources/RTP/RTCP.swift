/// RTCP packet types (RFC 3550 section 12.1, RFC 4585 section 6.1, RFC 5104).
public enum RTCPPacketType: UInt8, Sendable {
    case senderReport = 200
    case receiverReport = 201
    case sourceDescription = 202
    case goodbye = 203
    case application = 204
    /// Transport-layer feedback, e.g. generic NACK (RFC 4585 6.2.1).
    case transportFeedback = 205
    /// Payload-specific feedback, e.g. PLI (RFC 4585 6.3.1) and FIR (RFC 5104 4.3.1).
    case payloadFeedback = 206
}

/// Validation and classification of RTCP compound packets.
public enum RTCP {
    /// The smallest RTCP packet: a receiver report with no report blocks.
    public static let minimumLength = 8

    /// RFC 5761 section 4: on a port carrying both RTP and RTCP, a packet whose second byte is in
    /// 192...223 (RTP payload types 64...95 with the marker bit) is RTCP.
    @inline(__always)
    public static func isMultiplexedRTCP(_ packet: UnsafeRawBufferPointer) -> Bool {
        packet.count >= 2 && (192...223).contains(packet[1])
    }

    /// Checks that `packet` is a well-formed compound RTCP packet: version 2 in every sub-packet,
    /// packet types in the RTCP range, and length fields that tile the datagram exactly.
    /// Returns the type of the first sub-packet.
    public static func validate(_ packet: UnsafeRawBufferPointer) -> Result<UInt8, PacketDropReason> {
        guard packet.count >= minimumLength else { return .failure(.tooShort) }
        var offset = 0
        var firstType: UInt8?
        while offset < packet.count {
            guard packet.count - offset >= 4 else { return .failure(.malformed) }
            guard packet[offset] >> 6 == 2 else { return .failure(firstType == nil ? .notRTP : .malformed) }
            let type = packet[offset + 1]
            guard (192...223).contains(type) else { return .failure(firstType == nil ? .notRTP : .malformed) }
            let length = (Int(packet.loadBigEndianUInt16(at: offset + 2)) + 1) * 4
            guard length <= packet.count - offset else { return .failure(.malformed) }
            if firstType == nil { firstType = type }
            offset += length
        }
        return .success(firstType!)
    }

    /// Checks an SRTCP packet relayed without decryption (RFC 3711 3.4): only its first header is in
    /// the clear, so it must be version 2, a sender or receiver report, and fit the datagram with
    /// room for the SRTCP index after it. Returns the first packet type.
    public static func validateSecured(_ packet: UnsafeRawBufferPointer) -> Result<UInt8, PacketDropReason> {
        guard packet.count >= minimumLength + 4 else { return .failure(.tooShort) }
        guard packet[0] >> 6 == 2, packet[1] == 200 || packet[1] == 201 else { return .failure(.notRTP) }
        let length = (Int(packet.loadBigEndianUInt16(at: 2)) + 1) * 4
        guard length + 4 <= packet.count else { return .failure(.malformed) }
        return .success(packet[1])
    }

    /// The SSRC of the packet's sender: the one after the first header (SR, RR and the others
    /// alike), nil when the packet is shorter than a header and an SSRC.
    public static func senderSSRC(_ packet: UnsafeRawBufferPointer) -> UInt32? {
        guard packet.count >= minimumLength else { return nil }
        return packet.loadBigEndianUInt32(at: 4)
    }

    /// The packet types of every sub-packet of a compound packet, for inspection and tests.
    /// Returns an empty array for a packet that does not validate.
    public static func packetTypes(_ packet: UnsafeRawBufferPointer) -> [UInt8] {
        guard case .success = validate(packet) else { return [] }
        var types: [UInt8] = []
        var offset = 0
        while offset < packet.count {
            types.append(packet[offset + 1])
            offset += (Int(packet.loadBigEndianUInt16(at: offset + 2)) + 1) * 4
        }
        return types
    }
}

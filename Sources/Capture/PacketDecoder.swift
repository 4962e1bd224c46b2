/// The link layers captures of VoIP traffic come in.
enum LinkLayer {
    case ethernet
    /// BSD loopback: a 4-byte address family in host order.
    case null
    case raw
    case linuxCooked
    case linuxCooked2

    init?(dataLinkType: Int32) {
        switch dataLinkType {
        case 1: self = .ethernet
        case 0, 108: self = .null
        case 12, 14, 101, 228, 229: self = .raw
        case 113: self = .linuxCooked
        case 276: self = .linuxCooked2
        default: return nil
        }
    }
}

/// What a captured frame carries, as far as a replay reads it.
enum DecodedPacket {
    case datagram(CapturedDatagram)
    case segment(CapturedSegment)
}

/// Decodes a captured frame down to its UDP datagram or TCP segment: link layer, IPv4 or IPv6, UDP
/// or TCP. Frames that are neither, or not whole and unfragmented, give nil.
enum PacketDecoder {
    static func decode(_ frame: UnsafeRawBufferPointer, link: LinkLayer, timeNanos: UInt64) -> DecodedPacket? {
        guard let ipStart = ipOffset(in: frame, link: link), ipStart < frame.count else { return nil }
        let ip = UnsafeRawBufferPointer(rebasing: frame[ipStart...])
        switch ip[0] >> 4 {
        case 4: return ipv4(ip, timeNanos: timeNanos)
        case 6: return ipv6(ip, timeNanos: timeNanos)
        default: return nil
        }
    }

    private static func ipOffset(in frame: UnsafeRawBufferPointer, link: LinkLayer) -> Int? {
        switch link {
        case .raw:
            return 0
        case .null:
            return 4
        case .linuxCooked:
            return 16
        case .linuxCooked2:
            return 20
        case .ethernet:
            var offset = 12
            var etherType = 0
            repeat {
                guard frame.count >= offset + 2 else { return nil }
                etherType = Int(frame[offset]) << 8 | Int(frame[offset + 1])
                offset += 2
                if etherType == 0x8100 || etherType == 0x88A8 { offset += 2 }  // VLAN tags
            } while etherType == 0x8100 || etherType == 0x88A8
            return etherType == 0x0800 || etherType == 0x86DD ? offset : nil
        }
    }

    private static func ipv4(_ ip: UnsafeRawBufferPointer, timeNanos: UInt64) -> DecodedPacket? {
        guard ip.count >= 20 else { return nil }
        let headerLength = Int(ip[0] & 0x0F) * 4
        let totalLength = Int(ip[2]) << 8 | Int(ip[3])
        let fragment = (Int(ip[6]) << 8 | Int(ip[7])) & 0x3FFF  // more-fragments flag and offset
        guard fragment == 0, headerLength >= 20, totalLength <= ip.count, headerLength < totalLength else {
            return nil
        }
        let source = "\(ip[12]).\(ip[13]).\(ip[14]).\(ip[15])"
        let destination = "\(ip[16]).\(ip[17]).\(ip[18]).\(ip[19])"
        return transport(
            ip[9], UnsafeRawBufferPointer(rebasing: ip[headerLength..<totalLength]), source, destination, timeNanos)
    }

    private static func ipv6(_ ip: UnsafeRawBufferPointer, timeNanos: UInt64) -> DecodedPacket? {
        guard ip.count >= 40 else { return nil }
        let payloadLength = Int(ip[4]) << 8 | Int(ip[5])
        guard 40 + payloadLength <= ip.count else { return nil }
        return transport(
            ip[6], UnsafeRawBufferPointer(rebasing: ip[40..<(40 + payloadLength)]), ipv6Text(ip, at: 8),
            ipv6Text(ip, at: 24), timeNanos)
    }

    /// The UDP datagram (protocol 17) or TCP segment (6) an IP packet carries.
    private static func transport(
        _ protocolNumber: UInt8, _ packet: UnsafeRawBufferPointer, _ sourceIP: String, _ destinationIP: String,
        _ timeNanos: UInt64
    ) -> DecodedPacket? {
        guard packet.count >= 8 else { return nil }
        let source = Endpoint(ip: sourceIP, port: UInt16(packet[0]) << 8 | UInt16(packet[1]))
        let destination = Endpoint(ip: destinationIP, port: UInt16(packet[2]) << 8 | UInt16(packet[3]))
        switch protocolNumber {
        case 17:
            let length = Int(packet[4]) << 8 | Int(packet[5])
            guard length >= 8, length <= packet.count else { return nil }
            return .datagram(
                CapturedDatagram(
                    timeNanos: timeNanos, source: source, destination: destination, payload: Array(packet[8..<length])))
        case 6:
            guard packet.count >= 20 else { return nil }
            let headerLength = Int(packet[12] >> 4) * 4
            guard headerLength >= 20, headerLength <= packet.count else { return nil }
            let sequence = packet.loadUnaligned(fromByteOffset: 4, as: UInt32.self).bigEndian
            return .segment(
                CapturedSegment(
                    timeNanos: timeNanos, source: source, destination: destination, sequence: sequence,
                    flags: CapturedSegment.Flags(rawValue: packet[13]), payload: Array(packet[headerLength...])))
        default:
            return nil
        }
    }

    private static func ipv6Text(_ ip: UnsafeRawBufferPointer, at offset: Int) -> String {
        (0..<8).map { String(Int(ip[offset + 2 * $0]) << 8 | Int(ip[offset + 2 * $0 + 1]), radix: 16) }.joined(
            separator: ":")
    }
}

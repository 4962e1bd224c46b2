import CPcap
import CSpillwayShims
import PacketIO

/// Records a call's media into a pcap file (raw IP, nanosecond timestamps) that tshark and
/// `spillway replay` read: each packet the relay accepted, as a UDP datagram from the party's
/// address to the relay's socket. Used by one media worker thread at a time; the file is closed
/// when the last reference goes (recording stopped, or the call ended).
public final class PcapRecorder: PacketRecorder, @unchecked Sendable {
    public let path: String
    private let dead: OpaquePointer
    private let dumper: OpaquePointer
    private var frame = [UInt8](repeating: 0, count: 40 + 8 + 65536)

    public init(path: String) throws(CaptureError) {
        guard let dead = pcap_open_dead_with_tstamp_precision(DLT_RAW, 65535, UInt32(PCAP_TSTAMP_PRECISION_NANO)) else {
            throw CaptureError(path: path, problem: "libpcap could not start a capture to write")
        }
        guard let dumper = pcap_dump_open(dead, path) else {
            let message = String(cString: pcap_geterr(dead))
            pcap_close(dead)
            throw CaptureError(path: path, problem: "cannot be created: \(message)")
        }
        self.path = path
        self.dead = dead
        self.dumper = dumper
    }

    deinit {
        pcap_dump_close(dumper)
        pcap_close(dead)
    }

    public func record(_ payload: UnsafeRawBufferPointer, from source: SocketAddress, to destination: SocketAddress) {
        guard source.isIPv6 == destination.isIPv6, payload.count <= 65507 else { return }
        let length = frame.withUnsafeMutableBytes { frame in
            let ipLength = source.isIPv6 ? 40 : 20
            let udpLength = 8 + payload.count
            if source.isIPv6 {
                frame.storeBytes(of: UInt32(0x6000_0000).bigEndian, as: UInt32.self)
                frame.storeBytes(of: UInt16(udpLength).bigEndian, toByteOffset: 4, as: UInt16.self)
                frame[6] = 17
                frame[7] = 64
                source.withAddressBytes { UnsafeMutableRawBufferPointer(rebasing: frame[8..<24]).copyMemory(from: $0) }
                destination.withAddressBytes {
                    UnsafeMutableRawBufferPointer(rebasing: frame[24..<40]).copyMemory(from: $0)
                }
            } else {
                frame[0] = 0x45
                frame[1] = 0
                frame.storeBytes(of: UInt16(ipLength + udpLength).bigEndian, toByteOffset: 2, as: UInt16.self)
                // Identification 0, don't fragment.
                frame.storeBytes(of: UInt32(0x0000_4000).bigEndian, toByteOffset: 4, as: UInt32.self)
                frame[8] = 64
                frame[9] = 17
                frame.storeBytes(of: UInt16(0), toByteOffset: 10, as: UInt16.self)
                source.withAddressBytes { UnsafeMutableRawBufferPointer(rebasing: frame[12..<16]).copyMemory(from: $0) }
                destination.withAddressBytes {
                    UnsafeMutableRawBufferPointer(rebasing: frame[16..<20]).copyMemory(from: $0)
                }
                frame.storeBytes(
                    of: Self.headerChecksum(UnsafeRawBufferPointer(rebasing: frame[0..<20])).bigEndian,
                    toByteOffset: 10, as: UInt16.self)
            }
            frame.storeBytes(of: source.port.bigEndian, toByteOffset: ipLength, as: UInt16.self)
            frame.storeBytes(of: destination.port.bigEndian, toByteOffset: ipLength + 2, as: UInt16.self)
            frame.storeBytes(of: UInt16(udpLength).bigEndian, toByteOffset: ipLength + 4, as: UInt16.self)
            frame.storeBytes(of: UInt16(0), toByteOffset: ipLength + 6, as: UInt16.self)  // no UDP checksum
            UnsafeMutableRawBufferPointer(rebasing: frame[(ipLength + 8)...]).copyMemory(from: payload)
            return ipLength + udpLength
        }
        let now = spw_wall_nanos()
        var header = pcap_pkthdr()
        header.ts.tv_sec = Int(now / 1_000_000_000)
        header.ts.tv_usec = Int(now % 1_000_000_000)  // nanoseconds: the file's precision
        header.caplen = UInt32(length)
        header.len = UInt32(length)
        frame.withUnsafeBytes { bytes in
            pcap_dump(
                UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self), &header,
                bytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
    }

    private static func headerChecksum(_ header: UnsafeRawBufferPointer) -> UInt16 {
        var sum: UInt32 = 0
        for offset in stride(from: 0, to: header.count, by: 2) {
            sum += UInt32(header[offset]) << 8 | UInt32(header[offset + 1])
        }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }
}

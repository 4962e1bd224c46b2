import CPcap

/// One UDP datagram read from a capture, with its capture time.
public struct CapturedDatagram: Sendable, Equatable {
    /// Capture time in nanoseconds since the Unix epoch.
    public var timeNanos: UInt64
    public var source: Endpoint
    public var destination: Endpoint
    public var payload: [UInt8]

    public init(timeNanos: UInt64, source: Endpoint, destination: Endpoint, payload: [UInt8]) {
        self.timeNanos = timeNanos
        self.source = source
        self.destination = destination
        self.payload = payload
    }
}

/// An IP address (text form) and UDP port.
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    public var ip: String
    public var port: UInt16

    public init(ip: String, port: UInt16) {
        self.ip = ip
        self.port = port
    }

    public var description: String { ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)" }
}

/// A pcap or pcapng file read through libpcap: every UDP datagram in it, in capture order.
/// Other packets (TCP, ARP, fragments after the first...) are counted and skipped.
public struct CaptureFile: Sendable {
    public let path: String
    public let datagrams: [CapturedDatagram]
    /// Frames that were not whole UDP datagrams over IPv4 or IPv6.
    public let skippedFrames: Int

    /// Reads the whole file.
    public init(path: String) throws(CaptureError) {
        self.path = path
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errorBuffer) else {
            let message = String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw CaptureError(path: path, problem: Self.explain(message))
        }
        defer { pcap_close(handle) }
        let linkType = pcap_datalink(handle)
        guard let link = LinkLayer(dataLinkType: linkType) else {
            throw CaptureError(
                path: path,
                problem: "link-layer type \(linkType) (\(Self.linkName(linkType))) is not supported; "
                    + "capture on Ethernet, loopback, Linux cooked or raw IP")
        }
        var datagrams: [CapturedDatagram] = []
        var skipped = 0
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        while true {
            let result = pcap_next_ex(handle, &header, &data)
            if result == PCAP_ERROR_BREAK { break }
            guard result == 1, let header, let data else {
                if result == PCAP_ERROR {
                    let message = String(cString: pcap_geterr(handle))
                    let reason = message.contains("truncated") ? "truncated" : "unreadable"
                    throw CaptureError(path: path, problem: "\(reason) after \(datagrams.count + skipped) whole frames: \(message)")
                }
                continue
            }
            let frame = UnsafeRawBufferPointer(start: data, count: Int(header.pointee.caplen))
            let time = UInt64(header.pointee.ts.tv_sec) * 1_000_000_000 + UInt64(header.pointee.ts.tv_usec)
            if let datagram = PacketDecoder.udpDatagram(in: frame, link: link, timeNanos: time) {
                datagrams.append(datagram)
            } else {
                skipped += 1
            }
        }
        self.datagrams = datagrams
        skippedFrames = skipped
    }

    private static func explain(_ message: String) -> String {
        if message.contains("No such file") { return "no such file" }
        if message.contains("file header bytes, only got 0") { return "is empty (0 bytes), not a pcap or pcapng capture" }
        if message.contains("unknown file format") || message.contains("bad dump file format") {
            return "not a pcap or pcapng capture (\(message))"
        }
        if message.contains("truncated") { return "truncated: \(message)" }
        return message
    }

    private static func linkName(_ linkType: Int32) -> String {
        guard let name = pcap_datalink_val_to_name(linkType) else { return "unknown" }
        return String(cString: name)
    }
}

/// Why a capture cannot be used, naming the file.
public struct CaptureError: Error, Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var problem: String

    public init(path: String, problem: String) {
        self.path = path
        self.problem = problem
    }

    public var description: String { "capture \(path): \(problem)" }
}

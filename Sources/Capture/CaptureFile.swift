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

/// One TCP segment read from a capture, with its capture time.
public struct CapturedSegment: Sendable, Equatable {
    /// The TCP flags a stream's reassembly reads.
    public struct Flags: OptionSet, Sendable, Equatable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let fin = Flags(rawValue: 0x01)
        public static let syn = Flags(rawValue: 0x02)
        public static let reset = Flags(rawValue: 0x04)
    }

    /// Capture time in nanoseconds since the Unix epoch.
    public var timeNanos: UInt64
    public var source: Endpoint
    public var destination: Endpoint
    public var sequence: UInt32
    public var flags: Flags
    public var payload: [UInt8]
}

/// An IP address (text form) and UDP or TCP port.
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    public var ip: String
    public var port: UInt16

    public init(ip: String, port: UInt16) {
        self.ip = ip
        self.port = port
    }

    public var description: String { ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)" }
}

/// A pcap or pcapng file read through libpcap: every UDP datagram and TCP segment in it, in
/// capture order. Other packets (ARP, fragments after the first...) are counted and skipped.
public struct CaptureFile: Sendable {
    public let path: String
    public let datagrams: [CapturedDatagram]
    /// The TCP segments: call signalling (H.225.0, H.245) for a replay, and anything else.
    public let segments: [CapturedSegment]
    /// Frames that were neither UDP nor TCP over IPv4 or IPv6, or had impossible timestamps.
    public let skippedFrames: Int

    /// Reads the whole file.
    public init(path: String) throws(CaptureError) {
        self.path = path
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard
            let handle = pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errorBuffer)
        else {
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
        var segments: [CapturedSegment] = []
        var skipped = 0
        var lastTime: UInt64?
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        while true {
            let result = pcap_next_ex(handle, &header, &data)
            if result == PCAP_ERROR_BREAK { break }
            guard result == 1, let header, let data else {
                if result == PCAP_ERROR {
                    let message = String(cString: pcap_geterr(handle))
                    let reason = message.contains("truncated") ? "truncated" : "unreadable"
                    throw CaptureError(
                        path: path,
                        problem:
                            "\(reason) after \(datagrams.count + segments.count + skipped) whole frames: \(message)")
                }
                continue
            }
            let frame = UnsafeRawBufferPointer(start: data, count: Int(header.pointee.caplen))
            guard let time = Self.plausibleTime(header.pointee.ts, after: lastTime) else {
                skipped += 1
                continue
            }
            switch PacketDecoder.decode(frame, link: link, timeNanos: time) {
            case .datagram(let datagram): datagrams.append(datagram)
            case .segment(let segment): segments.append(segment)
            case nil:
                skipped += 1
                continue
            }
            lastTime = time
        }
        self.datagrams = datagrams
        self.segments = segments
        skippedFrames = skipped
    }

    /// A frame's capture time in nanoseconds, or nil when it cannot be right: negative, a fraction
    /// of a second out of range, or more than a day away from the previous datagram's. A corrupt
    /// timestamp would otherwise make a replay wait for years.
    private static func plausibleTime(_ stamp: timeval, after previous: UInt64?) -> UInt64? {
        let seconds = Int64(stamp.tv_sec)
        let fraction = Int64(stamp.tv_usec)  // nanoseconds: the file is opened with nanosecond precision
        guard seconds >= 0, seconds < Int64(UInt64.max / 2_000_000_000), (0..<1_000_000_000).contains(fraction) else {
            return nil
        }
        let time = UInt64(seconds) * 1_000_000_000 + UInt64(fraction)
        if let previous, max(time, previous) - min(time, previous) > maximumGapNanos { return nil }
        return time
    }

    /// The largest gap between two datagrams a capture may have.
    static let maximumGapNanos: UInt64 = 24 * 3600 * 1_000_000_000

    private static func explain(_ message: String) -> String {
        if message.contains("No such file") { return "no such file" }
        if message.contains("file header bytes, only got 0") {
            return "is empty (0 bytes), not a pcap or pcapng capture"
        }
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

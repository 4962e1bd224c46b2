import H323

/// The bytes one side of a captured TCP connection sent, put back in order: retransmissions and
/// overlaps dropped, and cut short at the first bytes the capture missed.
struct TCPStream {
    var source: Endpoint
    var destination: Endpoint
    var bytes: [UInt8] = []
    /// For each segment that added bytes: the offset its bytes end at, and when it was captured.
    var arrivals: [(end: Int, timeNanos: UInt64)] = []
    /// Whether the capture missed a segment, so the bytes stop before the sender's did.
    var hasGap = false

    /// The streams of `segments`, one per direction of each connection, in order of first segment.
    static func reassemble(_ segments: [CapturedSegment]) -> [TCPStream] {
        var byDirection: [DirectionKey: [CapturedSegment]] = [:]
        var order: [DirectionKey] = []
        for segment in segments {
            let key = DirectionKey(source: segment.source, destination: segment.destination)
            if byDirection[key] == nil { order.append(key) }
            byDirection[key, default: []].append(segment)
        }
        return order.map { key in TCPStream(key, byDirection[key]!) }
    }

    private struct DirectionKey: Hashable {
        var source: Endpoint
        var destination: Endpoint
    }

    private init(_ key: DirectionKey, _ segments: [CapturedSegment]) {
        source = key.source
        destination = key.destination
        // The stream starts after the SYN; without one (a capture begun mid-connection), at the
        // first segment carrying data.
        let start =
            segments.first { $0.flags.contains(.syn) }.map { $0.sequence &+ 1 }
            ?? segments.first { !$0.payload.isEmpty }?.sequence ?? 0
        let placed =
            segments
            .filter { !$0.payload.isEmpty }
            .map { (offset: Int(Int32(bitPattern: $0.sequence &- start)), segment: $0) }
            .sorted { ($0.offset, $0.segment.timeNanos) < ($1.offset, $1.segment.timeNanos) }
        for (offset, segment) in placed {
            guard offset <= bytes.count else {
                hasGap = true
                break
            }
            let fresh = segment.payload.dropFirst(bytes.count - offset)
            guard !fresh.isEmpty else { continue }
            bytes += fresh
            arrivals.append((bytes.count, segment.timeNanos))
        }
    }

    /// The TPKT frames (RFC 1006) the stream holds, each with the capture time of its last byte.
    /// Reading stops at the first bytes that are not a TPKT header, or at an unfinished frame.
    var tpktFrames: [(timeNanos: UInt64, payload: [UInt8])] {
        var frames: [(timeNanos: UInt64, payload: [UInt8])] = []
        var offset = 0
        var arrival = 0
        while bytes.count - offset >= TPKT.headerLength,
            let length = try? TPKT.frameLength(header: bytes[offset..<offset + TPKT.headerLength]),
            offset + length <= bytes.count
        {
            while arrivals[arrival].end < offset + length { arrival += 1 }
            frames.append((arrivals[arrival].timeNanos, Array(bytes[offset + TPKT.headerLength..<offset + length])))
            offset += length
        }
        return frames
    }
}

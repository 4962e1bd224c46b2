import Bencode
import CSpillwayShims
import MediaPlane
import RTP

/// Builders for NG reply dictionaries, shaped like rtpengine's so existing clients and tooling
/// read them: `result`, `error-reason`, `warning`, `sdp`, `tags`, `totals`, `calls`, `statistics`.
public enum NGReply {
    public static let pong: BencodeValue = ["result": "pong"]

    public static func error(_ reason: String) -> BencodeValue {
        ["result": "error", "error-reason": .string(reason)]
    }

    /// rtpengine's answer when it takes no new calls, for clients that sent `supports: ["load limit"]`.
    public static func loadLimit(_ message: String) -> BencodeValue {
        ["result": "load limit", "message": .string(message)]
    }

    /// Whether a reply says the node does not know the call (rtpengine's "Unknown call-id" wording).
    public static func isUnknownCall(_ reply: BencodeValue) -> Bool {
        reply["result"]?.stringValue == "error"
            && reply["error-reason"]?.stringValue?.hasPrefix("Unknown call-id") == true
    }

    /// Whether the client's request said it understands the `load limit` result.
    public static func clientSupportsLoadLimit(_ request: BencodeValue) -> Bool {
        let supports = request["supports"]
        let values = supports?.listValue ?? supports.map { [$0] } ?? []
        return values.contains { $0.stringValue?.lowercased() == "load limit" }
    }

    /// An offer/answer result: the rewritten SDP, plus a warning naming flags that were not acted on.
    public static func sdp(_ sdp: String, ignoredFlags: [String]) -> BencodeValue {
        var reply: [String: BencodeValue] = ["result": "ok", "sdp": .string(sdp)]
        if !ignoredFlags.isEmpty {
            reply["warning"] = .string("Ignored flags: \(ignoredFlags.joined(separator: ", "))")
        }
        return .dictionary(reply)
    }

    public static func list(_ callIDs: [String], limit: Int) -> BencodeValue {
        ["result": "ok", "calls": .list(callIDs.sorted().prefix(max(0, limit)).map { .string($0) })]
    }

    /// `query` and `delete`: per-tag, per-m=-line figures and call totals.
    public static func call(_ report: CallReport, clock: WallClock) -> BencodeValue {
        var tags: [String: BencodeValue] = [:]
        for leg in report.legs {
            let tag = leg.tag ?? ""
            tags[tag] = [
                "tag": .string(tag),
                "created": .integer(Int64(report.createdWallNanos / 1_000_000_000)),
                "medias": .list(leg.media.map { media(of: $0, clock: clock) }),
            ]
        }
        return [
            "result": "ok",
            "created": .integer(Int64(report.createdWallNanos / 1_000_000_000)),
            "tags": .dictionary(tags),
            "totals": totals(report.totals),
        ]
    }

    /// `statistics`: node-wide counts in rtpengine's `currentstatistics`/`totalstatistics` shape.
    public static func statistics(
        activeCalls: Int, totals: StreamStatistics, events: CallEventCounters, portPairsInUse: Int,
        portPairCapacity: Int,
        interfaces: [(interface: MediaInterface, portPairs: Int)]
    ) -> BencodeValue {
        [
            "result": "ok",
            "statistics": [
                "currentstatistics": [
                    "sessionsown": .integer(Int64(activeCalls)),
                    "sessionsforeign": 0,
                    "sessionstotal": .integer(Int64(activeCalls)),
                    "portpairsinuse": .integer(Int64(portPairsInUse)),
                    "portpaircapacity": .integer(Int64(portPairCapacity)),
                ],
                "totalstatistics": [
                    "offers": .integer(Int64(events.offers)),
                    "answers": .integer(Int64(events.answers)),
                    "deletes": .integer(Int64(events.deletes)),
                    "timeoutsessions": .integer(Int64(events.mediaTimeouts)),
                    "portexhaustions": .integer(Int64(events.portExhaustions)),
                ],
            ],
            "totals": Self.totals(totals),
            "interfaces": .list(
                interfaces.map { usage in
                    [
                        "name": .string(usage.interface.name), "address": .string(usage.interface.localIP),
                        "advertised": .string(usage.interface.advertisedIP),
                        "ports-used": .integer(Int64(usage.portPairs * 2)),
                    ]
                }),
        ]
    }

    static func totals(_ statistics: StreamStatistics) -> BencodeValue {
        [
            "RTP": rtpCounts(statistics),
            "RTCP": rtcpCounts(statistics),
            "forwarded": .integer(Int64(statistics.forwardedPackets)),
            "lost": .integer(Int64(statistics.lost)),
            "drops": drops(statistics.drops),
            "latching": latching(statistics),
        ]
    }

    /// Sources learned from the media, and moves of a learned source to a new address; packets
    /// refused by the latching rules are in `drops` as `not-latched`.
    static func latching(_ statistics: StreamStatistics) -> BencodeValue {
        ["latched": .integer(Int64(statistics.latches)), "relatched": .integer(Int64(statistics.relatches))]
    }

    /// rtpengine's `stats` shape: RTP packets and bytes received, and packets dropped.
    static func rtpCounts(_ statistics: StreamStatistics) -> BencodeValue {
        [
            "packets": .integer(Int64(statistics.rtpPackets)),
            "bytes": .integer(Int64(statistics.rtpBytes)),
            "errors": .integer(Int64(statistics.droppedPackets)),
        ]
    }

    static func rtcpCounts(_ statistics: StreamStatistics) -> BencodeValue {
        ["packets": .integer(Int64(statistics.rtcpPackets)), "bytes": .integer(Int64(statistics.rtcpBytes))]
    }

    static func media(of media: CallReport.MediaReport, clock: WallClock) -> BencodeValue {
        let statistics = media.statistics
        var stream: [String: BencodeValue] = [
            "local port": .integer(Int64(media.localPort)),
            "advertised endpoint": endpoint(media.advertised),
            "stats": rtpCounts(statistics),
            "RTCP": rtcpCounts(statistics),
            "forwarded": .integer(Int64(statistics.forwardedPackets)),
            "expected": .integer(Int64(statistics.expected)),
            "lost": .integer(Int64(statistics.lost)),
            "jitter": .integer(Int64(statistics.jitterMilliseconds.rounded())),
            "jitter us": .integer(Int64((statistics.jitterMilliseconds * 1000).rounded())),
            "frames": .integer(Int64(statistics.frames)),
            "SSRC": .integer(Int64(statistics.ssrc)),
            "drops": drops(statistics.drops),
            "latching": latching(statistics),
        ]
        if statistics.latchedSource.isSet { stream["endpoint"] = endpoint(statistics.latchedSource) }
        if statistics.lastPacketNanos > 0 {
            stream["last packet"] = .integer(Int64(clock.wallSeconds(ofMonotonic: statistics.lastPacketNanos)))
        }
        var flags: [BencodeValue] = []
        if media.rtcpMux { flags.append("RTCP-mux") }
        switch media.latching {
        case .symmetric: break
        case .strict: flags.append("strict source")
        case .handover: flags.append("media handover")
        case .asymmetric: flags.append("asymmetric")
        }
        var reply: [String: BencodeValue] = [
            "index": .integer(Int64(media.index)),
            "type": .string(media.type),
            "protocol": .string(media.proto),
            "interface": .string(media.interface),
            "streams": [.dictionary(stream)],
            "flags": .list(flags),
        ]
        if let suite = media.cryptoSuite { reply["crypto suite"] = .string(suite) }
        if let codec = media.codec { reply["codec"] = .string(codec) }
        if let target = media.transcodedTo { reply["transcoded to"] = .string(target) }
        return .dictionary(reply)
    }

    static func endpoint(_ address: SocketAddress) -> BencodeValue {
        guard address.isSet else { return [:] }
        return [
            "family": address.isIPv6 ? "IPv6" : "IPv4",
            "address": .string(address.ip),
            "port": .integer(Int64(address.port)),
        ]
    }

    static func drops(_ drops: [PacketDropReason: UInt64]) -> BencodeValue {
        .dictionary(Dictionary(uniqueKeysWithValues: drops.map { ("\($0.key)", .integer(Int64($0.value))) }))
    }
}

/// Converts the data plane's monotonic packet times to wall-clock seconds for reports.
public struct WallClock: Sendable {
    public var monotonicNanos: UInt64
    public var wallNanos: UInt64

    public init(monotonicNanos: UInt64, wallNanos: UInt64) {
        self.monotonicNanos = monotonicNanos
        self.wallNanos = wallNanos
    }

    public static func now() -> WallClock {
        WallClock(monotonicNanos: spw_monotonic_nanos(), wallNanos: spw_wall_nanos())
    }

    public func wallSeconds(ofMonotonic nanos: UInt64) -> UInt64 {
        let age = monotonicNanos > nanos ? monotonicNanos - nanos : 0
        return (wallNanos - min(age, wallNanos)) / 1_000_000_000
    }
}

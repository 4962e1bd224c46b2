/// What a replay measured: per flow and in total, and where each call landed.
public struct ReplayReport: Sendable {
    public struct Latency: Sendable, Equatable {
        public var p50: UInt64
        public var p99: UInt64
        public var p999: UInt64
        public var max: UInt64
    }

    /// One SSRC's RTP, or the RTCP, of one direction of one replayed call.
    public struct Flow: Sendable {
        public var callID: String
        /// `forward` (caller to callee, as captured) or `backward`.
        public var direction: String
        /// The flow is RTCP: `ssrc` is its first report's sender, `payloadType` its first packet type.
        public var isRTCP: Bool
        public var ssrc: UInt32
        public var payloadType: UInt8
        public var packetsSent: Int
        public var packetsReceived: Int
        public var lost: Int
        public var duplicated: Int
        public var reordered: Int
        /// Datagrams that arrived changed, or that were never sent.
        public var corrupted: Int
        /// Relay latency: send to receipt on loopback, microseconds.
        public var latencyMicros: Latency
        /// RFC 3550 interarrival jitter at the receiving side.
        public var jitterMilliseconds: Double
        /// Packets with the marker bit (video frames) sent and delivered.
        public var framesSent: Int
        public var framesDelivered: Int
    }

    /// Which node took a replayed call, and after how many forwards.
    public struct Placement: Sendable {
        public var callID: String
        /// The node that took the call, as NG replies name it; nil over H.323, which does not say.
        public var node: String?
        /// Forwards the call took: the NG reply's count, or over H.323 the Facility redirects the
        /// replay's caller followed (a node forwarding the Setup itself does not show).
        public var hops: Int
        /// The media address the relay gave.
        public var relayAddress: String
    }

    public var flows: [Flow]
    public var placements: [Placement]
    /// From the first packet sent to the last.
    public var sendingSeconds: Double
    /// Relay latency over every packet received.
    public var latencyMicros: Latency

    /// Packets sent per second over the sending span (the replay rate achieved).
    public var sendRate: Double { sendingSeconds > 0 ? Double(packetsSent) / sendingSeconds : 0 }

    public var packetsSent: Int { flows.reduce(0) { $0 + $1.packetsSent } }
    public var packetsReceived: Int { flows.reduce(0) { $0 + $1.packetsReceived } }
    public var lost: Int { flows.reduce(0) { $0 + $1.lost } }
    public var corrupted: Int { flows.reduce(0) { $0 + $1.corrupted } }

    /// The report as JSON: `flows` (each with `ssrc`, `payload_type`, `packets_sent`,
    /// `packets_received`, `lost`, `latency_us` {p50, p99, p999}, `jitter_ms`...), `calls`, `totals`.
    public var json: String {
        func object(_ fields: [(String, String)]) -> String {
            "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
        }
        func string(_ text: String) -> String {
            "\""
                + text.unicodeScalars.map { scalar -> String in
                    switch scalar {
                    case "\"": "\\\""
                    case "\\": "\\\\"
                    case _ where scalar.value < 0x20:
                        "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                            + String(scalar.value, radix: 16)
                    default: String(scalar)
                    }
                }.joined() + "\""
        }
        let flowObjects = flows.map { flow in
            object([
                ("call_id", string(flow.callID)), ("direction", string(flow.direction)),
                ("kind", string(flow.isRTCP ? "rtcp" : "rtp")), ("ssrc", "\(flow.ssrc)"),
                ("payload_type", "\(flow.payloadType)"), ("packets_sent", "\(flow.packetsSent)"),
                ("packets_received", "\(flow.packetsReceived)"), ("lost", "\(flow.lost)"),
                ("duplicated", "\(flow.duplicated)"),
                ("reordered", "\(flow.reordered)"), ("corrupted", "\(flow.corrupted)"),
                (
                    "latency_us",
                    object([
                        ("p50", "\(flow.latencyMicros.p50)"), ("p99", "\(flow.latencyMicros.p99)"),
                        ("p999", "\(flow.latencyMicros.p999)"),
                    ])
                ),
                ("jitter_ms", "\(flow.jitterMilliseconds)"), ("frames_sent", "\(flow.framesSent)"),
                ("frames_delivered", "\(flow.framesDelivered)"),
            ])
        }
        let callObjects = placements.map { placement in
            object([
                ("call_id", string(placement.callID)), ("node", placement.node.map(string) ?? "null"),
                ("hops", "\(placement.hops)"),
                ("relay_address", string(placement.relayAddress)),
            ])
        }
        let totals = object([
            ("packets_sent", "\(packetsSent)"), ("packets_received", "\(packetsReceived)"), ("lost", "\(lost)"),
            ("duplicated", "\(flows.reduce(0) { $0 + $1.duplicated })"),
            ("reordered", "\(flows.reduce(0) { $0 + $1.reordered })"),
            ("corrupted", "\(corrupted)"), ("calls", "\(placements.count)"),
            ("sending_seconds", "\(sendingSeconds)"), ("send_rate_pps", "\(Int(sendRate))"),
            (
                "latency_us",
                object([
                    ("p50", "\(latencyMicros.p50)"), ("p99", "\(latencyMicros.p99)"), ("p999", "\(latencyMicros.p999)"),
                    ("max", "\(latencyMicros.max)"),
                ])
            ),
        ])
        return "{\n  \"flows\": [\n    " + flowObjects.joined(separator: ",\n    ") + "\n  ],\n  \"calls\": [\n    "
            + callObjects.joined(separator: ",\n    ") + "\n  ],\n  \"totals\": " + totals + "\n}\n"
    }
}

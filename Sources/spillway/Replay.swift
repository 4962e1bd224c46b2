import ArgumentParser
import Capture
import MediaPlane
import SpillwayClient

#if canImport(Glibc)
import Glibc
#endif

/// `spillway replay`: replay captured calls through a node or a cluster's primary.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay the RTP calls of pcap/pcapng captures through a relay and report what arrived.",
        discussion: """
            Every RTP packet of a call's flows is replayed: each SSRC on a flow's addresses (telephone-events \
            from a second SSRC, the stream after an SSRC change) and each direction's RTCP (captured on the \
            RTP ports + 1 or multiplexed). The report has a row per SSRC and per RTCP flow in each direction; \
            the totals count everything sent.

            Flows are paired into calls by the capture's SIP (SDP) or H.323 signalling (H.225.0 fastStart, \
            tunnelled or separate H.245: the callIdentifier, OpenLogicalChannel and its Ack), else by address \
            pairs. With --via, each call is set up over NG, its RTCP multiplexed on the RTP port. With \
            --via-h323, each call of an H.323 capture is set up through a node's call-signalling port by a \
            Setup/Connect exchange of the replay's own (fastStart, the captured codecs, every stream of the \
            call), and its media replayed through the addresses the node answered.
            """)

    @Argument(help: "pcap or pcapng files.")
    var captures: [String]

    @Option(help: "The relay's NG address (a node, or a cluster's primary).")
    var via: String?

    @Option(
        name: .customLong("via-h323"),
        help: "A node's H.323 call-signalling address (its --call-signal): set the captured H.323 calls up there.")
    var viaH323: String?

    @Option(help: "Playback speed (2 = twice as fast as captured).")
    var speed: Double = 1

    @Option(help: "Concurrent copies of every captured call.")
    var copies: Int = 1

    @Option(help: "Stop sending after this many seconds.")
    var duration: Double?

    @Option(help: "Write the report as JSON to this file.")
    var json: String?

    @Option(name: .customLong("local-ip"), help: "Address the replay's media sockets bind to.")
    var localIP: String = "127.0.0.1"

    @Option(help: "Profile to offer for calls whose capture has no SDP, e.g. RTP/SAVP for SRTP captures.")
    var profile: String = "RTP/AVP"

    @Flag(name: .customLong("spin"), help: "Pace sends exactly by spinning; only on a core of its own (benchmarks).")
    var spin = false

    @Flag(
        name: .customLong("rtp-only"),
        help: "Replay only each direction's dominant SSRC: no further SSRCs, no RTCP (the replay before 2026-12).")
    var rtpOnly = false

    func run() throws {
        let route: ReplayRun.Route
        switch (via, viaH323) {
        case (let via?, nil):
            guard let server = SocketAddress(hostAndPort: via) else {
                throw ValidationError("--via '\(via)' is not a numeric HOST:PORT such as 127.0.0.1:2223")
            }
            route = .ng(try NGClient(server: server))
        case (nil, let viaH323?):
            guard let node = SocketAddress(hostAndPort: viaH323) else {
                throw ValidationError("--via-h323 '\(viaH323)' is not a numeric HOST:PORT such as 127.0.0.1:1720")
            }
            route = .h323(node)
        default:
            throw ValidationError("give one of --via (a relay's NG address) and --via-h323 (a node's H.323 address)")
        }
        guard speed > 0, copies >= 1 else { throw ValidationError("--speed must be above 0 and --copies at least 1") }
        var options = ReplayRun.options(
            speed: speed, copies: copies, duration: duration, localIP: localIP, profile: profile)
        options.spinUntilDue = spin
        options.rtpOnly = rtpOnly
        let report = try ReplayRun.run(captures: captures, route: route, options: options)
        ReplayRun.printSummary(report)
        if let json { try ReplayRun.write(report.json, to: json) }
        if report.lost > 0 || report.corrupted > 0 { throw ExitCode(1) }
    }
}

/// The replay steps the `replay` and `demo` commands share.
enum ReplayRun {
    /// Where the replayed calls are set up.
    enum Route {
        /// Over NG, at a relay's NG address.
        case ng(NGClient)
        /// Over H.323, at a node's call-signalling address.
        case h323(SocketAddress)
    }

    static func options(
        speed: Double, copies: Int, duration: Double?, localIP: String, profile: String = "RTP/AVP"
    ) -> ReplayOptions {
        var options = ReplayOptions()
        options.defaultProfile = profile
        options.speed = speed
        options.copies = copies
        options.duration = duration
        options.localIP = localIP
        return options
    }

    /// Reads the captures, finds their calls, replays them with a progress bar on a terminal.
    static func run(captures: [String], route: Route, options: ReplayOptions) throws -> ReplayReport {
        var calls: [CapturedCall] = []
        for path in captures {
            let analysis = FlowAnalysis(try CaptureFile(path: path))
            guard !analysis.calls.isEmpty else {
                throw CaptureError(
                    path: path,
                    problem:
                        "holds no RTP flow (at least \(FlowAnalysis.minimumPackets) RTP packets of one SSRC between two addresses)"
                )
            }
            calls += analysis.calls
        }
        let showProgress = isatty(STDERR_FILENO) == 1
        let replayer =
            switch route {
            case .ng(let client): CaptureReplayer(calls: calls, via: client, options: options)
            case .h323(let node): CaptureReplayer(calls: calls, viaH323: node, options: options)
            }
        let report = try replayer.run { share in
            guard showProgress else { return }
            let width = 40
            let filled = Int(share * Double(width))
            let bar =
                "\r[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
                + "] \(Int(share * 100))%"
            writeToStandardError(share >= 1 ? bar + "\n" : bar)
        }
        return report
    }

    static func printSummary(_ report: ReplayReport) {
        let columns = [
            "call", "node", "hops", "direction", "stream", "sent", "received", "lost", "p50 us", "p99 us", "p99.9 us",
            "jitter ms",
        ]
        var rows: [[String]] = [columns]
        let placement = Dictionary(report.placements.map { ($0.callID, $0) }, uniquingKeysWith: { first, _ in first })
        for flow in report.flows {
            let landed = placement[flow.callID]
            rows.append([
                flow.callID, landed?.node ?? landed?.relayAddress ?? "-", "\(landed?.hops ?? 0)", flow.direction,
                flow.isRTCP
                    ? "rtcp from \(hex(flow.ssrc))" : "rtp \(hex(flow.ssrc)) pt \(flow.payloadType)",
                "\(flow.packetsSent)", "\(flow.packetsReceived)", "\(flow.lost)", "\(flow.latencyMicros.p50)",
                "\(flow.latencyMicros.p99)", "\(flow.latencyMicros.p999)",
                "\((flow.jitterMilliseconds * 100).rounded() / 100)",
            ])
        }
        let widths = columns.indices.map { column in rows.map { $0[column].count }.max()! }
        for row in rows {
            print(zip(row, widths).map { $0 + String(repeating: " ", count: $1 - $0.count) }.joined(separator: "  "))
        }
        print(
            "total: \(report.placements.count) calls, \(report.packetsSent) packets sent in \((report.sendingSeconds * 1000).rounded() / 1000) s "
                + "(\(Int(report.sendRate)) packets/s), \(report.packetsReceived) received, \(report.lost) lost, \(report.corrupted) corrupted"
        )
    }

    private static func hex(_ ssrc: UInt32) -> String {
        let digits = String(ssrc, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }

    static func write(_ text: String, to path: String) throws {
        guard let file = fopen(path, "w") else {
            throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        fputs(text, file)
        fclose(file)
    }
}

/// Writes text to standard error without buffering (for a progress bar).
func writeToStandardError(_ text: String) {
    var bytes = Array(text.utf8)
    _ = write(STDERR_FILENO, &bytes, bytes.count)
}

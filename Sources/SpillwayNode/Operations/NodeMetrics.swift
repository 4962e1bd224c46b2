import Cluster
import H323Edge
import MediaPlane
import Prometheus
import RTP
import ServiceEdge

/// A node's Prometheus metrics (`/metrics`), one registry per node.
///
/// Steering decision time and the hops of taken calls are recorded as they happen. Everything the
/// node already counts (media totals, call events, routing and RAS counters, workload, peers) is read
/// at each scrape: the hot path pays nothing for metrics, and counters follow the node's own totals,
/// each scrape adding what a total grew by.
final class NodeMetrics {
    let registry = PrometheusCollectorRegistry()
    /// From asking the steering policy for a node to its answer (a poll or the monitor's `locate`
    /// may be in between).
    let steeringDecision: DurationHistogram
    /// How many times each call admitted here had been forwarded before (0: received here
    /// first), by the protocol it arrived in (`ng`, `ras`, `h323`).
    private let callHops: [String: ValueHistogram]
    private var exported: [String: UInt64] = [:]

    init() {
        steeringDecision = registry.makeDurationHistogram(
            descriptor: Self.descriptor(
                "spillway_steering_decision_seconds", "Time to pick the node a new call spills to"),
            buckets: [
                .microseconds(50), .microseconds(200), .milliseconds(1), .milliseconds(5), .milliseconds(20),
                .milliseconds(100), .milliseconds(500),
            ])
        let registry = registry
        callHops = Dictionary(
            uniqueKeysWithValues: ["ng", "ras", "h323"].map { name in
                (
                    name,
                    registry.makeValueHistogram(
                        descriptor: Self.descriptor(
                            "spillway_call_hops", "Forwards a call went through before this node took it, by protocol"),
                        labels: [("protocol", name)], buckets: [0, 1, 2, 3, 4, 8])
                )
            })
    }

    /// Records the hops of a call admitted here that arrived in `protocolName`.
    func recordCallHops(_ hops: Int, protocol protocolName: String) {
        callHops[protocolName]?.record(Int64(hops))
    }

    /// The exposition text of the node as it is now.
    func exposition(of snapshot: NodeSnapshot) -> [UInt8] {
        exportMedia(snapshot.totalsByDirection)
        exportCalls(snapshot)
        exportRouting(snapshot.routing)
        if let ras = snapshot.ras { exportRAS(ras, policy: snapshot.policy) }
        if let h323 = snapshot.h323 { exportH323(h323, policy: snapshot.policy) }
        exportWorkload(snapshot)
        if let redis = snapshot.status.redis { exportCallStore(redis) }
        return registry.emitToBuffer()
    }

    private func exportCallStore(_ redis: NodeStatus.CallStore) {
        gauge(
            "spillway_redis_connected", "1 while the call store's Redis connection is up", [], redis.connected ? 1 : 0)
        gauge("spillway_redis_queue_depth", "Call-store writes waiting or unanswered", [], redis.queueDepth)
        let commands = "Call-store commands, by outcome"
        total("spillway_redis_commands_total", commands, [("outcome", "answered")], redis.answered)
        total("spillway_redis_commands_total", commands, [("outcome", "refused")], redis.refused)
        total("spillway_redis_commands_total", commands, [("outcome", "dropped")], redis.dropped)
        total("spillway_redis_full_writes_total", "Writes of every call to the call store", [], redis.fullWrites)
        total("spillway_redis_reconnections_total", "Call-store connections made again", [], redis.reconnections)
        total(
            "spillway_redis_owners_found_total", "Calls unknown here whose owner the call store named", [],
            redis.ownersFound)
        total(
            "spillway_redis_records_written_total", "Call records written to the call store", [], redis.recordsWritten)
        total(
            "spillway_redis_calls_released_total", "Calls released here because another node had taken them over", [],
            redis.released)
        total("spillway_takeovers_total", "Dead peers whose calls this node took over", [], redis.takeovers)
        total(
            "spillway_calls_restored_total", "Calls carried on here from their call-store records", [],
            redis.callsRestored)
        total(
            "spillway_call_restore_failures_total", "Calls of a dead peer that could not be carried on here", [],
            redis.restoreFailures)
    }

    private func exportMedia(_ totalsByDirection: [StreamStatistics]) {
        for (direction, totals) in zip(["from-caller", "from-callee"], totalsByDirection) {
            let labels = [("direction", direction)]
            total("spillway_rtp_packets_total", "RTP packets received", labels, totals.rtpPackets)
            total("spillway_rtp_bytes_total", "RTP bytes received", labels, totals.rtpBytes)
            total("spillway_rtcp_packets_total", "RTCP packets received", labels, totals.rtcpPackets)
            total("spillway_rtcp_bytes_total", "RTCP bytes received", labels, totals.rtcpBytes)
            total(
                "spillway_forwarded_packets_total", "RTP and RTCP packets sent on to the other party", labels,
                totals.forwardedPackets)
            total(
                "spillway_lost_packets_total", "RTP packets lost on the way to the relay (RFC 3550 A.3)", labels,
                totals.lost)
            for reason in PacketDropReason.allCases {
                total(
                    "spillway_dropped_packets_total", "Packets received and not forwarded, by reason",
                    labels + [("reason", reason.description)], totals.drops[reason] ?? 0)
            }
            total(
                "spillway_srtp_auth_failures_total", "SRTP/SRTCP packets that failed authentication", labels,
                totals.drops[.srtpAuthentication] ?? 0)
            let latchesHelp =
                "Media sources learned (latched) and moved to a new address (relatched); refusals are drops with reason not-latched"
            total("spillway_media_latches_total", latchesHelp, labels + [("event", "latched")], totals.latches)
            total("spillway_media_latches_total", latchesHelp, labels + [("event", "relatched")], totals.relatches)
        }
    }

    private func exportCalls(_ snapshot: NodeSnapshot) {
        let calls = snapshot.status.calls
        gauge("spillway_sessions", "Calls anchored on this node", [("anchored", "here")], calls.own)
        gauge("spillway_sessions", "Calls anchored on this node", [("anchored", "elsewhere")], calls.foreign)
        gauge(
            "spillway_transcoding_sessions", "Media streams running through a transcoder", [], calls.transcodingStreams)
        gauge("spillway_port_pairs_in_use", "Media port pairs allocated", [], calls.portPairsInUse)
        for interface in snapshot.status.interfaces {
            gauge(
                "spillway_interface_ports_in_use",
                "Media ports held by calls, per interface (the port range is shared)",
                [("interface", interface.name), ("address", interface.address)], interface.portsInUse)
        }
        gauge("spillway_port_pairs_capacity", "Media port pairs in the port range", [], calls.portPairCapacity)
        let events = snapshot.events
        total("spillway_offers_total", "NG offers carried out here", [], events.offers)
        total("spillway_answers_total", "NG answers carried out here", [], events.answers)
        total("spillway_deletes_total", "NG deletes carried out here", [], events.deletes)
        total("spillway_media_timeouts_total", "Calls ended for lack of media", [], events.mediaTimeouts)
        total("spillway_port_exhaustions_total", "Offers refused for want of media ports", [], events.portExhaustions)
    }

    private func exportRouting(_ routing: RoutingCounters) {
        for mode in SteeringMode.allCases {
            total(
                Self.spills, Self.spillsHelp, [("policy", mode.rawValue), ("protocol", "ng")],
                routing.placements.spills[mode] ?? 0)
        }
        total(
            Self.refusals, Self.refusalsHelp, [("protocol", "ng"), ("reason", "all-busy")], routing.placements.allBusy)
        total(
            "spillway_forwards_total", "Requests forwarded to other nodes", [("direction", "sent")],
            routing.forwards.sent)
        total(
            "spillway_forwards_total", "Requests forwarded to other nodes", [("direction", "received")],
            routing.forwards.received)
        total(
            "spillway_forward_timeouts_total", "Forwarded requests the target did not answer in time", [],
            routing.forwards.timeouts)
        total(
            "spillway_proxied_commands_total", "Commands for calls anchored elsewhere, passed to their node", [],
            routing.proxied)
        let ng = "NG datagrams not carried out, by reason"
        total("spillway_ng_dropped_total", ng, [("reason", "client-not-allowed")], routing.ng.refusedClients)
        total("spillway_ng_dropped_total", ng, [("reason", "no-cookie")], routing.ng.unframed)
        total("spillway_ng_dropped_total", ng, [("reason", "malformed-bencode")], routing.ng.malformed)
        total(
            "spillway_ng_retransmissions_total", "NG requests received again, answered from the reply cache", [],
            routing.ng.retransmissions)
    }

    private static let spills = "spillway_spills_total"
    private static let spillsHelp = "New calls sent to another node, by policy and protocol"
    private static let refusals = "spillway_refusals_total"
    private static let refusalsHelp = "New calls refused because every node tried was busy, by protocol"

    private func exportRAS(_ ras: RASCounters, policy: SteeringMode) {
        total(Self.spills, Self.spillsHelp, [("policy", policy.rawValue), ("protocol", "ras")], ras.forwarded)
        total(Self.refusals, Self.refusalsHelp, [("protocol", "ras"), ("reason", "all-busy")], ras.allBusy)
        for (message, count) in ras.received {
            total(
                "spillway_ras_received_total", "H.225.0 RAS messages decoded, by message", [("message", message)], count
            )
        }
        let outcomes: [(String, UInt64)] = [
            ("admitted", ras.admitted), ("forwarded", ras.forwarded), ("forward-timeout", ras.forwardTimeouts),
            ("all-busy", ras.allBusy), ("hop-limit", ras.hopLimit), ("not-registered", ras.notRegistered),
            ("malformed", ras.malformed), ("unsupported", ras.unsupported), ("retransmission", ras.retransmissions),
            ("late-answer", ras.lateAnswers), ("workload-report", ras.reportsReceived),
        ]
        for (outcome, count) in outcomes {
            total(
                "spillway_ras_outcomes_total", "What became of RAS messages, by outcome", [("outcome", outcome)], count)
        }
    }

    private func exportH323(_ h323: H323Counters, policy: SteeringMode) {
        total(
            Self.spills, Self.spillsHelp, [("policy", policy.rawValue), ("protocol", "h323")],
            h323.spills.values.reduce(0, +))
        total(Self.refusals, Self.refusalsHelp, [("protocol", "h323"), ("reason", "all-busy")], h323.allBusy)
        total("spillway_h323_calls_routed_total", "H.323 Setups relayed to their destination", [], h323.callsRouted)
        total(
            "spillway_h323_calls_refused_total", "H.323 Setups the node answered with ReleaseComplete itself", [],
            h323.callsRefused)
        for (how, count) in h323.callsEnded {
            total("spillway_h323_calls_ended_total", "H.323 calls ended, by how", [("how", how)], count)
        }
        total(
            "spillway_h323_messages_relayed_total", "Q.931 messages relayed between the sides of H.323 calls", [],
            h323.messagesRelayed)
        total(
            "spillway_h323_h245_messages_relayed_total", "H.245 messages relayed on separate H.245 connections", [],
            h323.h245MessagesRelayed)
        for (reason, count) in h323.dropped {
            total(
                "spillway_h323_dropped_total", "H.323 signalling refused or not relayed, by reason",
                [("reason", reason)], count)
        }
    }

    private func exportWorkload(_ snapshot: NodeSnapshot) {
        let status = snapshot.status
        gauge("spillway_load", "Highest usage/capacity ratio over the limited resources", [], status.load)
        gauge("spillway_threshold", "Load below which new calls are taken (0 drains)", [], status.threshold)
        gauge("spillway_admits_new_calls", "1 when a new call would be taken here now", [], status.admits ? 1 : 0)
        gauge("spillway_draining", "1 while the node drains for shutdown", [], status.draining ? 1 : 0)
        gauge(
            "spillway_packet_rate", "Media packets per second received over the last interval", [], snapshot.packetRate)
        gauge("spillway_bit_rate", "Media bits per second received over the last interval", [], snapshot.bitRate)
        gauge("spillway_worker_cpu", "Busy share of the media workers over the last interval", [], snapshot.cpu)
        let dataPlane = status.dataPlane
        total("spillway_worker_packets_total", "Media packets the media workers received", [], dataPlane.workerPackets)
        total(
            "spillway_kernel_forwarded_packets_total", "Media packets the kernel fast path forwarded", [],
            dataPlane.kernelPackets)
        for peer in status.peers {
            let labels = [("peer", peer.id)]
            gauge(
                "spillway_peer_up", "1 while the peer's latest report is fresh and it is not marked down", labels,
                peer.state == "up" ? 1 : 0)
            if let load = peer.load {
                gauge("spillway_peer_load", "The peer's load in its latest report", labels, load)
            }
            if let threshold = peer.threshold {
                gauge("spillway_peer_threshold", "The peer's threshold in its latest report", labels, threshold)
            }
            if let age = peer.reportAgeMilliseconds {
                gauge("spillway_peer_report_age_seconds", "Age of the peer's latest report", labels, Double(age) / 1000)
            }
        }
    }

    /// Brings a Prometheus counter up to a total the node keeps.
    private func total(_ name: String, _ help: String, _ labels: [(String, String)], _ value: UInt64) {
        let key = "\(name)\(labels)"
        let previous = exported[key] ?? 0
        let counter = registry.makeCounter(descriptor: Self.descriptor(name, help), labels: labels)
        if value > previous { counter.increment(by: Int64(value - previous)) }
        exported[key] = max(previous, value)
    }

    private func gauge(_ name: String, _ help: String, _ labels: [(String, String)], _ value: some BinaryInteger) {
        gauge(name, help, labels, Double(value))
    }

    private func gauge(_ name: String, _ help: String, _ labels: [(String, String)], _ value: Double) {
        registry.makeGauge(descriptor: Self.descriptor(name, help), labels: labels).set(to: value)
    }

    private static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}

import Bencode
import CSpillwayShims
import Capture
import Histogram
import MediaPlane
import RTP

#if canImport(Glibc)
import Glibc
#endif

/// How a capture is replayed.
public struct ReplayOptions: Sendable {
    /// Playback speed: 2 plays twice as fast as captured.
    public var speed = 1.0
    /// Concurrent copies of every captured call, each a call of its own at the relay.
    public var copies = 1
    /// Stop sending after this many seconds of replay (nil: the whole capture).
    public var duration: Double?
    /// Where the replay's own media sockets bind (the relay's far side receives here too).
    public var localIP = "127.0.0.1"
    /// How long to keep receiving after the last packet was sent.
    public var drainSeconds = 0.5
    /// Spin until each send is due instead of sleeping in epoll: exact pacing, but the replay then
    /// keeps a core busy, so use it only on a core of its own (benchmarks).
    public var spinUntilDue = false
    /// The transport profile to offer when the capture's SDP does not give one (e.g. `RTP/SAVP`
    /// for an SRTP capture without signalling, so the relay passes it through as SRTP).
    public var defaultProfile = "RTP/AVP"
    /// Replay only the dominant SSRC's RTP of each direction, as before: no further SSRCs, no RTCP.
    public var rtpOnly = false

    public init() {}
}

/// Replays captured calls through a relay: sets each one up, over NG (an offer from the caller's
/// sockets, an answer from the callee's) or over H.323 (`H323ReplaySignalling`), with a socket
/// pair per captured stream; sends every captured RTP packet (every SSRC) and RTCP packet at its
/// captured time (scaled by the speed) from the side that sent it, receives on the far side, and
/// checks each packet arrived intact. Over NG, RTCP goes multiplexed on the RTP port
/// (`a=rtcp-mux`); over H.323, to the relay's RTCP address, from and to the RTP sockets.
/// Single-threaded: one epoll loop over all the replay's sockets.
public final class CaptureReplayer {
    private let calls: [CapturedCall]
    private let signalling: any ReplaySignalling
    private let options: ReplayOptions
    private var legs: [ReplayLeg] = []
    private var replayed: [ReplayedCall] = []
    /// Monotonic times of the first and the last packet sent.
    private var sendingSpan: (first: UInt64, last: UInt64) = (0, 0)
    /// Relay latency of every packet of every flow.
    private let totalLatency = LatencyHistogram()

    /// A replay setting its calls up over NG through `client`.
    public convenience init(calls: [CapturedCall], via client: NGClient, options: ReplayOptions) {
        self.init(calls: calls, signalling: NGReplaySignalling(client: client, options: options), options: options)
    }

    /// A replay setting its calls up over H.323 through the call-signalling port at `node`. Every
    /// call must come from a capture with its H.323 signalling.
    public convenience init(calls: [CapturedCall], viaH323 node: SocketAddress, options: ReplayOptions) {
        self.init(
            calls: calls, signalling: H323ReplaySignalling(node: node, localIP: options.localIP), options: options)
    }

    private init(calls: [CapturedCall], signalling: any ReplaySignalling, options: ReplayOptions) {
        self.calls = calls
        self.signalling = signalling
        self.options = options
    }

    /// Sets every call up, replays, and reports. `progress` gets the share of packets sent so far.
    public func run(progress: ((Double) -> Void)? = nil) throws -> ReplayReport {
        defer { replayed.forEach(signalling.tearDown) }
        try setUpCalls()
        let schedule = makeSchedule()
        try play(schedule, progress: progress)
        return ReplayReport(
            flows: legs.flatMap(\.reports), placements: replayed.map(\.placement),
            sendingSeconds: Double(sendingSpan.last - sendingSpan.first) / 1e9, latencyMicros: totalLatency.summary)
    }

    // MARK: - Set-up

    /// The captured calls, each with its streams (a call with audio and video has two), in capture order.
    private var callsWithStreams: [(name: String, streams: [CapturedCall])] {
        let byName = Dictionary(grouping: calls, by: \.name)
        var seen: Set<String> = []
        return calls.filter { seen.insert($0.name).inserted }.map { ($0.name, byName[$0.name]!) }
    }

    private func setUpCalls() throws {
        for copy in 0..<options.copies {
            for (name, streams) in callsWithStreams {
                let callID = options.copies == 1 ? name : "\(name)#\(copy + 1)"
                let callers = try streams.map { _ in try UDPPeer(bindingTo: options.localIP) }
                let callees = try streams.map { _ in try UDPPeer(bindingTo: options.localIP) }
                let call = try signalling.setUp(callID, streams: streams, callers: callers, callees: callees)
                replayed.append(call)
                for (index, stream) in streams.enumerated() {
                    let clockRate = stream.encoding?.clockRate ?? 8000
                    for flow in options.replayedFlows(of: stream) {
                        let isForward = stream.isForward(flow)
                        let target = isForward ? call.relayForCaller[index] : call.relayForCallee[index]
                        legs.append(
                            ReplayLeg(
                                callID: callID, copy: copy, direction: isForward ? "forward" : "backward", flow: flow,
                                sender: isForward ? callers[index] : callees[index],
                                receiver: isForward ? callees[index] : callers[index],
                                destination: flow.isRTCP ? target.rtcp : target.rtp, clockRate: clockRate,
                                speed: options.speed, total: totalLatency))
                    }
                }
            }
        }
    }

    // MARK: - Playing

    private struct Send {
        var offsetNanos: UInt64
        var leg: Int
        var packet: Int
    }

    private func makeSchedule() -> [Send] {
        let firstTime = legs.flatMap { $0.flow.packets.map(\.timeNanos) }.min() ?? 0
        var sends: [Send] = []
        for (legIndex, leg) in legs.enumerated() {
            // Copies start staggered over one packet interval, so they do not all send at once.
            let stagger = UInt64(20_000_000 / max(1, options.copies) * leg.copy)
            for (packetIndex, packet) in leg.flow.packets.enumerated() {
                let offset = UInt64(Double(packet.timeNanos - firstTime) / options.speed) + stagger
                if let duration = options.duration, Double(offset) / 1e9 > duration { break }
                sends.append(Send(offsetNanos: offset, leg: legIndex, packet: packetIndex))
            }
        }
        return sends.sorted { ($0.offsetNanos, $0.leg, $0.packet) < ($1.offsetNanos, $1.leg, $1.packet) }
    }

    private func play(_ schedule: [Send], progress: ((Double) -> Void)?) throws {
        let poller = spw_epoll_create()
        defer { close(poller) }
        for leg in legs { _ = spw_epoll_add(poller, leg.receiver.descriptor, UInt64(leg.receiver.descriptor)) }
        let legsByReceiver = Dictionary(grouping: legs.indices, by: { legs[$0].receiver.descriptor })
        var tokens = [UInt64](repeating: 0, count: 64)
        var events = [UInt32](repeating: 0, count: 64)
        var buffer = [UInt8](repeating: 0, count: 65536)
        let start = spw_monotonic_nanos() + 20_000_000
        var next = 0
        var lastProgress = 0
        let drainNanos = UInt64(options.drainSeconds * 1e9)
        var finishedAt: UInt64?
        while true {
            let now = spw_monotonic_nanos()
            while next < schedule.count, start + schedule[next].offsetNanos <= now {
                let send = schedule[next]
                let sentAt = spw_monotonic_nanos()
                legs[send.leg].send(send.packet, now: sentAt)
                if next == 0 { sendingSpan.first = sentAt }
                sendingSpan.last = sentAt
                next += 1
            }
            if let progress, next * 100 / max(1, schedule.count) != lastProgress {
                lastProgress = next * 100 / max(1, schedule.count)
                progress(Double(next) / Double(max(1, schedule.count)))
            }
            if next == schedule.count, finishedAt == nil { finishedAt = now }
            if let finishedAt, now - finishedAt >= drainNanos || legs.allSatisfy(\.isComplete) { break }
            let wait: UInt64 =
                next < schedule.count ? (start + schedule[next].offsetNanos).subtractingClamped(now) : drainNanos
            // By default sleep in epoll (woken by any arrival) rather than spin: a spinning generator
            // takes the core from a relay sharing it. Sends may then go up to 1 ms late; latency is
            // timed from the real send, so only the pacing feels it.
            let sleepThreshold: UInt64 = options.spinUntilDue ? 1_000_000 : 100_000
            let timeout: Int32 =
                wait < sleepThreshold ? 0 : Int32(min((options.spinUntilDue ? wait : wait + 999_999) / 1_000_000, 100))
            let ready = spw_epoll_wait(poller, &tokens, &events, 64, timeout)
            for position in 0..<max(0, Int(ready)) {
                let descriptor = Int32(tokens[position])
                while true {
                    let count = recv(descriptor, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                    guard count > 0 else { break }
                    let arrival = spw_monotonic_nanos()
                    let bytes = buffer[..<count]
                    for legIndex in legsByReceiver[descriptor] ?? [] where legs[legIndex].accepts(bytes) {
                        legs[legIndex].receive(bytes, arrival: arrival)
                        break
                    }
                }
            }
        }
        progress?(1)
    }
}

/// One captured flow of one call copy: sent from one replay socket, received on the other.
final class ReplayLeg {
    let callID: String
    let copy: Int
    let direction: String
    let flow: MediaFlow
    let sender: UDPPeer
    let receiver: UDPPeer
    let destination: SocketAddress
    let clockRate: Int
    /// Arrival times are scaled back by the playback speed, so jitter is judged against the captured pacing.
    let speed: Double
    private var sentAt: [UInt64]
    private var receivedCount: [Int]
    /// Where a received datagram is in the flow: RTP by sequence number, RTCP by its bytes.
    private let indexBySequence: [UInt16: Int]
    private let indexByContent: [[UInt8]: Int]
    private let latency = LatencyHistogram()
    private let total: LatencyHistogram
    private var reception = ReceptionStatistics()
    private var highestIndex = -1
    private(set) var sent = 0
    /// Send attempts, and packets received at least once: kept as they happen, since the replay
    /// loop asks `isComplete` on every wake while draining.
    private var attempted = 0
    private var distinctReceived = 0
    private var reordered = 0
    private var corrupted = 0
    private var framesDelivered = 0

    init(
        callID: String, copy: Int, direction: String, flow: MediaFlow, sender: UDPPeer, receiver: UDPPeer,
        destination: SocketAddress, clockRate: Int, speed: Double, total: LatencyHistogram
    ) {
        self.callID = callID
        self.copy = copy
        self.direction = direction
        self.flow = flow
        self.sender = sender
        self.receiver = receiver
        self.destination = destination
        self.clockRate = clockRate
        self.speed = speed
        self.total = total
        sentAt = Array(repeating: 0, count: flow.packets.count)
        receivedCount = Array(repeating: 0, count: flow.packets.count)
        var bySequence: [UInt16: Int] = [:]
        var byContent: [[UInt8]: Int] = [:]
        for (position, packet) in flow.packets.enumerated() {
            if flow.isRTCP {
                if byContent[packet.payload] == nil { byContent[packet.payload] = position }
            } else if let sequence = Self.header(packet.payload[...])?.sequenceNumber, bySequence[sequence] == nil {
                bySequence[sequence] = position
            }
        }
        indexBySequence = bySequence
        indexByContent = byContent
    }

    func send(_ index: Int, now: UInt64) {
        sentAt[index] = now
        attempted += 1
        if sender.send(flow.packets[index].payload, to: destination) { sent += 1 }
    }

    /// The RTP header of a datagram; nil when it is not RTP.
    private static func header(_ bytes: ArraySlice<UInt8>) -> RTPHeader? {
        bytes.withUnsafeBytes { try? RTPHeader.parse($0).get() }
    }

    /// Whether a received datagram belongs to this flow: RTP by SSRC, RTCP by being one of its packets.
    func accepts(_ bytes: ArraySlice<UInt8>) -> Bool {
        let isRTCP = bytes.withUnsafeBytes { RTCP.isMultiplexedRTCP($0) }
        guard flow.isRTCP else { return !isRTCP && Self.header(bytes)?.ssrc == flow.ssrc }
        return isRTCP && indexByContent[Array(bytes)] != nil
    }

    func receive(_ bytes: ArraySlice<UInt8>, arrival: UInt64) {
        if flow.isRTCP {
            guard let index = indexByContent[Array(bytes)], sentAt[index] > 0 else {
                corrupted += 1
                return
            }
            record(index, arrival: arrival)
            return
        }
        guard let header = Self.header(bytes), let index = indexBySequence[header.sequenceNumber], sentAt[index] > 0
        else {
            corrupted += 1
            return
        }
        guard bytes.elementsEqual(flow.packets[index].payload) else {
            corrupted += 1
            return
        }
        guard record(index, arrival: arrival) else { return }
        if header.marker { framesDelivered += 1 }
        reception.record(
            ssrc: flow.ssrc, sequenceNumber: header.sequenceNumber, timestamp: header.timestamp,
            arrival: UInt32(truncatingIfNeeded: UInt64(Double(arrival) * speed / 1000) * UInt64(clockRate) / 1_000_000))
    }

    /// Counts the arrival of packet `index`; returns whether it is its first.
    @discardableResult
    private func record(_ index: Int, arrival: UInt64) -> Bool {
        receivedCount[index] += 1
        guard receivedCount[index] == 1 else { return false }
        distinctReceived += 1
        if index < highestIndex { reordered += 1 }
        highestIndex = max(highestIndex, index)
        latency.record((arrival - sentAt[index]) / 1000)
        total.record((arrival - sentAt[index]) / 1000)
        return true
    }

    var isComplete: Bool { sent > 0 && distinctReceived == sent && sent == attempted }

    var reports: [ReplayReport.Flow] {
        let received = distinctReceived
        let framesSent = zip(flow.packets, sentAt).count { packet, time in
            time > 0 && Self.header(packet.payload[...])?.marker == true
        }
        return [
            ReplayReport.Flow(
                callID: callID, direction: direction, isRTCP: flow.isRTCP, ssrc: flow.ssrc,
                payloadType: flow.payloadType, packetsSent: sent,
                packetsReceived: received, lost: sent - received,
                duplicated: receivedCount.reduce(0) { $0 + max(0, $1 - 1) },
                reordered: reordered, corrupted: corrupted,
                latencyMicros: latency.summary,
                jitterMilliseconds: Double(reception.jitter) * 1000 / Double(clockRate), framesSent: framesSent,
                framesDelivered: framesDelivered)
        ]
    }
}

/// Microsecond latencies in an HDR histogram (up to 60 s, three significant digits).
final class LatencyHistogram {
    private var histogram = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)

    func record(_ micros: UInt64) { _ = histogram.record(micros) }

    var summary: ReplayReport.Latency {
        ReplayReport.Latency(
            p50: histogram.valueAtPercentile(50), p99: histogram.valueAtPercentile(99),
            p999: histogram.valueAtPercentile(99.9),
            max: histogram.max)
    }
}

extension UInt64 {
    fileprivate func subtractingClamped(_ other: UInt64) -> UInt64 { self > other ? self - other : 0 }
}

/// Why a replay could not run.
public enum ReplayError: Error, CustomStringConvertible {
    case refused(callID: String, reply: BencodeValue)
    /// An H.323 replay of a call whose capture holds no H.323 signalling for it.
    case noH323Signalling(callID: String)
    /// The H.323 exchange setting a call up failed.
    case h323(callID: String, problem: String)

    public var description: String {
        switch self {
        case .refused(let callID, let reply):
            let reason = reply["error-reason"]?.stringValue ?? reply["message"]?.stringValue ?? "\(reply)"
            return "the relay refused replayed call \(callID): \(reason)"
        case .noH323Signalling(let callID):
            return "call \(callID) cannot be replayed over H.323: the capture holds no H.323 signalling for its media "
                + "(a Setup or Connect with fastStart, or H.245 OpenLogicalChannel and Ack); replay it over NG with --via"
        case .h323(let callID, let problem):
            return "replayed H.323 call \(callID): \(problem)"
        }
    }
}

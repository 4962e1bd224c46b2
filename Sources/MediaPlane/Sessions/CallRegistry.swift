import CSpillwayShims
import Codecs
import Logging
import SDP
import SRTP

#if canImport(Glibc)
import Glibc
#endif

/// The calls a node anchors, and the offer/answer logic that sets up their media.
///
/// An offer allocates a port pair per m= line on both legs, records where the offerer receives, and
/// returns the SDP for the recipient pointing at the relay; the answer completes the recipient's
/// side and returns the SDP for the offerer. Every call's sides live on one media worker.
///
/// Not thread-safe: the control plane drives it from one thread (the NG event loop).
public final class CallRegistry {
    /// The address the relay binds its media sockets to and writes into SDP.
    /// Where the media sockets bind and what the SDP names, per party.
    /// The configured interfaces, then those of calls taken over from other nodes.
    public internal(set) var interfaces: MediaInterfaces
    private var ports: PortAllocator
    /// The data plane the calls run on.
    public let workers: WorkerPool
    let logger: Logger
    var calls: [String: Call] = [:]
    /// Port pairs of calls taken over from another node: bound on that node's media IP, outside
    /// the allocator (whose ports are this node's).
    var adoptedPairs = 0
    /// What deleted and expired calls carried, by direction (index: the sending leg).
    private var finishedTotalsByDirection = [StreamStatistics(), StreamStatistics()]
    /// Ports of ended calls, returned to the allocator once their worker has closed the sockets:
    /// releasing them earlier would let a new call fail to bind a port still held.
    private var closingPorts: [(removal: SideRemoval, port: UInt16?)] = []
    public private(set) var events = CallEventCounters()

    /// Opens a recording for a call id; nil when this node does not record.
    public typealias RecorderFactory = (_ callID: String) throws(CallError) -> any PacketRecorder

    /// Told of every call that ends here (deleted or timed out), after its media is freed.
    public typealias CallEndObserver = (_ callID: String, _ reason: CallEndReason) -> Void
    private var callEndObservers: [CallEndObserver] = []
    let makeRecorder: RecorderFactory?
    /// How long a latched source must be silent before its stream may move to a new address.
    private let relatchSilenceNanos: UInt64
    /// The Opus encoder settings transcoded calls start from.
    private let opusDefaults: OpusEncoderSettings

    public init(
        interfaces: MediaInterfaces, portRange: ClosedRange<UInt16>, workers: WorkerPool, logger: Logger,
        relatchSilence: Duration = .seconds(1), opusDefaults: OpusEncoderSettings = OpusEncoderSettings(),
        makeRecorder: RecorderFactory? = nil
    ) {
        self.makeRecorder = makeRecorder
        self.opusDefaults = opusDefaults
        self.relatchSilenceNanos =
            UInt64(relatchSilence.components.seconds) * 1_000_000_000
            + UInt64(relatchSilence.components.attoseconds / 1_000_000_000)
        self.interfaces = interfaces
        self.ports = PortAllocator(range: portRange)
        self.workers = workers
        self.logger = logger
    }

    /// Tells `observer` of every call that ends here from now on: how signalling that is not NG
    /// (H.323) learns that its call is gone, and how the call store forgets it.
    public func whenCallEnds(_ observer: @escaping CallEndObserver) {
        callEndObservers.append(observer)
    }

    public var activeCallCount: Int { calls.count }
    public var callIDs: [String] { Array(calls.keys) }
    /// Whether `callID` is anchored here.
    public func hasCall(_ callID: String) -> Bool { calls[callID] != nil }
    /// Port pairs bound, including those of ended calls whose sockets a worker has not closed yet.
    public var portPairsInUse: Int {
        releaseClosedPorts()
        return ports.pairsInUse + adoptedPairs
    }
    public var portPairCapacity: Int { ports.capacity }

    /// Each interface with the port pairs its calls' sides hold (the range is shared; pairs of
    /// ended calls still closing are in `portPairsInUse` only).
    public var portPairsInUseByInterface: [(interface: MediaInterface, portPairs: Int)] {
        var counts = [Int](repeating: 0, count: interfaces.all.count)
        for call in calls.values {
            for media in call.allMedia { counts[media.interface] += 1 }
        }
        return zip(interfaces.all, counts).map { ($0, $1) }
    }

    // MARK: - Offer and answer

    /// Applies an offer from the party tagged `fromTag` and returns the SDP for the recipient.
    public func offer(
        callID: String, fromTag: String, sdp: String, options: NegotiationOptions
    ) throws(CallError) -> String {
        var description = try Self.parseWithMedia(sdp)
        let existing = calls[callID]
        let call = existing ?? Call(id: callID, worker: workers.workerForNewCall(), offererTag: fromTag)
        guard let offerer = call.legIndex(tag: fromTag) else {
            throw .unknownTag(fromTag, callID: callID)
        }
        let recipient = 1 - offerer
        let endpoints = try advertisedEndpoints(of: description, options: options)
        if existing == nil {
            let facing = try interfaces.forNewCall(
                direction: options.direction, addressFamily: options.addressFamily,
                offererFamily: endpoints.lazy.compactMap { $0 }.first.map { $0.rtp.isIPv6 ? .ipv6 : .ipv4 })
            call.legs[offerer].interface = facing.offerer
            call.legs[recipient].interface = facing.recipient
        }
        // SDES is settled before anything is allocated: an offer SRTP cannot be agreed for changes nothing.
        var securityPlans: [OfferSecurityPlan?] = []
        for (index, section) in description.media.enumerated() {
            guard endpoints[index] != nil else {
                securityPlans.append(nil)
                continue
            }
            securityPlans.append(
                try OfferSecurityPlan(
                    section: section, index: index + 1, options: options,
                    offerer: call.legs[offerer].media(at: index)?.security,
                    recipient: call.legs[recipient].media(at: index)?.security))
        }
        // So are the codec options: an offer that leaves no codec, or asks for one that cannot be made, changes nothing.
        var codecOffers: [Int: CodecOffer] = [:]
        if !options.codecs.isEmpty {
            var codecs = options.codecs
            codecs.opusDefaults = opusDefaults
            for (index, section) in description.media.enumerated() where endpoints[index] != nil {
                codecOffers[index] = try CodecOffer(section: section, index: index + 1, options: codecs)
            }
        }
        let clockRates = Self.clockRates(of: description)
        for leg in call.legs.indices {
            while call.legs[leg].media.count < description.media.count { call.legs[leg].media.append(nil) }
        }
        try allocateMedia(
            for: call,
            streams: description.media.enumerated().compactMap { index, section in
                guard section.port != 0, section.isRTP else { return nil }
                return StreamNeed(index: index, type: section.media, proto: section.proto, clockRate: clockRates[index])
            })
        call.codecOffers = codecOffers

        for (index, endpoint) in endpoints.enumerated() {
            guard let endpoint, let security = securityPlans[index],
                var offererMedia = call.legs[offerer].media[index],
                var recipientMedia = call.legs[recipient].media[index]
            else { continue }
            offererMedia.proto = description.media[index].proto
            offererMedia.security = security.offerer
            recipientMedia.proto = security.recipientProto
            recipientMedia.security = security.recipient
            offererMedia.advertisedRTP = endpoint.rtp
            offererMedia.advertisedRTCP = endpoint.rtcp
            offererMedia.rtcpMux = endpoint.offersMux && !options.rtcpMux.contains(.reject)
            if let latching = options.latching { offererMedia.latching = latching }
            let offerMuxToRecipient =
                options.rtcpMux.contains(.offer) || (endpoint.offersMux && !options.rtcpMux.contains(.demux))
            if let latching = options.latching { recipientMedia.latching = latching }
            call.legs[offerer].media[index] = offererMedia
            call.legs[recipient].media[index] = recipientMedia
            rewrite(
                &description.media[index], towards: recipientMedia, on: call.legs[recipient],
                rtcpMux: offerMuxToRecipient,
                offering: true, options: options)
            if let crypto = security.recipientCrypto {
                description.media[index].setCryptoAttributes(crypto, padded: options.sdes.padKeys)
            }
            if let codecOffer = codecOffers[index] {
                description.media[index].setPayloadFormats(codecOffer.recipientFormats)
            }
            install(offererMedia, opposite: recipientMedia, recorder: call.recorder)
            install(recipientMedia, opposite: offererMedia, recorder: call.recorder)
        }
        rewriteSessionLevel(&description, towards: call.legs[recipient], options: options)
        call.lastSignalNanos = spw_monotonic_nanos()
        if existing == nil {
            calls[callID] = call
            logger.info("call created", metadata: ["call-id": "\(callID)", "worker": "\(call.worker)"])
        }
        events.offers += 1
        call.legs[recipient].sdpSent = description.text
        return description.text
    }

    /// Applies the answer of the party tagged `toTag` and returns the SDP for the offerer (`fromTag`).
    public func answer(
        callID: String, fromTag: String, toTag: String, sdp: String, options: NegotiationOptions
    ) throws(CallError) -> String {
        guard let call = calls[callID] else { throw .unknownCall(callID) }
        var description = try Self.parseWithMedia(sdp)
        let answerer: Int
        if let index = call.legIndex(tag: toTag) {
            answerer = index
        } else if let pending = call.legs.firstIndex(where: { $0.tag == nil }) {
            call.legs[pending].tag = toTag
            answerer = pending
        } else {
            throw .unknownTag(toTag, callID: callID)
        }
        let offerer = 1 - answerer
        guard description.media.count <= call.legs[answerer].media.count else {
            throw .answerHasExtraMedia(answered: description.media.count, offered: call.legs[answerer].media.count)
        }
        let endpoints = try advertisedEndpoints(of: description, options: options)
        // The answerer's SDES keys are agreed before anything changes: an answer that refuses SRTP
        // leaves the call as the offer set it up.
        var agreedSecurity: [Int: MediaSecurity] = [:]
        for (index, section) in description.media.enumerated() where section.port != 0 {
            guard case .sdes(var side) = call.legs[answerer].media(at: index)?.security else { continue }
            try side.acceptAnswer(cryptoLines: section.attributes(named: "crypto").compactMap { $0 }, index: index + 1)
            agreedSecurity[index] = .sdes(side)
        }
        // Transcoding is decided (and its codecs set up) before anything changes too.
        var transcodings: [Int: (plan: StreamTranscoding, offerer: TranscodingStage, answerer: TranscodingStage)] = [:]
        for (index, section) in description.media.enumerated() where section.port != 0 {
            guard let plan = call.codecOffers[index]?.transcoding(answer: section.payloadFormats) else { continue }
            transcodings[index] = (plan, try plan.offererStage(), try plan.answererStage())
        }

        for (index, endpoint) in endpoints.enumerated() {
            guard var answererMedia = call.legs[answerer].media[index],
                var offererMedia = call.legs[offerer].media[index]
            else { continue }
            if let security = agreedSecurity[index] { answererMedia.security = security }
            // The answerer sends its answer's first codec: measure its jitter in that codec's clock.
            if let rate = Self.firstClockRate(of: description.media[index]) { answererMedia.counters.clockRate = rate }
            let transcoding = transcodings[index]
            answererMedia.transcoding = transcoding?.answerer
            offererMedia.transcoding = transcoding?.offerer
            call.legs[offerer].media[index] = offererMedia
            if let endpoint {
                answererMedia.advertisedRTP = endpoint.rtp
                answererMedia.advertisedRTCP = endpoint.rtcp
                answererMedia.rtcpMux = endpoint.offersMux
            } else {
                answererMedia.advertisedRTP = .unset
                answererMedia.advertisedRTCP = .unset
            }
            if let latching = options.latching { answererMedia.latching = latching }
            call.legs[answerer].media[index] = answererMedia
            rewrite(
                &description.media[index], towards: offererMedia, on: call.legs[offerer], rtcpMux: offererMedia.rtcpMux,
                offering: false, options: options)
            if let transcoding {
                // The offerer hears its own codec: the answer names it, at the 20 ms the relay packetises.
                description.media[index].setPayloadFormats(transcoding.plan.answerFormatsForOfferer)
                description.media[index].removeAttributes { $0 == "maxptime" }
                description.media[index].setAttribute("ptime", value: "20")
            }
            switch offererMedia.security {
            case .sdes(let side):
                description.media[index].setCryptoAttributes(
                    side.relayKey.map { [$0] } ?? [], padded: options.sdes.padKeys)
            case .plain:
                description.media[index].setCryptoAttributes([], padded: false)
            case .passThrough:
                break
            }
            install(answererMedia, opposite: offererMedia, recorder: call.recorder)
            install(offererMedia, opposite: answererMedia, recorder: call.recorder)
        }
        rewriteSessionLevel(&description, towards: call.legs[offerer], options: options)
        call.lastSignalNanos = spw_monotonic_nanos()
        events.answers += 1
        call.legs[offerer].sdpSent = description.text
        return description.text
    }

    // MARK: - Streams signalled without SDP

    /// Anchors one media stream of a call whose signalling is not SDP (an H.323 logical channel,
    /// by its H.245 session): makes sure both legs have a port pair for stream `index`, records
    /// where the party on `leg` (0: the caller, 1: the callee) receives, when the message named
    /// it, and returns the relay's RTP port facing the other party (RTCP is the next port).
    /// `codec`, when given, names what the party on leg `codec.sender` sends, for `query`. The
    /// call is created by its first stream, and carries the same workers, latching, statistics,
    /// media timeout and recording as an NG call.
    public func anchorStream(
        callID: String, index: Int, type: String, clockRate: UInt32, leg: Int, receivesRTPAt rtp: SocketAddress?,
        rtcp: SocketAddress?, codec: (name: String, sender: Int)? = nil
    ) throws(CallError) -> UInt16 {
        precondition(leg == 0 || leg == 1, "a call has two legs")
        let existing = calls[callID]
        let call = existing ?? Call(id: callID, worker: workers.workerForNewCall(), offererTag: "caller")
        call.legs[1].tag = "callee"
        try allocateMedia(
            for: call, streams: [StreamNeed(index: index, type: type, proto: "RTP/AVP", clockRate: clockRate)])
        guard var own = call.legs[leg].media[index], let opposite = call.legs[1 - leg].media[index] else {
            preconditionFailure("allocateMedia gives both legs the stream")
        }
        if let rtp { own.advertisedRTP = rtp }
        if let rtcp { own.advertisedRTCP = rtcp }
        call.legs[leg].media[index] = own
        if let codec { call.legs[codec.sender].media[index]?.signalledCodec = codec.name }
        install(own, opposite: opposite, recorder: call.recorder)
        install(opposite, opposite: own, recorder: call.recorder)
        call.lastSignalNanos = spw_monotonic_nanos()
        if existing == nil {
            calls[callID] = call
            logger.info("call created", metadata: ["call-id": "\(callID)", "worker": "\(call.worker)"])
        }
        return opposite.ports.port
    }

    // MARK: - Recording

    /// Starts writing the call's received media to a new recording (a no-op while one is open).
    public func startRecording(callID: String) throws(CallError) {
        guard let call = calls[callID] else { throw .unknownCall(callID) }
        guard call.recorder == nil else { return }
        guard let makeRecorder else {
            throw .recording("this node does not record calls; start it with --recording-dir")
        }
        call.recorder = try makeRecorder(callID)
        reinstall(call)
        logger.info("recording started", metadata: ["call-id": "\(callID)"])
    }

    /// Stops recording a call; the workers release the recording, which closes its file.
    public func stopRecording(callID: String) throws(CallError) {
        guard let call = calls[callID] else { throw .unknownCall(callID) }
        guard call.recorder != nil else { return }
        call.recorder = nil
        reinstall(call)
        logger.info("recording stopped", metadata: ["call-id": "\(callID)"])
    }

    /// Sends every side of a call its current configuration again.
    private func reinstall(_ call: Call) {
        guard call.legs.count == 2 else { return }
        for index in call.legs[0].media.indices where index < call.legs[1].media.count {
            guard let first = call.legs[0].media[index], let second = call.legs[1].media[index] else { continue }
            install(first, opposite: second, recorder: call.recorder)
            install(second, opposite: first, recorder: call.recorder)
        }
    }

    // MARK: - Teardown and reports

    /// Tears a call down and returns its final figures.
    @discardableResult
    public func delete(callID: String) throws(CallError) -> CallReport {
        let report = try tearDown(callID: callID, reason: .deleted)
        events.deletes += 1
        return report
    }

    /// The current figures of a call.
    public func report(callID: String) throws(CallError) -> CallReport {
        guard let call = calls[callID] else { throw .unknownCall(callID) }
        return CallReport(call, interfaces: interfaces)
    }

    /// Calls with neither packets nor signalling for `timeoutNanos`.
    public func idleCallIDs(timeoutNanos: UInt64, now: UInt64 = spw_monotonic_nanos()) -> [String] {
        var idle: [String] = []
        for call in calls.values {
            let lastActivity = max(call.lastPacketNanos, call.lastSignalNanos)
            if now > lastActivity, now - lastActivity >= timeoutNanos { idle.append(call.id) }
        }
        return idle
    }

    /// Tears down a call for having no media, counting it as a timeout.
    public func expire(callID: String) {
        guard (try? tearDown(callID: callID, reason: .mediaTimeout)) != nil else { return }
        events.mediaTimeouts += 1
    }

    private func tearDown(callID: String, reason: CallEndReason) throws(CallError) -> CallReport {
        guard let call = calls.removeValue(forKey: callID) else { throw .unknownCall(callID) }
        events.callsEnded += 1
        let report = CallReport(call, interfaces: interfaces)
        for media in call.allMedia {
            // Forwarding stops now, not when the worker gets to the removal.
            media.counters.closeKernelRoutes()
            closingPorts.append((workers.remove(media.slot), media.isAdopted ? nil : media.ports.port))
            if media.isAdopted { adoptedPairs -= 1 }
        }
        for (leg, totals) in report.totalsByLeg.enumerated() { finishedTotalsByDirection[leg].accumulate(totals) }
        logger.info(
            "call \(reason)",
            metadata: [
                "call-id": "\(callID)", "packets": "\(report.totals.rtpPackets)", "lost": "\(report.totals.lost)",
            ])
        for observer in callEndObservers { observer(callID, reason) }
        return report
    }

    /// Node-wide figures: every call's, including those already deleted.
    public func nodeTotals() -> StreamStatistics {
        var totals = StreamStatistics()
        for direction in nodeTotalsByDirection() { totals.accumulate(direction) }
        return totals
    }

    /// Node-wide figures by direction: [0] what callers sent (the offering legs), [1] what callees
    /// sent; every call's, including those already deleted.
    public func nodeTotalsByDirection() -> [StreamStatistics] {
        var totals = finishedTotalsByDirection
        for call in calls.values {
            for (leg, legTotals) in CallReport(call, interfaces: interfaces).totalsByLeg.enumerated() {
                totals[leg].accumulate(legTotals)
            }
        }
        return totals
    }

    /// Media streams that run through a transcoder now.
    public var transcodingStreamCount: Int {
        calls.values.reduce(0) { count, call in
            count + call.legs.reduce(0) { $0 + $1.media.count { $0?.transcoding != nil } }
        }
    }

    // MARK: - Internals

    private static func parseWithMedia(_ sdp: String) throws(CallError) -> SessionDescription {
        let description: SessionDescription
        do {
            description = try SessionDescription(parsing: sdp)
        } catch {
            throw .invalidSDP(error)
        }
        guard !description.media.isEmpty else { throw .invalidSDP(.noMedia) }
        return description
    }

    private struct Endpoint {
        var rtp: SocketAddress
        var rtcp: SocketAddress
        var offersMux: Bool
    }

    /// Where the SDP's author receives each RTP m= line; nil for sections not relayed (port 0,
    /// not RTP). An address of 0.0.0.0 (hold) leaves the destination unset.
    private func advertisedEndpoints(
        of description: SessionDescription, options: NegotiationOptions
    ) throws(CallError) -> [Endpoint?] {
        var endpoints: [Endpoint?] = []
        for (index, section) in description.media.enumerated() {
            guard section.port != 0, section.isRTP else {
                endpoints.append(nil)
                continue
            }
            guard let address = options.mediaSourceOverride ?? description.connection(of: section)?.address else {
                throw .missingConnection(mediaIndex: index + 1)
            }
            guard var rtp = SocketAddress(ip: address, port: UInt16(section.port)) else {
                throw .invalidAddress(address, mediaIndex: index + 1)
            }
            let rtcpAttribute = section.rtcpAttribute
            let rtcpIP = rtcpAttribute?.address?.address ?? address
            var rtcp =
                SocketAddress(ip: rtcpIP, port: UInt16(rtcpAttribute?.port ?? min(section.port + 1, 65535))) ?? .unset
            if address == "0.0.0.0" || address == "::" {
                rtp = .unset
                rtcp = .unset
            }
            endpoints.append(Endpoint(rtp: rtp, rtcp: rtcp, offersMux: section.hasAttribute("rtcp-mux")))
        }
        return endpoints
    }

    private static func clockRates(of description: SessionDescription) -> [UInt32] {
        description.media.map { firstClockRate(of: $0) ?? 8000 }
    }

    /// The clock rate of a section's first (preferred) format: what its author will send.
    private static func firstClockRate(of section: MediaDescription) -> UInt32? {
        section.formats.first.flatMap { section.clockRate(ofPayloadType: $0) }.map(UInt32.init)
    }

    /// Returns to the allocator the ports whose sockets their workers have closed.
    private func releaseClosedPorts() {
        closingPorts.removeAll { closing in
            guard workers.isComplete(closing.removal) else { return false }
            if let port = closing.port { ports.release(port: port) }
            return true
        }
    }

    /// Binds a pair. When none is free but ended calls' sockets are still being closed by their
    /// workers, says so (`stillClosing`) rather than wait: the caller may try again in a moment.
    private func allocatePair(on interface: Int) throws(PortAllocationError) -> PortAllocator.Pair {
        releaseClosedPorts()
        do throws(PortAllocationError) {
            return try ports.allocate(on: interfaces.all[interface].localIP)
        } catch .exhausted where !closingPorts.isEmpty {
            throw .stillClosing(pairs: closingPorts.count)
        }
    }

    /// One relayed stream a call needs on both legs: its index (m= line or H.245 session), kind and clock.
    private struct StreamNeed {
        var index: Int
        var type: String
        var proto: String
        var clockRate: UInt32
    }

    /// Makes sure both legs have a port pair and a slot for every stream in `streams`. On failure,
    /// everything this call allocated here is released again.
    private func allocateMedia(for call: Call, streams: [StreamNeed]) throws(CallError) {
        var allocated: [LegMedia] = []
        do throws(PortAllocationError) {
            for legIndex in call.legs.indices {
                for stream in streams {
                    while call.legs[legIndex].media.count <= stream.index { call.legs[legIndex].media.append(nil) }
                    guard call.legs[legIndex].media[stream.index] == nil else { continue }
                    let pair = try allocatePair(on: call.legs[legIndex].interface)
                    let media = LegMedia(
                        type: stream.type, proto: stream.proto, ports: pair, interface: call.legs[legIndex].interface,
                        slot: workers.reserveSlot(on: call.worker),
                        counters: StreamCounters(clockRate: stream.clockRate))
                    call.legs[legIndex].media[stream.index] = media
                    allocated.append(media)
                }
            }
        } catch {
            if case .stillClosing = error {} else { events.portExhaustions += 1 }
            for media in allocated {
                ports.discard(media.ports)
                workers.returnUnusedSlot(media.slot)
            }
            for legIndex in call.legs.indices {
                call.legs[legIndex].media = call.legs[legIndex].media.map { media in
                    guard let media, !allocated.contains(where: { $0.slot == media.slot }) else { return nil }
                    return media
                }
            }
            if case .stillClosing = error {
            } else {
                logger.warning("port range exhausted", metadata: ["call-id": "\(call.id)", "error": "\(error)"])
            }
            throw .ports(error)
        }
    }

    func install(
        _ media: LegMedia, opposite: LegMedia, recorder: (any PacketRecorder)?,
        restoredPeers: (rtp: SocketAddress, rtcp: SocketAddress)? = nil
    ) {
        var configuration = MediaSideConfiguration(
            rtpDescriptor: media.ports.rtpDescriptor, rtcpDescriptor: media.ports.rtcpDescriptor,
            advertisedRTP: media.advertisedRTP, advertisedRTCP: media.advertisedRTCP,
            rtcpMux: media.rtcpMux, latching: media.latching, relatchSilenceNanos: relatchSilenceNanos,
            isVideo: media.type == "video",
            isSecured: media.security.isPassThrough, srtp: media.security.termination,
            transcoding: media.transcoding,
            opposite: opposite.slot.index,
            counters: media.counters,
            localRTP: SocketAddress(ip: interfaces.all[media.interface].localIP, port: media.ports.port) ?? .unset,
            localRTCP: SocketAddress(ip: interfaces.all[media.interface].localIP, port: media.ports.port + 1)
                ?? .unset,
            recorder: recorder)
        configuration.restoredPeers = restoredPeers
        workers.configure(media.slot, configuration)
    }

    /// The address the SDP for `leg`'s party names: `media-address` when the request gives one,
    /// else the advertised address of the leg's interface.
    private func advertised(towards leg: Leg, options: NegotiationOptions) -> ConnectionAddress {
        options.mediaAddress.map(ConnectionAddress.init(numeric:)) ?? interfaces.all[leg.interface].connection
    }

    /// Points one m= section at the relay's sockets that face the party receiving this SDP.
    private func rewrite(
        _ section: inout MediaDescription, towards media: LegMedia, on leg: Leg, rtcpMux: Bool, offering: Bool,
        options: NegotiationOptions
    ) {
        let port = Int(media.ports.port)
        section.port = port
        section.setConnection(advertised(towards: leg, options: options))
        // Muxed in an answer: RTCP shares the RTP port. In an offer the RTCP port stays as a fallback.
        section.setAttribute("rtcp", value: "\(rtcpMux && !offering ? port : port + 1)")
        if rtcpMux {
            section.setAttribute("rtcp-mux", value: nil)
        } else {
            section.removeAttributes { $0 == "rtcp-mux" }
        }
        if options.removeICE { section.removeAttributes { ICEAttributes.names.contains($0) } }
        section.proto = media.proto
    }

    private func rewriteSessionLevel(
        _ description: inout SessionDescription, towards leg: Leg, options: NegotiationOptions
    ) {
        let advertised = advertised(towards: leg, options: options)
        if options.replaceSessionConnection { description.replaceSessionConnection(with: advertised) }
        if options.replaceOrigin { description.replaceOriginAddress(with: advertised) }
        if options.removeICE {
            description.sessionLines.removeAll { line in
                line.attributeName.map { ICEAttributes.names.contains($0) } ?? false
            }
        }
    }
}

/// Why a call ended in the registry.
public enum CallEndReason: Sendable, CustomStringConvertible {
    /// Its signalling deleted it (NG `delete`, or the end of an H.323 call).
    case deleted
    /// No media and no signalling for the media timeout.
    case mediaTimeout

    public var description: String {
        switch self {
        case .deleted: "deleted"
        case .mediaTimeout: "timed out: no media received"
        }
    }
}

/// Counts of control-plane events since the node started.
public struct CallEventCounters: Sendable, Equatable {
    public var offers: UInt64 = 0
    public var answers: UInt64 = 0
    public var deletes: UInt64 = 0
    public var mediaTimeouts: UInt64 = 0
    public var portExhaustions: UInt64 = 0
    /// Calls torn down, however they ended (delete, media timeout, H.323 release).
    public var callsEnded: UInt64 = 0
}

/// Why an offer, answer, delete or query could not be carried out.
public enum CallError: Error, Sendable, CustomStringConvertible {
    case unknownCall(String)
    case unknownTag(String, callID: String)
    case invalidSDP(SDPError)
    case missingConnection(mediaIndex: Int)
    case invalidAddress(String, mediaIndex: Int)
    case answerHasExtraMedia(answered: Int, offered: Int)
    case ports(PortAllocationError)
    case recording(String)
    case srtpWithoutSDES(mediaIndex: Int, proto: String)
    case noUsableCrypto(mediaIndex: Int, refusals: [String])
    case noSuiteToOffer(mediaIndex: Int)
    case answerRefusedSRTP(mediaIndex: Int, offered: [String], refusals: [String])
    case srtp(SRTPError)
    case cannotTranscode(String, mediaIndex: Int, reason: String)
    case noCodecLeft(mediaIndex: Int, offered: [String])
    case noFreePayloadType(mediaIndex: Int)
    case transcoderSetup(String)
    case unknownInterface(String, known: [String])
    case noInterface(family: ConnectionAddress.Family, known: [String])
    case badDirection([String])
    case alreadyAnchored(String)
    case unrestorable(String, reason: String)

    public var description: String {
        switch self {
        case .unknownCall(let id):
            "Unknown call-id '\(id)': no offer was seen for it, or it was deleted or timed out"
        case .unknownTag(let tag, let id):
            "tag '\(tag)' is not a party of call '\(id)'"
        case .invalidSDP(let error):
            "\(error)"
        case .missingConnection(let index):
            "SDP m= line \(index) has no c= line and the session has none either"
        case .invalidAddress(let address, let index):
            "SDP m= line \(index) address '\(address)' is not a numeric IPv4/IPv6 address"
        case .answerHasExtraMedia(let answered, let offered):
            "answer has \(answered) m= lines but the offer had \(offered)"
        case .ports(let error):
            "\(error)"
        case .recording(let reason):
            "recording: \(reason)"
        case .srtpWithoutSDES(let index, let proto):
            "SDP m= line \(index) is \(proto) without a=crypto: this relay keys SRTP through SDES only (not DTLS-SRTP); "
                + "send a=crypto lines, or keep both sides SRTP so the media passes through"
        case .noUsableCrypto(let index, let refusals):
            "SDP m= line \(index) requires SRTP but none of its a=crypto lines can be used: \(refusals.joined(separator: "; "))"
        case .noSuiteToOffer(let index):
            "the SDES flags leave no crypto suite to offer on m= line \(index) "
                + "(supported: \(SRTPSuite.allCases.map(\.rawValue).joined(separator: ", ")))"
        case .answerRefusedSRTP(let index, let offered, let refusals):
            "the answer's m= line \(index) accepts none of the offered SRTP keys (offered: \(offered.joined(separator: ", ")))"
                + (refusals.isEmpty ? "; it has no a=crypto line" : ": \(refusals.joined(separator: "; "))")
                + "; SRTP is required on that side"
        case .srtp(let error):
            "\(error)"
        case .cannotTranscode(let codec, let index, let reason):
            "cannot transcode m= line \(index) to \(codec): \(reason)"
        case .noCodecLeft(let index, let offered):
            "the codec options leave m= line \(index) no codec to offer (offered: \(offered.joined(separator: ", "))); "
                + "strip or mask fewer codecs, or add one with transcode"
        case .noFreePayloadType(let index):
            "m= line \(index) uses every dynamic payload type (96-127): no room for a transcoded codec"
        case .transcoderSetup(let reason):
            "could not set up transcoding \(reason)"
        case .unknownInterface(let name, let known):
            "no media interface is called '\(name)'; this node has: \(known.joined(separator: ", ")) (--interface NAME/IP)"
        case .noInterface(let family, let known):
            "no media interface in address family \(family.rawValue) among \(known.joined(separator: ", ")); "
                + "add one with --interface NAME/IP, or ask for the other family"
        case .alreadyAnchored(let id):
            "call '\(id)' is already anchored here"
        case .unrestorable(let id, let reason):
            "call '\(id)' cannot be carried on from its call-store record: \(reason)"
        case .badDirection(let names):
            "direction names \(names.count) interfaces (\(names.joined(separator: ", "))); it takes two: the offerer's and the recipient's"
        }
    }
}

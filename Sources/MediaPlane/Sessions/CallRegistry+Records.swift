import CSpillwayShims
import CallStore
import Codecs
import SRTP

#if canImport(Glibc)
import Glibc
#endif

/// Calls as the call store keeps them: what a node writes of the calls it anchors, and how another
/// node carries a call on from that record when the first one dies.
extension CallRegistry {
    /// The record of `callID` as it stands now, owned by `owner`; nil when it is not anchored here.
    public func record(of callID: String, owner: OwnerRecord, now: UInt64 = spw_wall_nanos()) -> CallRecord? {
        guard let call = calls[callID] else { return nil }
        return CallRecord(
            callID: callID, owner: owner, createdWallNanos: call.createdWallNanos, recording: call.recorder != nil,
            parties: call.legs.map { leg in
                CallRecord.Party(
                    tag: leg.tag, sdp: leg.sdpSent, streams: leg.media.map { $0.map { streamRecord($0, now: now) } })
            })
    }

    /// Anchors a call that another node anchored, from its record: binds the same media IP and
    /// ports (the IP must be on this host: VRRP moves it here in production), resumes SRTP at the
    /// stored keys and rollover counters, sets up the same transcoding with the output stream
    /// carried on, starts each side latched to the peer it had, and reopens the recording. The
    /// parties see their media resume after a gap. Codec options of an offer still waiting for its
    /// answer are not kept: such a call's answer is relayed without transcoding.
    public func restore(_ record: CallRecord, now: UInt64 = spw_wall_nanos()) throws(CallError) {
        guard calls[record.callID] == nil else { throw .alreadyAnchored(record.callID) }
        let call = Call(
            id: record.callID, worker: workers.workerForNewCall(), offererTag: record.parties[0].tag,
            createdWallNanos: record.createdWallNanos)
        call.legs[1].tag = record.parties[1].tag
        for leg in 0..<2 { call.legs[leg].sdpSent = record.parties[leg].sdp }
        var bound: [LegMedia] = []
        do throws(CallError) {
            for (leg, party) in record.parties.enumerated() {
                for stream in party.streams {
                    let media = try stream.map { stream throws(CallError) in
                        try restoredMedia(stream, worker: call.worker, callID: record.callID, now: now)
                    }
                    if let media { bound.append(media) }
                    call.legs[leg].media.append(media)
                }
                call.legs[leg].interface = call.legs[leg].media.lazy.compactMap { $0?.interface }.first ?? 0
            }
            try restoreSecurity(of: call, from: record)
            if record.recording, let makeRecorder { call.recorder = try makeRecorder(record.callID) }
        } catch {
            for media in bound {
                close(media.ports.rtpDescriptor)
                close(media.ports.rtcpDescriptor)
                workers.returnUnusedSlot(media.slot)
            }
            adoptedPairs -= bound.count
            throw error
        }
        for index in call.legs[0].media.indices where index < call.legs[1].media.count {
            guard let first = call.legs[0].media[index], let second = call.legs[1].media[index] else { continue }
            install(first, opposite: second, recorder: call.recorder, restoredPeers: latchedPeers(record, 0, index))
            install(second, opposite: first, recorder: call.recorder, restoredPeers: latchedPeers(record, 1, index))
        }
        calls[record.callID] = call
        logger.info(
            "call taken over",
            metadata: [
                "call-id": "\(record.callID)", "from": "\(record.owner.node.id)", "worker": "\(call.worker)",
                "streams": "\(bound.count / 2)",
            ])
    }

    /// A digest of what the media taught the call since its record was written: the latched
    /// peers, the SSRCs heard and their sequence numbers to within 8192 packets (so the SRTP
    /// rollover counters too). When it changes the record should be written again; reading it
    /// builds nothing, so the call store can ask every call each second.
    public func mediaDigest(of callID: String) -> Int? {
        guard let call = calls[callID] else { return nil }
        var hasher = Hasher()
        for leg in call.legs {
            for media in leg.media {
                guard let counters = media?.counters else { continue }
                hasher.combine(counters.latchedSource.withLock { $0 })
                hasher.combine(counters.latchedRTCPSource.withLock { $0 })
                hasher.combine(counters.ssrc.load(ordering: .relaxed))
                hasher.combine(counters.extendedSequence.load(ordering: .relaxed) >> 13)
            }
        }
        return hasher.finalize()
    }

    // MARK: - Writing

    private func streamRecord(_ media: LegMedia, now: UInt64) -> CallRecord.Stream {
        let interface = interfaces.all[media.interface]
        let counters = media.counters
        return CallRecord.Stream(
            type: media.type, proto: media.proto,
            interface: .init(name: interface.name, localIP: interface.localIP, advertisedIP: interface.advertisedIP),
            port: media.ports.port, advertisedRTP: media.advertisedRTP.recordText,
            advertisedRTCP: media.advertisedRTCP.recordText,
            latchedRTP: counters.latchedSource.withLock { $0 }.recordText,
            latchedRTCP: counters.latchedRTCPSource.withLock { $0 }.recordText, rtcpMux: media.rtcpMux,
            latching: media.latching.rawValue, clockRate: counters.clockRate,
            ssrc: counters.ssrc.load(ordering: .relaxed),
            extendedSequence: counters.extendedSequence.load(ordering: .relaxed),
            security: securityRecord(media.security),
            transcoding: media.transcoding.map { transcodingRecord($0, now: now) },
            signalledCodec: media.signalledCodec)
    }

    private func securityRecord(_ security: MediaSecurity) -> CallRecord.Security {
        switch security {
        case .plain: .plain
        case .passThrough: .passThrough
        case .sdes(let side):
            .sdes(
                offered: side.offered.map { $0.attributeValue() }, relayKey: side.relayKey?.attributeValue(),
                partyKey: side.partyKey?.attributeValue())
        }
    }

    private func transcodingRecord(_ stage: TranscodingStage, now: UInt64) -> CallRecord.Transcoding {
        let settings = stage.inputs[0].transcoder.opusSettings
        let position = stage.position
        return CallRecord.Transcoding(
            inputs: stage.inputs.map { .init(payloadType: $0.payloadType, codec: $0.transcoder.source.rawValue) },
            outputCodec: stage.output.rawValue, outputPayloadType: stage.outputPayloadType,
            events: stage.events.map {
                [
                    Int($0.inputPayloadType), $0.inputClockRate, Int($0.outputPayloadType), $0.outputClockRate,
                ]
            }, opusBitRate: settings.bitRate, opusInbandFEC: settings.inbandFEC, opusStereo: settings.stereo,
            opusComplexity: settings.complexity, outputSSRC: position.ssrc, outputSequence: position.sequenceNumber,
            outputTimestamp: position.timestamp, positionWallNanos: now)
    }

    // MARK: - Restoring

    /// A stream's side with its sockets bound where the record says and its transcoding set up;
    /// its SRTP comes after, once both sides are known.
    private func restoredMedia(
        _ stream: CallRecord.Stream, worker: Int, callID: String, now: UInt64
    ) throws(CallError) -> LegMedia {
        guard let latching = LatchingRule(rawValue: stream.latching) else {
            throw .unrestorable(callID, reason: "unknown latching rule '\(stream.latching)'")
        }
        let transcoding = try stream.transcoding.map { record throws(CallError) in
            try restoredStage(record, callID: callID, now: now)
        }
        let interface = interfaces.adopt(
            MediaInterface(
                name: stream.interface.name, localIP: stream.interface.localIP,
                advertisedIP: stream.interface.advertisedIP))
        let pair: PortAllocator.Pair
        do throws(PortAllocationError) {
            pair = try PortAllocator.bindExactly(port: stream.port, on: stream.interface.localIP)
        } catch {
            throw .ports(error)
        }
        adoptedPairs += 1
        var media = LegMedia(
            type: stream.type, proto: stream.proto, ports: pair, interface: interface,
            slot: workers.reserveSlot(on: worker), counters: StreamCounters(clockRate: stream.clockRate))
        media.isAdopted = true
        media.advertisedRTP = try address(stream.advertisedRTP, callID: callID)
        media.advertisedRTCP = try address(stream.advertisedRTCP, callID: callID)
        media.rtcpMux = stream.rtcpMux
        media.latching = latching
        media.transcoding = transcoding
        media.signalledCodec = stream.signalledCodec
        media.security = stream.security == .passThrough ? .passThrough : .plain
        return media
    }

    private func restoredStage(
        _ record: CallRecord.Transcoding, callID: String, now: UInt64
    ) throws(CallError) -> TranscodingStage {
        guard let output = AudioCodec(rawValue: record.outputCodec) else {
            throw .unrestorable(callID, reason: "unknown codec '\(record.outputCodec)'")
        }
        var settings = OpusEncoderSettings()
        settings.bitRate = record.opusBitRate
        settings.inbandFEC = record.opusInbandFEC
        settings.stereo = record.opusStereo
        settings.complexity = record.opusComplexity
        var inputs: [TranscodingStage.Input] = []
        for input in record.inputs {
            guard let codec = AudioCodec(rawValue: input.codec) else {
                throw .unrestorable(callID, reason: "unknown codec '\(input.codec)'")
            }
            do throws(TranscodingError) {
                inputs.append(
                    .init(
                        payloadType: input.payloadType,
                        transcoder: try AudioTranscoder(from: codec, to: output, opusSettings: settings)))
            } catch {
                throw .transcoderSetup("\(codec) to \(output): \(error)")
            }
        }
        var events: TranscodingStage.EventMapping?
        if let mapping = record.events {
            guard let input = UInt8(exactly: mapping[0]), let output = UInt8(exactly: mapping[2]) else {
                throw .unrestorable(callID, reason: "event payload types \(mapping[0]) and \(mapping[2])")
            }
            events = .init(
                inputPayloadType: input, inputClockRate: mapping[1], outputPayloadType: output,
                outputClockRate: mapping[3])
        }
        // The output stream carries on: the same SSRC, and as far on as the time since the record.
        let elapsedMilliseconds = now > record.positionWallNanos ? (now - record.positionWallNanos) / 1_000_000 : 0
        let position = TranscodingStage.OutputPosition(
            ssrc: record.outputSSRC, sequenceNumber: record.outputSequence, timestamp: record.outputTimestamp
        ).advanced(byMilliseconds: elapsedMilliseconds, clockRate: output.clockRate)
        return TranscodingStage(
            inputs: inputs, output: output, outputPayloadType: record.outputPayloadType, events: events,
            continuing: position)
    }

    /// Rebuilds each SDES side's sessions. What the relay encrypts towards a party is what the
    /// other party sends (or the transcoding stage makes of it), so that stream's position
    /// resumes the encryptor; the party's own stream resumes the decryptor.
    private func restoreSecurity(of call: Call, from record: CallRecord) throws(CallError) {
        for leg in 0..<2 {
            for (index, stream) in record.parties[leg].streams.enumerated() {
                guard let stream, case .sdes(let offered, let relayKey, let partyKey) = stream.security else {
                    continue
                }
                var side = SDESSide()
                side.offered = try offered.map { line throws(CallError) in try cryptoAttribute(line, call.id) }
                side.relayKey = try relayKey.map { line throws(CallError) in try cryptoAttribute(line, call.id) }
                side.partyKey = try partyKey.map { line throws(CallError) in try cryptoAttribute(line, call.id) }
                let opposite = call.legs[1 - leg].media(at: index)
                let oppositeRecord =
                    index < record.parties[1 - leg].streams.count
                    ? record.parties[1 - leg].streams[index] : nil
                let sent: SRTPSession.StreamPosition? =
                    if let stage = opposite?.transcoding {
                        .init(ssrc: stage.position.ssrc, extendedSequence: stage.position.sequenceNumber &- 1)
                    } else {
                        oppositeRecord.flatMap(Self.heardPosition)
                    }
                side.decryptor = try side.partyKey.map { key throws(CallError) in
                    try srtpSession(key, role: .decrypting, resuming: Self.heardPosition(stream))
                }
                side.encryptor = try side.relayKey.map { key throws(CallError) in
                    try srtpSession(key, role: .encrypting, resuming: sent)
                }
                call.legs[leg].media[index]?.security = .sdes(side)
            }
        }
    }

    /// Where the stream a party sent stood, nil before its first packet.
    private static func heardPosition(_ stream: CallRecord.Stream) -> SRTPSession.StreamPosition? {
        stream.ssrc == 0 && stream.extendedSequence == 0
            ? nil : .init(ssrc: stream.ssrc, extendedSequence: stream.extendedSequence)
    }

    private func srtpSession(
        _ key: CryptoAttribute, role: SRTPSession.Role, resuming position: SRTPSession.StreamPosition?
    ) throws(CallError) -> SRTPSession {
        do {
            return try SRTPSession(
                suite: key.suite, key: key.masterKey, role: role, resuming: position.map { [$0] } ?? [])
        } catch {
            throw .srtp(error)
        }
    }

    private func cryptoAttribute(_ line: String, _ callID: String) throws(CallError) -> CryptoAttribute {
        do throws(SDESError) {
            return try CryptoAttribute(parsing: line)
        } catch {
            throw .unrestorable(callID, reason: "stored key: \(error)")
        }
    }

    private func address(_ text: String?, callID: String) throws(CallError) -> SocketAddress {
        guard let text else { return .unset }
        guard let address = SocketAddress(hostAndPort: text) else {
            throw .unrestorable(callID, reason: "address '\(text)' is not IP:PORT")
        }
        return address
    }

    /// The peers a restored side starts latched to.
    private func latchedPeers(_ record: CallRecord, _ leg: Int, _ index: Int) -> (
        rtp: SocketAddress, rtcp: SocketAddress
    )? {
        guard index < record.parties[leg].streams.count, let stream = record.parties[leg].streams[index] else {
            return nil
        }
        return (
            stream.latchedRTP.flatMap(SocketAddress.init(hostAndPort:)) ?? .unset,
            stream.latchedRTCP.flatMap(SocketAddress.init(hostAndPort:)) ?? .unset
        )
    }
}

extension SocketAddress {
    /// The address as a record keeps it; nil when unset.
    fileprivate var recordText: String? { isSet ? description : nil }
}

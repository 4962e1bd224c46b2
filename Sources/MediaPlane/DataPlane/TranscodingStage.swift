import CSpillwayShims
import Codecs
import RTP
import Synchronization

/// One direction of a transcoded stream, run by the worker that owns the receiving side: RTP in
/// one codec from one peer becomes RTP in another codec to the other peer.
///
/// The output is a stream of the relay's own: its SSRC, a sequence number that counts what this
/// stage sends, and timestamps in the output codec's clock that advance by exactly one frame per
/// packet (20 ms). Input gaps of up to 100 ms are concealed (Opus PLC, G.711 silence) so the output
/// stays continuous; longer gaps, timestamp jumps and a new input SSRC restart it with the marker
/// bit set. DTMF (RFC 4733) is re-stamped into the output stream: payload type, timestamp and
/// duration move to the output clock. Because the receiving peer only sees the relay's stream, the
/// stage also writes the RTCP sender reports for it (every 5 s, with the output's packet and octet
/// counts, and a report block on how the receiver's own stream arrives at the relay); RTCP from the
/// sending peer describes a stream the receiver never sees and is not relayed.
///
/// Created by the control plane, then used by one worker thread only.
public final class TranscodingStage: @unchecked Sendable {
    /// A payload type this direction decodes, and the transcoder that takes it to the output codec.
    public struct Input {
        public var payloadType: UInt8
        public var transcoder: AudioTranscoder

        public init(payloadType: UInt8, transcoder: AudioTranscoder) {
            self.payloadType = payloadType
            self.transcoder = transcoder
        }
    }

    /// DTMF payload types and clocks on each side.
    public struct EventMapping: Sendable, Equatable {
        public var inputPayloadType: UInt8
        public var inputClockRate: Int
        public var outputPayloadType: UInt8
        public var outputClockRate: Int

        public init(inputPayloadType: UInt8, inputClockRate: Int, outputPayloadType: UInt8, outputClockRate: Int) {
            self.inputPayloadType = inputPayloadType
            self.inputClockRate = inputClockRate
            self.outputPayloadType = outputPayloadType
            self.outputClockRate = outputClockRate
        }
    }

    public let inputs: [Input]
    public let outputPayloadType: UInt8
    public let output: AudioCodec
    public let events: EventMapping?

    let ssrc: UInt32
    /// The next output packet's sequence number, extended past its 16 bits (the SRTP rollover
    /// counter towards the receiver is its upper half).
    private var sequenceNumber: UInt32
    /// The timestamp of the next output frame.
    private var outputTimestamp: UInt32
    private var restartPending = true
    // The input stream as last seen.
    private var inputSSRC: UInt32 = 0
    private var expectedInputTimestamp: UInt32 = 0
    /// The index in `inputs` of the codec last received; -1 before the first packet.
    private var currentInput = -1
    // Which output timestamp an input timestamp maps to (for DTMF).
    private var anchorInputTimestamp: UInt32 = 0
    private var anchorOutputTimestamp: UInt32 = 0
    // Sender report state.
    private(set) var packetsSent: UInt32 = 0
    private(set) var octetsSent: UInt32 = 0
    private var lastReportNanos: UInt64 = 0
    /// The extended sequence number (high half) and timestamp (low half) of the next output frame,
    /// published by the worker for the control plane.
    private let publishedPosition = Atomic<UInt64>(0)

    /// The longest input gap that is concealed rather than restarting the output, in milliseconds.
    static let concealableGapMilliseconds = 100
    static let reportIntervalNanos: UInt64 = 5_000_000_000
    static let canonicalName = Array("spillway".utf8)

    /// Where a stage's output stream stands: what a stage that carries the stream on elsewhere (a
    /// call taken over by another node) starts from, so the receiver sees one stream with a gap.
    public struct OutputPosition: Sendable, Equatable {
        public var ssrc: UInt32
        /// The next packet's sequence number, extended past 16 bits.
        public var sequenceNumber: UInt32
        /// The next frame's timestamp.
        public var timestamp: UInt32

        public init(ssrc: UInt32, sequenceNumber: UInt32, timestamp: UInt32) {
            self.ssrc = ssrc
            self.sequenceNumber = sequenceNumber
            self.timestamp = timestamp
        }

        /// The position `milliseconds` of 20 ms frames later, in an output clock of `clockRate`.
        public func advanced(byMilliseconds milliseconds: UInt64, clockRate: Int) -> OutputPosition {
            OutputPosition(
                ssrc: ssrc, sequenceNumber: sequenceNumber &+ UInt32(truncatingIfNeeded: milliseconds / 20),
                timestamp: timestamp &+ UInt32(truncatingIfNeeded: milliseconds * UInt64(clockRate) / 1000))
        }
    }

    /// - Parameter continuing: where the output stream resumes; nil starts a stream of its own
    ///   (random SSRC, sequence number and timestamp, as RFC 3550 asks).
    public init(
        inputs: [Input], output: AudioCodec, outputPayloadType: UInt8, events: EventMapping?,
        continuing position: OutputPosition? = nil
    ) {
        precondition(!inputs.isEmpty, "a transcoding stage needs an input codec")
        self.inputs = inputs
        self.output = output
        self.outputPayloadType = outputPayloadType
        self.events = events
        var random = SystemRandomNumberGenerator()
        ssrc = position?.ssrc ?? random.next()
        sequenceNumber = position?.sequenceNumber ?? UInt32(random.next() as UInt16)
        outputTimestamp = position?.timestamp ?? random.next()
        publishPosition()
    }

    /// Where the output stream stands now (as of the worker's last frame).
    public var position: OutputPosition {
        let published = publishedPosition.load(ordering: .relaxed)
        return OutputPosition(
            ssrc: ssrc, sequenceNumber: UInt32(truncatingIfNeeded: published >> 32),
            timestamp: UInt32(truncatingIfNeeded: published))
    }

    private func publishPosition() {
        publishedPosition.store(UInt64(sequenceNumber) << 32 | UInt64(outputTimestamp), ordering: .relaxed)
    }

    /// What `process` made of one packet.
    enum Outcome {
        /// Written to `generated` (possibly nothing yet: the frame is not complete).
        case transcoded
        case dropped(PacketDropReason)
    }

    /// Transcodes one validated RTP packet from the sending peer into `generated`, and appends a
    /// sender report when one is due.
    /// `receptionReport` gives the report block a due sender report carries: how the receiver's
    /// own stream arrives at the relay (nil: none yet).
    func process(
        _ packet: UnsafeRawBufferPointer, header: RTPHeader, now: UInt64, into generated: inout GeneratedPackets,
        receptionReport: () -> ReceptionReportBlock? = { nil }
    ) -> Outcome {
        let payload = UnsafeRawBufferPointer(
            rebasing: packet[header.headerLength..<(header.headerLength + header.payloadLength)])
        if let events, header.payloadType == events.inputPayloadType {
            return relayEvent(payload, header: header, mapping: events, into: &generated)
        }
        guard let index = inputs.firstIndex(where: { $0.payloadType == header.payloadType }) else {
            return .dropped(.unsupportedPayloadType)
        }
        let transcoder = inputs[index].transcoder
        let inputRate = transcoder.source.clockRate
        if index != currentInput || header.ssrc != inputSSRC {
            restart(ssrc: header.ssrc, timestamp: header.timestamp, input: index)
        } else if header.timestamp != expectedInputTimestamp {
            let gap = Int32(bitPattern: header.timestamp &- expectedInputTimestamp)
            if gap < 0 { return .dropped(.transcodingFailed) }  // late or duplicate: already covered
            if Int(gap) <= inputRate * Self.concealableGapMilliseconds / 1000 {
                do throws(TranscodingError) {
                    try transcoder.conceal(Int(gap)) { frame in emitFrame(frame, into: &generated) }
                } catch {
                    return .dropped(.transcodingFailed)
                }
            } else {
                // Silence suppression or a jump: skip the output clock ahead by as much.
                transcoder.discardPending()
                outputTimestamp &+= UInt32(truncatingIfNeeded: Int(gap) * output.clockRate / inputRate)
                restartPending = true
            }
        }
        anchorInputTimestamp = header.timestamp
        anchorOutputTimestamp = outputTimestamp &+ UInt32(transcoder.pendingClockTicks)
        let decoded: Int
        do throws(TranscodingError) {
            decoded = try transcoder.transcode(payload) { frame in emitFrame(frame, into: &generated) }
        } catch {
            return .dropped(.transcodingFailed)
        }
        expectedInputTimestamp = header.timestamp &+ UInt32(decoded)
        if now &- lastReportNanos >= Self.reportIntervalNanos, packetsSent > 0 {
            appendSenderReport(now: now, block: receptionReport(), into: &generated)
        }
        return .transcoded
    }

    private func restart(ssrc: UInt32, timestamp: UInt32, input index: Int) {
        for input in inputs { input.transcoder.discardPending() }
        inputSSRC = ssrc
        currentInput = index
        expectedInputTimestamp = timestamp
        restartPending = true
    }

    private func emitFrame(_ frame: UnsafeRawBufferPointer, into generated: inout GeneratedPackets) {
        let marker = restartPending
        restartPending = false
        let appended = generated.append(rtcp: false) { bytes in
            writeHeader(bytes, marker: marker, payloadType: outputPayloadType, timestamp: outputTimestamp)
            (bytes + RTPHeader.fixedLength).copyMemory(from: frame.baseAddress!, byteCount: frame.count)
            return RTPHeader.fixedLength + frame.count
        }
        outputTimestamp &+= UInt32(inputs[0].transcoder.frameClockTicks)
        publishPosition()
        if appended { account(payloadBytes: frame.count) }
    }

    /// Re-stamps an RFC 4733 event packet: its timestamp is mapped to the output clock through the
    /// last audio anchor, its duration scaled to the output clock.
    private func relayEvent(
        _ payload: UnsafeRawBufferPointer, header: RTPHeader, mapping: EventMapping,
        into generated: inout GeneratedPackets
    ) -> Outcome {
        guard payload.count >= 4 else { return .dropped(.malformed) }
        let offset = Int64(Int32(bitPattern: header.timestamp &- anchorInputTimestamp))
        let timestamp =
            anchorOutputTimestamp
            &+ UInt32(truncatingIfNeeded: offset * Int64(mapping.outputClockRate) / Int64(mapping.inputClockRate))
        let duration = min(
            Int(payload.loadBigEndianUInt16(at: 2)) * mapping.outputClockRate / mapping.inputClockRate, 0xFFFF)
        let appended = generated.append(rtcp: false) { bytes in
            writeHeader(bytes, marker: header.marker, payloadType: mapping.outputPayloadType, timestamp: timestamp)
            let body = bytes + RTPHeader.fixedLength
            body.storeBytes(of: payload[0], as: UInt8.self)
            body.storeBytes(of: payload[1], toByteOffset: 1, as: UInt8.self)
            body.storeBytes(of: UInt16(duration).bigEndian, toByteOffset: 2, as: UInt16.self)
            return RTPHeader.fixedLength + 4
        }
        guard appended else { return .dropped(.sendFailed) }
        account(payloadBytes: 4)
        return .transcoded
    }

    @inline(__always)
    private func writeHeader(_ bytes: UnsafeMutableRawPointer, marker: Bool, payloadType: UInt8, timestamp: UInt32) {
        bytes.storeBytes(of: UInt8(0x80), as: UInt8.self)
        bytes.storeBytes(of: (marker ? 0x80 : 0) | payloadType, toByteOffset: 1, as: UInt8.self)
        bytes.storeBytes(of: UInt16(truncatingIfNeeded: sequenceNumber).bigEndian, toByteOffset: 2, as: UInt16.self)
        bytes.storeBytes(of: timestamp.bigEndian, toByteOffset: 4, as: UInt32.self)
        bytes.storeBytes(of: ssrc.bigEndian, toByteOffset: 8, as: UInt32.self)
        sequenceNumber &+= 1
    }

    private func account(payloadBytes: Int) {
        packetsSent &+= 1
        octetsSent &+= UInt32(payloadBytes)
    }

    /// An RFC 3550 compound packet for the output stream: SR, with `block` when there is one, and
    /// SDES CNAME.
    private func appendSenderReport(now: UInt64, block: ReceptionReportBlock?, into generated: inout GeneratedPackets) {
        lastReportNanos = now
        let wall = spw_wall_nanos()
        let seconds = UInt32(truncatingIfNeeded: wall / 1_000_000_000 + 2_208_988_800)  // NTP era 0
        let fraction = UInt32(truncatingIfNeeded: (wall % 1_000_000_000) << 32 / 1_000_000_000)
        let name = Self.canonicalName
        _ = generated.append(rtcp: true) { bytes in
            func put32(_ value: UInt32, _ offset: Int) {
                bytes.storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
            }
            // SR: V=2, RC=0 or 1, PT=200, length 6 words (28 bytes) plus 6 for the block.
            let reportLength = 28 + (block == nil ? 0 : ReceptionReportBlock.length)
            put32((block == nil ? 0x80C8_0000 : 0x81C8_0000) | UInt32(reportLength / 4 - 1), 0)
            put32(ssrc, 4)
            put32(seconds, 8)
            put32(fraction, 12)
            put32(outputTimestamp, 16)
            put32(packetsSent, 20)
            put32(octetsSent, 24)
            block?.write(to: bytes + 28)
            // SDES: one chunk, CNAME item, null-terminated and padded to a word.
            let chunkBytes = 4 + 2 + name.count + 1
            let padded = (chunkBytes + 3) / 4 * 4
            put32(0x81CA_0000 | UInt32(padded / 4), reportLength)
            put32(ssrc, reportLength + 4)
            let items = bytes + reportLength + 8
            items.storeBytes(of: UInt8(1), as: UInt8.self)
            items.storeBytes(of: UInt8(name.count), toByteOffset: 1, as: UInt8.self)
            for (index, byte) in name.enumerated() {
                items.storeBytes(of: byte, toByteOffset: 2 + index, as: UInt8.self)
            }
            for index in (2 + name.count)..<(padded - 4) {
                items.storeBytes(of: UInt8(0), toByteOffset: index, as: UInt8.self)
            }
            return reportLength + 4 + padded
        }
    }
}

import Bencode
import CSpillwayShims
import Codecs
import Foundation
import MediaPlane
import RTP
import SDP
import SRTP
import SpillwayClient
import SpillwayTestSupport

/// A call through a relay whose two parties each send one 20 ms packet per `sendNext()` and log
/// when each packet of the other arrives: plain PCMU both ways, SDES-SRTP both ways (each party
/// decrypts what it gets with the key the relay's SDP gave it), or PCMU from the caller transcoded
/// to Opus for an Opus callee.
final class TakeoverCall {
    enum Kind: CaseIterable {
        case plain, srtp, transcoded
    }

    /// What one party heard of the other.
    struct Heard {
        var packets = 0
        /// The packet numbers (1, 2, ...) heard, by their sequence numbers (plain and SRTP: the
        /// relay keeps the sender's).
        var numbers = Set<Int>()
        var failedDecryption = 0
        /// The packet numbers and outcomes of those that failed to decrypt.
        var failures: [String] = []
        /// Packets not in the codec this party receives.
        var wrongCodec = 0
        var lastArrival: UInt64 = 0
        /// The longest silence between two packets, in nanoseconds.
        var longestGap: UInt64 = 0
    }

    let callID: String
    let kind: Kind
    private(set) var sent = 0
    /// [0]: what the callee heard of the caller; [1]: what the caller heard of the callee.
    private(set) var heard = [Heard(), Heard()]
    private let caller: UDPPeer
    private let callee: UDPPeer
    private let towardsCallee: SocketAddress
    private let towardsCaller: SocketAddress
    private let callerKey = CryptoAttribute.generated(tag: 1, suite: .aesCM128HMACSHA1_80)
    private let calleeKey = CryptoAttribute.generated(tag: 1, suite: .aesCM128HMACSHA1_80)
    private var encryptors: [SRTPSession] = []
    /// [0]: the callee's, [1]: the caller's, keyed by the relay's SDP.
    private var decryptors: [SRTPSession] = []
    private static let opusFrame = TakeoverCall.encodedOpusFrame()
    /// Where sequence numbers start: SRTP calls wrap them early on, so that their rollover counter
    /// is 1 when the call is taken over.
    private var sequenceOffset: Int { kind == .srtp ? 65_500 : 0 }

    init(kind: Kind, callID: String, request: (BencodeValue) throws -> BencodeValue) throws {
        self.callID = callID
        self.kind = kind
        caller = try UDPPeer()
        callee = try UDPPeer()
        var offer: [String: BencodeValue] = [
            "command": "offer", "call-id": .string(callID), "from-tag": "A",
            "sdp": .string(Self.sdp(kind, port: caller.address.port, key: callerKey, callee: false)),
        ]
        if kind == .transcoded { offer["codec"] = ["transcode": ["opus"]] }
        let offerReply = try request(.dictionary(offer))
        towardsCaller = try ScriptedCall.mediaAddress(in: offerReply)
        let answerReply = try request([
            "command": "answer", "call-id": .string(callID), "from-tag": "A", "to-tag": "B",
            "sdp": .string(Self.sdp(kind, port: callee.address.port, key: calleeKey, callee: true)),
        ])
        towardsCallee = try ScriptedCall.mediaAddress(in: answerReply)
        if kind == .srtp {
            encryptors = [
                try SRTPSession(suite: callerKey.suite, key: callerKey.masterKey, role: .encrypting),
                try SRTPSession(suite: calleeKey.suite, key: calleeKey.masterKey, role: .encrypting),
            ]
            decryptors = [try Self.relayKey(offerReply), try Self.relayKey(answerReply)]
        }
    }

    /// One packet each way, then whatever has arrived.
    func sendNext() {
        sent += 1
        let fromCaller = pcmu(sent + sequenceOffset, ssrc: 0xCA11)
        let fromCallee =
            kind == .transcoded
            ? ScriptedCall.rtp(
                sequence: sent, timestamp: UInt32(sent * 960), ssrc: 0xCA1E, payloadType: 96, payload: Self.opusFrame)
            : pcmu(sent + sequenceOffset, ssrc: 0xCA1E)
        if kind == .srtp {
            _ = caller.send((try? encryptors[0].protect(fromCaller).get()) ?? [], to: towardsCallee)
            _ = callee.send((try? encryptors[1].protect(fromCallee).get()) ?? [], to: towardsCaller)
        } else {
            _ = caller.send(fromCaller, to: towardsCallee)
            _ = callee.send(fromCallee, to: towardsCaller)
        }
        collect()
    }

    /// Reads what has arrived.
    func collect() {
        for (direction, peer) in [(0, callee), (1, caller)] {
            while let packet = peer.receive(timeoutMilliseconds: 0) { take(packet.bytes, direction: direction) }
        }
    }

    private func take(_ received: [UInt8], direction: Int) {
        // RTCP is not counted: the relay's transcoders send sender reports to the port after a
        // party's RTP port, which may be another test party's socket (RFC 5761: types 192-223).
        guard received.count >= 2, !(192...223).contains(received[1]) else { return }
        let now = spw_monotonic_nanos()
        var packet = received
        if kind == .srtp {
            switch decryptors[direction].unprotect(packet) {
            case .success(let plain):
                packet = plain
            case .failure(let outcome):
                heard[direction].failedDecryption += 1
                let sequence = packet.count >= 4 ? Int(packet[2]) << 8 | Int(packet[3]) : -1
                heard[direction].failures.append("#\((sequence - sequenceOffset) & 0xFFFF): \(outcome)")
                return
            }
        }
        guard case .success(let header) = packet.withUnsafeBytes({ RTPHeader.parse($0) }) else {
            heard[direction].wrongCodec += 1
            return
        }
        let expectedType: UInt8 = kind == .transcoded && direction == 0 ? 96 : 0
        if header.payloadType != expectedType { heard[direction].wrongCodec += 1 }
        if heard[direction].lastArrival > 0 {
            heard[direction].longestGap = max(heard[direction].longestGap, now - heard[direction].lastArrival)
        }
        heard[direction].lastArrival = now
        heard[direction].packets += 1
        if kind != .transcoded {
            heard[direction].numbers.insert((Int(header.sequenceNumber) - sequenceOffset) & 0xFFFF)
        }
    }

    private static func sdp(_ kind: Kind, port: UInt16, key: CryptoAttribute, callee: Bool) -> String {
        switch kind {
        case .plain:
            audioSDP(port: port)
        case .srtp:
            audioSDP(port: port, ["crypto:\(key.attributeValue())"]).replacingOccurrences(
                of: "RTP/AVP", with: "RTP/SAVP")
        case .transcoded:
            callee
                ? SpillwayTestSupport.sdp([("audio", port, "96", ["rtpmap:96 opus/48000/2"])]) : audioSDP(port: port)
        }
    }

    /// A decrypting session keyed with the relay's a=crypto in a reply's SDP.
    private static func relayKey(_ reply: BencodeValue) throws -> SRTPSession {
        let text = reply["sdp"]?.stringValue ?? ""
        guard let line = try SessionDescription(parsing: text).media.first?.attributes(named: "crypto").first,
            let line
        else { throw ScriptedCallError.refused("no a=crypto in the relay's SDP: \(text)") }
        let key = try CryptoAttribute(parsing: line)
        return try SRTPSession(suite: key.suite, key: key.masterKey, role: .decrypting)
    }

    /// One 20 ms Opus frame of a 440 Hz tone.
    private static func encodedOpusFrame() -> [UInt8] {
        guard let encoder = try? OpusEncoder(sampleRate: 48000, settings: OpusEncoderSettings()) else { return [] }
        let samples: [Float] = (0..<960).map { index in
            let phase = 2 * Double.pi * 440 * Double(index) / 48000
            return Float(0.3 * sin(phase))
        }
        var buffer = [UInt8](repeating: 0, count: 1500)
        let length = samples.withUnsafeBufferPointer { frame in
            buffer.withUnsafeMutableBytes { (try? encoder.encode(frame, into: $0)) ?? 0 }
        }
        return Array(buffer[0..<length])
    }
}

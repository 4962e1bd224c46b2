import Bencode
import CSpillwayShims
import MediaPlane
import RTP
import SDP

#if canImport(Glibc)
import Glibc
#endif

/// A two-party call driven through a relay over NG: the caller and callee are local UDP peers, the
/// offer and answer are built from their addresses, and both send paced G.711 RTP to the relay.
/// It reports what each side sent and received, and the relay's own `query` figures.
public struct ScriptedCall {
    public var callID: String
    public var packetsPerSide: Int
    public var intervalMilliseconds: Int

    public init(callID: String, packetsPerSide: Int = 100, intervalMilliseconds: Int = 20) {
        self.callID = callID
        self.packetsPerSide = packetsPerSide
        self.intervalMilliseconds = intervalMilliseconds
    }

    /// What one run observed.
    public struct Outcome {
        /// Relay ports the caller and callee were told to send to.
        public var relayPortForCaller: UInt16
        public var relayPortForCallee: UInt16
        public var sentByCaller: Int
        public var receivedByCallee: Int
        public var sentByCallee: Int
        public var receivedByCaller: Int
        /// The relay's `query` reply just before `delete`.
        public var query: BencodeValue
    }

    public func run(through client: NGClient, mediaIP: String = "127.0.0.1") throws -> Outcome {
        let caller = try UDPPeer(bindingTo: mediaIP)
        let callee = try UDPPeer(bindingTo: mediaIP)
        let offer = try client.request([
            "command": "offer", "call-id": .string(callID), "from-tag": "caller",
            "sdp": .string(Self.audioSDP(for: caller.address)), "replace": ["origin"],
        ])
        let relayForCallee = try Self.mediaAddress(in: offer)
        let answer = try client.request([
            "command": "answer", "call-id": .string(callID), "from-tag": "caller", "to-tag": "callee",
            "sdp": .string(Self.audioSDP(for: callee.address)),
        ])
        let relayForCaller = try Self.mediaAddress(in: answer)

        var receivedByCallee = 0
        var receivedByCaller = 0
        let payload = [UInt8](repeating: 0xFF, count: 160)
        for sequence in 0..<packetsPerSide {
            let timestamp = UInt32(sequence * 160)
            caller.send(
                Self.rtp(sequence: sequence, timestamp: timestamp, ssrc: 0x1111, payload: payload), to: relayForCaller)
            callee.send(
                Self.rtp(sequence: sequence, timestamp: timestamp, ssrc: 0x2222, payload: payload), to: relayForCallee)
            receivedByCallee += callee.drain(quietMilliseconds: 0).count
            receivedByCaller += caller.drain(quietMilliseconds: 0).count
            if intervalMilliseconds > 0 { usleep(UInt32(intervalMilliseconds * 1000)) }
        }
        receivedByCallee += callee.drain(quietMilliseconds: 200).count
        receivedByCaller += caller.drain(quietMilliseconds: 200).count
        let query = try client.request(["command": "query", "call-id": .string(callID)])
        _ = try client.request(["command": "delete", "call-id": .string(callID), "from-tag": "caller"])
        return Outcome(
            relayPortForCaller: relayForCaller.port, relayPortForCallee: relayForCallee.port,
            sentByCaller: packetsPerSide, receivedByCallee: receivedByCallee,
            sentByCallee: packetsPerSide, receivedByCaller: receivedByCaller, query: query)
    }

    /// A one-stream PCMU session description for a party receiving at `address`.
    public static func audioSDP(for address: SocketAddress) -> String {
        let family = address.isIPv6 ? "IP6" : "IP4"
        return """
            v=0\r
            o=- 1 1 IN \(family) \(address.ip)\r
            s=spillway\r
            c=IN \(family) \(address.ip)\r
            t=0 0\r
            m=audio \(address.port) RTP/AVP 0\r
            a=rtpmap:0 PCMU/8000\r
            a=sendrecv\r

            """
    }

    /// The relay address the reply's SDP tells its receiver to send the first m= line to: the
    /// section's own `c=` address if it has one, else the session's.
    public static func mediaAddress(in reply: BencodeValue) throws(ScriptedCallError) -> SocketAddress {
        try mediaAddresses(in: reply)[0]
    }

    /// The relay's media address of every m= line of an offer or answer reply's SDP, in order.
    public static func mediaAddresses(in reply: BencodeValue) throws(ScriptedCallError) -> [SocketAddress] {
        guard reply["result"]?.stringValue == "ok", let sdp = reply["sdp"]?.stringValue else {
            throw .refused(reply["error-reason"]?.stringValue ?? "\(reply)")
        }
        guard let description = try? SessionDescription(parsing: sdp), !description.media.isEmpty else {
            throw .refused("no media address in \(sdp)")
        }
        var addresses: [SocketAddress] = []
        for section in description.media {
            guard let ip = description.connection(of: section)?.address,
                let address = SocketAddress(ip: ip, port: UInt16(clamping: section.port))
            else { throw .refused("no media address in \(sdp)") }
            addresses.append(address)
        }
        return addresses
    }

    /// An RTP packet with a fixed 12-byte header.
    public static func rtp(
        sequence: Int, timestamp: UInt32, ssrc: UInt32, payloadType: UInt8 = 0, marker: Bool = false, payload: [UInt8]
    ) -> [UInt8] {
        RTPHeader(
            marker: marker, payloadType: payloadType, sequenceNumber: UInt16(truncatingIfNeeded: sequence),
            timestamp: timestamp, ssrc: ssrc
        )
        .fixedHeaderBytes() + payload
    }
}

/// Why a scripted call could not be set up.
public enum ScriptedCallError: Error, CustomStringConvertible {
    case refused(String)

    public var description: String {
        switch self {
        case .refused(let reason): "the relay refused the call: \(reason)"
        }
    }
}

import Bencode
import MediaPlane
import SpillwayClient

/// A call set up through a relay whose two parties each send a PCMU packet per `sendNext()` (the
/// test paces them, 20 ms apart for real G.711) and count what arrives, by sequence number.
public final class PacedCall {
    public let callID: String
    /// The node whose reply carried the media addresses.
    public let node: String?
    private let caller: UDPPeer
    private let callee: UDPPeer
    private let towardsCallee: SocketAddress
    private let towardsCaller: SocketAddress
    public private(set) var sent = 0
    private var heardByCallee = Set<Int>()
    private var heardByCaller = Set<Int>()

    /// Offers and answers `callID` through `request` (a node's NG client).
    public init(callID: String, request: (BencodeValue) throws -> BencodeValue) throws {
        self.callID = callID
        caller = try UDPPeer()
        callee = try UDPPeer()
        let offer = try request([
            "command": "offer", "call-id": .string(callID), "from-tag": "A",
            "sdp": .string(audioSDP(port: caller.address.port)),
        ])
        guard offer["result"] == "ok" else {
            throw ScriptedCallError.refused(offer["error-reason"]?.stringValue ?? "\(offer)")
        }
        let answer = try request([
            "command": "answer", "call-id": .string(callID), "from-tag": "A", "to-tag": "B",
            "sdp": .string(audioSDP(port: callee.address.port)),
        ])
        node = answer["spillway-node"]?.stringValue
        towardsCallee = try ScriptedCall.mediaAddress(in: answer)
        towardsCaller = try ScriptedCall.mediaAddress(in: offer)
    }

    /// The relay ports the parties send to (a flood's targets).
    public var relayAddresses: [SocketAddress] { [towardsCallee, towardsCaller] }

    /// One packet each way, then whatever has arrived.
    public func sendNext() {
        sent += 1
        _ = caller.send(pcmu(sent, ssrc: 0xCA11), to: towardsCallee)
        _ = callee.send(pcmu(sent, ssrc: 0xCA1E), to: towardsCaller)
        collect(waitMilliseconds: 0)
    }

    /// Reads what has arrived, waiting up to `waitMilliseconds` for the first packet of each side.
    public func collect(waitMilliseconds: Int32) {
        for (peer, heard) in [(callee, \PacedCall.heardByCallee), (caller, \PacedCall.heardByCaller)] {
            var wait = waitMilliseconds
            while let packet = peer.receive(timeoutMilliseconds: wait) {
                wait = 0
                // Only the other party's packets (by SSRC): a flood may reach the parties too.
                guard packet.bytes.count >= 12,
                    packet.bytes[8...11].elementsEqual(peer === callee ? [0, 0, 0xCA, 0x11] : [0, 0, 0xCA, 0x1E])
                else { continue }
                self[keyPath: heard].insert(Int(packet.bytes[2]) << 8 | Int(packet.bytes[3]))
            }
        }
    }

    /// Packets not (yet) received, each way.
    public var lost: (towardsCallee: Int, towardsCaller: Int) {
        (sent - heardByCallee.count, sent - heardByCaller.count)
    }
}

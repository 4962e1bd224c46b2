import SRTP
import SpillwayClient

/// An SRTP party: its RTP and RTCP sockets, the SDES key it sends with, and its SDP.
public struct SecureParty {
    public let rtp: UDPPeer
    public let rtcp: UDPPeer
    public let key: CryptoAttribute
    public let encryptor: SRTPSession

    public init(suite: SRTPSuite = .aesCM128HMACSHA1_80, tag: Int = 1) throws {
        (rtp, rtcp) = try UDPPeer.bindPair()
        key = .generated(tag: tag, suite: suite)
        encryptor = try SRTPSession(suite: suite, key: key.masterKey, role: .encrypting)
    }

    /// A PCMU offer or answer on `rtp`'s port with this party's a=crypto line, as `proto`.
    public func sdp(attributes: [String] = [], proto: String = "RTP/SAVP") -> String {
        audioSDP(port: rtp.address.port, ["crypto:\(key.attributeValue())"] + attributes)
            .replacingOccurrences(of: "RTP/AVP", with: proto)
    }
}

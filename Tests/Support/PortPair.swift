import SpillwayClient

#if canImport(Glibc)
import Glibc
#endif

extension UDPPeer {
    /// An RTP peer on a port the kernel picks and an RTCP peer on the port after it. That port
    /// can be taken (by another test's socket, say), so a taken one is retried with a new pick.
    public static func bindPair() throws -> (rtp: UDPPeer, rtcp: UDPPeer) {
        for _ in 0..<20 {
            let rtp = try UDPPeer()
            if let rtcp = try? UDPPeer(port: rtp.address.port + 1) { return (rtp, rtcp) }
        }
        throw UDPPeerError.system("bind of an RTP/RTCP port pair (20 tries)", EADDRINUSE)
    }
}

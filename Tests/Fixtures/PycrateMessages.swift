/// Hex digits (two per octet, nothing between them) as bytes.
public func hexBytes(_ hex: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex {
        let next = hex.index(index, offsetBy: 2)
        bytes.append(UInt8(hex[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

/// Messages built by pycrate 0.8.1 (an independent H.225.0/H.245 codec), as the suite's H.323
/// test endpoint (Tests/InteropTests/Scripts/h323_endpoint.py) encodes them.
public enum PycrateMessages {
    /// A Setup from 127.0.0.21 to 5551234 at 127.0.0.22:1720, tunnelling H.245, with a fastStart
    /// offer of G.711 mu-law: a forward OLC 101 (the caller's RTCP 5001) and a reverse OLC 1
    /// (the caller's RTP 5000 and RTCP 5001).
    public static let setup = hexBytes(
        "2098060008914a00040200010300888456707f00001606b800000102030405060708090a0b0c0d0e0f00dd1d80000007007f00001506b8"
            + "1100101112131415161718191a1b1c1d1e1f3202120000640c6013800a040001007f00001513891d400000060401004c6013801114"
            + "0001007f0000151388007f0000151389010001000100010010800180")
    /// A Facility of body `empty` tunnelling an OpenLogicalChannelAck for channel 101: the callee
    /// receives RTP at 127.0.0.22:6000 and RTCP at 6001.
    public static let tunnelledAck = hexBytes("2810010010c0018019011722c000640680101c00007f0000161770007f0000161771")
    /// The OpenLogicalChannelAck alone.
    public static let ack = hexBytes("22c000640680101c00007f0000161770007f0000161771")
}

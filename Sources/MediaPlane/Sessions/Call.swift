import CSpillwayShims
import SDP

/// One relayed call (rtpengine's "call"): two legs, keyed by call-id, placed on one worker.
final class Call {
    let id: String
    let worker: Int
    /// The offerer's leg first, the recipient's second.
    var legs: [Leg]
    let createdWallNanos: UInt64
    var lastSignalNanos: UInt64
    /// Set while the call's media is being recorded.
    var recorder: (any PacketRecorder)?
    /// The codec options' result per m= line (0-based) of the last offer that had any.
    var codecOffers: [Int: CodecOffer] = [:]

    init(id: String, worker: Int, offererTag: String?, createdWallNanos: UInt64 = spw_wall_nanos()) {
        self.id = id
        self.worker = worker
        legs = [Leg(tag: offererTag), Leg(tag: nil)]
        self.createdWallNanos = createdWallNanos
        lastSignalNanos = spw_monotonic_nanos()
    }

    /// The index of the leg with `tag`, if any.
    func legIndex(tag: String) -> Int? {
        legs.firstIndex { $0.tag == tag }
    }

    /// Every side of every stream, for teardown and accounting.
    var allMedia: [LegMedia] {
        legs.flatMap { $0.media.compactMap { $0 } }
    }

    /// When any side of the call last received a packet (0: never). Reads the counters in place:
    /// the idle sweep asks every call each second, so this builds no arrays.
    var lastPacketNanos: UInt64 {
        var latest: UInt64 = 0
        for leg in legs.indices {
            for index in legs[leg].media.indices {
                guard let counters = legs[leg].media[index]?.counters else { continue }
                latest = max(latest, counters.lastPacketTime)
            }
        }
        return latest
    }
}

/// One party of a call (rtpengine's "monologue"): the SIP tag and one `LegMedia` per m= line.
struct Leg {
    /// The SIP From- or To-tag; nil for the recipient until the answer names it.
    var tag: String?
    /// The position of the interface that faces this party (the node's first unless the offer chose).
    var interface = 0
    /// Indexed by m= line; nil for a section that was rejected (port 0).
    var media: [LegMedia?] = []
    /// The SDP the relay last sent this party (the offer or answer pointing it at the relay).
    var sdpSent: String?

    /// The media of m= line `index` (0-based), if the leg has it.
    func media(at index: Int) -> LegMedia? {
        index < media.count ? media[index] : nil
    }
}

/// The relay's side of one m= line towards one party: its port pair, the party's advertised
/// addresses, what was negotiated, and the counters of what the party sends.
struct LegMedia {
    var type: String
    /// The transport protocol this party uses (the relay may bridge RTP/AVP and RTP/SAVP).
    var proto: String
    var ports: PortAllocator.Pair
    /// The position of the interface its sockets are bound on.
    var interface: Int
    var slot: MediaSlot
    var counters: StreamCounters
    var advertisedRTP: SocketAddress = .unset
    var advertisedRTCP: SocketAddress = .unset
    /// The party sends and expects RTCP on the RTP port.
    var rtcpMux = false
    var latching = LatchingRule.symmetric
    var security = MediaSecurity.plain
    /// Set when what this party sends is transcoded for the other.
    var transcoding: TranscodingStage?
    /// The codec this party sends, as signalling without SDP named it (an H.245 data type).
    var signalledCodec: String?
    /// The pair is bound on another node's media IP (the call was taken over): its port is not
    /// the allocator's.
    var isAdopted = false
}

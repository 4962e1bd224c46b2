import Bencode
import H323Edge
import ServiceEdge

extension H323Counters {
    /// The `h323` section of NG `statistics`, with the H.323 calls up now.
    func bencoded(activeCalls: Int) -> BencodeValue {
        .dictionary([
            "calls": .integer(Int64(activeCalls)), "calls-routed": .integer(Int64(callsRouted)),
            "calls-refused": .integer(Int64(callsRefused)),
            "calls-ended": .dictionary(callsEnded.mapValues { .integer(Int64($0)) }),
            "messages-relayed": .integer(Int64(messagesRelayed)),
            "h245-messages-relayed": .integer(Int64(h245MessagesRelayed)),
            "dropped": .dictionary(dropped.mapValues { .integer(Int64($0)) }),
            "spills": .dictionary(spills.mapValues { .integer(Int64($0)) }), "all-busy": .integer(Int64(allBusy)),
        ])
    }
}

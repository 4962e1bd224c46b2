import Bencode
import H323Edge

extension H323Counters {
    /// The `h323` section of NG `statistics`.
    var bencoded: BencodeValue {
        .dictionary([
            "calls-routed": .integer(Int64(callsRouted)), "calls-refused": .integer(Int64(callsRefused)),
            "calls-ended": .dictionary(callsEnded.mapValues { .integer(Int64($0)) }),
            "messages-relayed": .integer(Int64(messagesRelayed)), "h245-messages-relayed": .integer(Int64(h245MessagesRelayed)),
            "dropped": .dictionary(dropped.mapValues { .integer(Int64($0)) }),
        ])
    }
}

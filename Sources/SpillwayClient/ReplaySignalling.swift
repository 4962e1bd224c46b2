import Bencode
import Capture
import MediaPlane

/// How a replay sets its calls up at the relay and ends them: over NG (`NGReplaySignalling`) or
/// over H.323 call signalling (`H323ReplaySignalling`).
protocol ReplaySignalling {
    /// Sets up call `callID`, whose captured streams are `streams`; `callers[i]` and `callees[i]`
    /// are the sockets the two parties send and receive stream `i` on.
    func setUp(_ callID: String, streams: [CapturedCall], callers: [UDPPeer], callees: [UDPPeer]) throws
        -> ReplayedCall
    /// Ends a call set up by `setUp`.
    func tearDown(_ call: ReplayedCall)
}

/// A replayed call the relay took: where it landed, and the relay's addresses each party sends
/// each stream's RTP and RTCP to.
struct ReplayedCall {
    struct Target {
        var rtp: SocketAddress
        var rtcp: SocketAddress
    }

    var placement: ReplayReport.Placement
    /// Per stream, in the order of `setUp`'s streams: the relay's addresses for the caller and the callee.
    var relayForCaller: [Target]
    var relayForCallee: [Target]
    /// What the call holds open while it lasts (its signalling connections).
    var resources: [AnyObject] = []
}

/// Sets calls up over NG: an offer with one m= line per stream from the caller's sockets, an answer
/// from the callee's. RTCP goes multiplexed on the RTP port (`a=rtcp-mux`).
struct NGReplaySignalling: ReplaySignalling {
    let client: NGClient
    let options: ReplayOptions

    func setUp(_ callID: String, streams: [CapturedCall], callers: [UDPPeer], callees: [UDPPeer]) throws
        -> ReplayedCall
    {
        let offer = try client.request([
            "command": "offer", "call-id": .string(callID), "from-tag": "replay-caller",
            "sdp": .string(sdp(for: streams, ports: callers.map(\.address.port))),
            "supports": ["load limit"],
            // Packets are replayed as captured and checked byte for byte: captured SRTP must
            // pass through with its own keys rather than be re-keyed.
            "SDES": ["off"],
        ])
        guard offer["result"] == "ok" else { throw ReplayError.refused(callID: callID, reply: offer) }
        let answer = try client.request([
            "command": "answer", "call-id": .string(callID), "from-tag": "replay-caller", "to-tag": "replay-callee",
            "sdp": .string(sdp(for: streams, ports: callees.map(\.address.port))),
        ])
        guard answer["result"] == "ok" else { throw ReplayError.refused(callID: callID, reply: answer) }
        let forCaller = try ScriptedCall.mediaAddresses(in: answer)
        let forCallee = try ScriptedCall.mediaAddresses(in: offer)
        guard forCaller.count == streams.count, forCallee.count == streams.count else {
            throw ReplayError.refused(callID: callID, reply: answer)
        }
        return ReplayedCall(
            placement: ReplayReport.Placement(
                callID: callID, node: offer["spillway-node"]?.stringValue,
                hops: Int(offer["spillway-hops"]?.integerValue ?? 0), relayAddress: forCallee[0].ip),
            relayForCaller: forCaller.map { ReplayedCall.Target(rtp: $0, rtcp: $0) },
            relayForCallee: forCallee.map { ReplayedCall.Target(rtp: $0, rtcp: $0) })
    }

    func tearDown(_ call: ReplayedCall) {
        _ = try? client.request(["command": "delete", "call-id": .string(call.placement.callID)])
    }

    /// The SDP a replayed party sends: an m= line per stream at its port, with the captured payload
    /// types (the dominant one first), codec, profile and SDES keys (the packets are replayed as
    /// captured, so an SRTP call keeps its keys and, with `SDES: off`, the relay passes it
    /// through), and `a=rtcp-mux` when RTCP is replayed.
    private func sdp(for streams: [CapturedCall], ports: [UInt16]) -> String {
        let ip = options.localIP
        var text = "v=0\r\no=- 1 1 IN IP4 \(ip)\r\ns=spillway replay\r\nc=IN IP4 \(ip)\r\nt=0 0\r\n"
        for (call, port) in zip(streams, ports) {
            let flows = options.replayedFlows(of: call)
            var payloadTypes: [UInt8] = []
            for flow in flows where !flow.isRTCP && !payloadTypes.contains(flow.payloadType) {
                payloadTypes.append(flow.payloadType)
            }
            let video = ["H264", "H265", "H263", "H261", "VP8", "VP9", "AV1"].contains(
                call.encoding?.name.uppercased() ?? "")
            text += "m=\(video ? "video" : "audio") \(port) \(call.profile ?? options.defaultProfile) "
            text += payloadTypes.map(String.init).joined(separator: " ") + "\r\n"
            if let encoding = call.encoding {
                text += "a=rtpmap:\(call.forward.payloadType) \(encoding.name)/\(encoding.clockRate)\r\n"
            }
            if flows.contains(where: \.isRTCP) { text += "a=rtcp-mux\r\n" }
            for crypto in call.cryptoAttributes { text += "a=crypto:\(crypto)\r\n" }
        }
        return text
    }
}

extension ReplayOptions {
    /// The flows replayed of a captured stream: every SSRC's RTP and the RTCP, or with `rtpOnly`
    /// the dominant SSRCs'.
    func replayedFlows(of call: CapturedCall) -> [MediaFlow] {
        rtpOnly ? call.flows : call.allFlows
    }
}

import Bencode
import Capture
import Foundation
import MediaPlane
import SpillwayClient
import SpillwayTestSupport
import Testing

/// NG `start recording` / `stop recording` and `record call`: the node writes the call's media to a
/// pcap file that tshark and the capture reader read back, packet for packet.
@Suite struct RecordingTests {
    @Test(arguments: [false, true])
    func aRecordedCallHoldsExactlyWhatBothPartiesSent(recordOnOffer: Bool) async throws {
        let directory = try scratchDirectory("recordings")
        let node = try await TestCluster.start(
            count: 1, policy: .delegate, maxSessions: 10,
            configure: { _, configuration in
                configuration.recordingDirectory = directory
            })
        let callID = "rec-\(recordOnOffer)"
        let caller = try UDPPeer()
        let callee = try UDPPeer()
        var offer: [String: BencodeValue] = [
            "command": "offer", "call-id": .string(callID), "from-tag": "A",
            "sdp": .string(audioSDP(port: caller.address.port)),
        ]
        if recordOnOffer { offer["record call"] = "yes" }
        let offerReply = try node.request(0, .dictionary(offer))
        let answerReply = try node.request(
            0,
            [
                "command": "answer", "call-id": .string(callID), "from-tag": "A", "to-tag": "B",
                "sdp": .string(audioSDP(port: callee.address.port)),
            ])
        let relayForCaller = try ScriptedCall.mediaAddress(in: answerReply)
        let relayForCallee = try ScriptedCall.mediaAddress(in: offerReply)

        // Not recorded yet (unless asked on the offer): these two do not belong in the file.
        caller.send(pcmu(0, ssrc: 1), to: relayForCaller)
        #expect(callee.receive(timeoutMilliseconds: 1000) != nil)
        if !recordOnOffer {
            #expect(try node.request(0, ["command": "start recording", "call-id": .string(callID)])["result"] == "ok")
            try await Task.sleep(for: .milliseconds(100))
        }
        var sent: [[UInt8]] = []
        for sequence in 1...20 {
            let fromCaller = pcmu(sequence, ssrc: 1)
            let fromCallee = pcmu(sequence, ssrc: 2)
            caller.send(fromCaller, to: relayForCaller)
            #expect(callee.receive(timeoutMilliseconds: 1000)?.bytes == fromCaller)
            callee.send(fromCallee, to: relayForCallee)
            #expect(caller.receive(timeoutMilliseconds: 1000)?.bytes == fromCallee)
            sent += [fromCaller, fromCallee]
        }
        #expect(try node.request(0, ["command": "stop recording", "call-id": .string(callID)])["result"] == "ok")
        try await Task.sleep(for: .milliseconds(100))
        // After stopping, nothing more is written.
        caller.send(pcmu(99, ssrc: 1), to: relayForCaller)
        #expect(callee.receive(timeoutMilliseconds: 1000) != nil)
        _ = try node.request(0, ["command": "delete", "call-id": .string(callID)])
        try await Task.sleep(for: .milliseconds(200))

        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter {
            $0.hasPrefix(callID) && $0.hasSuffix(".pcap")
        }
        try #require(files.count == 1, "\(files)")
        let path = "\(directory)/\(files[0])"
        let recorded = try CaptureFile(path: path).datagrams
        let expected = recordOnOffer ? [pcmu(0, ssrc: 1)] + sent : sent
        #expect(recorded.map(\.payload) == expected)
        // Each datagram goes from the party to the relay socket it sent to.
        #expect(recorded.allSatisfy { $0.destination.ip == "127.0.0.11" })
        #expect(Set(recorded.map(\.source.port)) == [caller.address.port, callee.address.port])
        #expect(Set(recorded.map(\.destination.port)) == [relayForCaller.port, relayForCallee.port])

        // tshark reads it too, and finds the same RTP packets.
        let decodeAs = [relayForCaller.port, relayForCallee.port].flatMap { ["-d", "udp.port==\($0),rtp"] }
        let rtp = try await tsharkFields(path, filter: "rtp", fields: ["rtp.ssrc", "rtp.seq"], arguments: decodeAs)
        #expect(rtp.count == expected.count)
        #expect(rtp.first == ["0x00000001", recordOnOffer ? "0" : "1"])
        await node.stop()
    }

    @Test func recordingIsRefusedClearlyWhenTheNodeHasNoRecordingDirectory() async throws {
        let node = try await TestCluster.start(count: 1, policy: .delegate, maxSessions: 10)
        _ = try node.offer(at: 0, callID: "no-rec")
        let reply = try node.request(0, ["command": "start recording", "call-id": "no-rec"])
        #expect(reply["result"] == "error")
        #expect(reply["error-reason"] == "recording: this node does not record calls; start it with --recording-dir")
        await node.stop()
    }
}

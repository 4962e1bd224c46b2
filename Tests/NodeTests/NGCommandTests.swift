import Bencode
import NGProtocol
import SpillwayClient
import SpillwayTestSupport
import Testing

@Suite struct NGCommandTests {
    @Test func workloadDecodesToItsOwnCommandWithTheLimitsItChangesAndCallCommandsToRequests() throws {
        let change = try NGCommand(["command": "workload", "max-sessions": 10, "threshold": "0.5", "node": "ignored"])
        #expect(
            change
                == .workload(
                    WorkloadChange(settings: [
                        .init(name: "threshold", value: "0.5"), .init(name: "max-sessions", value: "10"),
                    ])))
        #expect(try NGCommand(["command": "workload"]) == .workload(WorkloadChange(settings: [])))
        #expect(try NGCommand(["command": "ping"]) == .call(.ping))
        #expect(
            throws: NGError.invalidValue(
                key: "threshold", value: "[\"0.5\"]", expected: "a number, as an integer or a string")
        ) {
            try NGCommand(["command": "workload", "threshold": ["0.5"]])
        }
    }

    @Test func pingIsAnsweredWithPong() async throws {
        let node = try await TestNode.start()
        #expect(try node.request(["command": "ping"])["result"] == "pong")
        await node.stop()
    }

    @Test func aScriptedCallCrossesTheRelayBothWaysAndQueryCountsIt() async throws {
        let node = try await TestNode.start()
        let outcome = try ScriptedCall(callID: "scripted", packetsPerSide: 60, intervalMilliseconds: 2).run(
            through: node.client)
        #expect(outcome.receivedByCallee == 60)
        #expect(outcome.receivedByCaller == 60)
        for tag in ["caller", "callee"] {
            let stream = outcome.query["tags"]?[tag]?["medias"]?.listValue?.first?["streams"]?.listValue?.first
            #expect(stream?["stats"]?["packets"] == 60)
            #expect(stream?["stats"]?["bytes"] == .integer(60 * 172))
            #expect(stream?["forwarded"] == 60)
            #expect(stream?["lost"] == 0)
            #expect(stream?["expected"] == 59)  // RFC 3550 probation: counting starts at the second packet
        }
        #expect(outcome.query["totals"]?["RTP"]?["packets"] == 120)
        await node.stop()
    }

    @Test func aRetransmittedRequestGetsTheCachedReplyAndRunsOnce() async throws {
        let node = try await TestNode.start()
        let request = NGMessage(
            cookie: "retransmit-1",
            body: [
                "command": "offer", "call-id": "rtx", "from-tag": "A", "sdp": .string(audioSDP(port: 5000)),
            ]
        ).encoded
        let first = try #require(node.client.exchange(request, timeoutMilliseconds: 1000))
        let second = try #require(node.client.exchange(request, timeoutMilliseconds: 1000))
        #expect(first == second)
        let statistics = try node.request(["command": "statistics"])
        #expect(statistics["statistics"]?["totalstatistics"]?["offers"] == 1)
        #expect(statistics["statistics"]?["currentstatistics"]?["portpairsinuse"] == 2)
        await node.stop()
    }

    @Test func listNamesTheActiveCalls() async throws {
        let node = try await TestNode.start()
        for id in ["call-b", "call-a"] {
            _ = try node.request([
                "command": "offer", "call-id": .string(id), "from-tag": "A", "sdp": .string(audioSDP(port: 5000)),
            ])
        }
        #expect(try node.request(["command": "list"])["calls"] == ["call-a", "call-b"])
        _ = try node.request(["command": "delete", "call-id": "call-a", "from-tag": "A"])
        #expect(try node.request(["command": "list"])["calls"] == ["call-b"])
        await node.stop()
    }

    /// Requests whose bencode is broken, written out byte for byte.
    static let malformedBencode: [(String, String)] = [
        ("d7:command", "Failed to decode bencode: bencode ends early at byte 10"),
        ("d7:command5:pinge", "Failed to decode bencode: bencode ends early at byte 17"),
        ("i42e", "The message body is not a bencode dictionary"),
    ]

    /// Well-formed requests that must be refused.
    static let invalidRequests: [(BencodeValue, String)] = [
        (["command": "explode"], "Unrecognized command 'explode'"),
        (["command": 7], "Invalid value '7' for key 'command': expected a string"),
        (["command": "offer", "from-tag": "A", "sdp": "v=0"], "No call-id in message"),
        (["command": "offer", "call-id": "x", "sdp": "v=0"], "No from-tag in message"),
        (["command": "offer", "call-id": "x", "from-tag": "A"], "No sdp in message"),
        (
            ["command": "answer", "call-id": "unknown", "from-tag": "A", "to-tag": "B", "sdp": "v=0"],
            "Unknown call-id 'unknown'"
        ),
        (["command": "query", "call-id": "missing"], "Unknown call-id 'missing'"),
        (["command": "delete", "call-id": "missing", "from-tag": "A"], "Unknown call-id 'missing'"),
        (
            ["command": "offer", "call-id": "x", "from-tag": "A", "sdp": "v=0\r\ns=-\r\nt=0 0\r\n"],
            "SDP has no m= lines"
        ),
        (
            ["command": "offer", "call-id": "y", "from-tag": "A", "sdp": "v=0\r\ngarbage"],
            "SDP line 2 'garbage' is invalid"
        ),
        (
            ["command": "offer", "call-id": "z", "from-tag": "A", "sdp": "v=0", "ICE": "force"],
            "'ICE' = 'force' is not supported"
        ),
        (
            ["command": "offer", "call-id": "w", "from-tag": "A", "sdp": "v=0", "rtcp-mux": ["bogus"]],
            "Invalid value 'bogus' for key 'rtcp-mux'"
        ),
        (
            [
                "command": "offer", "call-id": "v", "from-tag": "A", "sdp": .string(audioSDP(port: 5000)),
                "transport-protocol": "UDP/TLS/RTP/SAVP",
            ],
            "'transport-protocol' = 'UDP/TLS/RTP/SAVP' is not supported"
        ),
    ]

    @Test(arguments: malformedBencode)
    func malformedBencodeGetsAnErrorNamingTheOffset(body: String, reason: String) async throws {
        try await expectRefusal(Array("c1 \(body)".utf8), reason: reason)
    }

    @Test(arguments: invalidRequests)
    func invalidRequestsGetAnErrorNamingTheProblem(body: BencodeValue, reason: String) async throws {
        try await expectRefusal(NGMessage(cookie: "c1", body: body).encoded, reason: reason)
    }

    /// Sends `request` and checks the reply is `result: error` with `reason` in its error-reason,
    /// that no call was left behind, and that the node still answers.
    func expectRefusal(_ request: [UInt8], reason: String) async throws {
        let node = try await TestNode.start()
        let reply = try #require(node.client.exchange(request, timeoutMilliseconds: 1000))
        let (cookie, replyBody) = try #require(NGMessage.splitCookie(reply))
        #expect(cookie == "c1")
        let decoded = try BencodeDecoder().decode(replyBody)
        #expect(decoded["result"] == "error")
        let text = try #require(decoded["error-reason"]?.stringValue)
        #expect(text.contains(reason), "error-reason was: \(text)")
        #expect(try node.request(["command": "ping"])["result"] == "pong")
        #expect(try node.request(["command": "list"])["calls"] == [])
        let statistics = try node.request(["command": "statistics"])["statistics"]
        #expect(statistics?["currentstatistics"]?["portpairsinuse"] == 0)
        await node.stop()
    }

    @Test func aDatagramWithoutACookieIsDroppedAndTheNodeKeepsAnswering() async throws {
        let node = try await TestNode.start()
        #expect(node.client.exchange(Array("nocookie".utf8), timeoutMilliseconds: 300) == nil)
        #expect(node.client.exchange([0xFF, 0x00, 0x20, 0x64], timeoutMilliseconds: 300) == nil)
        #expect(try node.request(["command": "ping"])["result"] == "pong")
        await node.stop()
    }

    @Test func unknownFlagsAreReportedAsAWarning() async throws {
        let node = try await TestNode.start()
        let reply = try node.request([
            "command": "offer", "call-id": "warn", "from-tag": "A", "sdp": .string(audioSDP(port: 5000)),
            "flags": ["trust-address", "no-such-flag"],
        ])
        #expect(reply["result"] == "ok")
        #expect(reply["warning"]?.stringValue == "Ignored flags: no-such-flag")
        await node.stop()
    }
}

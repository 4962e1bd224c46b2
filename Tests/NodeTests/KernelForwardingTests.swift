import Bencode
import Foundation
import Logging
import MediaPlane
import SRTP
import SpillwayClient
import SpillwayNode
import SpillwayTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The kernel fast path (`kernel-forwarding on`, which fails the node's start when the eBPF
/// program cannot be attached): once both parties of a plain call have latched, their packets are
/// forwarded by the kernel, counted in `query`, kept from strangers, and stop with the call; what
/// needs userspace (SRTP, transcoding, recording) stays there and still works.
@Suite struct KernelForwardingTests {
    /// Media packets the node's workers received and those the kernel forwarded, from NG `statistics`.
    static func dataPlane(_ node: TestNode) throws -> (worker: Int64, kernel: Int64) {
        let plane = try node.request(["command": "statistics"])["spillway"]?["data-plane"]
        return (
            try #require(plane?["worker-packets"]?.integerValue), try #require(plane?["kernel-packets"]?.integerValue)
        )
    }

    /// Where `received` first differs from `expected`, nil when they are equal.
    static func difference(_ received: [[UInt8]], _ expected: [[UInt8]]) -> String? {
        guard received != expected else { return nil }
        let index =
            zip(received, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            ?? min(received.count, expected.count)
        return "\(received.count) packets of \(expected.count), first difference at \(index)"
    }

    static func startNode(configure: (inout NodeConfiguration) -> Void = { _ in }) async throws -> TestNode {
        let node = try await TestNode.start { configuration in
            configuration.kernelForwarding = .on
            configure(&configuration)
        }
        let plane = try node.request(["command": "statistics"])["spillway"]?["data-plane"]
        #expect(plane?["kernel-devices"] == ["lo"])
        return node
    }

    /// Sends `count` packets each way, one pair per millisecond, starting at `first`, taking what
    /// arrived every 50 (a socket buffer holds about 200); returns what each party received.
    static func exchange(
        _ caller: UDPPeer, _ callee: UDPPeer, relay: (forCaller: SocketAddress, forCallee: SocketAddress),
        from first: Int, count: Int
    ) -> (atCallee: [(bytes: [UInt8], source: SocketAddress)], atCaller: [(bytes: [UInt8], source: SocketAddress)]) {
        var atCallee: [(bytes: [UInt8], source: SocketAddress)] = []
        var atCaller: [(bytes: [UInt8], source: SocketAddress)] = []
        for sequence in first..<(first + count) {
            _ = caller.send(pcmu(sequence, ssrc: 0xCA11), to: relay.forCaller)
            _ = callee.send(pcmu(sequence, ssrc: 0xCA1E), to: relay.forCallee)
            usleep(1000)
            if (sequence - first) % 50 == 49 {
                atCallee += callee.drain(quietMilliseconds: 0)
                atCaller += caller.drain(quietMilliseconds: 0)
            }
        }
        return (atCallee + callee.drain(quietMilliseconds: 200), atCaller + caller.drain(quietMilliseconds: 50))
    }

    @Test func aLatchedPlainCallIsForwardedInTheKernelKeptFromStrangersAndStoppedWhenDeleted() async throws {
        let node = try await Self.startNode()
        let (caller, callee, relay) = try node.audioCall("kernel-plain")

        // The first packets latch both parties in userspace; by the time a party has them, the
        // routes are in the kernel, and the workers see nothing more.
        let latching = Self.exchange(caller, callee, relay: relay, from: 1, count: 5)
        let latched = try Self.dataPlane(node)
        // Two packets each way validate a source (RFC 3550's probation): from the next one on (or
        // the next batch, when the worker was slow), the kernel forwards.
        #expect(latched.worker >= 4 && latched.worker + latched.kernel == 10, "\(latched)")
        let forwarded = Self.exchange(caller, callee, relay: relay, from: 6, count: 300)
        let atCallee = latching.atCallee + forwarded.atCallee
        let atCaller = latching.atCaller + forwarded.atCaller
        #expect(Self.difference(atCallee.map(\.bytes), (1...305).map { pcmu($0, ssrc: 0xCA11) }) == nil)
        #expect(Self.difference(atCaller.map(\.bytes), (1...305).map { pcmu($0, ssrc: 0xCA1E) }) == nil)
        let sources =
            atCallee.allSatisfy { $0.source == relay.forCallee } && atCaller.allSatisfy { $0.source == relay.forCaller }
        #expect(sources, "a packet came from another address than the relay's")
        let plane = try Self.dataPlane(node)
        #expect(plane.worker == latched.worker, "packets after latching reached the workers: \(plane)")
        #expect(plane.kernel - latched.kernel == 600, "\(latched) \(plane)")

        // query counts every packet, wherever it was forwarded.
        let fromCaller = try #require(try await node.stream(callID: "kernel-plain", tag: "A"))
        let fromCallee = try #require(try await node.stream(callID: "kernel-plain", tag: "B"))
        #expect(fromCaller["stats"]?["packets"] == 305 && fromCallee["stats"]?["packets"] == 305)
        #expect(fromCaller["stats"]?["bytes"] == .integer(305 * 172))
        #expect(fromCaller["lost"] == 0 && fromCallee["lost"] == 0)

        // A stranger's packets are neither relayed nor allowed to take the stream over.
        let stranger = try UDPPeer()
        for sequence in 306...320 { _ = stranger.send(pcmu(sequence, ssrc: 0x0BAD), to: relay.forCaller) }
        #expect(callee.drain(quietMilliseconds: 200).isEmpty)
        let after = Self.exchange(caller, callee, relay: relay, from: 321, count: 20)
        #expect(Self.difference(after.atCallee.map(\.bytes), (321..<341).map { pcmu($0, ssrc: 0xCA11) }) == nil)
        let dropped = try #require(try await node.stream(callID: "kernel-plain", tag: "A"))["drops"]
        #expect(dropped?["not-latched"] == 15, "\(String(describing: dropped))")

        // Deleting the call removes its routes at once: nothing more reaches the callee.
        #expect(try node.request(["command": "delete", "call-id": "kernel-plain"])["result"] == "ok")
        for sequence in 400..<420 { _ = caller.send(pcmu(sequence, ssrc: 0xCA11), to: relay.forCaller) }
        #expect(callee.drain(quietMilliseconds: 300).isEmpty)
        await node.stop()
    }

    @Test func srtpTranscodedAndRecordedCallsStayInUserspaceAndStillWork() async throws {
        let directory = NSTemporaryDirectory() + "kernel-recordings-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let node = try await Self.startNode { $0.recordingDirectory = directory }

        // SRTP terminated by the relay: the caller's SRTP is bridged to the callee's plain RTP.
        let secure = try SecureParty()
        let plain = try UDPPeer()
        let offer = try node.request([
            "command": "offer", "call-id": "kernel-srtp", "from-tag": "A", "sdp": .string(secure.sdp()),
            "transport-protocol": "RTP/AVP",
        ])
        let answer = try node.request([
            "command": "answer", "call-id": "kernel-srtp", "from-tag": "A", "to-tag": "B",
            "sdp": .string(audioSDP(port: plain.address.port)),
        ])
        let relayForSecure = try ScriptedCall.mediaAddress(in: answer)
        let relayForPlain = try ScriptedCall.mediaAddress(in: offer)
        for sequence in 1...50 {
            _ = secure.rtp.send(try secure.encryptor.protect(pcmu(sequence)).get(), to: relayForSecure)
            _ = plain.send(pcmu(sequence, ssrc: 0x5151), to: relayForPlain)
            usleep(1000)
        }
        #expect(Self.difference(plain.drain(quietMilliseconds: 200).map(\.bytes), (1...50).map { pcmu($0) }) == nil)
        #expect(secure.rtp.drain(quietMilliseconds: 50).count == 50)

        // Transcoded: PCMU from the caller reaches an Opus-only callee as Opus.
        let caller = try UDPPeer()
        let opusCallee = try UDPPeer()
        let transcoded = try node.connect(
            callID: "kernel-opus", caller: audioSDP(port: caller.address.port),
            callee: sdp([("audio", opusCallee.address.port, "96", ["rtpmap:96 opus/48000/2"])]),
            extraOffer: ["codec": ["transcode": ["opus"]]])
        for sequence in 1...50 {
            _ = caller.send(pcmu(sequence), to: transcoded.forCaller)
            usleep(1000)
        }
        let opus = opusCallee.drain(quietMilliseconds: 300)
        #expect(opus.count >= 40 && opus.allSatisfy { $0.bytes[1] & 0x7F == 96 }, "\(opus.count) Opus packets")
        #expect(try Self.dataPlane(node).kernel == 0, "SRTP and transcoded packets went to the kernel")

        // Recorded: a plain call in the kernel goes back to userspace when recording starts, and
        // the recording holds what was sent after that.
        let (recordedCaller, recordedCallee, relay) = try node.audioCall("kernel-recorded")
        _ = Self.exchange(recordedCaller, recordedCallee, relay: relay, from: 1, count: 5)
        let latched = try Self.dataPlane(node)
        _ = Self.exchange(recordedCaller, recordedCallee, relay: relay, from: 6, count: 50)
        let beforeRecording = try Self.dataPlane(node)
        #expect(beforeRecording.kernel - latched.kernel == 100, "\(latched) \(beforeRecording)")
        #expect(try node.request(["command": "start recording", "call-id": "kernel-recorded"])["result"] == "ok")
        try await Task.sleep(for: .milliseconds(100))
        let recorded = Self.exchange(recordedCaller, recordedCallee, relay: relay, from: 56, count: 50)
        #expect(Self.difference(recorded.atCallee.map(\.bytes), (56..<106).map { pcmu($0, ssrc: 0xCA11) }) == nil)
        let whileRecording = try Self.dataPlane(node)
        #expect(whileRecording.kernel == beforeRecording.kernel, "recorded packets bypassed the recorder")
        #expect(whileRecording.worker - beforeRecording.worker == 100)
        _ = try node.request(["command": "delete", "call-id": "kernel-recorded"])
        await node.stop()
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".pcap") }
        let size = try files.map {
            try FileManager.default.attributesOfItem(atPath: "\(directory)/\($0)")[.size] as? Int ?? 0
        }
        // 100 records of a 172-byte payload in UDP/IP/Ethernet, plus the file header.
        #expect(size.reduce(0, +) >= 100 * (172 + 42), "recordings: \(files) \(size)")
    }

    @Test func aSourceContinuingTheStreamIsRefusedWhileTheKernelStillHearsTheCaller() async throws {
        let node = try await Self.startNode()
        let (caller, callee, relay) = try node.audioCall("kernel-hijack")
        _ = Self.exchange(caller, callee, relay: relay, from: 1, count: 5)
        // The caller talks through the kernel for longer than the relatch silence (1 s), so the
        // workers last heard it long ago. In its last 50 ms a hijacker sends, right after each of
        // the caller's packets, the one that would continue the caller's stream.
        let hijacker = try UDPPeer()
        var atCallee: [[UInt8]] = []
        for sequence in 6..<306 {
            _ = caller.send(pcmu(sequence, ssrc: 0xCA11), to: relay.forCaller)
            if sequence >= 296 { _ = hijacker.send(pcmu(sequence + 1, ssrc: 0xCA11), to: relay.forCaller) }
            usleep(5000)
            if sequence % 50 == 0 { atCallee += callee.drain(quietMilliseconds: 0).map(\.bytes) }
        }
        atCallee += callee.drain(quietMilliseconds: 200).map(\.bytes)
        #expect(Self.difference(atCallee, (6..<306).map { pcmu($0, ssrc: 0xCA11) }) == nil)
        _ = callee.send(pcmu(400, ssrc: 0xCA1E), to: relay.forCallee)
        #expect(caller.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(400, ssrc: 0xCA1E))
        #expect(hijacker.drain(quietMilliseconds: 50).isEmpty, "the hijacker took the call")

        // Silent for the relatch silence, the caller is followed to a new address (a NAT rebinding).
        try await Task.sleep(for: .milliseconds(1100))
        let moved = try UDPPeer()
        for sequence in 306..<316 {
            _ = moved.send(pcmu(sequence, ssrc: 0xCA11), to: relay.forCaller)
            usleep(1000)
        }
        #expect(callee.drain(quietMilliseconds: 200).count == 10)
        _ = callee.send(pcmu(500, ssrc: 0xCA1E), to: relay.forCallee)
        #expect(moved.receive(timeoutMilliseconds: 1000)?.bytes == pcmu(500, ssrc: 0xCA1E))
        let stream = try #require(try await node.stream(callID: "kernel-hijack", tag: "A"))
        #expect(stream["latching"] == ["latched": 1, "relatched": 1])
        #expect(stream["drops"]?["not-latched"] == 10)
        await node.stop()
    }

    /// The media timeout and the loss figures read what the program counted: a call whose media
    /// only the kernel carries, for longer than the timeout, lives on with its last packet time
    /// current and its lost packets counted, and ends once silent.
    @Test func theMediaTimeoutAndLossFollowWhatOnlyTheKernelSees() async throws {
        let node = try await TestNode.start(mediaTimeout: 3) { $0.kernelForwarding = .on }
        let (caller, callee, relay) = try node.audioCall("kernel-timeout")
        _ = Self.exchange(caller, callee, relay: relay, from: 1, count: 5)
        let latched = try Self.dataPlane(node)
        // 4 s of media through the kernel alone; two of the caller's packets never leave it.
        let missing: Set<Int> = [100, 101]
        var sent = 5
        var sequence = 6
        let started = Date()
        while Date().timeIntervalSince(started) < 4 {
            if !missing.contains(sequence) {
                _ = caller.send(pcmu(sequence, ssrc: 0xCA11), to: relay.forCaller)
                sent += 1
            }
            _ = callee.send(pcmu(sequence, ssrc: 0xCA1E), to: relay.forCallee)
            sequence += 1
            usleep(20_000)
            _ = callee.drain(quietMilliseconds: 0)
            _ = caller.drain(quietMilliseconds: 0)
        }
        let lastSent = Date().timeIntervalSince1970
        #expect(try Self.dataPlane(node).worker == latched.worker, "the workers saw the media")
        // One query at once (the call ends 3 s after the last packet): the kernel counted each packet
        // before its send returned.
        let query = try node.request(["command": "query", "call-id": "kernel-timeout"])
        let stream = try #require(query["tags"]?["A"]?["medias"]?.listValue?.first?["streams"]?.listValue?.first)
        #expect(stream["stats"]?["packets"] == .integer(Int64(sent)))
        #expect(stream["lost"] == 2, "\(String(describing: stream["lost"]))")
        // The workers last heard the caller 4 s ago; the call's last packet is the kernel's.
        let lastPacket = try #require(stream["last packet"]?.integerValue)
        #expect(Double(lastPacket) >= lastSent.rounded(.down) - 1, "last packet \(lastPacket), last sent \(lastSent)")
        // Silent now: the call ends after the timeout, at the next sweep.
        var ended = false
        for _ in 0..<100 where !ended {
            try await Task.sleep(for: .milliseconds(100))
            ended = try node.request(["command": "query", "call-id": "kernel-timeout"])["result"] == "error"
        }
        #expect(ended, "the silent call was not torn down")
        await node.stop()
    }

    @Test func anIPv6CallIsForwardedInTheKernel() async throws {
        let node = try await Self.startNode { $0.mediaIP = "::1" }
        let caller = try UDPPeer(bindingTo: "::1")
        let callee = try UDPPeer(bindingTo: "::1")
        func sdp6(_ port: UInt16) -> String {
            "v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 ::1\r\nt=0 0\r\nm=audio \(port) RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        }
        let relay = try node.connect(
            callID: "kernel-v6", caller: sdp6(caller.address.port), callee: sdp6(callee.address.port))
        #expect(relay.forCaller.isIPv6 && relay.forCallee.isIPv6)
        let latching = Self.exchange(caller, callee, relay: relay, from: 1, count: 5)
        let latched = try Self.dataPlane(node)
        let forwarded = Self.exchange(caller, callee, relay: relay, from: 6, count: 200)
        let atCallee = latching.atCallee + forwarded.atCallee
        let atCaller = latching.atCaller + forwarded.atCaller
        #expect(Self.difference(atCallee.map(\.bytes), (1...205).map { pcmu($0, ssrc: 0xCA11) }) == nil)
        #expect(Self.difference(atCaller.map(\.bytes), (1...205).map { pcmu($0, ssrc: 0xCA1E) }) == nil)
        let sources =
            atCallee.allSatisfy { $0.source == relay.forCallee } && atCaller.allSatisfy { $0.source == relay.forCaller }
        #expect(sources, "a packet came from another address than the relay's")
        let plane = try Self.dataPlane(node)
        #expect(plane.worker == latched.worker && plane.kernel - latched.kernel == 400, "\(latched) \(plane)")
        await node.stop()
    }

    @Test func onRefusesToStartWhereTheProgramCannotBeAttached() async throws {
        var configuration = NodeConfiguration()
        configuration.ngAddress = "127.0.0.1:0"
        configuration.kernelForwarding = .on
        configuration.kernelDevices = ["spw-nodevice"]
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        do {
            _ = try await RelayNode.start(configuration, logger: logger)
            Issue.record("a node started with kernel-forwarding on and nowhere to attach")
        } catch {
            #expect("\(error)".contains("kernel-device names spw-nodevice"), "\(error)")
        }
        // auto runs in userspace instead.
        configuration.kernelForwarding = .auto
        let node = try await RelayNode.start(configuration, logger: logger)
        let status = try NGClient(server: node.ngAddress).request(["command": "statistics"])
        #expect(status["spillway"]?["data-plane"]?["kernel-devices"] == [])
        await node.shutdown()
    }
}

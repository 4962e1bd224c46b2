import Testing

@testable import SDP

@Suite struct SDPParsingTests {
    let offer = """
        v=0\r
        o=alice 2890844526 2890844526 IN IP4 198.51.100.1\r
        s=-\r
        c=IN IP4 198.51.100.1\r
        t=0 0\r
        a=ice-ufrag:abcd\r
        m=audio 49170 RTP/AVP 0 101\r
        a=rtpmap:0 PCMU/8000\r
        a=rtpmap:101 telephone-event/8000\r
        a=rtcp:49171\r
        a=candidate:1 1 UDP 2130706431 198.51.100.1 49170 typ host\r
        a=rtcp-mux\r
        m=video 51372 RTP/AVPF 96\r
        c=IN IP4 198.51.100.2\r
        a=rtpmap:96 H264/90000\r
        a=fmtp:96 profile-level-id=42e01f\r

        """

    @Test func keepsEveryLineOnARoundTrip() throws {
        let description = try SessionDescription(parsing: offer)
        #expect(description.text == offer)
    }

    @Test func acceptsBareLineFeeds() throws {
        let description = try SessionDescription(
            parsing: offer.split(separator: "\r\n", omittingEmptySubsequences: false).joined(separator: "\n"))
        #expect(description.text == offer)
    }

    @Test func readsMediaSectionsAndTheirAddresses() throws {
        let description = try SessionDescription(parsing: offer)
        #expect(description.media.count == 2)
        let audio = description.media[0]
        #expect(audio.media == "audio" && audio.port == 49170 && audio.proto == "RTP/AVP")
        #expect(audio.formats == ["0", "101"])
        #expect(description.connection(of: audio)?.address == "198.51.100.1")
        #expect(audio.rtcpAttribute?.port == 49171)
        #expect(audio.hasAttribute("rtcp-mux"))
        #expect(description.connection(of: description.media[1])?.address == "198.51.100.2")
        #expect(description.media[1].clockRate(ofPayloadType: "96") == 90000)
        #expect(audio.clockRate(ofPayloadType: "0") == 8000)
    }

    @Test func rewritesAddressesAndRemovesICE() throws {
        var description = try SessionDescription(parsing: offer)
        let relay = ConnectionAddress(family: .ipv4, address: "203.0.113.9")
        description.replaceSessionConnection(with: relay)
        description.replaceOriginAddress(with: relay)
        description.media[0].port = 30000
        description.media[0].setConnection(relay)
        description.media[1].setConnection(relay)
        description.removeAttributes { ICEAttributes.names.contains($0) }
        let text = description.text
        #expect(text.contains("o=alice 2890844526 2890844526 IN IP4 203.0.113.9\r\n"))
        #expect(text.contains("m=audio 30000 RTP/AVP 0 101\r\nc=IN IP4 203.0.113.9\r\na=rtpmap:0 PCMU/8000"))
        #expect(text.contains("m=video 51372 RTP/AVPF 96\r\nc=IN IP4 203.0.113.9\r\n"))
        #expect(!text.contains("candidate") && !text.contains("ice-ufrag"))
        #expect(text.contains("a=fmtp:96 profile-level-id=42e01f\r\n"))
    }

    @Test func setsAndReplacesAttributes() throws {
        var section = try SessionDescription(parsing: offer).media[0]
        section.setAttribute("rtcp", value: "30001")
        section.removeAttributes { $0 == "rtcp-mux" }
        #expect(section.attributes(named: "rtcp") == ["30001"])
        #expect(!section.hasAttribute("rtcp-mux"))
    }

    @Test(arguments: [
        (
            "v=0\r\nthis is not sdp\r\n",
            SDPError.invalidLine(number: 2, line: "this is not sdp", reason: "expected <letter>=<value>")
        ),
        ("s=-\r\n", SDPError.missingVersion),
        (
            "v=0\r\nm=audio\r\n",
            SDPError.invalidLine(number: 2, line: "m=audio", reason: "an m= line needs media, port, proto")
        ),
        (
            "v=0\r\nm=audio 99999 RTP/AVP 0\r\n",
            SDPError.invalidLine(
                number: 2, line: "m=audio 99999 RTP/AVP 0", reason: "the port is not a number in 0...65535")
        ),
        // Found by the sdp fuzz target: a port field of only "/" once crashed the parser.
        (
            "v=0\r\nm=audio / RTP/AVP 0\r\n",
            SDPError.invalidLine(
                number: 2, line: "m=audio / RTP/AVP 0", reason: "the port is not a number in 0...65535")
        ),
        (
            "v=0\r\nm=audio 4000/ RTP/AVP 0\r\n",
            SDPError.invalidLine(
                number: 2, line: "m=audio 4000/ RTP/AVP 0", reason: "the port count is not a positive number")
        ),
    ])
    func rejectsMalformedDescriptionsNamingTheLine(text: String, expected: SDPError) {
        #expect(throws: expected) { try SessionDescription(parsing: text) }
    }

    @Test func refusesOversizedDescriptions() {
        let huge = "v=0\r\n" + String(repeating: "a=x\r\n", count: 20000)
        #expect(throws: SDPError.tooLarge(bytes: huge.utf8.count)) { try SessionDescription(parsing: huge) }
    }
}

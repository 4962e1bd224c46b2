import Codecs
import Testing

@testable import MediaPlane

/// The Opus encoder a transcoded call gets: the node's defaults, then the call's NG `codec` options
/// (bit rate, format parameters, encoder options), then the receiver's fmtp.
@Suite struct CodecOptionsTests {
    @Test func aCodecEntryCarriesEncoderOptionsInItsSixthField() throws {
        let request = try #require(CodecRequest(parsing: "opus/48000/2/32000//complexity=10"))
        #expect(request.clockRate == 48000 && request.bitRate == 32000 && request.parameters == nil)
        #expect(request.encoderOptions == "complexity=10")
        #expect(request.description == "opus/48000//32000//complexity=10")
        #expect(
            CodecRequest(parsing: "opus/48000/2/32000/useinbandfec=1")?.description
                == "opus/48000//32000/useinbandfec=1")
        #expect(CodecRequest(parsing: "PCMA")?.description == "PCMA")
    }

    @Test func theNodesDefaultsAreWhatTheCallsOptionsAndTheReceiverChange() throws {
        var options = CodecOptions()
        options.opusDefaults.bitRate = 20000
        options.opusDefaults.complexity = 3
        #expect(options.opusSettings(receiverParameters: nil) == options.opusDefaults)

        options.transcode = [try #require(CodecRequest(parsing: "opus/48000/2///complexity=9"))]
        var settings = options.opusSettings(receiverParameters: nil)
        #expect(settings.complexity == 9 && settings.bitRate == 20000)

        options.set = [try #require(CodecRequest(parsing: "opus/48000/2/40000//complexity=42"))]
        settings = options.opusSettings(receiverParameters: "maxaveragebitrate=16000;useinbandfec=1")
        // The receiver's cap wins over the call's 40 kbit/s; complexity is clamped to libopus's 10.
        #expect(settings.bitRate == 16000 && settings.complexity == 10 && settings.inbandFEC)
    }
}

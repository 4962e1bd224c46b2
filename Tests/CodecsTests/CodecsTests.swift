import Codecs
import SpillwayTestFixtures
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct G711Tests {
    @Test func decodesTheRecommendationsEndPoints() {
        // µ-law: codes are complemented; 0x00/0x80 are the largest magnitudes, 0x7F/0xFF zero.
        #expect(G711Law.muLaw.decode(0x00) == -32124)
        #expect(G711Law.muLaw.decode(0x80) == 32124)
        #expect(G711Law.muLaw.decode(0xFF) == 0)
        #expect(G711Law.muLaw.decode(0x7F) == 0)
        // A-law: even bits inverted (0x55); 0xD5/0x55 are the smallest magnitudes, 0xAA/0x2A the largest.
        #expect(G711Law.aLaw.decode(0xD5) == 8)
        #expect(G711Law.aLaw.decode(0x55) == -8)
        #expect(G711Law.aLaw.decode(0xAA) == 32256)
        #expect(G711Law.aLaw.decode(0x2A) == -32256)
    }

    @Test(arguments: G711Law.allCases)
    func everyCodeWordSurvivesDecodeThenEncode(law: G711Law) {
        for code in 0...255 {
            let decoded = law.decode(UInt8(code))
            let reencoded = law.encode(decoded)
            // µ-law has two zeros (0x7F is -0); encoding 0 gives +0.
            let expected = law == .muLaw && code == 0x7F ? 0xFF : UInt8(code)
            #expect(reencoded == expected, "\(law) code \(code) -> \(decoded) -> \(reencoded)")
        }
    }

    @Test(arguments: G711Law.allCases)
    func quantisationErrorStaysWithinHalfAStepAndIsMonotonic(law: G711Law) {
        let levels = Set((0...255).map { Int(law.decode(UInt8($0))) }).sorted()
        var previous = Int.min
        for sample in stride(from: -32768, through: 32767, by: 7) {
            let decoded = Int(law.decode(law.encode(Int16(sample))))
            #expect(decoded >= previous, "\(law) is not monotonic at \(sample)")
            previous = decoded
            // The step around the sample: the gap between the levels that bracket it.
            guard let upper = levels.first(where: { $0 >= sample }), let lower = levels.last(where: { $0 <= sample })
            else {
                // Beyond the largest level the code word saturates.
                #expect(decoded == (sample > 0 ? levels.last! : levels.first!), "\(law) \(sample) -> \(decoded)")
                continue
            }
            #expect(abs(decoded - sample) <= max(upper - lower, 16), "\(law) \(sample) -> \(decoded)")
        }
    }

    @Test(arguments: G711Law.allCases)
    func bufferFormsMatchTheSampleForms(law: G711Law) {
        let samples: [Int16] = (0..<320).map { Int16(truncatingIfNeeded: $0 * 211 - 32000) }
        var codes = [UInt8](repeating: 0, count: samples.count)
        samples.withUnsafeBufferPointer { input in
            codes.withUnsafeMutableBytes { law.encode(input, into: $0) }
        }
        #expect(codes == samples.map { law.encode($0) })
        var decoded = [Int16](repeating: 0, count: codes.count)
        codes.withUnsafeBytes { input in decoded.withUnsafeMutableBufferPointer { law.decode(input, into: $0) } }
        #expect(decoded == codes.map { law.decode($0) })
    }
}

@Suite struct ResamplerTests {
    /// Runs `input` through a resampler in `chunk`-sample calls.
    func resample(_ input: [Double], from: Int, to: Int, chunk: Int) -> [Double] {
        var resampler = Resampler(from: from, to: to)
        var output: [Double] = []
        var scratch = [Float](repeating: 0, count: resampler.maximumOutput(forInput: chunk))
        var start = 0
        while start < input.count {
            let piece = input[start..<min(start + chunk, input.count)].map(Float.init)
            let written = piece.withUnsafeBufferPointer { source in
                scratch.withUnsafeMutableBufferPointer { resampler.process(source, into: $0) }
            }
            output += scratch[0..<written].map(Double.init)
            start += chunk
        }
        return output
    }

    @Test func upsamplingKeepsATonesFrequencyAndAmplitudeWithoutImages() {
        let input = sineWave(frequency: 1000, sampleRate: 8000, count: 8000)
        let output = resample(input, from: 8000, to: 48000, chunk: 160)
        #expect(output.count == 48000)
        // Skip the filter's start-up.
        let tone = ToneMeasurement(samples: Array(output[960...]), sampleRate: 48000, expectedFrequency: 1000)
        #expect(abs(tone.frequency - 1000) < 1)
        #expect(abs(tone.amplitude - 0.5) < 0.005, "\(tone)")
        // Images at 7, 9, 15, 17 kHz... would all be noise here.
        #expect(tone.signalToNoiseDecibels > 60, "\(tone)")
    }

    @Test func downsamplingRemovesWhatTheLowerRateCannotCarry() {
        // 1 kHz (kept) plus 6 kHz (above 4 kHz: it would alias to 2 kHz).
        let input = zip(
            sineWave(frequency: 1000, sampleRate: 48000, count: 48000),
            sineWave(frequency: 6000, sampleRate: 48000, count: 48000, amplitude: 0.4)
        ).map { $0 + $1 }
        let output = resample(input, from: 48000, to: 8000, chunk: 960)
        #expect(output.count == 8000)
        let tone = ToneMeasurement(samples: Array(output[160...]), sampleRate: 8000, expectedFrequency: 1000)
        #expect(abs(tone.amplitude - 0.5) < 0.005, "\(tone)")
        #expect(tone.signalToNoiseDecibels > 60, "the 6 kHz tone aliased: \(tone)")
    }

    @Test func chunkingDoesNotChangeTheOutput() {
        let input = sineWave(frequency: 440, sampleRate: 8000, count: 2000)
        let whole = resample(input, from: 8000, to: 48000, chunk: 2000)
        let odd = resample(input, from: 8000, to: 48000, chunk: 37)
        #expect(whole.count == odd.count)
        #expect(zip(whole, odd).allSatisfy { abs($0 - $1) < 1e-6 })
        let down = resample(whole, from: 48000, to: 8000, chunk: 12000)
        let downOdd = resample(whole, from: 48000, to: 8000, chunk: 1001)
        #expect(down.count == downOdd.count)
        #expect(zip(down, downOdd).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func passBandIsFlatAcrossTelephoneVoice() {
        for frequency in [300.0, 1000, 2000, 3400] {
            let output = resample(
                sineWave(frequency: frequency, sampleRate: 8000, count: 4000), from: 8000, to: 48000, chunk: 160)
            let tone = ToneMeasurement(samples: Array(output[960...]), sampleRate: 48000, expectedFrequency: frequency)
            let gainDecibels = 20 * log10(tone.amplitude / 0.5)
            #expect(abs(gainDecibels) < 0.1, "\(frequency) Hz: \(gainDecibels) dB")
        }
    }
}

@Suite struct AudioTranscoderTests {
    /// Encodes `samples` (at 8 kHz) as PCMU payloads of `packetSamples` each.
    func pcmuPayloads(_ samples: [Double], packetSamples: Int) -> [[UInt8]] {
        stride(from: 0, to: samples.count - packetSamples + 1, by: packetSamples).map { start in
            samples[start..<(start + packetSamples)].map { G711Law.muLaw.encode(Int16($0 * 32767)) }
        }
    }

    func run(_ transcoder: AudioTranscoder, _ payloads: [[UInt8]]) throws -> [[UInt8]] {
        var frames: [[UInt8]] = []
        for payload in payloads {
            _ = try payload.withUnsafeBytes { bytes in
                try transcoder.transcode(bytes) { frames.append(Array($0)) }
            }
        }
        return frames
    }

    @Test func repacketisesThirtyMillisecondG711IntoTwentyMillisecondOpus() throws {
        let transcoder = try AudioTranscoder(from: .pcmu, to: .opus)
        let payloads = pcmuPayloads(sineWave(frequency: 1000, sampleRate: 8000, count: 8000), packetSamples: 240)
        let frames = try run(transcoder, payloads)
        // 33 packets of 30 ms = 990 ms: 49 whole 20 ms frames, 10 ms waiting (libopus takes the 8 kHz as is).
        #expect(payloads.count == 33)
        #expect(frames.count == 49)
        #expect(transcoder.pendingSamples == 80 && transcoder.pendingClockTicks == 480)
        // Every frame is a 20 ms Opus packet (TOC configuration 1, 9, 13, 15, 17... all signal 20 ms).
        let decoder = try OpusDecoder(sampleRate: 48000)
        var pcm = [Float](repeating: 0, count: 5760)
        for frame in frames {
            let count = try frame.withUnsafeBytes { bytes in
                try pcm.withUnsafeMutableBufferPointer { try decoder.decode(bytes, into: $0) }
            }
            #expect(count == 960)
        }
    }

    @Test func pcmuToOpusAndBackKeepsATone() throws {
        let toOpus = try AudioTranscoder(from: .pcmu, to: .opus)
        let back = try AudioTranscoder(from: .opus, to: .pcmu)
        let source = sineWave(frequency: 1000, sampleRate: 8000, count: 16000)
        let opusFrames = try run(toOpus, pcmuPayloads(source, packetSamples: 160))
        let pcmuFrames = try run(back, opusFrames)
        let decoded = pcmuFrames.flatMap { $0 }.map { Double(G711Law.muLaw.decode($0)) / 32768 }
        #expect(decoded.count == 16000)
        let tone = ToneMeasurement(samples: Array(decoded[4000...]), sampleRate: 8000, expectedFrequency: 1000)
        #expect(abs(tone.frequency - 1000) < 10, "\(tone)")
        #expect(tone.signalToNoiseDecibels > 20, "\(tone)")
    }

    /// G.722 keeps the 4-7 kHz band narrowband codecs drop: a 6 kHz tone survives G.722 -> Opus ->
    /// G.722, and G.711 -> G.722 runs through the 8 -> 16 kHz resampler with 160 octets per 20 ms.
    @Test func g722KeepsTheWideBandThroughOpusAndTakesG711ThroughTheResampler() throws {
        let encoder = G722Encoder()
        let wide = sineWave(frequency: 6000, sampleRate: 16000, count: 32000, amplitude: 0.4).map {
            Int16($0 * 32767)
        }
        let g722Payloads = stride(from: 0, to: wide.count, by: 320).map { start in
            var codes = [UInt8](repeating: 0, count: 160)
            let written = Array(wide[start..<(start + 320)]).withUnsafeBufferPointer { samples in
                codes.withUnsafeMutableBytes { encoder.encode(samples, into: $0) }
            }
            #expect(written == 160)
            return codes
        }
        let toOpus = try AudioTranscoder(from: .g722, to: .opus)
        #expect(toOpus.decodeRate == 16000 && toOpus.encodeRate == 16000)
        let back = try AudioTranscoder(from: .opus, to: .g722)
        #expect(back.decodeRate == 16000)
        let returned = try run(back, try run(toOpus, g722Payloads))
        #expect(returned.count == 100 && returned.allSatisfy { $0.count == 160 })
        let decoder = G722Decoder()
        var decoded = [Int16](repeating: 0, count: 320)
        var samples: [Double] = []
        for payload in returned {
            let count = payload.withUnsafeBytes { codes in
                decoded.withUnsafeMutableBufferPointer { decoder.decode(codes, into: $0) }
            }
            samples += decoded[0..<count].map { Double($0) / 32768 }
        }
        let tone = ToneMeasurement(samples: Array(samples[8000...]), sampleRate: 16000, expectedFrequency: 6000)
        #expect(abs(tone.frequency - 6000) < 10 && tone.signalToNoiseDecibels > 15, "\(tone)")

        let fromG711 = try AudioTranscoder(from: .pcmu, to: .g722)
        #expect(fromG711.decodeRate == 8000 && fromG711.encodeRate == 16000 && fromG711.frameClockTicks == 160)
        let frames = try run(
            fromG711, pcmuPayloads(sineWave(frequency: 1000, sampleRate: 8000, count: 8000), packetSamples: 160))
        #expect(frames.count >= 49 && frames.allSatisfy { $0.count == 160 })
        let toG711 = try AudioTranscoder(from: .g722, to: .pcma)
        let law = try run(toG711, frames)
        #expect(law.count >= 48 && law.allSatisfy { $0.count == 160 })
        let heard = law.flatMap { $0 }.map { Double(G711Law.aLaw.decode($0)) / 32768 }
        let voice = ToneMeasurement(samples: Array(heard[2000...]), sampleRate: 8000, expectedFrequency: 1000)
        #expect(abs(voice.frequency - 1000) < 10 && voice.signalToNoiseDecibels > 20, "\(voice)")
    }

    @Test func opusSettingsComeFromTheReceiversFormatParameters() throws {
        var settings = OpusEncoderSettings()
        settings.apply(formatParameters: "minptime=10; useinbandfec=1; stereo=1; maxaveragebitrate=12000")
        #expect(settings.inbandFEC && settings.stereo && settings.bitRate == 12000)
        var capped = OpusEncoderSettings()
        capped.apply(formatParameters: "maxaveragebitrate=100")
        #expect(capped.bitRate == 6000)

        // Stereo: the encoder takes two channels (the mono source duplicated; libopus may still code
        // identical channels as mono, which every decoder plays).
        #expect(try OpusEncoder(sampleRate: 48000, settings: settings).channels == 2)
        #expect(try OpusEncoder(sampleRate: 48000, settings: OpusEncoderSettings()).channels == 1)
        let source = pcmuPayloads(sineWave(frequency: 700, sampleRate: 8000, count: 8000), packetSamples: 160)
        #expect(try run(try AudioTranscoder(from: .pcmu, to: .opus, opusSettings: settings), source).count == 50)

        // The bit rate: 12 kbit/s frames are smaller than 40 kbit/s ones.
        var rich = OpusEncoderSettings()
        rich.bitRate = 40000
        let richBytes = try run(try AudioTranscoder(from: .pcmu, to: .opus, opusSettings: rich), source).map(\.count)
            .reduce(0, +)
        var lean = OpusEncoderSettings()
        lean.bitRate = 12000
        let leanBytes = try run(try AudioTranscoder(from: .pcmu, to: .opus, opusSettings: lean), source).map(\.count)
            .reduce(0, +)
        // 50 frames per second: bytes per second × 8 is near the rate asked for.
        #expect(
            Double(leanBytes * 8) < 12000 * 1.3 && Double(richBytes * 8) > 40000 * 0.6,
            "\(leanBytes) vs \(richBytes) bytes")
    }

    @Test func garbageOpusIsAnErrorNotACrash() throws {
        let transcoder = try AudioTranscoder(from: .opus, to: .pcma)
        // TOC code 3 with a frame count of 0 is invalid (RFC 6716 3.2.5).
        let invalid: [UInt8] = [0x03, 0x00]
        #expect(throws: TranscodingError.self) {
            try invalid.withUnsafeBytes { bytes in try transcoder.transcode(bytes) { _ in } }
        }
        let tooLong = [UInt8](repeating: 0xFF, count: 2000)
        let g711 = try AudioTranscoder(from: .pcmu, to: .opus)
        #expect(throws: TranscodingError.self) {
            try tooLong.withUnsafeBytes { bytes in try g711.transcode(bytes) { _ in } }
        }
    }

    @Test func lostOpusIsConcealedAtTheSourceRate() throws {
        let transcoder = try AudioTranscoder(from: .opus, to: .pcmu)
        var frames = 0
        try transcoder.conceal(960 * 2) { _ in frames += 1 }
        #expect(frames == 2)
    }
}

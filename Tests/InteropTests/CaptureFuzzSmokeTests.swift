import Capture
import Cluster
import Foundation
import Testing

/// A short, seeded fuzz run over capture reading: the bundled captures with bytes changed in their
/// headers and frames, read and analysed. Each is refused with a capture error or read; none crashes.
@Suite struct CaptureFuzzSmokeTests {
    @Test func mutatedCapturesAreRefusedOrReadNeverCrash() throws {
        let directory = try scratchDirectory("capture-fuzz")
        var generator = SeededGenerator(seed: 7)
        var read = 0
        var refused = 0
        for name in ["g711-tone.pcap", "sip-call.pcapng"] {
            let original = [UInt8](
                try Data(contentsOf: URL(fileURLWithPath: "\(ReplayTests.capturesDirectory)/\(name)")))
            for round in 0..<100 {
                var bytes = original
                for _ in 0..<Int.random(in: 1...40, using: &generator) {
                    // Half the changes hit the first 200 bytes: file, block and first packet headers.
                    let position =
                        Bool.random(using: &generator)
                        ? Int.random(in: 0..<200, using: &generator)
                        : Int.random(in: 0..<bytes.count, using: &generator)
                    bytes[position] = UInt8.random(in: 0...255, using: &generator)
                }
                let path = "\(directory)/\(round)-\(name)"
                try Data(bytes).write(to: URL(fileURLWithPath: path))
                do {
                    let analysis = FlowAnalysis(try CaptureFile(path: path))
                    read += 1
                    #expect(analysis.calls.allSatisfy { !$0.forward.packets.isEmpty })
                } catch {
                    refused += 1
                    #expect("\(error)".hasPrefix("capture \(path): "))
                }
            }
        }
        #expect(read + refused == 200)
        #expect(read > 0 && refused > 0, "read \(read), refused \(refused)")
    }
}

import Testing

/// What the audio and video interop tests send: a 1 kHz tone in PCMU and a test pattern in H.264
/// (SPS/PPS on every keyframe) in `source.mkv`, with a local decode of it to compare against
/// (`reference-video.md5`, frame hashes; `reference-audio.raw`, 16-bit samples).
enum AudioVideoSource {
    static func encode(seconds: Int, frameRate: Int, ffmpeg: String, directory: String) async throws {
        let encode = try ChildProcess(
            "encode", ffmpeg,
            [
                "-hide_banner", "-y", "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=8000:duration=\(seconds)",
                "-f", "lavfi", "-i", "testsrc=size=320x240:rate=\(frameRate):duration=\(seconds)",
                "-map", "0:a", "-map", "1:v", "-c:a", "pcm_mulaw", "-c:v", "libx264", "-preset", "ultrafast", "-g",
                "25", "-bf", "0", "-pix_fmt", "yuv420p", "-x264-params", "repeat-headers=1", "source.mkv",
            ],
            directory: directory)
        #expect(await encode.wait(seconds: 60) == 0, "encoding failed: \(encode.output.suffix(1500))")
        let reference = try ChildProcess(
            "reference", ffmpeg,
            [
                "-hide_banner", "-y", "-i", "source.mkv", "-map", "0:v", "-f", "framemd5", "reference-video.md5",
                "-map", "0:a", "-f", "s16le", "reference-audio.raw",
            ],
            directory: directory)
        #expect(await reference.wait(seconds: 60) == 0, "reference decode failed: \(reference.output.suffix(1500))")
    }

    /// The hash column of a framemd5 file (timestamps differ between a file and an RTP stream).
    static func frameHashes(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            .filter { !$0.hasPrefix("#") }.compactMap {
                $0.split(separator: ",").last?.trimmingCharacters(in: .whitespaces)
            }
    }
}

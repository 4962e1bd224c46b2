// spillway-fuzz: the parsers' fuzz targets.
//
//   spillway-fuzz TARGET FILE...            runs each file through TARGET once (reproduces a finding)
//   spillway-fuzz TARGET [libFuzzer flags]  in a -sanitize=fuzzer build (-D FUZZING): fuzzes TARGET
//
// TARGET is one of bencode, sdp, rtp, ras, q931, h245, pcap, resp. bench/fuzz.sh builds and runs the fuzzing form.

import Foundation

#if FUZZING
import CFuzzerDriver
#endif

var arguments = CommandLine.arguments
guard arguments.count >= 2, let target = FuzzTarget(rawValue: arguments[1]) else {
    FileHandle.standardError.write(
        Data(
            "usage: spillway-fuzz \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) [FILE... | libFuzzer flags]\n"
                .utf8))
    exit(2)
}
arguments.remove(at: 1)

#if FUZZING
FuzzTarget.selected = target
var argc = Int32(arguments.count)
var argv = arguments.map { strdup($0) } + [nil]
exit(
    argv.withUnsafeMutableBufferPointer { buffer in
        var base = buffer.baseAddress
        return LLVMFuzzerRunDriver(&argc, &base) { data, size in
            FuzzTarget.selected.run(UnsafeRawBufferPointer(start: data, count: size))
            return 0
        }
    })
#else
for path in arguments.dropFirst() {
    let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    bytes.withUnsafeBytes { target.run($0) }
    print("\(path): \(bytes.count) bytes, no property broken")
}
#endif

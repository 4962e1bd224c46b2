// libFuzzer target for the H.225.0 RAS decoder (ALIGNED PER), built with the H323 sources by
// bench/fuzz.sh: every input must decode or be refused with a PERError; whatever decodes must
// re-encode into something that decodes again.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRAS(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let message = try? RASMessage(perEncoded: bytes) else { return 0 }
    if case .unsupported = message { return 0 }
    do {
        _ = try RASMessage(perEncoded: message.perEncoded)
    } catch {
        fatalError("re-encoded \(message.name) does not decode: \(error)")
    }
    return 0
}

// The load of bench/transcoding.py: N calls of a PCMU caller and an Opus callee, both talking at
// once. Every call sends a 20 ms PCMU packet from the caller socket and a 20 ms Opus packet from the
// callee socket every 20 ms, the calls spread evenly over the 20 ms, each with its own SSRC,
// sequence numbers and timestamps; what the relay sends back is counted per socket and payload type.
// The audio is a voice-band mix (three tones and noise) so the encoders do real work. Run by hand.
//
//   transcoding-load CALLER_PORT CALLEE_PORT RELAY_PORTS SECONDS
//
// RELAY_PORTS is "callerSide:calleeSide,..." (the relay's port facing each party, per call).
// Prints one JSON object: seconds, sent and received counts per direction.

import Codecs
import Foundation
import MediaPlane
import SpillwayClient

#if canImport(Glibc)
import Glibc
#endif

let arguments = CommandLine.arguments
guard arguments.count == 5, let callerPort = UInt16(arguments[1]), let calleePort = UInt16(arguments[2]),
    let seconds = Double(arguments[4])
else {
    FileHandle.standardError.write(
        "usage: transcoding-load CALLER_PORT CALLEE_PORT callerSide:calleeSide,... SECONDS\n".data(using: .utf8)!)
    exit(2)
}
let relayPorts: [(caller: SocketAddress, callee: SocketAddress)] = arguments[3].split(separator: ",").map { pair in
    let ports = pair.split(separator: ":").map { UInt16($0)! }
    return (SocketAddress(ip: "127.0.0.1", port: ports[0])!, SocketAddress(ip: "127.0.0.1", port: ports[1])!)
}

/// One second of the test signal at `rate`.
func voiceBand(rate: Int) -> [Float] {
    var generator = SystemRandomNumberGenerator()
    return (0..<rate).map { index in
        let time = Double(index) / Double(rate)
        let tones =
            0.2 * sin(2 * .pi * 300 * time) + 0.15 * sin(2 * .pi * 1100 * time) + 0.1 * sin(2 * .pi * 2700 * time)
        return Float(tones + 0.02 * (Double(generator.next() % 2001) / 1000 - 1))
    }
}

let pcmuFrames: [[UInt8]] = {
    let signal = voiceBand(rate: 8000)
    return (0..<50).map { frame in
        signal[(frame * 160)..<((frame + 1) * 160)].map { G711Law.muLaw.encode(Int16($0 * 32767)) }
    }
}()
let opusFrames: [[UInt8]] = try {
    let signal = voiceBand(rate: 48000)
    let encoder = try OpusEncoder(sampleRate: 48000, settings: OpusEncoderSettings())
    var buffer = [UInt8](repeating: 0, count: 1500)
    return try (0..<50).map { frame in
        let length = try signal[(frame * 960)..<((frame + 1) * 960)].withUnsafeBufferPointer { samples in
            try buffer.withUnsafeMutableBytes { try encoder.encode(samples, into: $0) }
        }
        return Array(buffer[0..<length])
    }
}()

let caller = try UDPPeer(port: callerPort)
let callee = try UDPPeer(port: calleePort)
var receiveBuffer = [UInt8](repeating: 0, count: 2048)
var received = (pcmuAtCaller: 0, opusAtCallee: 0, other: 0)

/// Reads everything waiting on `peer`, counting RTP of `payloadType` (RTCP and others apart).
@MainActor func drain(_ peer: UDPPeer, payloadType: UInt8) -> Int {
    var count = 0
    while true {
        let length = receiveBuffer.withUnsafeMutableBytes {
            recv(peer.descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT))
        }
        guard length > 0 else { return count }
        if length >= 12, receiveBuffer[1] & 0x7F == payloadType { count += 1 } else { received.other += 1 }
    }
}

let calls = relayPorts.count
let packetInterval = 0.020 / Double(calls)
let start = ContinuousClock.now
var sent = 0
var frame = 0
outer: while true {
    for (index, ports) in relayPorts.enumerated() {
        let due = start + .seconds(Double(frame) * 0.020 + Double(index) * packetInterval)
        while ContinuousClock.now < due {
            received.pcmuAtCaller += drain(caller, payloadType: 0)
            received.opusAtCallee += drain(callee, payloadType: 96)
            usleep(50)
        }
        if ContinuousClock.now - start >= .seconds(seconds) { break outer }
        let ssrc = UInt32(0x1000 + index)
        _ = caller.send(
            ScriptedCall.rtp(
                sequence: frame, timestamp: UInt32(frame * 160), ssrc: ssrc, payloadType: 0,
                payload: pcmuFrames[frame % 50]), to: ports.caller)
        _ = callee.send(
            ScriptedCall.rtp(
                sequence: frame, timestamp: UInt32(frame * 960), ssrc: ssrc | 0x8000, payloadType: 96,
                payload: opusFrames[frame % 50]), to: ports.callee)
        sent += 1
    }
    frame += 1
}
// Let the last packets through.
let settle = ContinuousClock.now + .milliseconds(200)
while ContinuousClock.now < settle {
    received.pcmuAtCaller += drain(caller, payloadType: 0)
    received.opusAtCallee += drain(callee, payloadType: 96)
    usleep(1000)
}
print(
    "{\"seconds\": \(seconds), \"calls\": \(calls), \"sent_per_direction\": \(sent), "
        + "\"opus_at_callee\": \(received.opusAtCallee), \"pcmu_at_caller\": \(received.pcmuAtCaller), \"other\": \(received.other)}"
)

/// A polyphase FIR resampler between two rates with a rational ratio (8000 <-> 48000, 8000 <-> 16000).
///
/// The rates are reduced to an up factor L and a down factor M. One low-pass prototype, designed at
/// L × the input rate with its cutoff at the lower rate's Nyquist frequency, is split into L phases;
/// each output sample is one phase's dot product with the newest input samples, so upsampling never
/// multiplies the zeros it inserts and downsampling never computes the samples it drops.
///
/// The prototype is a Kaiser-windowed sinc (β = 7.857, about 80 dB stop-band attenuation) with 48 taps
/// per phase at the higher rate: at 8000 <-> 48000 the pass band is flat to about 3.6 kHz and images and
/// aliases above 4.4 kHz are 80 dB down. Samples are Float; the state carries across calls, so a stream
/// resampled packet by packet is the same as resampled whole. Nothing is allocated after `init`.
public struct Resampler: ~Copyable {
    public let inputRate: Int
    public let outputRate: Int
    /// L: output samples per input sample before decimation.
    let up: Int
    /// M: the decimation after interpolation.
    let down: Int
    /// Coefficients per phase (a multiple of 8, for the SIMD dot product).
    let tapsPerPhase: Int
    /// `up` phases of `tapsPerPhase` coefficients each, stored oldest-sample first.
    private let phases: UnsafeMutablePointer<Float>
    /// The last `tapsPerPhase - 1` input samples, followed by room for one chunk of new input.
    private let work: UnsafeMutablePointer<Float>
    /// The next output's position, in 1/L input samples after the first new input sample.
    private var position = 0

    /// The largest number of input samples `process` takes at once (120 ms at 48 kHz).
    public static let maximumChunk = 5760
    static let baseTapsPerPhase = 48
    static let kaiserBeta = 7.857

    /// - Precondition: both rates are positive.
    public init(from inputRate: Int, to outputRate: Int) {
        precondition(inputRate > 0 && outputRate > 0, "resampler rates must be positive")
        self.inputRate = inputRate
        self.outputRate = outputRate
        let divisor = Self.greatestCommonDivisor(inputRate, outputRate)
        up = outputRate / divisor
        down = inputRate / divisor
        tapsPerPhase = Self.baseTapsPerPhase * max(up, down) / up
        let prototype = Self.lowPassPrototype(
            length: tapsPerPhase * up, cutoff: 0.5 / Double(max(up, down)), gain: Double(up))
        phases = .allocate(capacity: up * tapsPerPhase)
        for phase in 0..<up {
            for tap in 0..<tapsPerPhase {
                // Output phase p at input sample n uses prototype[p + k·L] against x[n - k]; storing the
                // taps reversed turns that into a forward dot product over the history.
                phases[phase * tapsPerPhase + (tapsPerPhase - 1 - tap)] = Float(prototype[phase + tap * up])
            }
        }
        work = .allocate(capacity: tapsPerPhase - 1 + Self.maximumChunk)
        work.initialize(repeating: 0, count: tapsPerPhase - 1 + Self.maximumChunk)
    }

    deinit {
        phases.deallocate()
        work.deallocate()
    }

    /// How many output samples `inputCount` more input samples can produce at most.
    public func maximumOutput(forInput inputCount: Int) -> Int {
        (inputCount * up + down - 1) / down + 1
    }

    /// Resamples `input` into `output` and returns how many samples were written.
    /// - Precondition: `output` holds `maximumOutput(forInput: input.count)` samples.
    public mutating func process(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>)
        -> Int
    {
        precondition(output.count >= maximumOutput(forInput: input.count), "resampler output buffer too small")
        var written = 0
        var consumed = 0
        while consumed < input.count {
            let chunk = min(Self.maximumChunk, input.count - consumed)
            written += processChunk(
                UnsafeBufferPointer(rebasing: input[consumed..<(consumed + chunk)]),
                into: output.baseAddress! + written)
            consumed += chunk
        }
        return written
    }

    private mutating func processChunk(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutablePointer<Float>)
        -> Int
    {
        let history = tapsPerPhase - 1
        (work + history).update(from: input.baseAddress!, count: input.count)
        var written = 0
        let end = input.count * up
        while position < end {
            let sample = position / up
            let phase = position - sample * up
            output[written] = dot(phases + phase * tapsPerPhase, work + sample)
            written += 1
            position += down
        }
        position -= end
        // Keep the newest `history` samples for the next call.
        work.update(from: work + input.count, count: history)
        return written
    }

    @inline(__always)
    private func dot(_ coefficients: UnsafeMutablePointer<Float>, _ samples: UnsafeMutablePointer<Float>) -> Float {
        var sum = SIMD8<Float>()
        var index = 0
        while index < tapsPerPhase {
            let c = UnsafeRawPointer(coefficients + index).loadUnaligned(as: SIMD8<Float>.self)
            let s = UnsafeRawPointer(samples + index).loadUnaligned(as: SIMD8<Float>.self)
            // Multiply then add: `addProduct` is a fused multiply-add, which without FMA in the
            // x86-64 baseline becomes a libm call per lane.
            sum += c * s
            index += 8
        }
        return sum.sum()
    }

    /// A windowed-sinc low pass: `cutoff` in cycles per sample at the prototype's rate.
    static func lowPassPrototype(length: Int, cutoff: Double, gain: Double) -> [Double] {
        let center = Double(length - 1) / 2
        let denominator = besselI0(kaiserBeta)
        return (0..<length).map { index in
            let offset = Double(index) - center
            let argument = 2 * cutoff * offset
            let sinc = argument == 0 ? 1 : sin(Double.pi * argument) / (Double.pi * argument)
            let ratio = offset / center
            let window = besselI0(kaiserBeta * (1 - ratio * ratio).squareRoot()) / denominator
            return gain * 2 * cutoff * sinc * window
        }
    }

    /// The zeroth-order modified Bessel function of the first kind, by its power series.
    static func besselI0(_ x: Double) -> Double {
        var sum = 1.0
        var term = 1.0
        var k = 1.0
        while term > 1e-12 * sum {
            term *= (x / (2 * k)) * (x / (2 * k))
            sum += term
            k += 1
        }
        return sum
    }

    static func greatestCommonDivisor(_ a: Int, _ b: Int) -> Int {
        b == 0 ? a : greatestCommonDivisor(b, a % b)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

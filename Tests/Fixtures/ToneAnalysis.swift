import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Measures a recorded pure tone: its frequency, and its signal-to-noise ratio against the ideal
/// sinusoid that fits it best (least squares in amplitude and phase at the measured frequency), so
/// codec noise, distortion, resampling images and dropouts all count as noise.
public struct ToneMeasurement: CustomStringConvertible {
    public let frequency: Double
    public let amplitude: Double
    public let signalToNoiseDecibels: Double

    /// Analyses `samples` at `sampleRate`, searching for the tone within ±5% of `expectedFrequency`.
    public init(samples: [Double], sampleRate: Double, expectedFrequency: Double) {
        var best = (frequency: expectedFrequency, power: -1.0)
        // A coarse then a fine scan of the windowed projection's power.
        var low = expectedFrequency * 0.95
        var high = expectedFrequency * 1.05
        for _ in 0..<5 {
            let step = (high - low) / 40
            var frequency = low
            while frequency <= high {
                let power = Self.windowedPower(samples, sampleRate: sampleRate, frequency: frequency)
                if power > best.power { best = (frequency, power) }
                frequency += step
            }
            low = best.frequency - 2 * step
            high = best.frequency + 2 * step
        }
        frequency = best.frequency
        let fit = Self.leastSquaresFit(samples, sampleRate: sampleRate, frequency: best.frequency)
        amplitude = fit.amplitude
        signalToNoiseDecibels = 10 * log10(fit.signalPower / max(fit.residualPower, 1e-30))
    }

    public var description: String {
        "tone \(String(format: "%.2f", frequency)) Hz, amplitude \(String(format: "%.4f", amplitude)), "
            + "SNR \(String(format: "%.1f", signalToNoiseDecibels)) dB"
    }

    private static func windowedPower(_ samples: [Double], sampleRate: Double, frequency: Double) -> Double {
        let omega = 2 * Double.pi * frequency / sampleRate
        let count = Double(samples.count)
        var real = 0.0
        var imaginary = 0.0
        for (index, sample) in samples.enumerated() {
            let window = 0.5 - 0.5 * cos(2 * Double.pi * Double(index) / count)
            real += sample * window * cos(omega * Double(index))
            imaginary += sample * window * sin(omega * Double(index))
        }
        return real * real + imaginary * imaginary
    }

    private static func leastSquaresFit(
        _ samples: [Double], sampleRate: Double, frequency: Double
    ) -> (amplitude: Double, signalPower: Double, residualPower: Double) {
        let omega = 2 * Double.pi * frequency / sampleRate
        // Normal equations for x ≈ a·cos + b·sin + c.
        var matrix = [[Double]](repeating: [Double](repeating: 0, count: 3), count: 3)
        var vector = [Double](repeating: 0, count: 3)
        for (index, sample) in samples.enumerated() {
            let basis = [cos(omega * Double(index)), sin(omega * Double(index)), 1]
            for row in 0..<3 {
                vector[row] += basis[row] * sample
                for column in 0..<3 { matrix[row][column] += basis[row] * basis[column] }
            }
        }
        let solution = solve3(matrix, vector)
        var signalPower = 0.0
        var residualPower = 0.0
        for (index, sample) in samples.enumerated() {
            let fitted = solution[0] * cos(omega * Double(index)) + solution[1] * sin(omega * Double(index))
            signalPower += fitted * fitted
            let residual = sample - fitted - solution[2]
            residualPower += residual * residual
        }
        return ((solution[0] * solution[0] + solution[1] * solution[1]).squareRoot(), signalPower, residualPower)
    }

    /// Gaussian elimination with partial pivoting for a 3×3 system.
    private static func solve3(_ matrix: [[Double]], _ vector: [Double]) -> [Double] {
        var a = matrix
        var b = vector
        for column in 0..<3 {
            let pivot = (column..<3).max { abs(a[$0][column]) < abs(a[$1][column]) }!
            a.swapAt(column, pivot)
            b.swapAt(column, pivot)
            for row in (column + 1)..<3 {
                let factor = a[row][column] / a[column][column]
                for k in column..<3 { a[row][k] -= factor * a[column][k] }
                b[row] -= factor * b[column]
            }
        }
        var x = [0.0, 0.0, 0.0]
        for row in stride(from: 2, through: 0, by: -1) {
            var sum = b[row]
            for k in (row + 1)..<3 { sum -= a[row][k] * x[k] }
            x[row] = sum / a[row][row]
        }
        return x
    }
}

/// A sampled sine, for feeding codecs in tests.
public func sineWave(frequency: Double, sampleRate: Double, count: Int, amplitude: Double = 0.5) -> [Double] {
    (0..<count).map { amplitude * sin(2 * Double.pi * frequency * Double($0) / sampleRate) }
}

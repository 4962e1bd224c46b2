import Foundation

/// How many calls a node has been ending per second lately, as its workload reports tell peers:
/// an exponentially weighted moving average over about `windowNanos` of the rate seen between
/// samples. Pure: the count of calls ended so far and the time are passed in.
public struct CallEndRate: Sendable {
    /// The smoothed rate, calls per second.
    public private(set) var perSecond = 0.0
    public let windowNanos: UInt64
    private var last: (ended: UInt64, at: UInt64)?

    public init(windowNanos: UInt64) {
        self.windowNanos = windowNanos
    }

    /// Takes a sample: `ended` calls have ended since the node started, at `now` (monotonic nanoseconds).
    public mutating func sample(ended: UInt64, now: UInt64) {
        defer { last = (ended, now) }
        guard let last, now > last.at, ended >= last.ended else { return }
        let elapsed = Double(now - last.at)
        let rate = Double(ended - last.ended) / (elapsed / 1e9)
        perSecond += (1 - exp(-elapsed / Double(windowNanos))) * (rate - perSecond)
    }
}

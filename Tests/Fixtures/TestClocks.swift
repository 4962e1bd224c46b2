#if canImport(Glibc)
import Glibc
#endif

/// Monotonic seconds, for timing in tests.
public func spw_test_seconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// Wall-clock nanoseconds since the epoch, as cluster messages are stamped.
public func spw_test_wall_nanos() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

import Testing

@testable import MediaPlane

#if canImport(Glibc)
import Glibc
#endif

/// Ports below Linux's ephemeral range (32768-60999), so no socket bound to port 0 can hold them.
@Suite(.serialized) struct PortAllocatorTests {
    @Test func handsOutEvenRTPPortsWithRTCPOnTheNextPort() throws {
        var allocator = PortAllocator(range: 11001...11010)
        #expect(allocator.capacity == 4)  // 11002, 11004, 11006, 11008 (11010 has no odd partner)
        let pair = try allocator.allocate(on: "127.0.0.1")
        defer { allocator.discard(pair) }
        #expect(pair.port == 11002)
        #expect(localPort(of: pair.rtpDescriptor) == 11002)
        #expect(localPort(of: pair.rtcpDescriptor) == 11003)
    }

    @Test func reportsExhaustionAndRecoversAfterRelease() throws {
        var allocator = PortAllocator(range: 11020...11023)
        let first = try allocator.allocate(on: "127.0.0.1")
        let second = try allocator.allocate(on: "127.0.0.1")
        #expect(throws: PortAllocationError.exhausted(range: 11020...11023)) { try allocator.allocate(on: "127.0.0.1") }
        allocator.discard(first)
        let third = try allocator.allocate(on: "127.0.0.1")
        #expect(third.port == first.port)
        allocator.discard(second)
        allocator.discard(third)
    }

    @Test func skipsPortsAnotherProcessHolds() throws {
        let address = try #require(SocketAddress(ip: "127.0.0.1", port: 11041))
        let squatter = try UDPSocket.bind(address).get()
        defer { close(squatter) }
        var allocator = PortAllocator(range: 11040...11043)
        let pair = try allocator.allocate(on: "127.0.0.1")
        defer { allocator.discard(pair) }
        #expect(pair.port == 11042)
    }

    @Test func walksTheRangeRoundRobinSoFreedPortsAreReusedLast() throws {
        var allocator = PortAllocator(range: 11060...11065)
        let first = try allocator.allocate(on: "127.0.0.1")
        allocator.discard(first)
        let second = try allocator.allocate(on: "127.0.0.1")
        defer { allocator.discard(second) }
        #expect(second.port == first.port + 2)
    }

    @Test func exhaustionMessageTellsTheOperatorWhatToDo() {
        #expect(
            "\(PortAllocationError.exhausted(range: 30000...30009))"
                == "no free RTP/RTCP port pair in 30000-30009; widen --port-range or wait for calls to end")
    }

    func localPort(of descriptor: Int32) -> UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }
}

@Suite struct SocketAddressTests {
    @Test func parsesAndPrintsIPv4AndIPv6() throws {
        let v4 = try #require(SocketAddress(hostAndPort: "127.0.0.1:2223"))
        #expect(v4.ip == "127.0.0.1" && v4.port == 2223 && !v4.isIPv6 && "\(v4)" == "127.0.0.1:2223")
        let v6 = try #require(SocketAddress(hostAndPort: "[::1]:5060"))
        #expect(v6.ip == "::1" && v6.port == 5060 && v6.isIPv6 && "\(v6)" == "[::1]:5060")
        #expect(SocketAddress(hostAndPort: "localhost:1") == nil)
        #expect(SocketAddress(hostAndPort: "127.0.0.1:70000") == nil)
    }

    @Test func comparesByAddressAndPort() {
        #expect(SocketAddress(ip: "127.0.0.1", port: 1) == SocketAddress(ip: "127.0.0.1", port: 1))
        #expect(SocketAddress(ip: "127.0.0.1", port: 1) != SocketAddress(ip: "127.0.0.1", port: 2))
        #expect(SocketAddress(ip: "127.0.0.1", port: 1) != SocketAddress(ip: "127.0.0.2", port: 1))
    }
}

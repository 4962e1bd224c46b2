import Foundation
import MediaPlane
import SpillwayClient

#if canImport(Glibc)
import Glibc
#endif

/// One HTTP/1.1 GET over a fresh TCP connection to a numeric IPv4 HOST:PORT; the status and body.
public func httpGet(_ hostAndPort: String, _ path: String) throws -> (status: Int, body: Data) {
    let address = SocketAddress(hostAndPort: hostAndPort)!
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(descriptor) }
    var target = sockaddr_in()
    target.sin_family = sa_family_t(AF_INET)
    target.sin_port = address.port.bigEndian
    inet_pton(AF_INET, address.ip, &target.sin_addr)
    let connected = withUnsafePointer(to: &target) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw UDPPeerError.system("connect to \(hostAndPort)", errno) }
    let request = Array("GET \(path) HTTP/1.1\r\nHost: \(hostAndPort)\r\n\r\n".utf8)
    _ = request.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) }
    var response: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = recv(descriptor, &chunk, chunk.count, 0)
        if count <= 0 { break }
        response.append(contentsOf: chunk[..<count])
    }
    let text = String(decoding: response, as: UTF8.self)
    let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
    let bodyStart = text.range(of: "\r\n\r\n").map { text.utf8.distance(from: text.startIndex, to: $0.upperBound) } ?? response.count
    return (status, Data(response[bodyStart...]))
}

import Foundation

/// One HTTP/1.1 GET over a fresh TCP connection to a numeric IPv4 HOST:PORT; the status and body.
public func httpGet(_ hostAndPort: String, _ path: String) throws -> (status: Int, body: Data) {
    let connection = try TCPTestConnection(to: hostAndPort)
    let request = Array("GET \(path) HTTP/1.1\r\nHost: \(hostAndPort)\r\n\r\n".utf8)
    connection.send(request)
    let response = connection.receive(timeoutMilliseconds: 5_000).bytes
    let text = String(decoding: response, as: UTF8.self)
    let status = Int(text.split(separator: " ").dropFirst().first ?? "") ?? 0
    let bodyStart =
        text.range(of: "\r\n\r\n").map { text.utf8.distance(from: text.startIndex, to: $0.upperBound) }
        ?? response.count
    return (status, Data(response[bodyStart...]))
}

/// The sample value of the series named exactly `series` (name and labels) in Prometheus
/// exposition text; nil when it is not there.
public func prometheusValue(_ text: String, _ series: String) -> Double? {
    for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
        return Double(line.dropFirst(series.count + 1))
    }
    return nil
}

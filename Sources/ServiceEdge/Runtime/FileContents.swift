#if canImport(Glibc)
import Glibc
#endif

/// Reads a whole (small) file: configuration and key files. Returns nil when it cannot be opened,
/// with `errno` telling why; stops after `limit` bytes.
package func readFileContents(_ path: String, limit: Int = 1 << 20) -> [UInt8]? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while bytes.count < limit {
        let count = fread(&chunk, 1, chunk.count, file)
        if count <= 0 { break }
        bytes.append(contentsOf: chunk[..<count])
    }
    return bytes
}

/// Reads a secret kept in a file (a cluster key, a Redis password): the file's bytes without the
/// trailing newline an editor or `echo` leaves. Nil when it cannot be opened, with `errno` telling why.
package func readSecretFile(_ path: String, limit: Int) -> [UInt8]? {
    guard var bytes = readFileContents(path, limit: limit) else { return nil }
    while let last = bytes.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") { bytes.removeLast() }
    return bytes
}

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

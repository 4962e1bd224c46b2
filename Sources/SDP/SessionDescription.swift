/// A session description (RFC 8866): the session-level lines and the media sections.
///
/// Parsing keeps every line, so that writing back an unmodified description reproduces it
/// (with CRLF line ends); the relay rewrites only what it must.
public struct SessionDescription: Equatable, Sendable {
    /// The session-level lines (`v=`, `o=`, `s=`, `c=`, `t=`, session `a=` ...), in order.
    public var sessionLines: [SDPLine]
    public var media: [MediaDescription]

    /// The largest description accepted; larger ones are refused before parsing.
    public static let maximumLength = 64 * 1024

    public init(sessionLines: [SDPLine], media: [MediaDescription]) {
        self.sessionLines = sessionLines
        self.media = media
    }

    /// Parses a description. Lines may end in CRLF or LF.
    public init(parsing text: String) throws(SDPError) {
        guard text.utf8.count <= Self.maximumLength else { throw .tooLarge(bytes: text.utf8.count) }
        var sessionLines: [SDPLine] = []
        var media: [MediaDescription] = []
        var lineNumber = 0
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            if line.isEmpty { continue }
            guard line.count >= 2, let type = line.first, type.isASCII, type.isLetter,
                line[line.index(after: line.startIndex)] == "="
            else {
                throw .invalidLine(
                    number: lineNumber, line: String(line.prefix(80)), reason: "expected <letter>=<value>")
            }
            let value = String(line.dropFirst(2))
            if type == "m" {
                media.append(try MediaDescription(mediaLineValue: value, lineNumber: lineNumber))
            } else if media.isEmpty {
                sessionLines.append(SDPLine(type, value))
            } else {
                media[media.count - 1].lines.append(SDPLine(type, value))
            }
        }
        guard sessionLines.first?.type == "v" else { throw .missingVersion }
        self.init(sessionLines: sessionLines, media: media)
    }

    /// The description as text, every line ending in CRLF.
    public var text: String {
        var output = ""
        for line in sessionLines { output += line.text + "\r\n" }
        for section in media {
            output += "m=\(section.mediaLineValue)\r\n"
            for line in section.lines { output += line.text + "\r\n" }
        }
        return output
    }

    /// The session-level `c=` address.
    public var connection: ConnectionAddress? {
        sessionLines.first { $0.type == "c" }.flatMap { ConnectionAddress(connectionValue: $0.value) }
    }

    /// The address a media section's packets go to: its own `c=`, else the session's.
    public func connection(of section: MediaDescription) -> ConnectionAddress? {
        section.connection ?? connection
    }

    /// Replaces the session-level `c=` address, if there is one.
    public mutating func replaceSessionConnection(with address: ConnectionAddress) {
        for index in sessionLines.indices where sessionLines[index].type == "c" {
            sessionLines[index].value = address.connectionValue
        }
    }

    /// Replaces the address of the `o=` line (RFC 8866 5.2: the last three fields are IN, family, address).
    public mutating func replaceOriginAddress(with address: ConnectionAddress) {
        guard let index = sessionLines.firstIndex(where: { $0.type == "o" }) else { return }
        var fields = sessionLines[index].value.split(separator: " ").map(String.init)
        guard fields.count == 6 else { return }
        fields[4] = address.family.rawValue
        fields[5] = address.address
        sessionLines[index].value = fields.joined(separator: " ")
    }

    /// Removes session- and media-level attributes for which `predicate` holds.
    public mutating func removeAttributes(where predicate: (Substring) -> Bool) {
        sessionLines.removeAll { line in line.attributeName.map(predicate) ?? false }
        for index in media.indices { media[index].removeAttributes(where: predicate) }
    }
}

/// Why a session description could not be used.
public enum SDPError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooLarge(bytes: Int)
    case missingVersion
    case invalidLine(number: Int, line: String, reason: String)
    case noMedia

    public var description: String {
        switch self {
        case .tooLarge(let bytes):
            "SDP is \(bytes) bytes, more than the \(SessionDescription.maximumLength) accepted"
        case .missingVersion:
            "SDP does not start with a v= line"
        case .invalidLine(let number, let line, let reason):
            "SDP line \(number) '\(line)' is invalid: \(reason)"
        case .noMedia:
            "SDP has no m= lines, so there is no media to relay"
        }
    }
}

/// ICE attributes (RFC 8839 section 5) removed by the NG `ICE: remove` option.
public enum ICEAttributes {
    public static let names: Set<Substring> = [
        "candidate", "remote-candidates", "ice-ufrag", "ice-pwd", "ice-options", "ice-lite",
        "ice-mismatch", "end-of-candidates", "ice-pacing",
    ]
}

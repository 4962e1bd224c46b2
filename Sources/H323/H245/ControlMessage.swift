/// An H.245 `MultimediaSystemControlMessage`, classified far enough for a relay: the logical
/// channel messages whose media addresses it rewrites, the ones that end a channel or the
/// session, and everything else, which passes byte for byte.
public struct H245ControlMessage: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case openLogicalChannel(OpenLogicalChannel)
        case openLogicalChannelAck(OpenLogicalChannelAck)
        case openLogicalChannelReject(number: Int)
        case closeLogicalChannel(number: Int)
        case endSessionCommand
        /// Any other request, response, command or indication (TerminalCapabilitySet,
        /// MasterSlaveDetermination, UserInputIndication, ...), named for logs.
        case other(String)
    }

    public let kind: Kind
    /// The message as it came.
    public let encoding: [UInt8]

    static let requestNames = [
        "nonStandard", "masterSlaveDetermination", "terminalCapabilitySet", "openLogicalChannel", "closeLogicalChannel",
        "requestChannelClose", "multiplexEntrySend", "requestMultiplexEntry", "requestMode", "roundTripDelayRequest",
        "maintenanceLoopRequest",
    ]
    static let responseNames = [
        "nonStandard", "masterSlaveDeterminationAck", "masterSlaveDeterminationReject", "terminalCapabilitySetAck",
        "terminalCapabilitySetReject", "openLogicalChannelAck", "openLogicalChannelReject", "closeLogicalChannelAck",
        "requestChannelCloseAck", "requestChannelCloseReject", "multiplexEntrySendAck", "multiplexEntrySendReject",
        "requestMultiplexEntryAck", "requestMultiplexEntryReject", "requestModeAck", "requestModeReject",
        "roundTripDelayResponse", "maintenanceLoopAck", "maintenanceLoopReject",
    ]

    public init(perEncoded bytes: [UInt8]) throws(PERError) {
        encoding = bytes
        var reader = PERReader(bytes)
        switch try reader.readChoiceIndex(rootCount: 4, extensible: true) {
        case .root(0):
            switch try reader.readChoiceIndex(rootCount: 11, extensible: true) {
            case .root(3):
                kind = .openLogicalChannel(
                    try reader.field("openLogicalChannel") { reader throws(PERError) in
                        try OpenLogicalChannel(from: &reader)
                    })
            case .root(4):
                _ = try reader.readSequenceHeader(extensible: true, optionalFields: 0)
                kind = .closeLogicalChannel(number: try reader.readConstrainedWholeNumber(in: 1...65_535))
            case .root(let index): kind = .other(Self.requestNames[index])
            case .extension(let index): kind = .other("request extension \(index)")
            }
        case .root(1):
            switch try reader.readChoiceIndex(rootCount: 19, extensible: true) {
            case .root(5):
                kind = .openLogicalChannelAck(
                    try reader.field("openLogicalChannelAck") { reader throws(PERError) in
                        try OpenLogicalChannelAck(from: &reader)
                    })
            case .root(6):
                _ = try reader.readSequenceHeader(extensible: true, optionalFields: 0)
                kind = .openLogicalChannelReject(number: try reader.readConstrainedWholeNumber(in: 1...65_535))
            case .root(let index): kind = .other(Self.responseNames[index])
            case .extension(let index): kind = .other("response extension \(index)")
            }
        case .root(2):
            let command = try reader.readChoiceIndex(rootCount: 7, extensible: true)
            kind = command == .root(5) ? .endSessionCommand : .other("command")
        case .root(_):
            kind = .other("indication")
        case .extension(let index):
            kind = .other("message extension \(index)")
        }
    }

    /// The media channels this message describes (none unless it opens or acknowledges one).
    public var mediaChannels: [MediaChannel] {
        switch kind {
        case .openLogicalChannel(let open): open.mediaChannels
        case .openLogicalChannelAck(let ack): ack.mediaChannel.map { [$0] } ?? []
        default: []
        }
    }

    /// The message with the relay's addresses in place of the writer's; other messages unchanged.
    public func rewritingMedia(choosing choose: MediaRelayChooser) throws -> [UInt8] {
        switch kind {
        case .openLogicalChannel(let open): encoding.applying(try open.patches(choosing: choose))
        case .openLogicalChannelAck(let ack): encoding.applying(try ack.patches(choosing: choose))
        default: encoding
        }
    }

    /// An OpenLogicalChannelReject for channel `number`, cause `unspecified`: what the relay
    /// answers in place of forwarding a channel whose media it cannot anchor.
    public static func openLogicalChannelReject(number: Int) -> [UInt8] {
        var writer = PERWriter()
        writer.writeChoiceIndex(.root(1), rootCount: 4, extensible: true)
        writer.writeChoiceIndex(.root(6), rootCount: 19, extensible: true)
        writer.writeSequenceHeader(extensible: true, optionals: [])
        writer.writeConstrainedWholeNumber(number, in: 1...65_535)
        writer.writeChoiceIndex(.root(0), rootCount: 6, extensible: true)
        return writer.encoded
    }
}

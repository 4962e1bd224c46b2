/// One H.225.0 RAS message (the RasMessage CHOICE), as carried in one UDP datagram on port 1719.
///
/// The messages Spillway's steering uses are modelled; the rest (bandwidth, non-standard and
/// unknown-message messages, the IRR acknowledgements, service control) decode to `unsupported`
/// with their name, so an endpoint can log and count them.
public enum RASMessage: Equatable, Sendable, PERCodable {
    case gatekeeperRequest(GatekeeperRequest)
    case gatekeeperConfirm(GatekeeperConfirm)
    case gatekeeperReject(GatekeeperReject)
    case registrationRequest(RegistrationRequest)
    case registrationConfirm(RegistrationConfirm)
    case registrationReject(RegistrationReject)
    case unregistrationRequest(UnregistrationRequest)
    case unregistrationConfirm(PlainConfirm)
    case admissionRequest(AdmissionRequest)
    case admissionConfirm(AdmissionConfirm)
    case admissionReject(AdmissionReject)
    case disengageRequest(DisengageRequest)
    case disengageConfirm(PlainConfirm)
    case locationRequest(LocationRequest)
    case locationConfirm(LocationConfirm)
    case locationReject(LocationReject)
    case infoRequest(InfoRequest)
    case infoRequestResponse(InfoRequestResponse)
    case requestInProgress(RequestInProgress)
    case resourcesAvailableIndicate(ResourcesAvailableIndicate)
    case resourcesAvailableConfirm(ResourcesAvailableConfirm)
    /// A well-formed message of a kind Spillway does not handle.
    case unsupported(String)

    /// The root alternatives, in ASN.1 order.
    static let rootNames = [
        "gatekeeperRequest", "gatekeeperConfirm", "gatekeeperReject", "registrationRequest", "registrationConfirm",
        "registrationReject", "unregistrationRequest", "unregistrationConfirm", "unregistrationReject",
        "admissionRequest",
        "admissionConfirm", "admissionReject", "bandwidthRequest", "bandwidthConfirm", "bandwidthReject",
        "disengageRequest",
        "disengageConfirm", "disengageReject", "locationRequest", "locationConfirm", "locationReject", "infoRequest",
        "infoRequestResponse", "nonStandardMessage", "unknownMessageResponse",
    ]
    /// The extension alternatives known to H.225.0 version 7, in order.
    static let extensionNames = [
        "requestInProgress", "resourcesAvailableIndicate", "resourcesAvailableConfirm", "infoRequestAck",
        "infoRequestNak",
        "serviceControlIndication", "serviceControlResponse", "admissionConfirmSequence",
    ]

    /// The message's name as H.225.0 spells it (`locationRequest`).
    public var name: String {
        switch self {
        case .requestInProgress: Self.extensionNames[0]
        case .resourcesAvailableIndicate: Self.extensionNames[1]
        case .resourcesAvailableConfirm: Self.extensionNames[2]
        case .unsupported(let name): name
        default: Self.rootNames[rootIndex!]
        }
    }

    /// The requestSeqNum that pairs a request with its answer; nil for unsupported messages.
    public var requestSeqNum: UInt16? {
        switch self {
        case .gatekeeperRequest(let message): message.requestSeqNum
        case .gatekeeperConfirm(let message): message.requestSeqNum
        case .gatekeeperReject(let message): message.requestSeqNum
        case .registrationRequest(let message): message.requestSeqNum
        case .registrationConfirm(let message): message.requestSeqNum
        case .registrationReject(let message): message.requestSeqNum
        case .unregistrationRequest(let message): message.requestSeqNum
        case .unregistrationConfirm(let message), .disengageConfirm(let message): message.requestSeqNum
        case .admissionRequest(let message): message.requestSeqNum
        case .admissionConfirm(let message): message.requestSeqNum
        case .admissionReject(let message): message.requestSeqNum
        case .disengageRequest(let message): message.requestSeqNum
        case .locationRequest(let message): message.requestSeqNum
        case .locationConfirm(let message): message.requestSeqNum
        case .locationReject(let message): message.requestSeqNum
        case .infoRequest(let message): message.requestSeqNum
        case .infoRequestResponse(let message): message.requestSeqNum
        case .requestInProgress(let message): message.requestSeqNum
        case .resourcesAvailableIndicate(let message): message.requestSeqNum
        case .resourcesAvailableConfirm(let message): message.requestSeqNum
        case .unsupported: nil
        }
    }

    private var rootIndex: Int? {
        switch self {
        case .gatekeeperRequest: 0
        case .gatekeeperConfirm: 1
        case .gatekeeperReject: 2
        case .registrationRequest: 3
        case .registrationConfirm: 4
        case .registrationReject: 5
        case .unregistrationRequest: 6
        case .unregistrationConfirm: 7
        case .admissionRequest: 9
        case .admissionConfirm: 10
        case .admissionReject: 11
        case .disengageRequest: 15
        case .disengageConfirm: 16
        case .locationRequest: 18
        case .locationConfirm: 19
        case .locationReject: 20
        case .infoRequest: 21
        case .infoRequestResponse: 22
        case .requestInProgress, .resourcesAvailableIndicate, .resourcesAvailableConfirm, .unsupported: nil
        }
    }

    public init(from reader: inout PERReader) throws(PERError) {
        switch try reader.readChoiceIndex(rootCount: Self.rootNames.count, extensible: true) {
        case .root(let index):
            self = try reader.field(Self.rootNames[index]) { reader throws(PERError) in
                try Self.decodeRoot(index, from: &reader)
            }
        case .extension(let index):
            let name = index < Self.extensionNames.count ? Self.extensionNames[index] : "extension alternative \(index)"
            let contents = try reader.readOpenType()
            self = try reader.field(name) { reader throws(PERError) in
                var inner = PERReader(contents)
                return try inner.field(name) { inner throws(PERError) in
                    switch index {
                    case 0: .requestInProgress(try RequestInProgress(from: &inner))
                    case 1: .resourcesAvailableIndicate(try ResourcesAvailableIndicate(from: &inner))
                    case 2: .resourcesAvailableConfirm(try ResourcesAvailableConfirm(from: &inner))
                    default: .unsupported(name)
                    }
                }
            }
        }
    }

    private static func decodeRoot(_ index: Int, from reader: inout PERReader) throws(PERError) -> RASMessage {
        switch index {
        case 0: .gatekeeperRequest(try GatekeeperRequest(from: &reader))
        case 1: .gatekeeperConfirm(try GatekeeperConfirm(from: &reader))
        case 2: .gatekeeperReject(try GatekeeperReject(from: &reader))
        case 3: .registrationRequest(try RegistrationRequest(from: &reader))
        case 4: .registrationConfirm(try RegistrationConfirm(from: &reader))
        case 5: .registrationReject(try RegistrationReject(from: &reader))
        case 6: .unregistrationRequest(try UnregistrationRequest(from: &reader))
        case 7: .unregistrationConfirm(try PlainConfirm(from: &reader))
        case 9: .admissionRequest(try AdmissionRequest(from: &reader))
        case 10: .admissionConfirm(try AdmissionConfirm(from: &reader))
        case 11: .admissionReject(try AdmissionReject(from: &reader))
        case 15: .disengageRequest(try DisengageRequest(from: &reader))
        case 16: .disengageConfirm(try PlainConfirm(from: &reader))
        case 18: .locationRequest(try LocationRequest(from: &reader))
        case 19: .locationConfirm(try LocationConfirm(from: &reader))
        case 20: .locationReject(try LocationReject(from: &reader))
        case 21: .infoRequest(try InfoRequest(from: &reader))
        case 22: .infoRequestResponse(try InfoRequestResponse(from: &reader))
        default: .unsupported(rootNames[index])
        }
    }

    public func encode(to writer: inout PERWriter) {
        let count = Self.rootNames.count
        switch self {
        case .requestInProgress(let message): writer.writeExtensionAlternative(index: 0) { message.encode(to: &$0) }
        case .resourcesAvailableIndicate(let message):
            writer.writeExtensionAlternative(index: 1) { message.encode(to: &$0) }
        case .resourcesAvailableConfirm(let message):
            writer.writeExtensionAlternative(index: 2) { message.encode(to: &$0) }
        case .unsupported(let name): preconditionFailure("\(name) is decoded only; Spillway never sends it")
        default:
            writer.writeChoiceIndex(.root(rootIndex!), rootCount: count, extensible: true)
            switch self {
            case .gatekeeperRequest(let message): message.encode(to: &writer)
            case .gatekeeperConfirm(let message): message.encode(to: &writer)
            case .gatekeeperReject(let message): message.encode(to: &writer)
            case .registrationRequest(let message): message.encode(to: &writer)
            case .registrationConfirm(let message): message.encode(to: &writer)
            case .registrationReject(let message): message.encode(to: &writer)
            case .unregistrationRequest(let message): message.encode(to: &writer)
            case .unregistrationConfirm(let message), .disengageConfirm(let message): message.encode(to: &writer)
            case .admissionRequest(let message): message.encode(to: &writer)
            case .admissionConfirm(let message): message.encode(to: &writer)
            case .admissionReject(let message): message.encode(to: &writer)
            case .disengageRequest(let message): message.encode(to: &writer)
            case .locationRequest(let message): message.encode(to: &writer)
            case .locationConfirm(let message): message.encode(to: &writer)
            case .locationReject(let message): message.encode(to: &writer)
            case .infoRequest(let message): message.encode(to: &writer)
            case .infoRequestResponse(let message): message.encode(to: &writer)
            case .requestInProgress, .resourcesAvailableIndicate, .resourcesAvailableConfirm, .unsupported: break
            }
        }
    }
}

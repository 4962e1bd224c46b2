import H323

/// One of each RAS message Spillway encodes, with every field it models set, for round trips and
/// for the independent decoders (tshark, pycrate) to check.
public enum RASSamples {
    public static let ras = TransportAddress(ipv4: "127.0.0.1", port: 1719)!
    public static let callSignal = TransportAddress(ipv4: "127.0.0.1", port: 1720)!
    public static let guid = CallIdentifier(guid: Array(0..<16))
    public static let conference: [UInt8] = Array(repeating: 0xAB, count: 16)
    public static let vendor = VendorIdentifier(
        vendor: H221NonStandard(t35CountryCode: 181, t35Extension: 0, manufacturerCode: 4242),
        productID: Array("Spillway".utf8),
        versionID: Array("1".utf8))
    public static let capacity = CallCapacity(
        maximum: CallCapacityInfo([.terminal: [CallsAvailable(calls: 1000)]]),
        current: CallCapacityInfo([.terminal: [CallsAvailable(calls: 250, group: "relay")]]))

    public static let locationRequest = LocationRequest(
        requestSeqNum: 513, destinationInfo: [.dialledDigits("4930123#*"), .h323ID("node-b")], replyAddress: ras,
        sourceInfo: [.h323ID("caller"), .url("h323:caller@example.net"), .email("caller@example.net")],
        gatekeeperIdentifier: "spillway-a", hopCount: 3, callIdentifier: guid)

    public static let all: [RASMessage] = [
        .gatekeeperRequest(
            GatekeeperRequest(
                requestSeqNum: 1, rasAddress: ras,
                endpointType: EndpointType(vendor: vendor, gatewayProtocols: [.h323, .voice]),
                endpointAlias: [.h323ID("node-a")])),
        .gatekeeperConfirm(GatekeeperConfirm(requestSeqNum: 1, gatekeeperIdentifier: "monitor", rasAddress: ras)),
        .gatekeeperReject(
            GatekeeperReject(requestSeqNum: 1, gatekeeperIdentifier: "monitor", rejectReason: .resourceUnavailable)),
        .registrationRequest(
            RegistrationRequest(
                requestSeqNum: 2, discoveryComplete: false, callSignalAddress: [callSignal], rasAddress: [ras],
                terminalType: EndpointType(gatewayProtocols: [.h323]), terminalAlias: [.h323ID("node-a")],
                endpointVendor: vendor,
                timeToLive: 60, keepAlive: true, endpointIdentifier: "node-a")),
        .registrationConfirm(
            RegistrationConfirm(
                requestSeqNum: 2, callSignalAddress: [callSignal], terminalAlias: [.h323ID("node-a")],
                gatekeeperIdentifier: "monitor",
                endpointIdentifier: "node-a", timeToLive: 60)),
        .registrationReject(
            RegistrationReject(requestSeqNum: 2, rejectReason: .discoveryRequired, gatekeeperIdentifier: "monitor")),
        .unregistrationRequest(
            UnregistrationRequest(requestSeqNum: 3, callSignalAddress: [callSignal], endpointIdentifier: "node-a")),
        .unregistrationConfirm(PlainConfirm(requestSeqNum: 3)),
        .admissionRequest(
            AdmissionRequest(
                requestSeqNum: 7, endpointIdentifier: "ep-1", destinationInfo: [.dialledDigits("100")],
                srcInfo: [.h323ID("alice")],
                bandWidth: 1280, callReferenceValue: 42, conferenceID: conference, callIdentifier: guid)),
        .admissionConfirm(
            AdmissionConfirm(
                requestSeqNum: 7, bandWidth: 1280, callModel: .gatekeeperRouted, destCallSignalAddress: callSignal)),
        .admissionReject(AdmissionReject(requestSeqNum: 7, rejectReason: .resourceUnavailable)),
        .disengageRequest(
            DisengageRequest(
                requestSeqNum: 4, endpointIdentifier: "ep-1", conferenceID: conference, callReferenceValue: 42,
                disengageReason: .normalDrop,
                callIdentifier: guid)),
        .disengageConfirm(PlainConfirm(requestSeqNum: 4)),
        .locationRequest(locationRequest),
        .locationConfirm(LocationConfirm(requestSeqNum: 513, callSignalAddress: callSignal, rasAddress: ras)),
        .locationReject(LocationReject(requestSeqNum: 513, rejectReason: .resourceUnavailable)),
        .infoRequest(InfoRequest(requestSeqNum: 5, replyAddress: ras, capacityInfoRequested: true)),
        .infoRequestResponse(
            InfoRequestResponse(
                requestSeqNum: 5, endpointType: EndpointType(gatewayProtocols: [.h323]), endpointIdentifier: "node-a",
                rasAddress: ras,
                callSignalAddress: [callSignal], capacity: capacity)),
        .requestInProgress(RequestInProgress(requestSeqNum: 513, delay: 2000)),
        .resourcesAvailableIndicate(
            ResourcesAvailableIndicate(
                requestSeqNum: 9, endpointIdentifier: "node-a", protocols: [.h323], almostOutOfResources: true,
                capacity: capacity)),
        .resourcesAvailableConfirm(ResourcesAvailableConfirm(requestSeqNum: 9)),
    ]
}

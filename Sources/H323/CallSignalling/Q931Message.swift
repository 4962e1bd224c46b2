/// A Q.931 message as H.225.0 §7 profiles it: the call reference, the message type and the
/// information elements, in their order, each kept as it came so a relay forwards what it does
/// not change exactly.
public struct Q931Message: Equatable, Sendable {
    /// The message types H.225.0 uses (Q.931 §4.4, Table 4-2).
    public enum MessageType: UInt8, Sendable, CaseIterable {
        case alerting = 0x01
        case callProceeding = 0x02
        case progress = 0x03
        case setup = 0x05
        case connect = 0x07
        case setupAcknowledge = 0x0D
        case connectAcknowledge = 0x0F
        case releaseComplete = 0x5A
        case facility = 0x62
        case notify = 0x6E
        case statusEnquiry = 0x75
        case information = 0x7B
        case status = 0x7D
    }

    /// Information element identifiers H.225.0 uses (Q.931 §4.5, Table 4-3).
    public enum Element {
        public static let bearerCapability: UInt8 = 0x04
        public static let cause: UInt8 = 0x08
        public static let callState: UInt8 = 0x14
        public static let facility: UInt8 = 0x1C
        public static let progressIndicator: UInt8 = 0x1E
        public static let notificationIndicator: UInt8 = 0x27
        public static let display: UInt8 = 0x28
        public static let keypad: UInt8 = 0x2C
        public static let signal: UInt8 = 0x34
        public static let connectedNumber: UInt8 = 0x4C
        public static let callingPartyNumber: UInt8 = 0x6C
        public static let calledPartyNumber: UInt8 = 0x70
        public static let redirectingNumber: UInt8 = 0x74
        /// User-user: its length takes two octets in H.225.0 (§7.2.2.1), where Q.931 has one.
        public static let userUser: UInt8 = 0x7E
    }

    /// One information element: its identifier and contents. Single-octet elements (identifier
    /// bit 8 set) carry their value in the identifier and have no contents.
    public struct InformationElement: Equatable, Sendable {
        public var identifier: UInt8
        public var contents: [UInt8]

        public init(_ identifier: UInt8, _ contents: [UInt8] = []) {
            self.identifier = identifier
            self.contents = contents
        }

        var isSingleOctet: Bool { identifier & 0x80 != 0 }
    }

    /// The call reference value (15 bits).
    public var callReference: UInt16
    /// The call reference flag: set in messages from the side that did not allocate the reference.
    public var fromDestination: Bool
    /// The message type octet; `type` names it when it is one H.225.0 uses.
    public var typeCode: UInt8
    public var elements: [InformationElement]

    public init(type: MessageType, callReference: UInt16, fromDestination: Bool, elements: [InformationElement] = []) {
        self.typeCode = type.rawValue
        self.callReference = callReference
        self.fromDestination = fromDestination
        self.elements = elements
    }

    public var type: MessageType? { MessageType(rawValue: typeCode) }

    /// The Q.931 protocol discriminator every H.225.0 message starts with.
    static let protocolDiscriminator: UInt8 = 0x08
    /// The User-user element's protocol discriminator for X.208/X.209 coded user information.
    static let userInformationDiscriminator: UInt8 = 0x05

    /// Parses one message (a TPKT frame's payload).
    public init(parsing bytes: [UInt8]) throws(CallSignallingError) {
        guard bytes.count >= 3 else { throw .badQ931("\(bytes.count) octets, shorter than any message") }
        guard bytes[0] == Self.protocolDiscriminator else {
            throw .badQ931("protocol discriminator 0x\(String(bytes[0], radix: 16)), expected 0x08")
        }
        let referenceLength = Int(bytes[1] & 0x0F)
        guard bytes[1] & 0xF0 == 0, referenceLength <= 2 else {
            throw .badQ931("call reference length octet 0x\(String(bytes[1], radix: 16))")
        }
        guard bytes.count >= 3 + referenceLength else { throw .badQ931("message ends inside its call reference") }
        var reference: UInt16 = 0
        for octet in bytes[2..<2 + referenceLength] { reference = reference << 8 | UInt16(octet) }
        let flagMask: UInt16 = referenceLength == 0 ? 0 : 0x80 << (8 * UInt16(referenceLength - 1))
        fromDestination = reference & flagMask != 0
        callReference = reference & ~flagMask
        typeCode = bytes[2 + referenceLength]
        guard typeCode & 0x80 == 0 else {
            throw .badQ931("message type octet 0x\(String(typeCode, radix: 16)) has bit 8 set")
        }
        elements = []
        var index = 3 + referenceLength
        while index < bytes.count {
            let identifier = bytes[index]
            index += 1
            if identifier & 0x80 != 0 {
                elements.append(InformationElement(identifier))
                continue
            }
            let lengthOctets = identifier == Element.userUser ? 2 : 1
            guard index + lengthOctets <= bytes.count else {
                throw .badQ931("element 0x\(String(identifier, radix: 16)) ends inside its length")
            }
            let length = lengthOctets == 2 ? Int(bytes[index]) << 8 | Int(bytes[index + 1]) : Int(bytes[index])
            index += lengthOctets
            guard index + length <= bytes.count else {
                throw .badQ931(
                    "element 0x\(String(identifier, radix: 16)) claims \(length) octets, \(bytes.count - index) are left"
                )
            }
            elements.append(InformationElement(identifier, Array(bytes[index..<index + length])))
            index += length
        }
    }

    /// The message's encoding, with a two-octet call reference as H.225.0 requires.
    public var encoded: [UInt8] {
        var bytes: [UInt8] = [
            Self.protocolDiscriminator, 2, UInt8(callReference >> 8 & 0x7F) | (fromDestination ? 0x80 : 0),
            UInt8(callReference & 0xFF), typeCode,
        ]
        for element in elements {
            bytes.append(element.identifier)
            if element.isSingleOctet { continue }
            if element.identifier == Element.userUser { bytes.append(UInt8(element.contents.count >> 8)) }
            bytes.append(UInt8(element.contents.count & 0xFF))
            bytes.append(contentsOf: element.contents)
        }
        return bytes
    }

    /// The contents of the first element with `identifier`.
    public func element(_ identifier: UInt8) -> [UInt8]? {
        elements.first { $0.identifier == identifier }?.contents
    }

    /// Puts `contents` in the first element with `identifier`, or appends one.
    public mutating func setElement(_ identifier: UInt8, _ contents: [UInt8]) {
        if let index = elements.firstIndex(where: { $0.identifier == identifier }) {
            elements[index].contents = contents
        } else {
            elements.append(InformationElement(identifier, contents))
        }
    }

    /// The H.225.0 `H323-UserInformation` encoding the User-user element carries, if any.
    public var userInformation: [UInt8]? {
        guard let contents = element(Element.userUser), contents.first == Self.userInformationDiscriminator else {
            return nil
        }
        return Array(contents.dropFirst())
    }

    /// Replaces the User-user element's H.225.0 content.
    public mutating func setUserInformation(_ encoding: [UInt8]) {
        setElement(Element.userUser, [Self.userInformationDiscriminator] + encoding)
    }

    /// The Q.931 cause value (Q.850) of the Cause element, if any.
    public var cause: Int? {
        guard let contents = element(Element.cause), contents.count >= 2 else { return nil }
        // Octet 3 may be followed by 3a (its bit 8 clear); the cause value is in the octet after.
        let valueIndex = contents[0] & 0x80 != 0 ? 1 : 2
        return valueIndex < contents.count ? Int(contents[valueIndex] & 0x7F) : nil
    }

    /// A Cause element: ITU-T coding, location "user", and the Q.850 cause `value`.
    public static func causeElement(_ value: Int) -> InformationElement {
        InformationElement(Element.cause, [0x80, 0x80 | UInt8(value & 0x7F)])
    }
}

import Testing

@testable import MediaPlane

@Suite struct MediaInterfaceTests {
    let interfaces = MediaInterfaces([
        MediaInterface(parsing: "internal/10.0.0.5")!, MediaInterface(parsing: "external/10.1.0.5!203.0.113.5")!,
        MediaInterface(parsing: "v6/2001:db8::5")!,
    ])

    @Test(arguments: [
        "internal", "/10.0.0.5", "x/10.0.0.256", "x/host.example", "x/10.0.0.5!", "x/10.0.0.5!2001:db8::1",
        "x y/10.0.0.5", "x/1!2!3",
    ])
    func malformedInterfacesAreRefused(_ text: String) {
        #expect(MediaInterface(parsing: text) == nil)
    }

    @Test func withoutDirectionTheOfferersFamilyPicksItsInterfaceAndTheRecipientFollowsUnlessAskedOtherwise() throws {
        #expect(try interfaces.forNewCall(direction: [], addressFamily: nil, offererFamily: .ipv4) == (0, 0))
        #expect(try interfaces.forNewCall(direction: [], addressFamily: nil, offererFamily: .ipv6) == (2, 2))
        #expect(try interfaces.forNewCall(direction: [], addressFamily: .ipv6, offererFamily: .ipv4) == (0, 2))
        #expect(try interfaces.forNewCall(direction: [], addressFamily: .ipv4, offererFamily: nil) == (0, 0))
    }

    @Test func directionNamesBothInterfaces() throws {
        #expect(
            try interfaces.forNewCall(direction: ["external", "internal"], addressFamily: nil, offererFamily: .ipv4)
                == (1, 0))
        #expect(throws: CallError.self) {
            try interfaces.forNewCall(direction: ["internal", "v6"], addressFamily: .ipv4, offererFamily: nil)
        }
        let v4Only = MediaInterfaces([MediaInterface(name: "only", localIP: "10.0.0.5")])
        #expect(throws: CallError.self) {
            try v4Only.forNewCall(direction: [], addressFamily: .ipv6, offererFamily: nil)
        }
        // An IPv6 offerer on a node without IPv6 could not be reached.
        #expect(throws: CallError.self) {
            try v4Only.forNewCall(direction: [], addressFamily: nil, offererFamily: .ipv6)
        }
    }
}

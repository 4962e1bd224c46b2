import Foundation
import SRTP
import Testing

@Suite struct CryptoAttributeTests {
    /// RFC 4568 section 9.1's example key (40 base64 characters: 30 bytes).
    let key = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"

    @Test func parsesTheRFC4568ExampleWithLifetimeAndMKI() throws {
        let attribute = try CryptoAttribute(parsing: "1 AES_CM_128_HMAC_SHA1_80 inline:\(key)|2^20|1:4")
        #expect(attribute.tag == 1)
        #expect(attribute.suite == .aesCM128HMACSHA1_80)
        #expect(attribute.keyMaterial.count == 30)
        #expect(attribute.lifetime == 1 << 20)
        #expect(attribute.keyIdentifier == CryptoAttribute.KeyIdentifier(value: 1, length: 4))
        #expect(attribute.masterKey.identifier == [0, 0, 0, 1])
        #expect(attribute.attributeValue() == "1 AES_CM_128_HMAC_SHA1_80 inline:\(key)|2^20|1:4")
    }

    @Test func anMKIAloneAndADecimalLifetimeAreToldApart() throws {
        let withMKI = try CryptoAttribute(parsing: "2 AES_CM_128_HMAC_SHA1_32 inline:\(key)|7:1")
        #expect(withMKI.lifetime == nil && withMKI.keyIdentifier?.value == 7 && withMKI.keyIdentifier?.length == 1)
        let withLifetime = try CryptoAttribute(parsing: "3 AES_CM_128_HMAC_SHA1_32 inline:\(key)|1000")
        #expect(withLifetime.lifetime == 1000 && withLifetime.keyIdentifier == nil)
    }

    @Test(arguments: SRTPSuite.allCases)
    func generatedKeysRoundTripPaddedAndUnpadded(suite: SRTPSuite) throws {
        let generated = CryptoAttribute.generated(tag: 4, suite: suite)
        #expect(generated.keyMaterial.count == suite.keyMaterialLength)
        #expect(generated != CryptoAttribute.generated(tag: 4, suite: suite), "keys must be fresh each time")
        for padded in [false, true] {
            let text = generated.attributeValue(padded: padded)
            #expect(text.contains("=") == (padded && suite.keyMaterialLength % 3 != 0))
            #expect(try CryptoAttribute(parsing: text) == generated)
        }
    }

    @Test func whitespaceAroundSessionParametersAndAWindowHintAreAccepted() throws {
        let attribute = try CryptoAttribute(parsing: "1 AES_CM_128_HMAC_SHA1_80 inline:\(key)  WSH=128 KDR=0")
        #expect(attribute.tag == 1)
    }

    @Test(arguments: [
        ("1 AES_CM_128_HMAC_SHA1_80", "malformed"),
        ("x AES_CM_128_HMAC_SHA1_80 inline:KEY", "tag of 1 to 9 digits"),
        ("1234567890 AES_CM_128_HMAC_SHA1_80 inline:KEY", "tag of 1 to 9 digits"),
        ("1 F8_128_HMAC_SHA1_80 inline:KEY", "crypto suite F8_128_HMAC_SHA1_80 is not supported"),
        ("1 AES_CM_128_HMAC_SHA1_80 uri:KEY", "key method must be 'inline:'"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:KEY;inline:KEY", "several master keys"),
        ("1 AES_256_CM_HMAC_SHA1_80 inline:KEY", "needs 46 bytes of key and salt, the inline key has 30"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:!!!!", "not base64"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:KEY|2^49", "above 2^48"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:KEY|2^x", "neither a number nor 2^<n>"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:KEY|256:1", "fits in 1 to 128 bytes"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:KEY|1:0", "fits in 1 to 128 bytes"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:KEY KDR=1", "only KDR=0"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:KEY UNENCRYPTED_SRTP", "always encrypts"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:KEY FEC_ORDER=FEC_SRTP", "forward error correction"),
        ("1 AES_CM_128_HMAC_SHA1_80 inline:KEY SOMETHING", "unknown session parameter"),
    ])
    func unusableAttributesAreRefusedWithTheReason(line: String, reason: String) {
        let text = line.replacingOccurrences(of: "KEY", with: key)
        do {
            let attribute = try CryptoAttribute(parsing: text)
            Issue.record("accepted \(text) as \(attribute)")
        } catch {
            #expect(error.description.contains(reason), "\(error)")
        }
    }
}

import H323
import Testing

/// The ALIGNED PER primitives, against encodings worked out by hand from X.691.
@Suite struct PERTests {
    private func encoded(_ body: (inout PERWriter) -> Void) -> [UInt8] {
        var writer = PERWriter()
        body(&writer)
        return writer.encoded
    }

    @Test func constrainedWholeNumbersUseBitFieldsUpTo255ThenAlignedOctets() throws {
        // 3 in 0...7: three bits 011, padded.
        #expect(encoded { $0.writeConstrainedWholeNumber(3, in: 0...7) } == [0b0110_0000])
        // A bit, then 513 in 1...65535: aligned, two octets holding 512.
        #expect(
            encoded {
                $0.writeBit(true)
                $0.writeConstrainedWholeNumber(513, in: 1...65_535)
            } == [0x80, 0x02, 0x00])
        // 200 in 0...255 (a range of 256): one aligned octet.
        #expect(
            encoded {
                $0.writeBit(true)
                $0.writeConstrainedWholeNumber(200, in: 0...255)
            } == [0x80, 200])
        // 1280 in 0...2^32-1: the octet count less one in two bits (01), then two aligned octets.
        #expect(encoded { $0.writeConstrainedWholeNumber(1280, in: 0...4_294_967_295) } == [0b0100_0000, 0x05, 0x00])
        var reader = PERReader([0b0100_0000, 0x05, 0x00])
        #expect(try reader.readConstrainedWholeNumber(in: 0...4_294_967_295) == 1280)
    }

    @Test func lengthsAndNormallySmallNumbers() throws {
        #expect(encoded { $0.writeLengthDeterminant(5) } == [5])
        #expect(encoded { $0.writeLengthDeterminant(300) } == [0x81, 0x2C])
        // Normally small 5: 0 then 000101.
        #expect(encoded { $0.writeNormallySmallNumber(5) } == [0b0000_1010])
        // Normally small 300: 1, then semi-constrained from 0: length 2, aligned 0x012C.
        #expect(encoded { $0.writeNormallySmallNumber(300) } == [0x80, 0x02, 0x01, 0x2C])
        var small = PERReader([0x80, 0x02, 0x01, 0x2C])
        #expect(try small.readNormallySmallNumber() == 300)
        // INTEGER (1..MAX) holding 256: length 1, then 255.
        #expect(encoded { $0.writeSemiConstrainedWholeNumber(256, from: 1) } == [0x01, 0xFF])
        var semi = PERReader([0x01, 0xFF])
        #expect(try semi.readSemiConstrainedWholeNumber(from: 1) == 256)
        var reader = PERReader([0x81, 0x2C])
        #expect(try reader.readLengthDeterminant() == 300)
        var fragmented = PERReader([0xC1, 0, 0])
        #expect(throws: PERError.self) { try fragmented.readLengthDeterminant() }
    }

    @Test func restrictedCharacterStrings() throws {
        // dialledDigits "12#": length 3 as 2 in 7 bits, aligned, then 4-bit indices into "#*,0123456789".
        let digits = encoded { $0.writeCharacterString("12#", .dialledDigits, size: 1...128) }
        #expect(digits == [0b0000_0100, 0x45, 0x00])
        var reader = PERReader(digits)
        #expect(try reader.readCharacterString(.dialledDigits, size: 1...128) == "12#")
        // BMPString "ab": length 2 as 1 in 7 bits, aligned, two 16-bit characters.
        #expect(encoded { $0.writeBMPString("ab", size: 1...128) } == [0b0000_0010, 0x00, 0x61, 0x00, 0x62])
        // A character outside the alphabet is refused on decoding.
        var bad = PERReader([0b0000_0000, 0xF0])
        #expect(throws: PERError.self) { try bad.readCharacterString(.dialledDigits, size: 1...128) }
    }

    @Test func objectIdentifierOfH225Version4() throws {
        let bytes = ASN1ObjectIdentifier.h225Version4.perEncoded
        #expect(bytes == [6, 0x00, 0x08, 0x91, 0x4A, 0x00, 0x04])
        #expect(try ASN1ObjectIdentifier(perEncoded: bytes) == .h225Version4)
    }

    @Test func extensionAdditionsTheDecoderDoesNotKnowAreSkipped() throws {
        // Two additions present out of three: the first a BOOLEAN TRUE, the third an unknown octet string.
        let bytes = encoded { writer in
            writer.writeExtensionAdditions([0: [0x80], 2: [0x03, 0xDE, 0xAD, 0xBE]], count: 3)
            writer.writeBits(0x5A, count: 8)
        }
        var reader = PERReader(bytes)
        let additions = try reader.readExtensionAdditions()
        #expect(additions == [0: [0x80], 2: [0x03, 0xDE, 0xAD, 0xBE]])
        #expect(try reader.readBits(8) == 0x5A)
    }

    @Test func errorsNameTheFieldAndOffset() {
        var reader = PERReader([0x4C])  // locationConfirm's choice index (19), its header, then nothing
        do {
            _ = try RASMessage(from: &reader)
            Issue.record("a truncated LCF decoded")
        } catch {
            #expect(error.field == "locationConfirm.requestSeqNum")
            #expect("\(error)".contains("truncated PER in locationConfirm.requestSeqNum"))
        }
    }
}

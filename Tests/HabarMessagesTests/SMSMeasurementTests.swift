import Foundation
import HabarMessages
import Testing

@Suite("SMS measurement")
struct SMSMeasurementTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var text: String
        var encoding: SMSEncoding
        var units: Int
        var segments: Int
        var testDescription: String { "\(text.prefix(20))… (\(text.count) chars)" }
    }

    static let cases: [Case] = [
        Case(text: "", encoding: .gsm7, units: 0, segments: 1),
        Case(text: String(repeating: "a", count: 160), encoding: .gsm7, units: 160, segments: 1),
        Case(text: String(repeating: "a", count: 161), encoding: .gsm7, units: 161, segments: 2),
        Case(text: String(repeating: "a", count: 306), encoding: .gsm7, units: 306, segments: 2),
        Case(text: String(repeating: "a", count: 307), encoding: .gsm7, units: 307, segments: 3),
        // Extension characters take two septets each.
        Case(text: String(repeating: "€", count: 80), encoding: .gsm7, units: 160, segments: 1),
        Case(text: String(repeating: "a", count: 159) + "{", encoding: .gsm7, units: 161, segments: 2),
        // An escape pair never straddles two segments: 152 + 2 does not fit 153.
        Case(text: String(repeating: "a", count: 152) + "[" + String(repeating: "a", count: 10), encoding: .gsm7, units: 164, segments: 2),
        Case(text: "Gate {A} at 14:30 €5", encoding: .gsm7, units: 23, segments: 1),
        // Cyrillic forces UCS-2: 70 single, 67 per concatenated segment.
        Case(text: String(repeating: "ж", count: 70), encoding: .ucs2, units: 70, segments: 1),
        Case(text: String(repeating: "ж", count: 71), encoding: .ucs2, units: 71, segments: 2),
        Case(text: String(repeating: "ж", count: 134), encoding: .ucs2, units: 134, segments: 2),
        Case(text: String(repeating: "ж", count: 135), encoding: .ucs2, units: 135, segments: 3),
        // Kazakh letters, one Cyrillic letter in Latin text, and an emoji (two code units).
        Case(text: "Қауіпсізбін", encoding: .ucs2, units: 11, segments: 1),
        Case(text: "Hello Дима", encoding: .ucs2, units: 10, segments: 1),
        Case(text: "OK 👍", encoding: .ucs2, units: 5, segments: 1),
        // A surrogate pair is not split: 66 + 2 does not fit 67.
        Case(text: String(repeating: "ж", count: 66) + "👍" + String(repeating: "ж", count: 10), encoding: .ucs2, units: 78, segments: 2),
        Case(text: String(repeating: "ж", count: 66) + "👍" + String(repeating: "ж", count: 66), encoding: .ucs2, units: 134, segments: 3),
    ]

    @Test(arguments: cases)
    func measures(_ c: Case) {
        let measured = SMSMeasurement(c.text)
        #expect(measured.encoding == c.encoding)
        #expect(measured.units == c.units)
        #expect(measured.segments == c.segments)
    }
}

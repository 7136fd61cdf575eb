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

@Suite("Message catalog")
struct MessageCatalogTests {
    static let messages = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("messages")

    @Test("the shipped catalogs are consistent across kk, ru and en")
    func shippedCatalogsAreConsistent() throws {
        let catalog = try MessageCatalog.load(directory: Self.messages)
        #expect(catalog.languages == [.english, .kazakh, .russian])
        #expect(catalog.check().isEmpty, "\(catalog.check())")
    }

    @Test("Kazakh texts use Kazakh letters, never Latin look-alikes inside Cyrillic words")
    func kazakhLetters() throws {
        let data = try Data(contentsOf: Self.messages.appendingPathComponent("kk.json"))
        let texts = try JSONDecoder().decode([String: String].self, from: data)
        let cyrillic = Set("абвгдеёжзийклмнопрстуфхцчшщъыьэюяәғқңөұүһі")
        for (key, text) in texts {
            for word in text.lowercased().split(whereSeparator: { !$0.isLetter }) where word.contains(where: cyrillic.contains) {
                #expect(word.allSatisfy(cyrillic.contains), "\(key): '\(word)' mixes alphabets")
            }
        }
    }

    @Test("rendering fills placeholders and escapes them in HTML")
    func render() throws {
        let catalog = MessageCatalog(templates: [.russian: [
            "t.email.subject": try MessageTemplate("Сбор: {place}"),
            "t.email.text": try MessageTemplate("Место: {place}"),
            "t.email.html": try MessageTemplate("<p>{place}</p>"),
        ]])
        let rendered = try catalog.render(template: "t", kind: .email, language: .russian, arguments: ["place": "<Посольство & Ко>"])
        #expect(rendered.subject == "Сбор: <Посольство & Ко>")
        #expect(rendered.html == "<p>&lt;Посольство &amp; Ко&gt;</p>")
    }

    @Test("a missing parameter is an error naming it")
    func missingParameter() throws {
        let catalog = MessageCatalog(templates: [.russian: ["t.sms": try MessageTemplate("{a} и {b}")]])
        #expect { try catalog.render(template: "t", kind: .sms, language: .russian, arguments: ["a": "1"]) } throws: { error in
            (error as? CatalogError)?.detail.contains("b") == true
        }
    }

    @Test("syntax errors name the column", arguments: [("{unclosed", "column 1"), ("ok } bad", "column 4"), ("x {not a name}", "column 3")])
    func syntaxErrors(_ source: String, _ column: String) {
        #expect { try MessageTemplate(source) } throws: { error in "\(error)".contains(column) }
    }

    @Test("ICU quoting writes literal braces and apostrophes")
    func quoting() throws {
        let template = try MessageTemplate("It''s '{literal}' {name}")
        #expect(template.placeholders == ["name"])
    }
}

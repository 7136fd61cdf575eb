import Foundation
import HabarMessages
import Testing

/// The repository's `messages/` directory.
let messagesDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("messages")

@Suite("Catalog texts")
struct CatalogTextTests {
    /// Every template in every language and variant, rendered with `samples.json`.
    static func renderAll() throws -> [String: String] {
        let catalog = try MessageCatalog.load(directory: messagesDirectory)
        let samples = try CatalogSamples.load(messagesDirectory.appendingPathComponent("samples.json"))
        var texts: [String: String] = [:]
        for template in MessageCatalog.requiredTemplates {
            for language in Language.allCases {
                for kind in MessageKind.allCases {
                    let rendered = try catalog.render(
                        template: template, kind: kind, language: language, arguments: samples.arguments(template, language) ?? [:],
                        zones: MessageZones(local: samples.timeZone))
                    let prefix = "\(language.tag) \(template)"
                    switch kind {
                    case .sms:
                        let measured = rendered.sms
                        texts["\(prefix).sms"] = rendered.text
                        texts["\(prefix).sms.segments"] = "\(measured.encoding.rawValue), \(measured.units) units, \(measured.segments) segments"
                    case .email:
                        texts["\(prefix).email.subject"] = rendered.subject
                        texts["\(prefix).email.text"] = rendered.text
                        texts["\(prefix).email.html"] = rendered.html
                    case .webhook:
                        texts["\(prefix).webhook.title"] = rendered.subject
                        texts["\(prefix).webhook.text"] = rendered.text
                    }
                }
            }
        }
        return texts
    }

    /// `HABAR_RECORD_TEXTS=1 swift test --filter CatalogTextTests` rewrites the fixture; every
    /// change to it is reviewed by a reader of the language before it is committed.
    @Test("every template renders in every language and variant exactly as the reviewed texts in Fixtures/rendered.json")
    func reviewedTexts() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/rendered.json")
        let texts = try Self.renderAll()
        if ProcessInfo.processInfo.environment["HABAR_RECORD_TEXTS"] == "1" {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try encoder.encode(texts).write(to: fixture)
            print("recorded \(texts.count) texts to \(fixture.path)")
            return
        }
        let expected = try JSONDecoder().decode([String: String].self, from: Data(contentsOf: fixture))
        #expect(Set(texts.keys) == Set(expected.keys))
        for key in texts.keys.sorted() where texts[key] != expected[key] {
            Issue.record("\(key):\n  now:      \(texts[key] ?? "nil")\n  reviewed: \(expected[key] ?? "nil")")
        }
    }
}

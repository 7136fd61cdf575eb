import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import Hummingbird
import Testing

/// Text parameters are one string for every language or one per language; each citizen reads
/// their own language's value, and an approval is refused when some reader's language has none.
@Suite("Per-language parameters")
struct LocalizedParameterTests {
    static let names = (
        kk: "ҚР-ның Тегерандағы елшілігі", ru: "Посольство РК в Тегеране", en: "Embassy of Kazakhstan in Tehran",
        routeKk: "Тегеран – Тебриз – Астара", routeRu: "Тегеран — Тебриз — Астара", routeEn: "Tehran – Tabriz – Astara")

    static func advisory(meetingPoint: String) -> String {
        #"""
        {"kind": "green_corridor", "severity": "severe", "audience": {"countries": ["IR"]},
         "params": {"route": {"kk": "\#(names.routeKk)", "ru": "\#(names.routeRu)", "en": "\#(names.routeEn)"},
                    "borderCrossing": {"kk": "Астара", "ru": "Астара", "en": "Astara"}, "opensAt": "2026-03-12T04:30:00Z",
                    "closesAt": "2026-03-12T11:00:00Z", "meetingPoint": \#(meetingPoint), "contactPhone": "+982122565933",
                    "timeZone": "Asia/Tehran"},
         "channelPlan": {"mode": "fallback", "channels": ["sms"]}, "expiresAt": "2099-01-01T00:00:00Z", "scope": "public"}
        """#
    }

    static let allThree = #"{"kk": "\#(names.kk)", "ru": "\#(names.ru)", "en": "\#(names.en)"}"#

    func citizens(_ rig: APIRig, _ languages: [Language]) async throws {
        _ = try await rig.gateway.store.upsertCitizens(languages.enumerated().map { Fixtures.citizen($0.offset + 1, language: $0.element) })
    }

    @Test("preview, the SMS each citizen gets, and CAP's <info> per language use that language's value")
    func eachLanguageItsOwn() async throws {
        let rig = try await APIRig()
        try await citizens(rig, [.kazakh, .russian, .english])
        try await rig.run { api in
            let created = try await api.call(.post, "/v1/advisories", json: Self.advisory(meetingPoint: Self.allThree), as: .some(rig.tokens[.operator]))
            #expect(created.status == 201, "\(created.text)")
            #expect((created.json["params"] as? [String: Any])?["meetingPoint"] as? [String: String] == ["kk": Self.names.kk, "ru": Self.names.ru, "en": Self.names.en])
            let advisory = id(created)
            let preview = try await api.call(.get, "/v1/advisories/\(advisory)/preview", as: .some(rig.tokens[.viewer]))
            let renderings = preview.json["renderings"] as? [[String: Any]] ?? []
            func text(_ language: String) -> String { renderings.first { $0["language"] as? String == language }?["text"] as? String ?? "" }
            #expect(text("kk").contains(Self.names.kk) && !text("kk").contains(Self.names.ru), "\(text("kk"))")
            #expect(text("ru").contains(Self.names.ru) && text("ru").contains(Self.names.routeRu), "\(text("ru"))")
            #expect(text("en").contains(Self.names.en) && text("en").contains("Astara"), "\(text("en"))")

            let approved = try await api.call(.post, "/v1/advisories/\(advisory)/approve", as: .some(rig.tokens[.approver]))
            #expect(approved.status == 200, "\(approved.text)")
            try await rig.gateway.dispatcher.dispatchOnce(channel: "sms")
            let lines = try String(contentsOf: URL(fileURLWithPath: rig.gateway.configuration.dataDir).appendingPathComponent("sms-stub.jsonl"), encoding: .utf8)
                .split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            func sent(to index: Int) -> String { lines.first { $0["to"] as? String == Fixtures.citizen(index).phone?.e164 }?["text"] as? String ?? "" }
            #expect(lines.count == 3)
            #expect(sent(to: 1).contains(Self.names.kk) && sent(to: 1).contains(Self.names.routeKk) && !sent(to: 1).contains(Self.names.ru), "\(sent(to: 1))")
            #expect(sent(to: 2).contains(Self.names.ru) && !sent(to: 2).contains(Self.names.kk), "\(sent(to: 2))")
            #expect(sent(to: 3).contains(Self.names.en) && sent(to: 3).contains(Self.names.routeEn), "\(sent(to: 3))")

            let cap = try await api.call(.get, "/v1/advisories/\(advisory)/cap", as: .some(rig.tokens[.viewer]))
            let infos = cap.text.components(separatedBy: "<info>").dropFirst()
            let kk = infos.first { $0.contains("<language>kk</language>") } ?? ""
            let ru = infos.first { $0.contains("<language>ru</language>") } ?? ""
            #expect(kk.contains(HTML.escape(Self.names.kk)) && !kk.contains(Self.names.ru), "\(kk)")
            #expect(ru.contains(Self.names.ru) && !ru.contains(Self.names.kk), "\(ru)")
            try await expectValidCAP(cap.text)
        }
    }

    @Test("approval is refused by pointer, naming the languages, when an audience language lacks a value; nothing is queued")
    func missingLanguageRefused() async throws {
        let rig = try await APIRig()
        try await citizens(rig, [.kazakh, .russian, .english])
        try await rig.run { api in
            let kkRu = #"{"kk": "\#(Self.names.kk)", "ru": "\#(Self.names.ru)"}"#
            let created = try await api.call(.post, "/v1/advisories", json: Self.advisory(meetingPoint: kkRu), as: .some(rig.tokens[.operator]))
            #expect(created.status == 201, "a draft may be incomplete: \(created.text)")
            let advisory = id(created)
            let refused = try await api.call(.post, "/v1/advisories/\(advisory)/approve", as: .some(rig.tokens[.approver]))
            #expect(refused.status == 422, "\(refused.text)")
            #expect(refused.errorPointers == ["/params/meetingPoint"])
            let detail = (refused.json["errors"] as? [[String: Any]])?.first?["detail"] as? String ?? ""
            #expect(detail.contains("en") && detail.contains("given: kk, ru"), "\(detail)")
            #expect(try await rig.gateway.store.deliveryCounts(advisoryId: advisory).isEmpty)
        }
        // Without English readers the same parameters are complete.
        let russianAndKazakhOnly = try await APIRig()
        try await citizens(russianAndKazakhOnly, [.kazakh, .russian])
        try await russianAndKazakhOnly.run { api in
            let kkRu = #"{"kk": "\#(Self.names.kk)", "ru": "\#(Self.names.ru)"}"#
            let created = try await api.call(.post, "/v1/advisories", json: Self.advisory(meetingPoint: kkRu), as: .some(russianAndKazakhOnly.tokens[.operator]))
            let approved = try await api.call(.post, "/v1/advisories/\(id(created))/approve", as: .some(russianAndKazakhOnly.tokens[.approver]))
            #expect(approved.status == 200 && approved.json["queued"] as? Int == 2, "\(approved.text)")
        }
    }

    @Test("a text parameter of the wrong shape is refused by pointer", arguments: [
        (#"{"de": "Botschaft"}"#, "'de' is not a language"), (#"{}"#, "has no language"), ("5", "must be a string"),
        (#"{"kk": 5}"#, "must be a string"),
    ])
    func wrongShape(_ value: String, _ detail: String) async throws {
        let rig = try await APIRig()
        try await rig.run { api in
            let answer = try await api.call(.post, "/v1/advisories", json: Self.advisory(meetingPoint: value), as: .some(rig.tokens[.operator]))
            #expect(answer.status == 422, "\(answer.text)")
            #expect(answer.errorPointers == ["/params/meetingPoint"], "\(answer.text)")
            #expect(answer.text.contains(detail), "\(answer.text)")
        }
    }

    @Test("the SMS budget is checked only for the languages that will be sent")
    func budgetOnlyForReaders() async throws {
        let long = String(repeating: "Very long English directions to the meeting point. ", count: 6)
        let meetingPoint = #"{"kk": "\#(Self.names.kk)", "ru": "\#(Self.names.ru)", "en": "\#(long)"}"#
        for (languages, status) in [([Language.kazakh, .russian], 200), ([.kazakh, .english], 422)] {
            let rig = try await APIRig()
            try await citizens(rig, languages)
            try await rig.run { api in
                let created = try await api.call(.post, "/v1/advisories", json: Self.advisory(meetingPoint: meetingPoint), as: .some(rig.tokens[.operator]))
                let approved = try await api.call(.post, "/v1/advisories/\(id(created))/approve", as: .some(rig.tokens[.approver]))
                #expect(approved.status == status, "\(languages): \(approved.text)")
                if status == 422 { #expect(approved.text.contains("the en SMS"), "\(approved.text)") }
            }
        }
    }
}

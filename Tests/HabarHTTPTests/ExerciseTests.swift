import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import Hummingbird
import HummingbirdTesting
import Testing

/// Exercise vs live (CAP `<status>`): a drill is marked in every language's text, goes only
/// through exercise channels, shows as such in the API and CAP, and stays out of the public feed.
@Suite("Exercises")
struct ExerciseTests {
    static let exerciseJSON = APIRig.advisoryJSON.replacingOccurrences(of: #""scope": "public"}"#, with: #""scope": "public", "status": "exercise"}"#)

    /// The stub `sms` (an exercise channel by default) and a second stub configured as live.
    func rig() async throws -> APIRig {
        try await APIRig { configuration in
            var live = ChannelConfiguration(name: "sms-live", type: "sms-stub")
            live.exercise = false
            configuration.channels.append(live)
        }
    }

    @Test("an exercise is marked ЖАТТЫҒУ / УЧЕНИЯ / EXERCISE in every language's SMS, shows status exercise, and CAP says Exercise")
    func marked() async throws {
        let rig = try await rig()
        _ = try await rig.gateway.store.upsertCitizens([
            Fixtures.citizen(1, language: .kazakh), Fixtures.citizen(2, language: .russian), Fixtures.citizen(3, language: .english),
        ])
        let op = try await rig.person("Айдар", .operator)
        let approver = try await rig.person("Мария", .approver)
        try await rig.run { api in
            let created = try await api.call(.post, "/v1/advisories", json: Self.exerciseJSON, as: .some(op))
            #expect(created.status == 201, "\(created.text)")
            #expect(created.json["status"] as? String == "exercise" && created.json["state"] as? String == "draft")
            let advisory = id(created)
            let preview = try await api.call(.get, "/v1/advisories/\(advisory)/preview", as: .some(op))
            let texts = (preview.json["renderings"] as? [[String: Any]] ?? []).filter { $0["kind"] as? String == "sms" }
            #expect(texts.count == 3)
            for rendering in texts {
                let text = rendering["text"] as? String ?? ""
                switch rendering["language"] as? String {
                case "kk": #expect(text.hasPrefix("ЖАТТЫҒУ: "), "\(text)")
                case "ru": #expect(text.hasPrefix("УЧЕНИЯ: "), "\(text)")
                default: #expect(text.hasPrefix("EXERCISE: "), "\(text)")
                }
            }
            #expect(try await api.call(.post, "/v1/advisories/\(advisory)/approve", as: .some(approver)).status == 200)
            try await rig.gateway.dispatcher.dispatchOnce(channel: "sms")
            let sent = try String(contentsOf: URL(fileURLWithPath: rig.gateway.configuration.dataDir).appendingPathComponent("sms-stub.jsonl"), encoding: .utf8)
            #expect(sent.contains("ЖАТТЫҒУ: ") && sent.contains("УЧЕНИЯ: ") && sent.contains("EXERCISE: "))
            let cap = try await api.call(.get, "/v1/advisories/\(advisory)/cap", as: .some(rig.tokens[.viewer]))
            #expect(cap.text.contains("<status>Exercise</status>"))
            try await expectValidCAP(cap.text)
            let exercises = try await api.call(.get, "/v1/advisories?status=exercise", as: .some(rig.tokens[.viewer]))
            #expect((exercises.json["items"] as? [[String: Any]])?.map { $0["id"] as? Int } == [Int(advisory)])
            let live = try await api.call(.get, "/v1/advisories?status=actual", as: .some(rig.tokens[.viewer]))
            #expect((live.json["items"] as? [[String: Any]])?.isEmpty == true)
            let published = try await api.call(.get, "/v1/advisories?state=published", as: .some(rig.tokens[.viewer]))
            #expect((published.json["items"] as? [[String: Any]])?.count == 1)
            // The check-in link's page says it too, first (a check-in request would link to it).
            let kazakh = try #require(try await rig.gateway.store.citizens(CitizenFilter(), page: PageRequest()).items.first { $0.language == .kazakh })
            let token = try await rig.gateway.links.token(citizenId: kazakh.id, advisoryId: advisory)
            let page = try await api.call(.get, "/c/\(token)")
            #expect(page.text.contains("<p class=\"exercise\" role=\"note\"><strong>ЖАТТЫҒУ</strong></p>"), "\(page.text)")
            let feed = try await api.call(.get, "/v1/feed/cap", as: .some(rig.tokens[.viewer]))
            #expect(!feed.text.contains("<status>Exercise</status>"), "a drill never goes into the public feed")
        }
    }

    @Test("an exercise through a live channel is refused with its pointer, and nothing is stored; a live advisory may use both")
    func liveChannelRefused() async throws {
        let rig = try await rig()
        let op = try await rig.person("Айдар", .operator)
        try await rig.run { api in
            let json = Self.exerciseJSON.replacingOccurrences(of: #""channels": ["sms"]"#, with: #""channels": ["sms", "sms-live"]"#)
            let refused = try await api.call(.post, "/v1/advisories", json: json, as: .some(op))
            #expect(refused.status == 422)
            let errors = refused.json["errors"] as? [[String: Any]] ?? []
            #expect(errors.map { $0["pointer"] as? String } == ["/channelPlan/channels/1"], "\(refused.text)")
            #expect((errors.first?["detail"] as? String)?.contains("'sms-live' is live") == true)
            let all = try await api.call(.get, "/v1/advisories", as: .some(op))
            #expect((all.json["items"] as? [[String: Any]])?.isEmpty == true)
            let liveJSON = APIRig.advisoryJSON.replacingOccurrences(of: #""channels": ["sms"]"#, with: #""channels": ["sms", "sms-live"]"#)
            let live = try await api.call(.post, "/v1/advisories", json: liveJSON, as: .some(op))
            #expect(live.status == 201 && live.json["status"] as? String == "actual", "\(live.text)")
            let bad = try await api.call(.get, "/v1/advisories?status=drill", as: .some(op))
            #expect(bad.status == 400)
        }
    }
}

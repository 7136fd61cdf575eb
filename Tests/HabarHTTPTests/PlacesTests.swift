import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import Hummingbird
import Testing

/// The places registry: versioned places, advisories that name them by id, and the pending
/// corrections a change of a place leaves on every advisory in force that used it.
@Suite("Places")
struct PlacesTests {
    static let embassy = #"""
        {"kind": "meeting_point", "name": {"kk": "Тегерандағы ҚР елшілігі", "ru": "Посольство РК в Тегеране", "en": "Embassy of Kazakhstan, Tehran"},
         "address": {"kk": "Мирза Ширази к-сі, 28", "ru": "ул. Мирзы Ширази, 28", "en": "28 Mirza Shirazi St"},
         "location": {"lat": 35.72458, "lon": 51.41385}, "country": "IR", "contactPhone": "+98 21 2256 5933",
         "openingHours": {"kk": "күн сайын 08:00–20:00", "ru": "ежедневно 08:00–20:00", "en": "daily 08:00-20:00"}}
        """#
    static let astara = #"{"kind": "border_crossing", "name": {"kk": "Астара", "ru": "Астара", "en": "Astara"}, "country": "IR", "location": {"lat": 38.43, "lon": 48.87}}"#

    static func json(_ answer: Answer) -> [String: Any] { answer.json }

    @Test("create, list, read versions, merge-patch one language; bad values by pointer and nothing stored; roles")
    func registry() async throws {
        let rig = try await APIRig()
        try await rig.run { api in
            let op = rig.tokens[.operator]!
            let created = try await api.call(.post, "/v1/places", json: Self.embassy, as: .some(op))
            #expect(created.status == 201, "\(created.text)")
            let place = id(created)
            #expect(created.headers[.location] == "/v1/places/\(place)")
            #expect(created.json["version"] as? Int == 1 && created.json["status"] as? String == "open")
            #expect(created.json["contactPhone"] as? String == "+982122565933", "stored in E.164")
            #expect(try await api.call(.post, "/v1/places", json: Self.embassy, as: .some(rig.tokens[.viewer])).status == 403)

            // One language changed by merge patch: the others stay; the old version stays readable.
            let patched = try await api.call(.patch, "/v1/places/\(place)", json: #"{"name": {"en": "Embassy of the Republic of Kazakhstan"}}"#, as: .some(op))
            #expect(patched.status == 200, "\(patched.text)")
            let current = patched.json["place"] as? [String: Any] ?? [:]
            #expect(current["version"] as? Int == 2)
            #expect(current["name"] as? [String: String] == ["kk": "Тегерандағы ҚР елшілігі", "ru": "Посольство РК в Тегеране", "en": "Embassy of the Republic of Kazakhstan"])
            #expect((patched.json["advisories"] as? [Any])?.isEmpty == true)
            let first = try await api.call(.get, "/v1/places/\(place)?version=1", as: .some(rig.tokens[.viewer]))
            #expect((first.json["name"] as? [String: String])?["en"] == "Embassy of Kazakhstan, Tehran" && first.json["version"] as? Int == 1)
            #expect(try await api.call(.get, "/v1/places/\(place)?version=9", as: .some(rig.tokens[.viewer])).status == 404)
            #expect(try await api.call(.get, "/v1/places/\(place)?version=zero", as: .some(rig.tokens[.viewer])).status == 400)
            // The same values again make no version.
            let same = try await api.call(.patch, "/v1/places/\(place)", json: #"{"country": "IR"}"#, as: .some(op))
            #expect((same.json["place"] as? [String: Any])?["version"] as? Int == 2)

            // Bad values: precise pointers, nothing changed.
            let bad: [(String, [String])] = [
                (#"{"location": {"lat": 100, "lon": 51}}"#, ["/location/lat"]), (#"{"contactPhone": "call us"}"#, ["/contactPhone"]),
                (#"{"country": "Iran"}"#, ["/country"]), (#"{"kind": "corridor"}"#, ["/kind"]), (#"{"name": null}"#, ["/name"]),
                (#"{"name": {"ru": "Посольство\u0000 РК"}}"#, ["/name/ru"]), (#"{"name": {"de": "Botschaft"}}"#, ["/name"]),
                (#"{"status": "maybe"}"#, ["/status"]),
            ]
            for (body, pointers) in bad {
                let refused = try await api.call(.patch, "/v1/places/\(place)", json: body, as: .some(op))
                #expect(refused.status == 422 && refused.errorPointers == pointers, "\(body): \(refused.text)")
            }
            #expect(try await api.call(.patch, "/v1/places/\(place)", json: #"{"colour": "red"}"#, as: .some(op)).status == 400)
            #expect((try await api.call(.get, "/v1/places/\(place)", as: .some(rig.tokens[.viewer])).json["version"] as? Int) == 2)
            #expect(try await api.call(.patch, "/v1/places/999", json: #"{"status": "closed"}"#, as: .some(op)).status == 404)

            _ = try await api.call(.post, "/v1/places", json: Self.astara, as: .some(op))
            let crossings = try await api.call(.get, "/v1/places?kind=border_crossing", as: .some(rig.tokens[.viewer]))
            #expect((crossings.json["items"] as? [[String: Any]])?.map { $0["kind"] as? String } == ["border_crossing"])
            let all = try await api.call(.get, "/v1/places?limit=1", as: .some(rig.tokens[.viewer]))
            #expect((all.json["items"] as? [Any])?.count == 1 && all.json["nextCursor"] as? String != nil)
            #expect(try await api.call(.get, "/v1/places?kind=hotel", as: .some(rig.tokens[.viewer])).status == 400)
            #expect(try await api.call(.get, "/v1/places").status == 401)
        }
    }

    @Test("advisories name places by id: texts from the place per language, a name both typed and by id is refused, a wrong kind is refused")
    func advisoriesUsePlaces() async throws {
        let rig = try await APIRig()
        _ = try await rig.gateway.store.upsertCitizens([Fixtures.citizen(1, language: .kazakh), Fixtures.citizen(2)])
        try await rig.run { api in
            let op = rig.tokens[.operator]!
            let embassy = id(try await api.call(.post, "/v1/places", json: Self.embassy, as: .some(op)))
            let astara = id(try await api.call(.post, "/v1/places", json: Self.astara, as: .some(op)))
            let draft = try await api.call(.post, "/v1/advisories", json: Self.meetingPointAdvisory(embassy), as: .some(op))
            #expect(draft.status == 201, "\(draft.text)")
            #expect(((draft.json["places"] as? [[String: Any]])?.first?["place"] as? [String: Any])?["version"] as? Int == 1)
            let preview = try await api.call(.get, "/v1/advisories/\(id(draft))/preview", as: .some(rig.tokens[.viewer]))
            let renderings = preview.json["renderings"] as? [[String: Any]] ?? []
            let kk = renderings.first { $0["language"] as? String == "kk" }?["text"] as? String ?? ""
            let ru = renderings.first { $0["language"] as? String == "ru" }?["text"] as? String ?? ""
            #expect(kk.contains("Тегерандағы ҚР елшілігі, Мирза Ширази к-сі, 28") && kk.contains("+98 21 2256 5933"), "\(kk)")
            #expect(ru.contains("Посольство РК в Тегеране, ул. Мирзы Ширази, 28") && ru.contains("maps.google.com/?q=35.72458,51.41385"), "\(ru)")

            let both = Self.meetingPointAdvisory(embassy).replacingOccurrences(of: #""meetingPointId""#, with: #""meetingPoint": "Посольство", "meetingPointId""#)
            let refused = try await api.call(.post, "/v1/advisories", json: both, as: .some(op))
            #expect(refused.status == 422 && refused.errorPointers == ["/params/meetingPoint"], "\(refused.text)")
            let wrongKind = try await api.call(.post, "/v1/advisories", json: Self.meetingPointAdvisory(astara), as: .some(op))
            #expect(wrongKind.status == 422 && wrongKind.errorPointers == ["/params/meetingPointId"], "\(wrongKind.text)")
            let missing = try await api.call(.post, "/v1/advisories", json: Self.meetingPointAdvisory(999), as: .some(op))
            #expect(missing.status == 422 && missing.errorPointers == ["/params/meetingPointId"], "\(missing.text)")
        }
    }

    static func meetingPointAdvisory(_ place: Int64, expiresAt: String = "2099-01-01T00:00:00Z") -> String {
        #"""
        {"kind": "meeting_point", "severity": "severe", "audience": {"countries": ["IR"]},
         "params": {"meetingPointId": \#(place), "opensAt": "2026-03-12T04:30:00Z", "timeZone": "Asia/Tehran"},
         "channelPlan": {"mode": "fallback", "channels": ["sms"]}, "expiresAt": "\#(expiresAt)"}
        """#
    }

    static func corridorAdvisory(meetingPoint: Int64, crossing: Int64) -> String {
        #"""
        {"kind": "green_corridor", "severity": "severe", "audience": {"countries": ["IR"]},
         "params": {"route": {"kk": "Тегеран – Тебриз – Астара", "ru": "Тегеран — Тебриз — Астара", "en": "Tehran - Tabriz - Astara"},
                    "borderCrossingId": \#(crossing), "meetingPointId": \#(meetingPoint),
                    "opensAt": "2026-03-12T04:30:00Z", "closesAt": "2026-03-12T14:30:00Z", "timeZone": "Asia/Tehran"},
         "channelPlan": {"mode": "fallback", "channels": ["sms"]}, "expiresAt": "2099-01-01T00:00:00Z"}
        """#
    }

    /// Each stub line: who it went to, which advisory version, and the text.
    func sent(_ rig: APIRig) throws -> [(to: String, key: String, text: String)] {
        let file = URL(fileURLWithPath: rig.gateway.configuration.dataDir).appendingPathComponent("sms-stub.jsonl")
        return try String(contentsOf: file, encoding: .utf8).split(separator: "\n").compactMap { line in
            guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return (object["to"] as? String ?? "", object["idempotencyKey"] as? String ?? "", object["text"] as? String ?? "")
        }
    }

    @Test("moving a meeting point leaves a pending correction on each advisory in force that used it (not a cancelled or expired one); a second person approves; exactly those told the old place get the new one, in their language, old and new named")
    func moveMeetingPoint() async throws {
        let clock = TestClock()
        let rig = try await APIRig(threshold: 2, clock: clock)
        // Two Kazakh and two Russian readers in Iran: above the threshold of 2.
        _ = try await rig.gateway.store.upsertCitizens([
            Fixtures.citizen(1, language: .kazakh), Fixtures.citizen(2, language: .kazakh), Fixtures.citizen(3), Fixtures.citizen(4),
        ])
        let author = try await rig.person("Айгерім Сейітова", .operator)
        let authorAsApprover = try await rig.person("Айгерім Сейітова", .approver)
        let second = try await rig.person("Мария Ким", .approver)
        try await rig.run { api in
            let embassy = id(try await api.call(.post, "/v1/places", json: Self.embassy, as: .some(author)))
            let astara = id(try await api.call(.post, "/v1/places", json: Self.astara, as: .some(author)))
            func publish(_ body: String) async throws -> Int64 {
                let created = try await api.call(.post, "/v1/advisories", json: body, as: .some(author))
                #expect(created.status == 201, "\(created.text)")
                let approved = try await api.call(.post, "/v1/advisories/\(id(created))/approve", as: .some(second))
                #expect(approved.status == 200, "\(approved.text)")
                return id(created)
            }
            let meeting = try await publish(Self.meetingPointAdvisory(embassy))
            let corridor = try await publish(Self.corridorAdvisory(meetingPoint: embassy, crossing: astara))
            let cancelled = try await publish(Self.meetingPointAdvisory(embassy))
            let expiring = try await publish(Self.meetingPointAdvisory(embassy, expiresAt: RFC3339Text.string(clock.now.addingTimeInterval(1800))))
            try await rig.gateway.dispatcher.dispatchOnce(channel: "sms")
            let before = try sent(rig)
            #expect(before.count == 4 * 4, "four advisories to four people: \(before.count)")
            #expect(try await api.call(.post, "/v1/advisories/\(cancelled)/cancel", json: "{}", as: .some(second)).status == 200)
            // Later arrivals were never told the old place.
            _ = try await rig.gateway.store.upsertCitizens([Fixtures.citizen(5), Fixtures.citizen(6, language: .kazakh)])
            clock.advance(3600)  // the fourth advisory expires

            let move = #"""
                {"name": {"kk": "«Азади» қонақүйі", "ru": "Отель «Азади»", "en": "Azadi Hotel"},
                 "address": {"kk": "Чамран тас жолы", "ru": "шоссе Чамран", "en": "Chamran Expressway"}, "location": {"lat": 35.78051, "lon": 51.40926}}
                """#
            let moved = try await api.call(.patch, "/v1/places/\(embassy)", json: move, as: .some(author))
            #expect(moved.status == 200, "\(moved.text)")
            let affected = moved.json["advisories"] as? [[String: Any]] ?? []
            #expect(affected.compactMap { ($0["advisoryId"] as? NSNumber)?.int64Value } == [meeting, corridor], "not \(cancelled) nor \(expiring): \(moved.text)")
            #expect(affected.map { $0["template"] as? String } == ["meeting_point.moved", "green_corridor.changed"])
            #expect(affected.allSatisfy { $0["pendingCorrection"] as? Bool == true && $0["recipients"] as? Int == 4 }, "\(moved.text)")
            let held = try await api.call(.get, "/v1/advisories/\(meeting)", as: .some(rig.tokens[.viewer]))
            #expect((held.json["pendingCorrection"] as? [String: Any])?["author"] as? String == "Айгерім Сейітова" && held.json["version"] as? Int == 1)
            #expect(try await rig.gateway.store.advisory(id: cancelled)?.pendingCorrection == nil)
            #expect(try await rig.gateway.store.advisory(id: expiring)?.pendingCorrection == nil)

            // The two-person rule: the author of the change may not approve its corrections.
            let own = try await api.call(.post, "/v1/advisories/\(meeting)/approve", as: .some(authorAsApprover))
            #expect(own.status == 403, "\(own.text)")
            for advisory in [meeting, corridor] {
                let approved = try await api.call(.post, "/v1/advisories/\(advisory)/approve", as: .some(second))
                #expect(approved.status == 200 && approved.json["outcome"] as? String == "correction_published", "\(approved.text)")
            }
            try await rig.gateway.dispatcher.dispatchOnce(channel: "sms")
            let corrections = try sent(rig).dropFirst(before.count)
            let toldBefore = Set(before.map(\.to))
            #expect(corrections.count == 8, "two corrections to the four people told: \(corrections.map(\.text))")
            #expect(Set(corrections.map(\.to)) == toldBefore && !corrections.contains { $0.to == Fixtures.citizen(5).phone?.e164 })
            let kazakh = Set([Fixtures.citizen(1).phone!.e164, Fixtures.citizen(2).phone!.e164])
            for message in corrections {
                if kazakh.contains(message.to) {
                    #expect(message.text.contains("«Азади» қонақүйі") && message.text.contains("Тегерандағы ҚР елшілігі") && message.text.contains("емес"), "\(message.text)")
                    #expect(message.text.contains("хабарламаға түзету") && !message.text.contains("Отель"), "\(message.text)")
                } else {
                    #expect(message.text.contains("Отель «Азади»") && message.text.contains("не «Посольство РК в Тегеране»"), "\(message.text)")
                    #expect(message.text.contains("Исправление сообщения от") && !message.text.contains("қонақүйі"), "\(message.text)")
                }
            }
            let after = try await rig.gateway.store.advisory(id: meeting)
            #expect(after?.version == 2 && after?.places.first { $0.role == .meetingPoint }?.place.version == 2)
            #expect(after?.template == "meeting_point.moved")
        }
    }
}

/// RFC 3339 text of a date, for request bodies.
enum RFC3339Text {
    static func string(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!))
    }
}

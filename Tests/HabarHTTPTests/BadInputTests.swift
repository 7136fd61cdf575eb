import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import Hummingbird
import Testing

/// Bad input found by reading, fuzzing the API against its OpenAPI document and trying it as
/// a new user: each refused precisely, with nothing stored.
@Suite("Bad input")
struct BadInputTests {
    @Test("a control character in any text of the API is refused by pointer, nothing stored; tab and newline are text", arguments: [
        ("\\u0000", "NUL"), ("\\u0007", "U+0007"), ("\\u001b", "U+001B"),
    ])
    func controlCharactersInJSON(_ escape: String, _ name: String) async throws {
        let rig = try await APIRig()
        try await rig.run { api in
            let body = #"{"fullName": "Айгүл\#(escape) Серікова", "phone": "+77011234567", "country": "IR", "tags": ["ok", "bad\#(escape)"]}"#
            let refused = try await api.call(.post, "/v1/citizens", json: body, as: .some(rig.tokens[.operator]))
            #expect(refused.status == 422 && refused.errorPointers == ["/fullName", "/tags/1"], "\(refused.text)")
            #expect(refused.text.contains(name))
            #expect(try await rig.gateway.store.countCitizens() == 0)
            let fine = try await api.call(
                .post, "/v1/citizens", json: #"{"fullName": "Айгүл Серікова", "phone": "+77011234567", "country": "IR", "city": "Тегеран\tцентр"}"#,
                as: .some(rig.tokens[.operator]))
            #expect(fine.status == 201, "\(fine.text)")
        }
    }

    @Test("a control character in a CSV field rejects that line by line and field; the other lines are imported whole")
    func controlCharactersInCSV() async throws {
        let rig = try await APIRig()
        try await rig.run { api in
            let csv = "fullName,phone,country\nАйгүл\u{0}Серікова,+77011234567,IR\nДана Ахметова,+77011234568,IR\n"
            let answer = try await api.call(.post, "/v1/citizens/import", body: Data(csv.utf8), contentType: "text/csv", as: .some(rig.tokens[.operator]))
            #expect(answer.status == 200, "\(answer.text)")
            let rejected = answer.json["rejected"] as? [[String: Any]] ?? []
            #expect(rejected.count == 1 && rejected[0]["line"] as? Int == 2 && rejected[0]["field"] as? String == "fullName", "\(answer.text)")
            #expect(answer.json["created"] as? Int == 1)
            let stored = try await rig.gateway.store.citizens(CitizenFilter(), page: PageRequest()).items.map(\.fullName)
            #expect(stored == ["Дана Ахметова"])
        }
    }

    @Test("a check-in note with a NUL is refused with the form again and nothing is recorded")
    func controlCharacterInNote() async throws {
        let c = try await CheckinRig()
        let link = try await c.token(c.russian)
        try await c.rig.run { api in
            let answer = try await api.call(.post, "/c/\(link)", body: Data("status=safe&note=%D0%B2%D1%81%D1%91%00%D1%85%D0%BE%D1%80%D0%BE%D1%88%D0%BE".utf8),
                                            contentType: "application/x-www-form-urlencoded")
            #expect(answer.status == 422 && answer.text.contains("<form"))
            #expect(try await c.rig.gateway.store.checkins(CheckinFilter(advisoryId: c.advisory.id), page: PageRequest()).items.isEmpty)
        }
    }

    @Test("a check-in request whose deadline has passed, and a corridor that closes before it opens, are refused at draft and at approval")
    func impossibleTimes() async throws {
        let clock = TestClock()
        let rig = try await APIRig(clock: clock)
        _ = try await rig.gateway.store.upsertCitizens([Fixtures.citizen(1)])
        try await rig.run { api in
            let past = RFC3339Text.string(clock.now.addingTimeInterval(-60))
            let soon = RFC3339Text.string(clock.now.addingTimeInterval(600))
            func checkin(_ deadline: String) -> String {
                #"{"kind": "checkin_request", "severity": "severe", "audience": {"countries": ["IR"]}, "params": {"checkinDeadline": "\#(deadline)", "contactPhone": "+982122565933", "timeZone": "Asia/Tehran"}, "channelPlan": {"mode": "fallback", "channels": ["sms"]}, "expiresAt": "2099-01-01T00:00:00Z"}"#
            }
            let late = try await api.call(.post, "/v1/advisories", json: checkin(past), as: .some(rig.tokens[.operator]))
            #expect(late.status == 422 && late.errorPointers == ["/params/checkinDeadline"], "\(late.text)")
            let backwards = APIRig.advisoryJSON.replacingOccurrences(of: #""closesAt": "2026-03-12T11:00:00Z""#, with: #""closesAt": "2026-03-12T04:00:00Z""#)
            let refused = try await api.call(.post, "/v1/advisories", json: backwards, as: .some(rig.tokens[.operator]))
            #expect(refused.status == 422 && refused.errorPointers == ["/params/closesAt"], "\(refused.text)")
            // A draft made in time whose deadline passes before anyone approves it.
            let draft = try await api.call(.post, "/v1/advisories", json: checkin(soon), as: .some(rig.tokens[.operator]))
            #expect(draft.status == 201)
            clock.advance(3600)
            let approval = try await api.call(.post, "/v1/advisories/\(id(draft))/approve", as: .some(rig.tokens[.approver]))
            #expect(approval.status == 422 && approval.errorPointers == ["/params/checkinDeadline"], "\(approval.text)")
            #expect(try await rig.gateway.store.deliveryCounts(advisoryId: id(draft)).isEmpty)
        }
    }

    @Test("a number too large for any integer names its field; null where a value belongs is refused by pointer; an unknown null field stays 400")
    func numbersAndNulls() async throws {
        let rig = try await APIRig()
        try await rig.run { api in
            let huge = APIRig.advisoryJSON.replacingOccurrences(of: #""timeZone": "Asia/Tehran""#, with: #""timeZone": "Asia/Tehran", "meetingPointId": 99999999999999999999999"#)
            let answer = try await api.call(.post, "/v1/advisories", json: huge, as: .some(rig.tokens[.operator]))
            #expect(answer.status == 422 && answer.errorPointers == ["/params/meetingPointId"], "\(answer.text)")
            let agency = try await api.call(.post, "/v1/agencies", json: #"{"id": "silkway", "name": "Silk Way"}"#, as: .some(rig.tokens[.admin]))
            #expect(agency.status == 201)
            let null = try await api.call(.post, "/v1/agencies/silkway/rotate-secret", json: #"{"overlapMinutes": null}"#, as: .some(rig.tokens[.admin]))
            #expect(null.status == 422 && null.errorPointers == ["/overlapMinutes"], "\(null.text)")
            let unknown = try await api.call(.post, "/v1/agencies/silkway/rotate-secret", json: #"{"overlap": null}"#, as: .some(rig.tokens[.admin]))
            #expect(unknown.status == 400 && unknown.errorPointers == ["/overlap"], "\(unknown.text)")
            #expect(try await api.call(.post, "/v1/agencies/silkway/rotate-secret", json: "{}", as: .some(rig.tokens[.admin])).status == 200)
        }
    }

    @Test("filters: scheduled is a status one can list; an empty filter value is 400 like a bad one")
    func filters() async throws {
        let clock = TestClock()
        let rig = try await APIRig(clock: clock)
        _ = try await rig.gateway.store.upsertCitizens([Fixtures.citizen(1)])
        try await rig.run { api in
            let later = RFC3339Text.string(clock.now.addingTimeInterval(3600))
            let scheduled = try await api.call(
                .post, "/v1/advisories", json: APIRig.advisoryJSON.replacingOccurrences(of: #""scope": "public""#, with: #""scope": "public", "publishAt": "\#(later)""#),
                as: .some(rig.tokens[.operator]))
            #expect(try await api.call(.post, "/v1/advisories/\(id(scheduled))/approve", as: .some(rig.tokens[.approver])).json["outcome"] as? String == "scheduled")
            let draft = try await api.call(.post, "/v1/advisories", json: APIRig.advisoryJSON, as: .some(rig.tokens[.operator]))
            func listed(_ query: String) async throws -> [Int64] {
                let answer = try await api.call(.get, "/v1/advisories?\(query)", as: .some(rig.tokens[.viewer]))
                #expect(answer.status == 200, "\(query): \(answer.text)")
                return (answer.json["items"] as? [[String: Any]] ?? []).compactMap { ($0["id"] as? NSNumber)?.int64Value }
            }
            #expect(try await listed("status=scheduled") == [id(scheduled)])
            #expect(try await listed("status=draft") == [id(draft)])
            for query in ["/v1/advisories?status=", "/v1/advisories?kind=", "/v1/deliveries?state=", "/v1/deliveries?channel=", "/v1/citizens?country=",
                          "/v1/checkins?status=", "/v1/places?kind=", "/v1/deliveries?state=lost"] {
                let answer = try await api.call(.get, query, as: .some(rig.tokens[.admin]))
                #expect(answer.status == 400, "\(query): \(answer.status) \(answer.text)")
            }
        }
    }

    @Test("a known path with a method it does not take is 405 with Allow, and its Idempotency-Key is not taken")
    func methodNotAllowed() async throws {
        let rig = try await APIRig()
        try await rig.run { api in
            let key: HTTPFields = [.init("Idempotency-Key")!: "key-405"]
            let put = try await api.call(.put, "/v1/advisories", json: APIRig.advisoryJSON, headers: key, as: .some(rig.tokens[.operator]))
            #expect(put.status == 405 && put.headers[.allow] == "GET, HEAD, POST", "\(put.status) \(put.headers)")
            #expect(put.contentType == "application/problem+json")
            let delete = try await api.call(.delete, "/v1/places/1", as: .some(rig.tokens[.operator]))
            #expect(delete.status == 405 && delete.headers[.allow] == "GET, HEAD, PATCH")
            // The same key on the route that exists is a first call, not a replay or a mismatch.
            let post = try await api.call(.post, "/v1/advisories", json: APIRig.advisoryJSON, headers: key, as: .some(rig.tokens[.operator]))
            #expect(post.status == 201, "\(post.text)")
            #expect(try await api.call(.get, "/v1/nothing-here", as: .some(rig.tokens[.viewer])).status == 404)
        }
    }

    @Test("the last admin token cannot be revoked (409); with a second one it can")
    func lastAdmin() async throws {
        let rig = try await APIRig()
        try await rig.run { api in
            let admin = rig.tokens[.admin]!
            let tokens = try await api.call(.get, "/v1/tokens?limit=500", as: .some(admin))
            let adminIds = (tokens.json["items"] as? [[String: Any]] ?? []).filter { $0["role"] as? String == "admin" }.compactMap { ($0["id"] as? NSNumber)?.int64Value }
            #expect(adminIds.count == 1)
            let refused = try await api.call(.delete, "/v1/tokens/\(adminIds[0])", as: .some(admin))
            #expect(refused.status == 409 && refused.text.contains("last admin token"), "\(refused.text)")
            let second = try await api.call(.post, "/v1/tokens", json: #"{"role": "admin", "name": "Second admin"}"#, as: .some(admin))
            #expect(try await api.call(.delete, "/v1/tokens/\(adminIds[0])", as: .some(admin)).status == 204)
            #expect(try await api.call(.delete, "/v1/tokens/\(id(second))", as: .some(second.json["token"] as? String)).status == 409)
        }
    }

    @Test("a bare no opens its case at the help requests' priority, ahead of older free text")
    func bareNoFirst() async throws {
        let c = try await CheckinRig()
        let store = c.rig.gateway.store
        for (index, (citizen, text)) in [(c.kazakh, "Автобус қашан келеді?"), (c.russian, "Нет")].enumerated() {
            _ = try await store.recordInboundSMS(NewInboundSMS(
                id: .unsaved, channel: "sms", sender: citizen.phone!.e164, receiver: nil, text: text, sentAt: nil,
                receivedAt: Date().addingTimeInterval(Double(index)), providerMessageId: "r\(index)"))
        }
        #expect(try await c.rig.gateway.checkinProcessor.processBatch() == 2)
        let queue = try await store.cases(CaseFilter(status: .open), page: PageRequest()).items
        #expect(queue.map(\.citizenId) == [c.russian.id, c.kazakh.id], "the later «Нет» first")
        #expect(queue.map(\.reason) == [.freeText, .freeText])
    }

    @Test("the sms-stub takes incoming SMS on /inbound/sms/{channel} with its inboundKey only")
    func stubInbound() async throws {
        let key = "drill-key-0123456789"
        let rig = try await APIRig { configuration in
            configuration.channels = [
                ChannelConfiguration(name: "sms", type: "sms-stub", options: .object(["inboundKey": .string(key)])),
                ChannelConfiguration(name: "sms-closed", type: "sms-stub"),
            ]
        }
        try await rig.run { api in
            let text = "%D0%90%D0%BC%D0%B0%D0%BD%D0%BC%D1%8B%D0%BD"  // Аманмын
            #expect(try await api.call(.get, "/inbound/sms/sms?key=\(key)&from=%2B77011234567&text=\(text)&id=m1").status == 200)
            #expect(try await api.call(.get, "/inbound/sms/sms?key=wrong-key-0123456789&from=%2B77011234567&text=\(text)").status == 403)
            #expect(try await api.call(.get, "/inbound/sms/sms-closed?key=\(key)&from=%2B77011234567&text=\(text)").status == 403)
            #expect(try await api.call(.get, "/callbacks/sms/sms/dlr?delivery=1&step=0&status=1").status == 404)
            let stored = try await rig.gateway.store.inboundSMS(page: PageRequest()).items
            #expect(stored.map(\.text) == ["Аманмын"] && stored.first?.sender == "+77011234567" && stored.first?.channel == "sms")
        }
    }
}

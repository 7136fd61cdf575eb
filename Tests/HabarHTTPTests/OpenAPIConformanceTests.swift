import ChannelKannel
import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

@Suite("OpenAPI conformance")
struct OpenAPIConformanceTests {
    /// Calls the API and checks each answer against openapi.json: the status is documented
    /// for the operation, the content type too, and a JSON body matches its schema.
    final class Checker: Sendable {
        let document: OpenAPIDocument
        let api: API
        let seen = Mutex<Set<String>>([])
        let problems = Mutex<[String]>([])

        init(document: OpenAPIDocument, api: API) {
            self.document = document
            self.api = api
        }

        @discardableResult
        func call(
            _ method: HTTPRequest.Method, _ path: String, json: String? = nil, body: Data? = nil, contentType: String? = nil,
            headers: HTTPFields = [:], as token: String??
        ) async throws -> Answer {
            let answer = try await api.call(method, path, json: json, body: body, contentType: contentType, headers: headers, as: token)
            let bare = String(path.split(separator: "?").first ?? "")
            let found = document.check(method.rawValue, bare, answer)
            problems.withLock { $0 += found }
            if let template = document.template(for: bare) {
                seen.withLock { _ = $0.insert("\(method.rawValue) \(template) \(answer.status)") }
            }
            return answer
        }
    }

    @Test("a live server answers every operation as the document says, with bodies matching their schemas; every documented success is produced")
    func scenario() async throws {
        let rig = try await APIRig(threshold: 1) {
            $0.http.maxBodyBytes = 4096
            // A Kannel route that is never sent through here: it answers the provider callbacks.
            $0.channels.append(ChannelConfiguration(name: "sms-kannel", type: "kannel", options: try! JSONValue(encoding: KannelConfiguration(
                sendsmsURL: "http://127.0.0.1:9/cgi-bin/sendsms", username: "habar", password: "pw", from: "1444",
                callbackBaseURL: "http://127.0.0.1:8080", callbackSecret: "inbound-key"))))
        }
        // The router runs alone here; delivery reports are stored by the dispatcher's collector.
        let collector = Task { await rig.gateway.receipts.run(now: { Date() }) }
        defer { collector.cancel() }
        let document = try OpenAPIDocument.load()
        let reviewer = try await rig.person("Second Person", .approver)
        _ = try await rig.gateway.store.upsertCitizens([Fixtures.citizen(100), Fixtures.citizen(101, language: .kazakh)])
        let checker = try await withRouter(rig) { api in
            let c = Checker(document: document, api: api)
            let admin = rig.tokens[.admin], op = rig.tokens[.operator], viewer = rig.tokens[.viewer], approver = rig.tokens[.approver]
            for path in ["/health", "/ready", "/metrics", "/openapi.json", "/v1/feed/cap"] { try await c.call(.get, path, as: nil) }

            // Provider callbacks: a signed delivery report, a forged one, incoming SMS by GET and POST.
            let kannel = try #require(rig.gateway.adapters["sms-kannel"] as? KannelAdapter)
            let report = try #require(kannel.reportURL(delivery: 1, step: 0)).replacingOccurrences(of: "http://127.0.0.1:8080", with: "")
            try await c.call(.get, report.replacingOccurrences(of: "%d", with: "8").replacingOccurrences(of: "%T", with: "1795617860").replacingOccurrences(of: "%A", with: "ACK"), as: nil)
            try await c.call(.get, "/callbacks/sms/sms-kannel/dlr?delivery=1&step=0&status=1&sig=forged", as: nil)  // 403
            try await c.call(.get, "/callbacks/sms/sms-kannel/dlr?delivery=1&step=0&status=1", as: nil)  // 403
            try await c.call(.get, "/inbound/sms/sms-kannel?key=inbound-key&from=%2B77011234567&to=1444&text=%D0%B0%D0%BC%D0%B0%D0%BD&id=m1", as: nil)
            try await c.call(.post, "/inbound/sms/sms-kannel?key=inbound-key&from=%2B77011234567&id=m2", body: Data("Аманмын".utf8), contentType: "text/plain", as: nil)
            try await c.call(.get, "/inbound/sms/sms-kannel?key=inbound-key&text=x", as: nil)  // 400
            try await c.call(.get, "/inbound/sms/sms-kannel?from=1&text=x", as: nil)  // 403
            try await c.call(.get, "/inbound/sms/nosuch?from=1&text=x", as: nil)  // 404
            #expect(try await rig.gateway.store.inboundSMS(page: PageRequest()).items.map(\.text) == ["аман", "Аманмын"])

            // Check-ins: the citizen's page and answer, the answers, the hotline queue.
            let checkinDraft = try await rig.gateway.publisher.draft(Fixtures.checkinRequest(), now: Date())
            _ = try await rig.gateway.publisher.publish(id: checkinDraft.id, approver: "approver-1", now: Date())
            let citizenId = try #require(try await rig.gateway.store.citizenId(phone: Fixtures.citizen(101).phone!.e164))
            let link = try await rig.gateway.links.token(citizenId: citizenId, advisoryId: checkinDraft.id)
            try await c.call(.get, "/c/\(link)", as: nil)
            try await c.call(.get, "/c/AAAAAAAAAAAAAAAAAAAAAA", as: nil)  // 404
            try await c.call(.post, "/c/\(link)", body: Data("note=x".utf8), contentType: "application/x-www-form-urlencoded", as: nil)  // 422
            try await c.call(.post, "/c/\(link)", body: Data("status=need_help&note=%D0%9D%D0%B5%D1%82+%D0%B2%D0%BE%D0%B4%D1%8B".utf8), contentType: "application/x-www-form-urlencoded", as: nil)
            try await c.call(.get, "/v1/checkins?advisoryId=\(checkinDraft.id)&status=need_help", as: viewer)
            let queue = try await c.call(.get, "/v1/cases?status=open", as: op)
            let caseId = ((queue.json["items"] as? [[String: Any]])?.first?["id"] as? Int) ?? 0
            try await c.call(.get, "/v1/cases/\(caseId)", as: op)
            try await c.call(.get, "/v1/cases/\(caseId)", as: viewer)  // 403
            try await c.call(.patch, "/v1/cases/\(caseId)", json: #"{"assignee": "Дана", "note": "Звоню"}"#, as: op)
            try await c.call(.patch, "/v1/cases/\(caseId)", json: #"{"status": "closed"}"#, as: op)  // 422
            try await c.call(.patch, "/v1/citizens/\(citizenId)", json: #"{"checkinStatus": "safe", "checkinNote": "Дозвонились"}"#, as: op)
            try await c.call(.get, "/v1/citizens/\(citizenId)", as: viewer)

            // Agencies: registry, rotation, a signed webhook (signed here with Habar's own
            // signer; AgencyTests sign with the reference library).
            let agency = try await c.call(.post, "/v1/agencies", json: #"{"id": "silkway", "name": "Silk Way", "webhookUrl": "https://silkway.example/hooks"}"#, as: admin)
            try await c.call(.post, "/v1/agencies", json: #"{"id": "silkway", "name": "Again"}"#, as: admin)  // 409
            try await c.call(.get, "/v1/agencies", as: viewer)
            try await c.call(.get, "/v1/agencies/silkway", as: viewer)
            try await c.call(.get, "/v1/agencies/nosuch", as: viewer)  // 404
            try await c.call(.patch, "/v1/agencies/silkway", json: #"{"language": "kk", "webhookUrl": "https://silkway.example/habar"}"#, as: admin)
            try await c.call(.patch, "/v1/agencies/silkway", json: #"{"name": null}"#, as: admin)  // 422
            let rotated = try await c.call(.post, "/v1/agencies/silkway/rotate-secret", json: "{}", as: admin)
            let secret = try #require(WebhookSecret(rotated.json["webhookSecret"] as? String ?? (agency.json["webhookSecret"] as? String ?? "")))
            let event = #"{"type": "manifest.upsert", "data": {"group": {"id": "G1", "name": "G", "destination": {"country": "TR"}}, "tourists": [{"id": "T1", "fullName": "Айгүл", "phone": "+77015550101"}]}}"#
            var signed = HTTPFields()
            for (name, value) in StandardWebhooks.headers(id: "evt_1", timestamp: Date(), body: Data(event.utf8), secrets: [secret]) {
                signed[HTTPField.Name(name)!] = value
            }
            try await c.call(.post, "/inbound/agencies/silkway", body: Data(event.utf8), contentType: "application/json", headers: signed, as: nil)
            try await c.call(.post, "/inbound/agencies/silkway", body: Data(event.utf8), contentType: "application/json", as: nil)  // 401
            let groups = try await c.call(.get, "/v1/agencies/silkway/groups", as: viewer)
            let groupId = ((groups.json["items"] as? [[String: Any]])?.first?["id"] as? Int) ?? 0
            try await c.call(.get, "/v1/groups/\(groupId)", as: viewer)
            try await c.call(.get, "/v1/groups/99999", as: viewer)  // 404

            // Duplicates: the agency's tourist is HQ's Айгүл in Latin letters with the same birth date.
            let hqRecord = try await rig.gateway.store.insertCitizen(NewCitizen(id: .unsaved, fullName: "Айгүл Серікова", phone: PhoneNumber("+77015550102"), country: "TR", birthDate: "1990-05-01"))
            let latin = try await rig.gateway.store.insertCitizen(NewCitizen(id: .unsaved, fullName: "Aigul Serikova", phone: PhoneNumber("+905321112233"), country: "TR", agencyId: "silkway", birthDate: "1990-05-01"))
            let suggestions = try await c.call(.get, "/v1/citizens/merge-suggestions", as: viewer)
            #expect((suggestions.json["items"] as? [Any])?.count == 1, "\(suggestions.text)")
            try await c.call(.post, "/v1/citizens/merge-suggestions/dismiss", json: #"{"citizenIds": [\#(hqRecord.id), 99999]}"#, as: op)  // 404
            try await c.call(.post, "/v1/citizens/merge-suggestions/dismiss", json: #"{"citizenIds": [\#(hqRecord.id)]}"#, as: op)  // 422
            try await c.call(.post, "/v1/citizens/\(hqRecord.id)/merge", json: #"{"duplicateId": \#(latin.id)}"#, as: op)
            try await c.call(.post, "/v1/citizens/\(hqRecord.id)/merge", json: #"{"duplicateId": \#(latin.id)}"#, as: op)  // 404: merged already
            let another = try await rig.gateway.store.insertCitizen(NewCitizen(id: .unsaved, fullName: "Aigul Serikova", phone: PhoneNumber("+905321112299"), country: "TR"))
            try await c.call(.post, "/v1/citizens/merge-suggestions/dismiss", json: #"{"citizenIds": [\#(hqRecord.id), \#(another.id)]}"#, as: op)

            let citizen = try await c.call(.post, "/v1/citizens", json: #"{"fullName": "Айгүл", "phone": "+77011234567", "country": "IR", "language": "kk", "lat": 35.7, "lon": 51.4}"#, as: op)
            try await c.call(.post, "/v1/citizens", json: #"{"fullName": "Айгүл", "phone": "+77011234567", "country": "IR"}"#, as: op)  // 409
            try await c.call(.post, "/v1/citizens", json: #"{"fullName": "A", "country": "IR", "x": 1}"#, as: op)  // 400
            try await c.call(.post, "/v1/citizens", json: #"{"fullName": "A", "country": "XX", "phone": "1"}"#, as: op)  // 422
            try await c.call(.post, "/v1/citizens", json: "{" + String(repeating: " ", count: 5000) + "}", as: op)  // 413
            try await c.call(.post, "/v1/citizens", json: "{}", as: .some(nil))  // 401
            try await c.call(.post, "/v1/citizens", json: "{}", as: viewer)  // 403
            try await c.call(.get, "/v1/citizens?country=IR&limit=1", as: viewer)
            try await c.call(.get, "/v1/citizens?limit=0", as: viewer)  // 400
            try await c.call(.get, "/v1/citizens/\(id(citizen))", as: viewer)
            try await c.call(.get, "/v1/citizens/999", as: viewer)  // 404
            try await c.call(.patch, "/v1/citizens/\(id(citizen))", json: #"{"city": "Tehran"}"#, as: op)
            try await c.call(.post, "/v1/citizens/import", body: Data("fullName,phone,country\nB,+77011234568,IR\nC,1,IR\n".utf8), contentType: "text/csv", as: op)
            try await c.call(.post, "/v1/citizens/import?mode=all-or-nothing", body: Data("fullName,phone,country\nC,1,IR\n".utf8), contentType: "text/csv", as: op)
            try await c.call(.post, "/v1/citizens/import", json: "{}", as: op)  // 415

            let draft = try await c.call(.post, "/v1/advisories", json: APIRig.advisoryJSON, as: op)
            let advisory = id(draft)
            try await c.call(.get, "/v1/advisories?status=draft", as: viewer)
            try await c.call(.get, "/v1/advisories/\(advisory)", as: viewer)
            try await c.call(.get, "/v1/advisories/\(advisory)/preview", as: viewer)
            try await c.call(.get, "/v1/advisories/\(advisory)/cap", as: viewer)  // 409: not published
            try await c.call(.post, "/v1/advisories/\(advisory)/approve", as: rig.person("operator", .approver))  // 403: two-person rule
            try await c.call(.post, "/v1/advisories/\(advisory)/approve", as: approver)
            try await c.call(.post, "/v1/advisories/\(advisory)/approve", as: approver)  // 409
            try await c.call(.get, "/v1/advisories/\(advisory)/stats", as: viewer)
            try await c.call(.get, "/v1/advisories/\(advisory)/cap", as: viewer)
            try await c.call(.post, "/v1/advisories/\(advisory)/update", json: #"{"severity": "extreme"}"#, as: op)  // 202
            try await c.call(.post, "/v1/advisories/\(advisory)/approve", as: reviewer)
            try await c.call(.post, "/v1/advisories/\(advisory)/update", json: #"{}"#, as: op)  // 422
            let small = try await c.call(.post, "/v1/advisories", json: APIRig.advisoryJSON.replacingOccurrences(of: #""countries": ["IR"]"#, with: #""citizenIds": [\#(id(citizen))]"#), as: op)
            try await c.call(.post, "/v1/advisories/\(id(small))/approve", as: approver)
            try await c.call(.post, "/v1/advisories/\(id(small))/update", json: #"{"severity": "extreme"}"#, as: op)  // 200: one recipient
            try await c.call(.post, "/v1/advisories/\(id(small))/interrupt", as: op)  // 403: approvers
            try await c.call(.post, "/v1/advisories/\(id(small))/interrupt", as: approver)
            try await c.call(.post, "/v1/advisories/\(id(small))/resume", json: #"{"why": 1}"#, as: approver)  // 400: no such field
            try await c.call(.post, "/v1/advisories/\(id(small))/resume", json: "{}", as: approver)
            try await c.call(.post, "/v1/advisories/\(id(small))/cancel", json: #"{"notice": true}"#, as: approver)
            try await c.call(.post, "/v1/advisories/\(id(small))/interrupt", as: approver)  // 409: cancelled
            try await c.call(.get, "/v1/feed/cap", as: nil)

            // Places: a meeting point used by a published advisory, then moved: the advisory gets a pending correction.
            let place = try await c.call(.post, "/v1/places", json: PlacesTests.embassy, as: op)
            try await c.call(.post, "/v1/places", json: #"{"kind": "meeting_point"}"#, as: op)  // 422: no name
            try await c.call(.get, "/v1/places?kind=meeting_point", as: viewer)
            let usesPlace = try await c.call(.post, "/v1/advisories", json: PlacesTests.meetingPointAdvisory(id(place)), as: op)
            try await c.call(.post, "/v1/advisories/\(id(usesPlace))/approve", as: approver)
            try await c.call(.patch, "/v1/places/\(id(place))", json: #"{"name": {"ru": "Отель «Азади»", "kk": "«Азади» қонақүйі", "en": "Azadi Hotel"}}"#, as: op)
            try await c.call(.patch, "/v1/places/\(id(place))", json: #"{"kind": "corridor"}"#, as: op)  // 422
            try await c.call(.get, "/v1/places/\(id(place))?version=1", as: viewer)
            try await c.call(.get, "/v1/places/999", as: viewer)  // 404
            try await c.call(.get, "/v1/advisories/\(id(usesPlace))", as: viewer)

            try await c.call(.get, "/v1/deliveries?advisoryId=\(advisory)&state=queued", as: viewer)
            try await c.call(.get, "/v1/deliveries/1", as: viewer)
            try await c.call(.get, "/v1/deliveries/99999", as: viewer)  // 404

            let token = try await c.call(.post, "/v1/tokens", json: #"{"role": "agency", "name": "Kazakh Tourism LLP", "agencyId": "agency-9"}"#, as: admin)
            try await c.call(.post, "/v1/tokens", json: #"{"role": "viewer", "name": "x", "agencyId": "agency-9"}"#, as: admin)  // 422
            try await c.call(.get, "/v1/tokens", as: admin)
            try await c.call(.delete, "/v1/tokens/\(id(token))", as: admin)
            try await c.call(.delete, "/v1/tokens/\(id(token))", as: admin)  // 404
            try await c.call(.delete, "/v1/citizens/\(id(citizen))", as: op)
            try await c.call(.get, "/v1/audit?limit=500", as: admin)
            return c
        }
        let problems = checker.problems.withLock { $0 }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        let seen = checker.seen.withLock { $0 }
        // Every documented operation was answered with one of its documented 2xx at least once.
        for (method, path, operation) in document.operations {
            let successes = (operation["responses"] as? [String: Any] ?? [:]).keys.filter { $0.hasPrefix("2") }
            #expect(successes.contains { seen.contains("\(method) \(path) \($0)") }, "\(method) \(path) never answered \(successes.sorted())")
        }
        for expected in ["POST /v1/citizens/{id}/merge 404", "POST /v1/citizens/merge-suggestions/dismiss 422", "GET /v1/groups/{id} 404",
                         "POST /inbound/agencies/{agencyId} 401", "POST /v1/agencies 409", "GET /v1/agencies/{id} 404", "PATCH /v1/agencies/{id} 422", "GET /c/{token} 404", "POST /c/{token} 422", "GET /v1/cases/{id} 403", "PATCH /v1/cases/{id} 422",
                         "GET /callbacks/sms/{channelName}/dlr 403", "GET /inbound/sms/{channelName} 403", "GET /inbound/sms/{channelName} 400",
                         "POST /v1/citizens 409", "POST /v1/citizens 400", "POST /v1/citizens 413", "POST /v1/citizens/import 415",
                         "POST /v1/advisories/{id}/approve 403", "POST /v1/advisories/{id}/update 202", "GET /v1/advisories/{id}/cap 409",
                         "POST /v1/places 422", "PATCH /v1/places/{id} 422", "GET /v1/places/{id} 404"] {
            #expect(seen.contains(expected), "\(expected) was not exercised")
        }
    }

    func withRouter<T: Sendable>(_ rig: APIRig, _ body: @escaping @Sendable (API) async throws -> T) async throws -> T {
        let result = Mutex<T?>(nil)
        try await rig.run(live: true) { api in
            let value = try await body(api)
            result.withLock { $0 = value }
        }
        return result.withLock { $0! }
    }
}

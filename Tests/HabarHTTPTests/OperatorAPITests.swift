import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import Hummingbird
import HummingbirdTesting
import Testing

/// A gateway with one token per role and a few citizens, driven through the real router.
struct APIRig {
    let gateway: Gateway
    var tokens: [Role: String] = [:]

    init(threshold: Int = 100, clock: TestClock? = nil, _ configure: (inout HabarConfiguration) -> Void = { _ in }) async throws {
        gateway = try await testGateway(clock: clock) { configuration in
            configuration.approval.threshold = threshold
            configure(&configuration)
        }
        for role in Role.allCases {
            tokens[role] = try await token(gateway, role, agency: role == .agency ? "agency-1" : nil)
        }
    }

    /// A rig around a gateway made elsewhere, with no tokens of its own.
    init(gateway: Gateway) async throws { self.gateway = gateway }

    /// A token with its own name (people are told apart by token and by name).
    func person(_ name: String, _ role: Role) async throws -> String {
        let (token, hash) = AccessToken.generate()
        _ = try await gateway.store.insertToken(NewAccessToken(id: .unsaved, name: name, role: role, tokenHash: hash))
        return token
    }

    /// Drives the real router in process, or (`live`) a real HTTP server on 127.0.0.1.
    func run(live: Bool = false, _ body: @escaping @Sendable (API) async throws -> Void) async throws {
        let router = buildRouter(gateway: gateway)
        let application = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await application.test(live ? .live : .router) { client in
            try await body(API(client: client, token: nil))
        }
    }

    static let advisoryJSON = #"""
        {"kind": "green_corridor", "severity": "severe", "audience": {"countries": ["IR"]},
         "params": {"route": "Тегеран — Астара", "borderCrossing": "Астара", "opensAt": "2026-03-12T04:30:00Z", "closesAt": "2026-03-12T11:00:00Z",
                    "meetingPoint": "Посольство РК", "contactPhone": "+982100000000", "timeZone": "Asia/Tehran"},
         "channelPlan": {"mode": "fallback", "channels": ["sms"]}, "expiresAt": "2099-01-01T00:00:00Z", "scope": "public"}
        """#
}

func id(_ answer: Answer) -> Int64 { (answer.json["id"] as? NSNumber)?.int64Value ?? -1 }

@Suite("Operator API: roles, OpenAPI, bad input")
struct OperatorAPITests {
    @Test("every route the server serves is in openapi.json, and every documented route is served")
    func routesDocumented() async throws {
        let rig = try await APIRig()
        let served = Set(buildRouter(gateway: rig.gateway).routes.map { route -> String in
            var path = "\(route.path)"
            if !path.hasPrefix("/") { path = "/" + path }
            return "\(route.method.rawValue) \(path)"
        })
        let documented = Set(try OpenAPIDocument.load().operations.map { "\($0.method) \($0.path)" })
        #expect(served.subtracting(documented).isEmpty, "served but not documented: \(served.subtracting(documented).sorted())")
        #expect(documented.subtracting(served).isEmpty, "documented but not served: \(documented.subtracting(served).sorted())")
    }

    @Test("role × endpoint: each role does exactly what openapi.json (after API.md) grants; no token → 401")
    func roleMatrix() async throws {
        let rig = try await APIRig()
        let document = try OpenAPIDocument.load()
        let store = rig.gateway.store
        let own = try await store.insertCitizen(NewCitizen(id: .unsaved, fullName: "Own", phone: PhoneNumber("+77010000001"), country: "IR", agencyId: "agency-1"))
        _ = try await store.insertCitizen(NewCitizen(id: .unsaved, fullName: "Other", phone: PhoneNumber("+77010000002"), country: "IR", agencyId: "agency-2"))
        let draft = try await rig.gateway.publisher.draft(Fixtures.advisory(), now: Date())
        _ = try await rig.gateway.publisher.publish(id: draft.id, approver: "someone", now: Date())
        try await rig.run { api in
            for (method, template, operation) in document.operations {
                let allowed = Set(operation["x-habar-roles"] as? [String] ?? [])
                #expect(!allowed.isEmpty, "\(method) \(template) has no x-habar-roles")
                let path = template.replacingOccurrences(
                    of: "{id}",
                    with: template.hasPrefix("/v1/tokens") ? "999999" : template.hasPrefix("/v1/citizens") ? "\(own.id)"
                        : template.hasPrefix("/v1/agencies") ? "agency-1" : "\(draft.id)")
                let isCSV = template.hasSuffix("/import")
                func call(_ token: String?) async throws -> Answer {
                    let body = ["POST", "PATCH"].contains(method) ? (isCSV ? "fullName,country,phone\n" : "{}") : nil
                    return try await api.call(HTTPRequest.Method(method)!, path, json: body, contentType: isCSV ? "text/csv" : nil, as: .some(token))
                }
                if allowed == ["signature"] {
                    // Signed by its sender (an agency), not a token: refused unsigned.
                    let answer = try await call(nil)
                    #expect(answer.status == 401, "\(method) \(template) is signed but answered \(answer.status) unsigned")
                    continue
                }
                if allowed == ["none"] {
                    let answer = try await call(nil)
                    #expect(![401, 403].contains(answer.status), "\(method) \(template) is public but answered \(answer.status)")
                    continue
                }
                #expect(try await call(nil).status == 401, "\(method) \(template) without a token")
                #expect(try await call("hb_not-a-token").status == 401, "\(method) \(template) with a made-up token")
                for role in Role.allCases {
                    let answer = try await call(rig.tokens[role]!)
                    if allowed.contains(role.rawValue) {
                        #expect(![401, 403].contains(answer.status), "\(role) may \(method) \(template) but got \(answer.status): \(answer.text)")
                    } else {
                        #expect(answer.status == 403, "\(role) may not \(method) \(template) but got \(answer.status)")
                        #expect(answer.contentType == "application/problem+json")
                    }
                }
            }
        }
    }

    @Test("an agency token reads only its own agency's citizens and changes none")
    func agencyScope() async throws {
        let rig = try await APIRig()
        let store = rig.gateway.store
        let own = try await store.insertCitizen(NewCitizen(id: .unsaved, fullName: "Own", phone: PhoneNumber("+77010000001"), country: "IR", agencyId: "agency-1"))
        let other = try await store.insertCitizen(NewCitizen(id: .unsaved, fullName: "Other", phone: PhoneNumber("+77010000002"), country: "IR", agencyId: "agency-2"))
        _ = try await store.insertCitizen(NewCitizen(id: .unsaved, fullName: "None", phone: PhoneNumber("+77010000003"), country: "IR"))
        try await rig.run { api in
            let agency = API(client: api.client, token: rig.tokens[.agency])
            let list = try await agency.call(.get, "/v1/citizens")
            #expect(list.status == 200)
            #expect((list.json["items"] as? [[String: Any]])?.compactMap { $0["fullName"] as? String } == ["Own"])
            #expect(try await agency.call(.get, "/v1/citizens?agencyId=agency-2").status == 403)
            #expect(try await agency.call(.get, "/v1/citizens/\(own.id)").status == 200)
            #expect(try await agency.call(.get, "/v1/citizens/\(other.id)").status == 403)
            #expect(try await agency.call(.patch, "/v1/citizens/\(own.id)", json: #"{"city": "Tabriz"}"#).status == 403)
            #expect(try await agency.call(.delete, "/v1/citizens/\(other.id)").status == 403)
            #expect(try await agency.call(.get, "/v1/deliveries").status == 403)
            #expect(try await agency.call(.get, "/v1/advisories").status == 403)
        }
        #expect(try await store.citizen(id: own.id)?.city == nil)
        #expect(try await store.countCitizens() == 3)
    }

    @Test("bad JSON bodies get a precise 400/413/422 and change nothing", arguments: [
        (#"{"fullName": "A", "country": "IR", "phone": "+77011234567""#, 400, nil),
        (#"["not", "an", "object"]"#, 400, nil),
        ("", 400, nil),
        (#"{"fullName": "A", "country": "IR", "phone": "+77011234567", "nickname": "Ace"}"#, 400, "/nickname"),
        (#"{"fullName": "A", "country": "IR", "phone": "+77011234567", "nickname": null}"#, 400, "/nickname"),
        (#"{"fullName": 12, "country": "IR", "phone": "+77011234567"}"#, 422, "/fullName"),
        (#"{"fullName": "A", "country": "IR", "phone": "+77011234567", "tags": "a|b"}"#, 422, "/tags"),
        (#"{"fullName": "A", "country": "IR", "phone": "+77011234567", "language": "de"}"#, 422, "/language"),
        (#"{"country": "IR", "phone": "+77011234567"}"#, 422, "/fullName"),
        (#"{"fullName": "A", "country": "IR", "phone": "12"}"#, 422, "/phone"),
        (#"{"fullName": "A", "country": "ZZ", "phone": "+77011234567"}"#, 422, "/country"),
        (#"{"fullName": "A", "country": "IR"}"#, 422, "/phone"),
        (#"{"fullName": "A", "country": "IR", "phone": "+77011234567", "lat": 35.7}"#, 422, "/lon"),
    ] as [(String, Int, String?)])
    func badCitizenBodies(_ body: String, _ status: Int, _ pointer: String?) async throws {
        let rig = try await APIRig()
        try await rig.run { api in
            let answer = try await api.call(.post, "/v1/citizens", json: body, as: .some(rig.tokens[.operator]))
            #expect(answer.status == status, "\(answer.text)")
            #expect(answer.contentType == "application/problem+json")
            if let pointer { #expect(answer.errorPointers.contains(pointer), "\(answer.text)") }
        }
        #expect(try await rig.gateway.store.countCitizens() == 0)
    }

    @Test("invalid UTF-8 is 400, an oversize body 413, nested unknown fields are named by pointer")
    func otherBadBodies() async throws {
        let rig = try await APIRig { $0.http.maxBodyBytes = 4096 }
        try await rig.run { api in
            let op = rig.tokens[.operator]
            var bytes = Data(#"{"fullName": "A"#.utf8)
            bytes += [0xC3, 0x28]
            bytes += Data(#"", "country": "IR", "phone": "+77011234567"}"#.utf8)
            let utf8 = try await api.call(.post, "/v1/citizens", body: bytes, contentType: "application/json", as: .some(op))
            #expect(utf8.status == 400 && utf8.text.contains("UTF-8"))
            let big = #"{"fullName": ""# + String(repeating: "a", count: 5000) + #"", "country": "IR", "phone": "+77011234567"}"#
            #expect(try await api.call(.post, "/v1/citizens", json: big, as: .some(op)).status == 413)
            let nested = APIRig.advisoryJSON.replacingOccurrences(of: #""countries": ["IR"]"#, with: #""countries": ["IR"], "continent": "Asia""#)
            let answer = try await api.call(.post, "/v1/advisories", json: nested, as: .some(op))
            #expect(answer.status == 400)
            #expect(answer.errorPointers == ["/audience/continent"])
            let wrongType = APIRig.advisoryJSON.replacingOccurrences(of: #""radius""#, with: "").replacingOccurrences(of: #""expiresAt": "2099-01-01T00:00:00Z""#, with: #""expiresAt": "tomorrow""#)
            let date = try await api.call(.post, "/v1/advisories", json: wrongType, as: .some(op))
            #expect(date.status == 422 && date.errorPointers == ["/expiresAt"], "\(date.text)")
        }
        #expect(try await rig.gateway.store.countCitizens() == 0)
        #expect(try await rig.gateway.store.advisories(AdvisoryFilter(), page: PageRequest()).items.isEmpty)
    }

    @Test("tokens: issued once in the answer, stored only as a hash, listed without it, revoked ones stop working at once")
    func tokens() async throws {
        let rig = try await APIRig()
        try await rig.run { api in
            let admin = API(client: api.client, token: rig.tokens[.admin])
            let issued = try await admin.call(.post, "/v1/tokens", json: #"{"role": "agency", "name": "Silk Way Travel", "agencyId": "agency-7"}"#)
            #expect(issued.status == 201 && issued.headers[.cacheControl] == "no-store")
            let secret = try #require(issued.json["token"] as? String)
            #expect(secret.hasPrefix("hb_") && secret.count >= 40)
            let stored = try #require(try await rig.gateway.store.token(hash: AccessToken.hash(secret)))
            #expect(stored.tokenHash != secret && stored.agencyId == "agency-7" && stored.role == .agency)
            let list = try await admin.call(.get, "/v1/tokens")
            #expect(!list.text.contains(secret) && !list.text.contains(stored.tokenHash))
            #expect(try await api.call(.get, "/v1/citizens", as: .some(secret)).status == 200)
            #expect(try await admin.call(.delete, "/v1/tokens/\(id(issued))").status == 204)
            #expect(try await api.call(.get, "/v1/citizens", as: .some(secret)).status == 401)
            let missingAgency = try await admin.call(.post, "/v1/tokens", json: #"{"role": "agency", "name": "x"}"#)
            #expect(missingAgency.status == 422 && missingAgency.errorPointers == ["/agencyId"])
            #expect(try await admin.call(.post, "/v1/tokens", json: #"{"role": "king", "name": "x"}"#).errorPointers == ["/role"])
        }
    }

    @Test("lists page with limit and an opaque cursor; bad limits and cursors are 400")
    func pagination() async throws {
        let rig = try await APIRig()
        _ = try await rig.gateway.store.upsertCitizens((1...7).map { Fixtures.citizen($0) })
        try await rig.run { api in
            var seen: [String] = []
            var uri = "/v1/citizens?limit=3"
            var pages = 0
            while true {
                let answer = try await api.call(.get, uri, as: .some(rig.tokens[.viewer]))
                #expect(answer.status == 200)
                seen += (answer.json["items"] as? [[String: Any]] ?? []).compactMap { $0["fullName"] as? String }
                pages += 1
                guard let cursor = answer.json["nextCursor"] as? String else {
                    #expect(answer.json["nextCursor"] is NSNull)
                    break
                }
                uri = "/v1/citizens?limit=3&cursor=\(cursor)"
            }
            #expect(pages == 3)
            #expect(seen == (1...7).map { "Citizen \($0)" })
            for bad in ["limit=0", "limit=501", "limit=x", "cursor=%%%", "checkinStatus=happy"] {
                #expect(try await api.call(.get, "/v1/citizens?\(bad)", as: .some(rig.tokens[.viewer])).status == 400, "\(bad)")
            }
        }
    }

    @Test("Idempotency-Key: a repeat returns the first answer and changes nothing; another body with the key is 422")
    func idempotency() async throws {
        let rig = try await APIRig()
        try await rig.run { api in
            let op = rig.tokens[.operator]
            let body = #"{"fullName": "Айгүл", "country": "IR", "phone": "+77011234567", "language": "kk"}"#
            let first = try await api.call(.post, "/v1/citizens", json: body, headers: [.init("Idempotency-Key")!: "k-1"], as: .some(op))
            let again = try await api.call(.post, "/v1/citizens", json: body, headers: [.init("Idempotency-Key")!: "k-1"], as: .some(op))
            #expect(first.status == 201 && again.status == 201)
            #expect(first.body == again.body)
            #expect(again.headers[.init("Idempotent-Replayed")!] == "true")
            #expect(again.headers[.location] == first.headers[.location])
            let other = try await api.call(.post, "/v1/citizens", json: body.replacingOccurrences(of: "Айгүл", with: "Aigul"), headers: [.init("Idempotency-Key")!: "k-1"], as: .some(op))
            #expect(other.status == 422)
            // A refusal is an answer too: repeated, it is replayed, not re-run.
            let bad = #"{"fullName": "X", "country": "ZZ", "phone": "+77011234568"}"#
            let refused = try await api.call(.post, "/v1/citizens", json: bad, headers: [.init("Idempotency-Key")!: "k-2"], as: .some(op))
            let refusedAgain = try await api.call(.post, "/v1/citizens", json: bad, headers: [.init("Idempotency-Key")!: "k-2"], as: .some(op))
            #expect(refused.status == 422 && refusedAgain.status == 422 && refusedAgain.headers[.init("Idempotent-Replayed")!] == "true")
            // Keys belong to their token: another caller's same key is a new call.
            let admin = try await api.call(.post, "/v1/citizens", json: body.replacingOccurrences(of: "+77011234567", with: "+77011234569"), headers: [.init("Idempotency-Key")!: "k-1"], as: .some(rig.tokens[.admin]))
            #expect(admin.status == 201)
        }
        #expect(try await rig.gateway.store.countCitizens() == 2)
    }

    @Test("every state-changing call is in the audit log, hash-chained; a changed entry breaks the chain")
    func auditLog() async throws {
        let rig = try await APIRig()
        try await rig.run { api in
            let op = rig.tokens[.operator]
            _ = try await api.call(.post, "/v1/citizens", json: #"{"fullName": "A", "country": "IR", "phone": "+77011234567"}"#, headers: [.init("X-Request-Id")!: "ignored"], as: .some(op))
            _ = try await api.call(.patch, "/v1/citizens/1", json: #"{"city": "Tabriz"}"#, as: .some(op))
            _ = try await api.call(.delete, "/v1/citizens/1", as: .some(rig.tokens[.viewer]))
            _ = try await api.call(.get, "/v1/citizens", as: .some(op))
            let list = try await api.call(.get, "/v1/audit", as: .some(rig.tokens[.admin]))
            let items = list.json["items"] as? [[String: Any]] ?? []
            #expect(items.map { $0["action"] as? String } == ["POST /v1/citizens", "PATCH /v1/citizens/{id}", "DELETE /v1/citizens/{id}"])
            #expect(items.map { ($0["status"] as? NSNumber)?.intValue } == [201, 200, 403])
            #expect(items.map { $0["actor"] as? String } == ["operator", "operator", "viewer"])
            #expect(items[1]["target"] as? String == "citizen/1")
            #expect((items[0]["requestId"] as? String)?.isEmpty == false)
            #expect(items[1]["previousHash"] as? String == items[0]["hash"] as? String)
            #expect(!list.text.contains("+77011234567"), "the audit log holds no personal data")
        }
        var verifier = AuditChainVerifier()
        var entries = try await rig.gateway.store.auditEntries(page: PageRequest()).items
        #expect(entries.allSatisfy { verifier.check($0) == nil })
        entries[1].details["fields"] = "fullName"
        var tampered = AuditChainVerifier()
        #expect(tampered.check(entries[0]) == nil)
        #expect(tampered.check(entries[1])?.contains("changed") == true)
        var removed = AuditChainVerifier()
        #expect(removed.check(entries[0]) == nil)
        #expect(removed.check(entries[2])?.contains("removed") == true)
    }
}

import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import HTTPTypes
import Hummingbird
import Synchronization
import HummingbirdTesting
import Testing

/// Signs like an agency would: with the Standard Webhooks reference library (Python), not
/// with Habar's own signer. nil (a loud skip locally, a failure under CI) without it.
func referenceSignature(secret: String, id: String, timestamp: Int, body: String) async throws -> String? {
    let file = try Fixtures.temporaryDirectory("sign").appendingPathComponent("body.json")
    try Data(body.utf8).write(to: file)
    let script = """
        import sys, datetime
        from standardwebhooks.webhooks import Webhook
        body = open(sys.argv[4], encoding="utf-8").read()
        print(Webhook(sys.argv[1]).sign(sys.argv[2], datetime.datetime.fromtimestamp(int(sys.argv[3]), tz=datetime.timezone.utc), body))
        """
    let result = try await ExternalProcess.run("python3", ["-c", script, secret, id, String(timestamp), file.path], timeout: 60)
    guard result.status == 0 else {
        if ExternalProcess.underCI {
            Issue.record("python3 with standardwebhooks is missing (Tests/run-all.sh installs it): \(result.stderr)")
        } else {
            print("⚠️  SKIPPED: agency webhook tests need python3 -m pip install standardwebhooks")
        }
        return nil
    }
    return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// A gateway (on a clock the test moves) with one registered agency.
struct AgencyRig {
    let rig: APIRig
    let clock: TestClock
    let agency: String
    let secret: String
    let token: String

    init(clock: TestClock = TestClock(Date()), dataDir: String? = nil, _ configure: (inout HabarConfiguration) -> Void = { _ in }) async throws {
        self.clock = clock
        rig = try await APIRig(clock: clock) {
            if let dataDir { $0.dataDir = dataDir }
            configure(&$0)
        }
        let created = Mutex<Answer?>(nil)
        try await rig.run { [rig] api in
            let answer = try await api.call(.post, "/v1/agencies", json: #"{"id": "silkway", "name": "Silk Way Travel", "webhookUrl": "https://silkway.example/hooks", "language": "kk"}"#, as: .some(rig.tokens[.admin]))
            created.withLock { $0 = answer }
        }
        let answer = try #require(created.withLock { $0 })
        #expect(answer.status == 201, "\(answer.text)")
        agency = answer.json["id"] as? String ?? ""
        secret = answer.json["webhookSecret"] as? String ?? ""
        token = answer.json["token"] as? String ?? ""
    }

    /// Posts raw bytes (not necessarily UTF-8) signed by the reference library's own key
    /// decoding and HMAC (its `sign` takes text only).
    func post(_ api: API, bytes: Data, id: String) async throws -> Answer? {
        let timestamp = Int(clock.now.timeIntervalSince1970)
        let file = try Fixtures.temporaryDirectory("sign-bytes").appendingPathComponent("body.bin")
        try bytes.write(to: file)
        let script = """
            import sys, base64
            from standardwebhooks.webhooks import Webhook, hmac_data
            body = open(sys.argv[4], "rb").read()
            key = Webhook(sys.argv[1])._whsecret
            print("v1," + base64.b64encode(hmac_data(key, f"{sys.argv[2]}.{sys.argv[3]}.".encode() + body)).decode())
            """
        let result = try await ExternalProcess.run("python3", ["-c", script, secret, id, String(timestamp), file.path], timeout: 60)
        guard result.status == 0 else { return nil }
        var headers = HTTPFields()
        headers[HTTPField.Name("webhook-id")!] = id
        headers[HTTPField.Name("webhook-timestamp")!] = String(timestamp)
        headers[HTTPField.Name("webhook-signature")!] = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return try await api.call(.post, "/inbound/agencies/\(agency)", body: bytes, contentType: "application/json", headers: headers, as: .some(nil))
    }

    /// Posts `body` signed with `secrets` (each a v1 signature) at the gateway's time + `skew`.
    func post(_ api: API, _ body: String, id: String, secrets: [String]? = nil, skew: Int = 0, to agency: String? = nil) async throws -> Answer? {
        let timestamp = Int(clock.now.timeIntervalSince1970) + skew
        var signatures: [String] = []
        for secret in secrets ?? [self.secret] {
            guard let signature = try await referenceSignature(secret: secret, id: id, timestamp: timestamp, body: body) else { return nil }
            signatures.append(signature)
        }
        var headers = HTTPFields()
        headers[HTTPField.Name("webhook-id")!] = id
        headers[HTTPField.Name("webhook-timestamp")!] = String(timestamp)
        headers[HTTPField.Name("webhook-signature")!] = signatures.joined(separator: " ")
        return try await api.call(.post, "/inbound/agencies/\(agency ?? self.agency)", body: Data(body.utf8), contentType: "application/json", headers: headers, as: .some(nil))
    }

    static func manifest(group: String = "G-17", tourists: [(id: String, name: String, phone: String?)]) -> String {
        let list = tourists.map { tourist in
            "{\"id\": \"\(tourist.id)\", \"fullName\": \"\(tourist.name)\"" + (tourist.phone.map { ", \"phone\": \"\($0)\"" } ?? ", \"email\": \"\(tourist.id)@mail.kz\"") + ", \"language\": \"kk\"}"
        }
        return """
            {"type": "manifest.upsert", "data": {"group": {"id": "\(group)", "name": "Стамбұл, 12–19 наурыз", "destination": {"country": "TR", "city": "Istanbul"},
             "hotel": "Grand Sirkeci", "returnFlight": {"number": "KC912", "date": "2026-03-19"}}, "tourists": [\(list.joined(separator: ", "))]}}
            """
    }
}

@Suite("Travel agencies", .serialized)
struct AgencyTests {
    @Test("registering: the secret and the agency token are shown once; an agency token reads only its agency; only admins register")
    func registry() async throws {
        let a = try await AgencyRig()
        #expect(a.agency == "silkway" && WebhookSecret(a.secret) != nil && a.token.hasPrefix("hb_"))
        try await a.rig.run { api in
            let again = try await api.call(.post, "/v1/agencies", json: #"{"id": "silkway", "name": "Again"}"#, as: .some(a.rig.tokens[.admin]))
            let byOperator = try await api.call(.post, "/v1/agencies", json: #"{"name": "X"}"#, as: .some(a.rig.tokens[.operator]))
            let bad = try await api.call(.post, "/v1/agencies", json: #"{"id": "Has Spaces", "name": "X", "webhookUrl": "ftp://x"}"#, as: .some(a.rig.tokens[.admin]))
            #expect(again.status == 409 && byOperator.status == 403 && bad.status == 422 && bad.errorPointers == ["/id", "/webhookUrl"])
            let own = try await api.call(.get, "/v1/agencies/silkway", as: .some(a.token))
            #expect(own.status == 200 && own.json["webhookSecret"] == nil && own.json["token"] == nil)
            let other = try await api.call(.post, "/v1/agencies", json: #"{"id": "other", "name": "Other"}"#, as: .some(a.rig.tokens[.admin]))
            #expect(other.status == 201)
            #expect(try await api.call(.get, "/v1/agencies/other", as: .some(a.token)).status == 403)
        }
    }

    @Test("changing an agency: only admins; name, address and language by merge patch; bad values by pointer change nothing")
    func changing() async throws {
        let a = try await AgencyRig()
        let admin = a.rig.tokens[.admin]
        try await a.rig.run { api in
            let path = "/v1/agencies/silkway"
            #expect(try await api.call(.patch, path, json: #"{"name": "X"}"#, as: .some(a.rig.tokens[.operator])).status == 403)
            #expect(try await api.call(.patch, path, json: #"{"name": "X"}"#, as: .some(a.token)).status == 403)
            #expect(try await api.call(.patch, "/v1/agencies/nosuch", json: #"{"name": "X"}"#, as: .some(admin)).status == 404)
            let bad = try await api.call(.patch, path, json: #"{"name": "", "webhookUrl": "ftp://silkway.example", "id": "other", "language": null}"#, as: .some(admin))
            #expect(bad.status == 422 && Set(bad.errorPointers) == ["/name", "/webhookUrl"], "\(bad.text)")
            let moved = try await api.call(.patch, path, json: #"{"id": "other"}"#, as: .some(admin))
            let cleared = try await api.call(.patch, path, json: #"{"language": null}"#, as: .some(admin))
            #expect(moved.status == 422 && moved.errorPointers == ["/id"] && cleared.status == 422 && cleared.errorPointers == ["/language"])
            #expect(try await api.call(.patch, path, json: #"{"name": null}"#, as: .some(admin)).errorPointers == ["/name"])
            #expect(try await api.call(.patch, path, json: #"{"colour": "red"}"#, as: .some(admin)).status == 400)
            #expect(try await api.call(.patch, path, json: #"{"language": "de"}"#, as: .some(admin)).errorPointers == ["/language"])
            let unchanged = try await api.call(.get, path, as: .some(admin))
            #expect(unchanged.json["name"] as? String == "Silk Way Travel" && unchanged.json["language"] as? String == "kk")
            #expect(unchanged.json["webhookUrl"] as? String == "https://silkway.example/hooks" && unchanged.json["webhookStatus"] as? String == "active")

            let renamed = try await api.call(.patch, path, json: #"{"name": "  Silk Way Tours ", "language": "ru"}"#, as: .some(admin))
            #expect(renamed.status == 200 && renamed.json["name"] as? String == "Silk Way Tours" && renamed.json["language"] as? String == "ru", "\(renamed.text)")
            #expect(renamed.json["webhookUrl"] as? String == "https://silkway.example/hooks" && renamed.json["webhookSecret"] == nil)
            let unhooked = try await api.call(.patch, path, json: #"{"webhookUrl": null}"#, as: .some(admin))
            #expect(unhooked.status == 200 && unhooked.json["webhookUrl"] == nil && unhooked.json["webhookStatus"] == nil)
            let shown = try await api.call(.get, path, as: .some(a.token))
            #expect(shown.json["name"] as? String == "Silk Way Tours" && shown.json["webhookUrl"] == nil)
        }
        // The agency's secret and its webhooks' verification are untouched.
        try await a.rig.run { api in
            let checkin = #"{"type": "group.status", "data": {"groupId": "G-1", "status": "boarded", "at": "2026-03-12T10:00:00Z"}}"#
            let answer = try await a.post(api, checkin, id: "after-patch")
            #expect(answer?.status == 422, "verified (there is no such group), not 401: \(answer?.text ?? "")")
        }
    }

    @Test("signatures checked with the reference library: only the valid ones take effect, exactly once — also after a restart")
    func signatures() async throws {
        let dataDir = try Fixtures.temporaryDirectory("agency-restart").path
        let a = try await AgencyRig(dataDir: dataDir)
        let checkin = #"{"type": "tourist.checkin", "data": {"touristId": "T-1", "status": "safe"}}"#
        let manifest = AgencyRig.manifest(tourists: [("T-1", "Айгүл Серікова", "+77015550001")])
        let other = WebhookSecret.generate().text
        try await a.rig.run { api in
            guard let first = try await a.post(api, manifest, id: "msg_manifest_1") else { return }
            #expect(first.status == 200 && first.json["status"] as? String == "applied", "\(first.text)")
            let statuses: [(String, Int)] = [
                ("wrong secret", try await a.post(api, checkin, id: "msg_1", secrets: [other])?.status ?? 0),
                ("stale", try await a.post(api, checkin, id: "msg_2", skew: -301)?.status ?? 0),
                ("future", try await a.post(api, checkin, id: "msg_3", skew: 301)?.status ?? 0),
            ]
            #expect(statuses.allSatisfy { $0.1 == 401 }, "\(statuses)")
            // Altered body and altered id: signed for one thing, sent with another.
            var headers = HTTPFields()
            let timestamp = Int(a.clock.now.timeIntervalSince1970)
            headers[HTTPField.Name("webhook-id")!] = "msg_4"
            headers[HTTPField.Name("webhook-timestamp")!] = String(timestamp)
            headers[HTTPField.Name("webhook-signature")!] = try await referenceSignature(secret: a.secret, id: "msg_4", timestamp: timestamp, body: checkin) ?? ""
            let alteredBody = try await api.call(.post, "/inbound/agencies/silkway", body: Data(checkin.replacingOccurrences(of: "safe", with: "need_help").utf8), contentType: "application/json", headers: headers, as: .some(nil))
            headers[HTTPField.Name("webhook-id")!] = "msg_5"
            let alteredId = try await api.call(.post, "/inbound/agencies/silkway", body: Data(checkin.utf8), contentType: "application/json", headers: headers, as: .some(nil))
            #expect(alteredBody.status == 401 && alteredId.status == 401)
            #expect(try await a.rig.gateway.store.checkins(CheckinFilter(), page: PageRequest()).items.isEmpty)
            let valid = try await a.post(api, checkin, id: "msg_6")
            #expect(valid?.status == 200 && valid?.json["status"] as? String == "applied")
            let replay = try await a.post(api, checkin, id: "msg_6")
            #expect(replay?.status == 200 && replay?.json["status"] as? String == "duplicate")
            // The same id signed over something else, even something invalid: still no second effect.
            let other = try await a.post(api, #"{"type": "tourist.checkin", "data": {"touristId": "T-1"}}"#, id: "msg_6")
            #expect(other?.status == 200 && other?.json["status"] as? String == "duplicate" && other?.json["type"] as? String == "tourist.checkin", "\(other?.text ?? "")")
        }
        let citizen = try #require(try await a.rig.gateway.store.citizenId(phone: "+77015550001"))
        #expect(try await a.rig.gateway.store.welfareHistory(citizenId: citizen, limit: 10).map(\.source) == [.agency])
        // Rotation: during the overlap both secrets verify (one or two signatures); after it, only the new.
        let rotation = Mutex("")
        try await a.rig.run { api in
            let answer = try await api.call(.post, "/v1/agencies/silkway/rotate-secret", json: #"{"overlapMinutes": 60}"#, as: .some(a.rig.tokens[.admin]))
            let rotated = answer.json["webhookSecret"] as? String ?? ""
            rotation.withLock { $0 = rotated }
            let both = try await a.post(api, checkin, id: "msg_7", secrets: [rotated, a.secret])
            let old = try await a.post(api, checkin, id: "msg_8")
            #expect(both?.status == 200 && old?.status == 200)
        }
        a.clock.advance(61 * 60)
        let rotated = rotation.withLock { $0 }
        try await a.rig.run { api in
            let old = try await a.post(api, checkin, id: "msg_9")
            let new = try await a.post(api, checkin, id: "msg_10", secrets: [rotated])
            #expect(old?.status == 401 && new?.status == 200)
        }
        // A restart: a new gateway over the same database still knows msg_6.
        let restarted = try await AgencyRestart(dataDir: dataDir, clock: a.clock)
        try await restarted.rig.run { api in
            let replay = try await a.post(api, checkin, id: "msg_6", secrets: [rotated])
            #expect(replay?.status == 200 && replay?.json["status"] as? String == "duplicate")
        }
        #expect(try await restarted.rig.gateway.store.welfareHistory(citizenId: citizen, limit: 10).count == 4)
    }

    @Test("manifests: known tourists are linked, not duplicated; a later manifest detaches who is missing; check-ins and group status apply; bad input changes nothing")
    func manifests() async throws {
        let a = try await AgencyRig()
        let store = a.rig.gateway.store
        let registered = try await store.insertCitizen(NewCitizen(id: .unsaved, fullName: "Aigul Serikova", phone: PhoneNumber("+77015550001"), country: "KZ"))
        try await a.rig.run { api in
            let tourists: [(id: String, name: String, phone: String?)] = [("T-1", "Айгүл Серікова", "+7 701 555 00 01"), ("T-2", "Дәурен Әлиев", "+77015550002"), ("T-3", "Мария Ким", nil)]
            guard let first = try await a.post(api, AgencyRig.manifest(tourists: tourists), id: "m1") else { return }
            #expect((first.json["summary"] as? [String: Int]) == ["created": 2, "updated": 0, "linked": 1, "detached": 0], "\(first.text)")
            let linked = try #require(try await store.citizen(id: registered.id))
            #expect(linked.fullName == "Aigul Serikova" && linked.agencyId == "silkway" && linked.groupId == "G-17" && linked.country == "TR")
            let second = try await a.post(api, AgencyRig.manifest(tourists: Array(tourists.prefix(2))), id: "m2")
            #expect((second?.json["summary"] as? [String: Int]) == ["created": 0, "updated": 2, "linked": 0, "detached": 1], "\(second?.text ?? "")")
            // The citizen HQ registered keeps HQ's name when the agency sends the manifest again.
            #expect(try await store.citizen(id: registered.id)?.fullName == "Aigul Serikova")
            let kim = try #require(try await store.citizens(CitizenFilter(agencyId: "silkway"), page: PageRequest()).items.first { $0.fullName == "Мария Ким" })
            #expect(kim.groupId == nil && kim.agencyId == "silkway")

            let help = try await a.post(api, #"{"type": "tourist.checkin", "data": {"touristId": "T-2", "status": "need_help", "note": "Қонақүйде қалдық"}}"#, id: "c1")
            #expect(help?.status == 200)
            let daurenId = try #require(try await store.citizenId(phone: "+77015550002"))
            #expect(try await store.citizen(id: daurenId)?.welfareStatus == .needsHelp)
            #expect(try await store.cases(CaseFilter(citizenId: daurenId), page: PageRequest()).items.first?.reason == .needsHelp)
            let status = try await a.post(api, #"{"type": "group.status", "data": {"groupId": "G-17", "status": "crossed_border", "place": "Сарпи", "at": "2026-03-14T09:30:00Z"}}"#, id: "s1")
            #expect(status?.status == 200)

            let unknownGroup = try await a.post(api, #"{"type": "group.status", "data": {"groupId": "G-99", "status": "boarded", "at": "2026-03-14T09:30:00Z"}}"#, id: "s2")
            let unknownType = try await a.post(api, #"{"type": "tourist.teleported", "data": {}}"#, id: "x1")
            let badStatus = try await a.post(api, #"{"type": "group.status", "data": {"groupId": "G-17", "status": "lost", "at": "2026-03-14T09:30:00Z"}}"#, id: "s3")
            #expect(unknownGroup?.status == 422 && unknownGroup?.errorPointers == ["/data/groupId"])
            #expect(unknownType?.status == 400 && unknownType?.text.contains("tourist.teleported") == true)
            #expect(badStatus?.status == 422 && badStatus?.errorPointers == ["/data/status"], "\(badStatus?.text ?? "")")
            let bad = AgencyRig.manifest(tourists: [("T-9", "Ерлан", "123"), ("T-9", "Ерлан екінші", "+77015550009"), ("T-10", "", "+77015550010")])
            let refused = try await a.post(api, bad, id: "m3")
            #expect(refused?.status == 422 && refused?.errorPointers == ["/data/tourists/0/phone", "/data/tourists/1/id", "/data/tourists/2/fullName"], "\(refused?.text ?? "")")
            let unknownField = try await a.post(api, #"{"type": "tourist.checkin", "data": {"touristId": "T-1", "status": "safe", "mood": "good"}}"#, id: "c2")
            #expect(unknownField?.status == 400 && unknownField?.errorPointers == ["/data/mood"], "\(unknownField?.text ?? "")")
            let invalidUTF8 = try await api.call(.post, "/inbound/agencies/silkway", body: Data([0x7B, 0xFF, 0x7D]), contentType: "application/json", as: .some(nil))
            #expect(invalidUTF8.status == 401)  // unsigned: refused before it is read
        }
        #expect(try await store.citizenId(phone: "+77015550009") == nil)
        #expect(try await store.citizens(CitizenFilter(agencyId: "silkway"), page: PageRequest(limit: 50)).items.count == 3)
    }

    /// A manifest of `count` tourists; `change` may replace a tourist's fields (JSON text
    /// each, or nil to leave one out). Built as text on a thread of its own: in a debug build,
    /// 10,000 dictionaries through JSONSerialization would hold a cooperative thread long
    /// enough to make other tests' timers late.
    static func bigManifest(_ count: Int, group: String = "G-BIG", _ change: @escaping @Sendable (Int, inout [String: String?]) -> Void = { _, _ in }) async -> String {
        await DedicatedThread.run {
                var tourists: [String] = []
                tourists.reserveCapacity(count)
                for index in 0..<count {
                    var fields: [String: String?] = [
                        "id": "\"T-\(index)\"", "fullName": "\"Турист Нөмір \(index)\"", "phone": "\"\(String(format: "+7702%07d", index))\"",
                        "language": index % 2 == 0 ? "\"kk\"" : "\"ru\"",
                    ]
                    change(index, &fields)
                    tourists.append("{" + fields.sorted { $0.key < $1.key }.compactMap { key, value in value.map { "\"\(key)\":\($0)" } }.joined(separator: ",") + "}")
                }
                return """
                    {"type":"manifest.upsert","data":{"group":{"id":"\(group)","name":"Анталья, наурыз","destination":{"country":"TR","city":"Antalya"}},"tourists":[\(tourists.joined(separator: ","))]}}
                    """
        }
    }

    @Test("a 10,000-tourist manifest with missing fields, bad phones, a repeated id, a wrong type: every problem by pointer, nothing applied; unknown fields 400; invalid UTF-8 400; too large 413; then the corrected one applies whole")
    func badManifests() async throws {
        let a = try await AgencyRig { $0.http.maxImportBytes = 4 << 20 }
        let store = a.rig.gateway.store
        let before = try await store.countCitizens()
        try await a.rig.run { api in
            let bad = await AgencyTests.bigManifest(10_000) { index, tourist in
                switch index {
                case 1234: tourist["fullName"] = .some(nil)
                case 5000: tourist["phone"] = "\"12345\""
                case 7777: tourist["id"] = "\"T-10\""
                case 8000: tourist["birthDate"] = "19900501"
                case 9999: tourist["phone"] = .some(nil)
                default: break
                }
            }
            guard let refused = try await a.post(api, bad, id: "big-1") else { return }
            #expect(refused.status == 422, "\(refused.text.prefix(500))")
            #expect(refused.errorPointers == ["/data/tourists/1234/fullName", "/data/tourists/5000/phone", "/data/tourists/7777/id", "/data/tourists/8000/birthDate", "/data/tourists/9999"], "\(refused.text.prefix(1500))")
            let details = (refused.json["errors"] as? [[String: Any]] ?? []).compactMap { $0["detail"] as? String }
            #expect(details.count == 5 && details[0].contains("required") && details[1].contains("12345") && details[2].contains("tourist 10") && details[4].contains("phone or an e-mail"), "\(details)")

            let unknown = await AgencyTests.bigManifest(5) { index, tourist in if index == 3 { tourist["nickname"] = "\"Әкем\"" } }
            let unknownAnswer = try await a.post(api, unknown, id: "big-2")
            #expect(unknownAnswer?.status == 400 && unknownAnswer?.errorPointers == ["/data/tourists/3/nickname"], "\(unknownAnswer?.text.prefix(500) ?? "")")

            var invalid = Data(await AgencyTests.bigManifest(3).utf8)
            let at = try #require(invalid.firstRange(of: Data("Турист".utf8)))
            invalid.replaceSubrange(at.lowerBound..<(at.lowerBound + 2), with: [0xD0, 0xFF])  // a broken two-byte sequence
            let notUTF8 = try await a.post(api, bytes: invalid, id: "big-3")
            #expect(notUTF8?.status == 400 && notUTF8?.text.contains("UTF-8") == true, "\(notUTF8?.text ?? "")")
            #expect(try await store.countCitizens() == before)
            #expect(try await store.agencyGroups(agencyId: "silkway", page: PageRequest())?.items.isEmpty == true)

            // The same webhook-id, corrected: nothing of it had been kept, so it applies now, whole.
            let good = await AgencyTests.bigManifest(10_000)
            let applied = try await a.post(api, good, id: "big-1")
            #expect(applied?.status == 200 && (applied?.json["summary"] as? [String: Int])?["created"] == 10_000, "\(applied?.text.prefix(500) ?? "")")
            let group = try #require(try await store.agencyGroups(agencyId: "silkway", page: PageRequest())?.items.first)
            #expect(group.tally.onManifest == 10_000 && group.tally.unknown == 10_000)
        }
        #expect(try await store.countCitizens() == before + 10_000)

        // Over the body limit: 413 before anything is read.
        let small = try await AgencyRig { $0.http.maxImportBytes = 64 << 10 }
        try await small.rig.run { api in
            let tooLarge = try await small.post(api, await AgencyTests.bigManifest(2_000), id: "big-4")
            #expect(tooLarge?.status == 413, "\(tooLarge?.text ?? "")")
        }
    }

    @Test("reconciliation: per group, who is on the manifest and how each is, the last group status, who is unaccounted for, who was detached")
    func reconciliation() async throws {
        let a = try await AgencyRig()
        try await a.rig.run { api in
            let tourists: [(id: String, name: String, phone: String?)] = [("T-1", "Айгүл Серікова", "+77015550001"), ("T-2", "Дәурен Әлиев", "+77015550002"), ("T-3", "Мария Ким", nil)]
            guard try await a.post(api, AgencyRig.manifest(tourists: tourists), id: "m1")?.status == 200 else { return }
            #expect(try await a.post(api, AgencyRig.manifest(group: "G-18", tourists: [("T-4", "Ерлан Жұмабаев", "+77015550004")]), id: "m2")?.status == 200)
            #expect(try await a.post(api, #"{"type": "tourist.checkin", "data": {"touristId": "T-1", "status": "safe"}}"#, id: "c1")?.status == 200)
            #expect(try await a.post(api, #"{"type": "tourist.checkin", "data": {"touristId": "T-2", "status": "need_help", "note": "Паспорт жоғалды"}}"#, id: "c2")?.status == 200)
            for (index, (status, place)) in [("at_meeting_point", "Тебриз, автовокзал"), ("crossed_border", "Сарпи")].enumerated() {
                let body = #"{"type": "group.status", "data": {"groupId": "G-17", "status": "\#(status)", "place": "\#(place)", "at": "2026-03-14T0\#(index + 8):30:00Z"}}"#
                #expect(try await a.post(api, body, id: "s\(index)")?.status == 200)
            }
            // A later manifest of G-17 without T-3: T-3 is detached, not deleted.
            #expect(try await a.post(api, AgencyRig.manifest(tourists: Array(tourists.prefix(2))), id: "m3")?.status == 200)

            let viewer = a.rig.tokens[.viewer]
            let list = try await api.call(.get, "/v1/agencies/silkway/groups", as: .some(viewer))
            #expect(list.status == 200, "\(list.text)")
            let groups = list.json["items"] as? [[String: Any]] ?? []
            #expect(groups.map { $0["groupId"] as? String } == ["G-17", "G-18"] && list.json["nextCursor"] is NSNull)
            let g17 = try #require(groups.first)
            #expect(g17["tally"] as? [String: Int] == ["onManifest": 2, "safe": 1, "needsHelp": 1, "unreached": 0, "unknown": 0, "unaccountedFor": 0])
            let status = g17["status"] as? [String: Any]
            #expect(status?["status"] as? String == "crossed_border" && status?["place"] as? String == "Сарпи")
            #expect((g17["destination"] as? [String: String]) == ["country": "TR", "city": "Istanbul"] && g17["hotel"] as? String == "Grand Sirkeci")
            #expect(groups.last?["status"] is NSNull && (groups.last?["tally"] as? [String: Int])?["unaccountedFor"] == 1)

            let id = try #require(g17["id"] as? Int)
            let detail = try await api.call(.get, "/v1/groups/\(id)", as: .some(viewer))
            #expect(detail.status == 200, "\(detail.text)")
            let members = detail.json["tourists"] as? [[String: Any]] ?? []
            #expect(members.map { "\($0["touristId"] ?? ""):\($0["checkinStatus"] ?? "")" } == ["T-1:safe", "T-2:needs_help"])
            #expect(members.first?["lastContactSource"] as? String == "agency" && members.first?["phone"] as? String == "+77015550001")
            #expect((detail.json["unaccountedFor"] as? [String]) == [])
            #expect((detail.json["detached"] as? [[String: Any]])?.map { $0["touristId"] as? String } == ["T-3"])
            #expect((detail.json["detached"] as? [[String: Any]])?.first?["detachedAt"] is String)
            #expect((detail.json["statusHistory"] as? [[String: Any]])?.map { $0["status"] as? String } == ["at_meeting_point", "crossed_border"])

            let g18 = try await api.call(.get, "/v1/groups/\(groups.last?["id"] as? Int ?? 0)", as: .some(a.token))
            #expect(g18.status == 200 && (g18.json["unaccountedFor"] as? [String]) == ["T-4"])
            let paged = try await api.call(.get, "/v1/agencies/silkway/groups?limit=1", as: .some(a.token))
            #expect((paged.json["items"] as? [Any])?.count == 1 && paged.json["nextCursor"] is String)
            let next = try await api.call(.get, "/v1/agencies/silkway/groups?limit=1&cursor=\(paged.json["nextCursor"] as? String ?? "")", as: .some(a.token))
            #expect((next.json["items"] as? [[String: Any]])?.first?["groupId"] as? String == "G-18")
            #expect(try await api.call(.get, "/v1/agencies/nosuch/groups", as: .some(viewer)).status == 404)
            #expect(try await api.call(.get, "/v1/groups/99999", as: .some(viewer)).status == 404)
            #expect(try await api.call(.get, "/v1/groups/G-17", as: .some(viewer)).status == 404)
            #expect(try await api.call(.get, "/v1/groups/\(id)", as: .some(nil)).status == 401)
        }
    }

    @Test("agency B can neither sign for agency A nor touch A's tourists")
    func scoping() async throws {
        let a = try await AgencyRig()
        try await a.rig.run { api in
            let created = try await api.call(.post, "/v1/agencies", json: #"{"id": "caravan", "name": "Caravan"}"#, as: .some(a.rig.tokens[.admin]))
            let secretB = created.json["webhookSecret"] as? String ?? ""
            guard let manifest = try await a.post(api, AgencyRig.manifest(tourists: [("T-1", "Айгүл", "+77015550001")]), id: "m1") else { return }
            #expect(manifest.status == 200)
            let asA = try await a.post(api, #"{"type": "tourist.checkin", "data": {"touristId": "T-1", "status": "need_help"}}"#, id: "b1", secrets: [secretB])
            let asB = try await a.post(api, #"{"type": "tourist.checkin", "data": {"touristId": "T-1", "status": "need_help"}}"#, id: "b2", secrets: [secretB], to: "caravan")
            let groupOfA = try await a.post(api, #"{"type": "group.status", "data": {"groupId": "G-17", "status": "boarded", "at": "2026-03-14T09:30:00Z"}}"#, id: "b3", secrets: [secretB], to: "caravan")
            #expect(asA?.status == 401 && asB?.status == 422 && groupOfA?.status == 422)
        }
        let citizen = try #require(try await a.rig.gateway.store.citizenId(phone: "+77015550001"))
        #expect(try await a.rig.gateway.store.citizen(id: citizen)?.welfareStatus == .unknown)
    }
}

@Suite("Travel agencies: scoping, endpoint by endpoint", .serialized)
struct AgencyScopingTests {
    @Test("agency B's token reads none of agency A's groups or tourists and changes nothing, on every endpoint; B's signature never acts on A's data — also with the same group and tourist ids")
    func everyEndpoint() async throws {
        let a = try await AgencyRig()
        let store = a.rig.gateway.store
        let document = try OpenAPIDocument.load()
        let ids = Mutex<(secretB: String, tokenB: String, groupA: Int, groupB: Int, citizenA: Int64, sharedCitizen: Int64)?>(nil)
        try await a.rig.run { api in
            let created = try await api.call(.post, "/v1/agencies", json: #"{"id": "caravan", "name": "Caravan Tours", "language": "ru"}"#, as: .some(a.rig.tokens[.admin]))
            let secretB = created.json["webhookSecret"] as? String ?? "", tokenB = created.json["token"] as? String ?? ""
            // A and B both have a group G-17 and a tourist T-1 (their own ids); B's T-3 is A's T-3 (same phone).
            guard try await a.post(api, AgencyRig.manifest(tourists: [("T-1", "Айгүл Серікова", "+77015550001"), ("T-2", "Дәурен Әлиев", "+77015550002"), ("T-3", "Мария Ким", "+77015550003")]), id: "a1")?.status == 200 else { return }
            #expect(try await a.post(api, AgencyRig.manifest(tourists: [("T-1", "Иван Петров", "+77015550011"), ("T-3", "Maria Kim", "+77015550003")]), id: "b1", secrets: [secretB], to: "caravan")?.status == 200)
            #expect(try await a.post(api, #"{"type": "group.status", "data": {"groupId": "G-17", "status": "at_meeting_point", "at": "2026-03-14T08:00:00Z"}}"#, id: "a2")?.status == 200)
            let groupA = ((try await api.call(.get, "/v1/agencies/silkway/groups", as: .some(a.token))).json["items"] as? [[String: Any]])?.first?["id"] as? Int ?? 0
            let groupB = ((try await api.call(.get, "/v1/agencies/caravan/groups", as: .some(tokenB))).json["items"] as? [[String: Any]])?.first?["id"] as? Int ?? 0
            let citizenA = try #require(try await store.citizenId(phone: "+77015550001"))
            let shared = try #require(try await store.citizenId(phone: "+77015550003"))
            ids.withLock { $0 = (secretB, tokenB, groupA, groupB, citizenA, shared) }
        }
        let known = try #require(ids.withLock { $0 })
        let before = try await store.citizens(CitizenFilter(), page: PageRequest(limit: 500)).items

        try await a.rig.run { api in
            // Every documented operation, with agency A's ids, called with agency B's token.
            let allowedForAgencies: Set<String> = ["GET /v1/citizens", "GET /v1/citizens/{id}", "GET /v1/agencies/{id}", "GET /v1/agencies/{id}/groups", "GET /v1/groups/{id}"]
            var covered: Set<String> = []
            for (method, template, operation) in document.operations {
                let roles = Set(operation["x-habar-roles"] as? [String] ?? [])
                guard !roles.contains("none"), !roles.contains("signature") else { continue }
                let path = template.replacingOccurrences(
                    of: "{id}",
                    with: template.hasPrefix("/v1/agencies") ? "silkway" : template.hasPrefix("/v1/groups") ? "\(known.groupA)" : "\(known.citizenA)")
                let body = ["POST", "PATCH"].contains(method) ? (template.hasSuffix("/import") ? "fullName,country,phone\n" : "{}") : nil
                let answer = try await api.call(HTTPRequest.Method(method)!, path, json: body, contentType: template.hasSuffix("/import") ? "text/csv" : nil, as: .some(known.tokenB))
                let name = "\(method) \(template)"
                if roles.contains("agency") {
                    covered.insert(name)
                    if name == "GET /v1/citizens" {
                        // B's list holds B's own tourists and the one it shares with A, never A's others.
                        let names = Set((answer.json["items"] as? [[String: Any]] ?? []).compactMap { $0["fullName"] as? String })
                        #expect(answer.status == 200 && names == ["Иван Петров", "Мария Ким"], "\(answer.text)")
                    } else {
                        #expect(answer.status == 403, "\(name) with B's token on A's data answered \(answer.status): \(answer.text)")
                    }
                } else {
                    #expect(answer.status == 403, "\(name) with an agency token answered \(answer.status)")
                }
            }
            #expect(covered == allowedForAgencies, "the agency role's endpoints changed: \(covered.symmetricDifference(allowedForAgencies)); extend this test")
            // Lists narrowed by A's id are refused, not quietly emptied; B's own reads work.
            #expect(try await api.call(.get, "/v1/citizens?agencyId=silkway", as: .some(known.tokenB)).status == 403)
            let byGroup = try await api.call(.get, "/v1/citizens?groupId=G-17", as: .some(known.tokenB))
            // B's own G-17: its tourist and the one it shares with A, both shown as B's.
            let listed = byGroup.json["items"] as? [[String: Any]] ?? []
            #expect(Set(listed.compactMap { $0["fullName"] as? String }) == ["Иван Петров", "Мария Ким"], "\(byGroup.text)")
            #expect(listed.allSatisfy { $0["agencyId"] as? String == "caravan" && $0["groupId"] as? String == "G-17" })
            let sharedAsB = try await api.call(.get, "/v1/citizens/\(known.sharedCitizen)", as: .some(known.tokenB))
            #expect(sharedAsB.json["agencyId"] as? String == "caravan", "\(sharedAsB.text)")
            #expect(try await api.call(.get, "/v1/groups/\(known.groupB)", as: .some(known.tokenB)).status == 200)
            #expect(try await api.call(.get, "/v1/citizens/\(known.sharedCitizen)", as: .some(known.tokenB)).status == 200)
            #expect(try await api.call(.get, "/v1/citizens/\(known.sharedCitizen)", as: .some(a.token)).status == 200)
            #expect(try await api.call(.get, "/v1/groups/\(known.groupB)", as: .some(a.token)).status == 403)

            // B's signature: never accepted for A; B's events name B's own group and tourists only.
            let events = [
                #"{"type": "tourist.checkin", "data": {"touristId": "T-1", "status": "need_help"}}"#,
                #"{"type": "group.status", "data": {"groupId": "G-17", "status": "boarded", "at": "2026-03-14T09:00:00Z"}}"#,
                AgencyRig.manifest(tourists: [("T-1", "Иван Петров", "+77015550011")]),
            ]
            for (index, event) in events.enumerated() {
                #expect(try await a.post(api, event, id: "x\(index)", secrets: [known.secretB])?.status == 401)
            }
            #expect(try await a.post(api, #"{"type": "tourist.checkin", "data": {"touristId": "T-2", "status": "need_help"}}"#, id: "b2", secrets: [known.secretB], to: "caravan")?.status == 422)
            for (index, event) in events.enumerated() {
                #expect(try await a.post(api, event, id: "b\(index + 3)", secrets: [known.secretB], to: "caravan")?.status == 200)
            }
            // A's group is as A left it: its status, its three tourists, their welfare.
            let groupA = try await api.call(.get, "/v1/groups/\(known.groupA)", as: .some(a.token))
            #expect((groupA.json["status"] as? [String: Any])?["status"] as? String == "at_meeting_point")
            #expect((groupA.json["tourists"] as? [[String: Any]])?.map { "\($0["touristId"] ?? ""):\($0["checkinStatus"] ?? "")" } == ["T-1:unknown", "T-2:unknown", "T-3:unknown"], "\(groupA.text)")
            let groupB = try await api.call(.get, "/v1/groups/\(known.groupB)", as: .some(known.tokenB))
            #expect((groupB.json["status"] as? [String: Any])?["status"] as? String == "boarded")
            // B's last manifest left out T-3, the person it shared with A: detached from B's group only.
            #expect((groupB.json["detached"] as? [[String: Any]])?.map { $0["touristId"] as? String } == ["T-3"])
        }
        let after = try await store.citizens(CitizenFilter(), page: PageRequest(limit: 500)).items
        for citizen in before where citizen.agencyId == "silkway" {
            let now = try #require(after.first { $0.id == citizen.id })
            #expect(now.fullName == citizen.fullName && now.groupId == "G-17" && now.agencyId == "silkway" && now.country == citizen.country
                    && now.welfareStatus == citizen.welfareStatus, "\(citizen) became \(now)")
        }
    }
}

/// A second gateway over the data directory of a first (a restart).
struct AgencyRestart {
    let rig: APIRig
    init(dataDir: String, clock: TestClock) async throws {
        rig = try await APIRig(clock: clock) { $0.dataDir = dataDir }
    }
}

import Foundation
import HabarApp
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import HTTPTypes
import Logging
import Synchronization
import Testing

/// `habar storage copy`: an installation built through the API on SQLite (citizens with
/// coordinates, a published advisory with its deliveries, texts and events, an agency with a
/// manifest, check-ins, a case, a group status, a place, a subscriber, an idempotency key, an
/// operator account, the audit log), copied into PostgreSQL, then served from there.
@Suite("Storage copy: SQLite to PostgreSQL")
struct StorageCopyTests {
    static let reads = [
        "/v1/citizens?limit=500", "/v1/advisories", "/v1/deliveries?limit=500", "/v1/checkins", "/v1/cases", "/v1/places",
        "/v1/agencies/silkway/groups", "/v1/tokens",
    ]

    @Test("every kind of record is copied and served the same from PostgreSQL; the audit chain verifies; a second copy is refused")
    func copyThenServe() async throws {
        guard let peer = try await PostgresPeer.forTests() else { return }
        let data = try Fixtures.temporaryDirectory("copy-source")
        let a = try await AgencyRig(dataDir: data.path)
        let tokens = a.rig.tokens
        let before = Mutex<[String: String]>([:])
        let advisoryId = Mutex<Int64>(0)
        try await a.rig.run { api in
            let csv = "fullName,language,phone,country,city,lat,lon,tags\nАйгүл Серікова,kk,+989121110001,IR,Tehran,35.7219,51.3347,student|pregnant\nДмитрий Ким,ru,+989121110002,IR,Tabriz,38.0800,46.2919,\n"
            let imported = try await api.call(.post, "/v1/citizens/import", body: Data(csv.utf8), contentType: "text/csv", as: .some(tokens[.operator]))
            #expect(imported.status == 200, "\(imported.text)")
            var headers = HTTPFields()
            headers[HTTPField.Name("Idempotency-Key")!] = "draft-1"
            let draft = try await api.call(.post, "/v1/advisories", json: APIRig.advisoryJSON, headers: headers, as: .some(tokens[.operator]))
            #expect(draft.status == 201, "\(draft.text)")
            advisoryId.withLock { $0 = id(draft) }
            let approved = try await api.call(.post, "/v1/advisories/\(id(draft))/approve", json: "{}", as: .some(tokens[.approver]))
            #expect(approved.status == 200, "\(approved.text)")
            let place = try await api.call(.post, "/v1/places", json: PlacesTests.embassy, as: .some(tokens[.operator]))
            #expect(place.status == 201, "\(place.text)")
            guard try await a.post(api, AgencyRig.manifest(tourists: [("T-1", "Дәурен Әлиев", "+77015550002"), ("T-2", "Мария Ким", nil)]), id: "m1") != nil else { return }
            _ = try await a.post(api, #"{"type": "tourist.checkin", "data": {"touristId": "T-1", "status": "need_help", "note": "Қонақүйде қалдық"}}"#, id: "c1")
            _ = try await a.post(api, #"{"type": "group.status", "data": {"groupId": "G-17", "status": "crossed_border", "place": "Сарпи", "at": "2026-03-14T09:30:00Z"}}"#, id: "s1")
            var seen: [String: String] = [:]
            for path in Self.reads + ["/v1/advisories/\(id(draft))/stats"] {
                let answer = try await api.call(.get, path, as: .some(tokens[.admin]))
                #expect(answer.status == 200, "\(path): \(answer.text)")
                seen[path] = answer.text
            }
            before.withLock { $0 = seen }
        }
        guard !before.withLock({ $0 }).isEmpty else { return }  // no reference signer here: skipped above
        let store = a.rig.gateway.store
        let account = try await store.insertOperator(name: "Aigerim", role: .approver, passwordHash: "$2b$04$x", language: .kazakh, at: Date())
        try await store.insertSession(ConsoleSession(tokenHash: "session-hash", operatorId: account.id, csrfToken: "csrf", createdAt: Date(), lastSeenAt: Date()))
        let secret = try await store.installationSecret(named: "links")
        let sourceAudit = try await AuditChainVerifier.verify(a.rig.gateway.store)

        let url = try await peer.createDatabase(prefix: "copy")
        let report = try await copyStorage(fromDataDirectory: data, to: url, logger: Logger(label: "test.copy"))
        #expect(report.rows["citizens"] == 4 && report.rows["agency_tourists"] == 2 && report.rows["operators"] == 1, "\(report.rows)")
        for table in ["deliveries", "delivery_events", "renderings", "advisory_versions", "audit_log", "idempotency_keys", "agency_events",
                      "agency_groups", "agency_group_events", "welfare_events", "cases", "case_entries", "places", "place_versions",
                      "subscribers", "tokens", "agency_secrets", "meta", "console_sessions", "installation_secrets"] {
            #expect((report.rows[table] ?? 0) > 0, "nothing copied in \(table): \(report.rows)")
        }
        if case .intact(let entries, let head) = sourceAudit { #expect(report.auditEntries == entries && report.auditHead == head) }
        await #expect { try await copyStorage(fromDataDirectory: data, to: url, logger: Logger(label: "test.copy")) } throws: { error in
            "\(error)".contains("not empty")
        }

        // Served from PostgreSQL: the same tokens, the same answers, the same installation.
        let target = try await testGateway { configuration in
            configuration.storage = StorageConfiguration(kind: "postgres", url: url, poolSize: 4)
        }
        #expect(try await target.store.installationId() == (try await a.rig.gateway.store.installationId()))
        #expect(try await target.store.installationSecret(named: "links") == secret, "the check-in links' key came along (old links keep working)")
        #expect(try await target.store.session(tokenHash: "session-hash", idleSince: .distantPast, now: Date())?.account.name == "Aigerim")
        let after = try await PostgresAnswers.read(target, paths: Array(before.withLock { $0 }.keys), token: tokens[.admin] ?? "")
        for (path, text) in before.withLock({ $0 }) { #expect(after[path] == text, "\(path) differs after the copy:\n\(text)\n\(after[path] ?? "nil")") }
        // The copy's own entry follows the copied chain.
        guard case .intact(let entries, _) = try await AuditChainVerifier.verify(target.store) else {
            Issue.record("the copied audit chain does not verify")
            return
        }
        #expect(entries == report.auditEntries + 1)
    }
}

/// Reads through the real router of a gateway.
enum PostgresAnswers {
    static func read(_ gateway: Gateway, paths: [String], token: String) async throws -> [String: String] {
        let seen = Mutex<[String: String]>([:])
        let rig = try await APIRig(gateway: gateway)
        try await rig.run { api in
            for path in paths {
                let answer = try await api.call(.get, path, as: .some(token))
                seen.withLock { $0[path] = answer.text }
            }
        }
        return seen.withLock { $0 }
    }
}

/// The check-in scheduler on two instances sharing one PostgreSQL database: reminders and
/// escalation happen once, whichever instance ticks (row locks on the advisory, no leader).
@Suite("Check-in follow-ups across instances")
struct CheckinFollowUpsAcrossInstancesTests {
    @Test("two instances ticking at the same moments send each reminder once and open each silent case once")
    func onceAcrossInstances() async throws {
        guard let peer = try await PostgresPeer.forTests() else { return }
        let url = try await peer.createDatabase(prefix: "followups")
        let storage = StorageConfiguration(kind: "postgres", url: url, poolSize: 4)
        let a = try await testGateway { $0.storage = storage }
        let b = try await testGateway { $0.storage = storage }
        _ = try await a.store.upsertCitizens((1...40).map { Fixtures.citizen($0, language: $0 % 2 == 0 ? .kazakh : .russian) })
        let now = Date()
        let deadline = now.addingTimeInterval(30 * 60)
        let draft = try await a.publisher.draft(Fixtures.checkinRequest(deadline: deadline), now: now)
        _ = try await a.publisher.publish(id: draft.id, approver: "approver-1", now: now)
        // Ten answered; thirty silent.
        try await a.store.recordCheckins((1...10).map { CheckinAnswer(citizenId: Int64($0), advisoryId: draft.id, meaning: .safe, source: .link, text: nil, at: now) })
        func schedulers(at moment: Date) -> [CheckinScheduler] {
            [a, b].map { CheckinScheduler(store: $0.store, publisher: $0.publisher, reminderLead: 3600, logger: .init(label: "t"), now: { moment }) }
        }
        let reminded = try await withThrowingTaskGroup(of: Int.self) { group in
            for scheduler in schedulers(at: now) + schedulers(at: now) { group.addTask { try await scheduler.tick().reminded } }
            return try await group.reduce(0, +)
        }
        let escalated = try await withThrowingTaskGroup(of: Int.self) { group in
            for scheduler in schedulers(at: deadline.addingTimeInterval(1)) + schedulers(at: deadline.addingTimeInterval(1)) {
                group.addTask { try await scheduler.tick().escalated }
            }
            return try await group.reduce(0, +)
        }
        let reminders = try await b.store.deliveries(DeliveryFilter(advisoryId: draft.id), page: PageRequest(limit: 500)).items.filter { $0.purpose == .reminder }
        let cases = try await b.store.cases(CaseFilter(reason: .silent), page: PageRequest(limit: 500)).items
        #expect(reminded == 30 && reminders.count == 30 && Set(reminders.compactMap(\.citizenId)).count == 30, "reminded \(reminded), \(reminders.count) reminder deliveries")
        #expect(escalated == 30 && cases.count == 30 && Set(cases.compactMap(\.citizenId)).count == 30, "escalated \(escalated), \(cases.count) silent cases")
    }
}

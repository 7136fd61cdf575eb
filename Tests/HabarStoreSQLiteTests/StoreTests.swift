import Foundation
import HabarCore
import HabarMessages
import HabarStoreSQLite
import HabarTesting
import Testing

/// The storage suite: every case runs against an in-memory queue and a WAL pool on disk
/// (and, when it lands, PostgreSQL).
@Suite("Store")
struct StoreTests {
    static let stores = ["in-memory queue", "file pool"]

    func store(_ name: String) throws -> SQLiteStore {
        try #require(try Fixtures.stores().first { $0.name == name }?.store)
    }

    @Test("citizens round-trip with every field", arguments: stores)
    func citizenRoundTrip(_ name: String) async throws {
        let store = try store(name)
        let citizen = NewCitizen(
            id: .unsaved, fullName: "Айгүл Серікқызы", language: .kazakh, phone: PhoneNumber("+77011234567"), email: "aigul@example.kz",
            country: "IR", city: "Tehran", position: GeoPoint(lat: 35.7, lon: 51.4), groupId: "g-1", agencyId: "a-1",
            tags: ["pilgrims", "group-7"], passportNumber: "N1234567", birthDate: "1990-05-17")
        let stored = try await store.insertCitizen(citizen)
        var read = try #require(try await store.citizen(id: stored.id))
        read.createdAt = citizen.createdAt
        read.updatedAt = citizen.updatedAt
        var expected = citizen.stored(id: stored.id)
        #expect(abs(read.createdAt.timeIntervalSince(expected.createdAt)) < 0.001)
        read.createdAt = expected.createdAt
        read.updatedAt = expected.updatedAt
        #expect(read == expected)
    }

    @Test("re-importing updates instead of duplicating: matched on phone, then passport", arguments: stores)
    func upsertMatching(_ name: String) async throws {
        let store = try store(name)
        var first = Fixtures.citizen(1)
        first.passportNumber = "N1"
        #expect(try await store.upsertCitizens([first, Fixtures.citizen(2)]) == CitizenImportResult(created: 2, updated: 0))
        var renamed = Fixtures.citizen(1)
        renamed.fullName = "Renamed"
        var newPhone = NewCitizen(id: .unsaved, fullName: "Same passport", phone: PhoneNumber("+77029999999"), country: "AE")
        newPhone.passportNumber = "N1"
        #expect(try await store.upsertCitizens([renamed, newPhone]) == CitizenImportResult(created: 0, updated: 2))
        #expect(try await store.countCitizens() == 2)
        #expect(try await store.citizen(id: 1)?.country == "AE")
    }

    @Test("the database refuses what the domain refuses (constraints do real work)", arguments: stores)
    func constraints(_ name: String) async throws {
        let store = try store(name)
        await #expect(throws: (any Error).self) {
            _ = try await store.insertCitizen(NewCitizen(id: .unsaved, fullName: "No contact", country: "IR"))
        }
        let (_, hash) = AccessToken.generate()
        _ = try await store.insertToken(NewAccessToken(id: .unsaved, name: "a", role: .viewer, tokenHash: hash))
        await #expect(throws: (any Error).self, "token hashes are unique") {
            _ = try await store.insertToken(NewAccessToken(id: .unsaved, name: "b", role: .viewer, tokenHash: hash))
        }
        await #expect(throws: (any Error).self, "an agency token needs its agency") {
            _ = try await store.insertToken(NewAccessToken(id: .unsaved, name: "c", role: .agency, tokenHash: AccessToken.generate().hash))
        }
    }

    @Test("tokens are found by hash only while not revoked", arguments: stores)
    func tokens(_ name: String) async throws {
        let store = try store(name)
        #expect(try await store.hasTokens() == false)
        let (token, hash) = AccessToken.generate()
        _ = try await store.insertToken(NewAccessToken(id: .unsaved, name: "duty", role: .operator, tokenHash: hash))
        #expect(try await store.token(hash: AccessToken.hash(token))?.role == .operator)
        #expect(try await store.token(hash: AccessToken.hash(token + "x")) == nil)
        #expect(!hash.contains(token), "only the hash is stored")
    }

    @Test("publishing queues the audience once with frozen texts; the audience selectors narrow", arguments: stores)
    func publishAudience(_ name: String) async throws {
        let store = try store(name)
        var pilgrim = Fixtures.citizen(1, language: .kazakh)
        pilgrim.tags = ["pilgrims"]
        var tehran = Fixtures.citizen(2)
        tehran.position = GeoPoint(lat: 35.69, lon: 51.39)
        _ = try await store.upsertCitizens([pilgrim, tehran, Fixtures.citizen(3, country: "AE")])
        let publisher = AdvisoryPublisher(
            store: store, catalog: try Fixtures.catalog(),
            channels: ["sms": ChannelCapabilities(messageKind: .sms, addressKind: .phone, deliveryReceipts: true)])
        func queued(_ audience: Audience) async throws -> Int {
            var advisory = Fixtures.advisory()
            advisory.audience = audience
            let draft = try await publisher.draft(advisory, now: Date())
            return try await publisher.publish(id: draft.id, approver: "a", now: Date()).queued
        }
        #expect(try await queued(Audience(countries: ["IR"])) == 2)
        #expect(try await queued(Audience(countries: ["IR"], tags: ["pilgrims"])) == 1)
        #expect(try await queued(Audience(circle: .init(center: GeoPoint(lat: 35.7, lon: 51.4), radiusKm: 5))) == 1)
        #expect(try await queued(Audience(polygon: [GeoPoint(lat: 35, lon: 51), GeoPoint(lat: 36, lon: 51), GeoPoint(lat: 36, lon: 52), GeoPoint(lat: 35, lon: 52)])) == 1)
        #expect(try await queued(Audience(all: true)) == 3)
        let kazakh = try #require(try await store.claimDeliveries(
            channel: "sms", kind: .sms, address: .phone, limit: 1, owner: "w", leaseUntil: Date().addingTimeInterval(60), now: Date()).first)
        #expect(kazakh.message.message.language == .kazakh)
        #expect(kazakh.message.message.text.hasPrefix("ҚР СІМ"))
    }

    @Test("audience: city, group, agency, tag, explicit ids; a citizen matching several selectors is queued once", arguments: stores)
    func audienceSelectors(_ name: String) async throws {
        let store = try store(name)
        var a = Fixtures.citizen(1); a.city = "Tehran"; a.groupId = "g-1"; a.agencyId = "ag-1"; a.tags = ["pilgrims", "students"]
        var b = Fixtures.citizen(2); b.city = "Tabriz"; b.groupId = "g-2"; b.agencyId = "ag-1"
        var c = Fixtures.citizen(3, country: "AE"); c.tags = ["students"]
        _ = try await store.upsertCitizens([a, b, c])
        func count(_ audience: Audience) async throws -> Int {
            try await store.audienceCells(.audience(audience)).reduce(0) { $0 + $1.count }
        }
        #expect(try await count(Audience(cities: ["Tabriz"])) == 1)
        #expect(try await count(Audience(groupIds: ["g-1", "g-2"])) == 2)
        #expect(try await count(Audience(agencyIds: ["ag-1"], tags: ["students"])) == 1)
        #expect(try await count(Audience(tags: ["students", "pilgrims"])) == 2)
        #expect(try await count(Audience(citizenIds: [3])) == 1)
        // Citizen 1 matches the country, the tag and the explicit list: still one delivery.
        let overlapping = Audience(countries: ["IR"], tags: ["pilgrims", "students"], citizenIds: [1, 1, 3])
        #expect(try await count(overlapping) == 2)
        let publisher = AdvisoryPublisher(
            store: store, catalog: try Fixtures.catalog(),
            channels: ["sms": ChannelCapabilities(messageKind: .sms, addressKind: .phone, deliveryReceipts: true)])
        var advisory = Fixtures.advisory()
        advisory.audience = overlapping
        let draft = try await publisher.draft(advisory, now: Date())
        #expect(try await publisher.publish(id: draft.id, approver: "a", now: Date()).queued == 2)
        #expect(try await publisher.publish(id: draft.id, approver: "a", now: Date()).queued == 0, "publishing again queues nothing new")
        let citizens = try await store.deliveries(DeliveryFilter(advisoryId: draft.id), page: PageRequest()).items.compactMap(\.citizenId)
        #expect(citizens.sorted() == [1, 3])
    }

    @Test("the audit log refuses changes and deletions in the database itself", arguments: stores)
    func appendOnlyAudit(_ name: String) async throws {
        let store = try store(name)
        let first = try await store.appendAudit(NewAuditEntry(id: .unsaved, at: Date(), actor: "a", actorTokenId: 1, role: .admin, action: "POST /v1/tokens", target: "token/2", status: 201, requestId: "r1"))
        let second = try await store.appendAudit(NewAuditEntry(id: .unsaved, at: Date(), actor: "b", actorTokenId: 2, role: .operator, action: "POST /v1/citizens", target: "citizen/1", status: 201, requestId: "r2"))
        #expect(first.previousHash == AuditEntry.genesisHash && second.previousHash == first.hash)
        await #expect(throws: (any Error).self) { try await store.rawExecute("UPDATE audit_log SET actor = 'c'") }
        await #expect(throws: (any Error).self) { try await store.rawExecute("DELETE FROM audit_log") }
        var verifier = AuditChainVerifier()
        #expect(try await store.auditEntries(page: PageRequest()).items.allSatisfy { verifier.check($0) == nil })
    }

    @Test("the event history is append-only", arguments: stores)
    func appendOnlyEvents(_ name: String) async throws {
        let store = try store(name)
        _ = try await store.upsertCitizens([Fixtures.citizen(1)])
        let publisher = AdvisoryPublisher(
            store: store, catalog: try Fixtures.catalog(),
            channels: ["sms": ChannelCapabilities(messageKind: .sms, addressKind: .phone, deliveryReceipts: true)])
        let draft = try await publisher.draft(Fixtures.advisory(), now: Date())
        _ = try await publisher.publish(id: draft.id, approver: "a", now: Date())
        #expect(try await store.deliveryEvents(deliveryId: 1).count == 1)
        await #expect(throws: (any Error).self) { try await store.rawExecute("DELETE FROM delivery_events") }
        await #expect(throws: (any Error).self) { try await store.rawExecute("UPDATE delivery_events SET to_state = 'delivered'") }
        #expect(try await store.deliveryEvents(deliveryId: 1).count == 1)
    }

    @Test("a database survives reopening with its data and installation id")
    func reopen() async throws {
        let directory = try Fixtures.temporaryDirectory("reopen")
        let first = try SQLiteStore.open(directory: directory)
        _ = try await first.upsertCitizens([Fixtures.citizen(1)])
        let id = try await first.installationId()
        let second = try SQLiteStore.open(directory: directory)
        #expect(try await second.installationId() == id)
        #expect(try await second.countCitizens() == 1)
    }
}

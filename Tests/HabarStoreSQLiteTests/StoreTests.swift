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
        let citizen = Citizen(
            fullName: "Айгүл Серікқызы", language: .kazakh, phone: PhoneNumber("+77011234567"), email: "aigul@example.kz",
            country: "IR", city: "Tehran", position: GeoPoint(lat: 35.7, lon: 51.4), groupId: "g-1", agencyId: "a-1",
            tags: ["pilgrims", "group-7"], passportNumber: "N1234567", birthDate: "1990-05-17")
        let stored = try await store.insertCitizen(citizen)
        var read = try #require(try await store.citizen(id: stored.id!))
        read.createdAt = citizen.createdAt
        read.updatedAt = citizen.updatedAt
        var expected = citizen
        expected.id = stored.id
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
        var newPhone = Citizen(fullName: "Same passport", phone: PhoneNumber("+77029999999"), country: "AE")
        newPhone.passportNumber = "N1"
        #expect(try await store.upsertCitizens([renamed, newPhone]) == CitizenImportResult(created: 0, updated: 2))
        #expect(try await store.countCitizens() == 2)
        #expect(try await store.citizen(id: 1)?.country == "AE")
    }

    @Test("the database refuses what the domain refuses (constraints do real work)", arguments: stores)
    func constraints(_ name: String) async throws {
        let store = try store(name)
        await #expect(throws: (any Error).self) {
            _ = try await store.insertCitizen(Citizen(fullName: "No contact", country: "IR"))
        }
        let (_, hash) = AccessToken.generate()
        _ = try await store.insertToken(AccessToken(name: "a", role: .viewer, tokenHash: hash))
        await #expect(throws: (any Error).self, "token hashes are unique") {
            _ = try await store.insertToken(AccessToken(name: "b", role: .viewer, tokenHash: hash))
        }
        await #expect(throws: (any Error).self, "an agency token needs its agency") {
            _ = try await store.insertToken(AccessToken(name: "c", role: .agency, tokenHash: AccessToken.generate().hash))
        }
    }

    @Test("tokens are found by hash only while not revoked", arguments: stores)
    func tokens(_ name: String) async throws {
        let store = try store(name)
        #expect(try await store.hasTokens() == false)
        let (token, hash) = AccessToken.generate()
        _ = try await store.insertToken(AccessToken(name: "duty", role: .operator, tokenHash: hash))
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
            return try await publisher.publish(id: draft.id!, approver: "a", now: Date()).queued
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

    @Test("the event history is append-only", arguments: stores)
    func appendOnlyEvents(_ name: String) async throws {
        let store = try store(name)
        _ = try await store.upsertCitizens([Fixtures.citizen(1)])
        let publisher = AdvisoryPublisher(
            store: store, catalog: try Fixtures.catalog(),
            channels: ["sms": ChannelCapabilities(messageKind: .sms, addressKind: .phone, deliveryReceipts: true)])
        let draft = try await publisher.draft(Fixtures.advisory(), now: Date())
        _ = try await publisher.publish(id: draft.id!, approver: "a", now: Date())
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

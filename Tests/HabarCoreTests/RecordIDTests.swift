import Foundation
import HabarCore
import HabarMessages
import Testing

/// A stored record is the new one with the store's id and nothing else changed: every field
/// below is set to something other than its default, so a field `stored(id:)` forgot fails.
@Suite("Records before and after the store")
struct RecordIDTests {
    /// Every field but `id`, as text, by name.
    func fields(_ value: Any) -> [String: String] {
        var found: [String: String] = [:]
        for child in Mirror(reflecting: value).children where child.label != "id" {
            found[child.label ?? "?"] = String(describing: child.value)
        }
        return found
    }

    func check<New, Stored>(_ new: New, _ stored: Stored, id: Int64, _ storedId: Int64) {
        #expect(storedId == id)
        #expect(fields(new) == fields(stored))
        #expect(fields(new).count == Mirror(reflecting: stored).children.count - 1)
    }

    let at = Date(timeIntervalSince1970: 1_773_300_600)
    let later = Date(timeIntervalSince1970: 1_773_338_400)

    @Test("stored(id:) keeps every field of every record type")
    func everyField() {
        var citizen = NewCitizen(
            id: .unsaved, fullName: "Айгүл Серікова", language: .kazakh, phone: PhoneNumber("+77015550102"), email: "a@example.kz",
            country: "IR", city: "Тегеран", position: GeoPoint(lat: 35.7, lon: 51.4), groupId: "g-1", agencyId: "silkway",
            tags: ["student"], passportNumber: "N1234567", birthDate: "1990-04-01", welfareStatus: .safe, lastContactAt: at,
            createdAt: at, updatedAt: later)
        citizen.lastContactSource = .link
        check(citizen, citizen.stored(id: 7), id: 7, citizen.stored(id: 7).id)

        let advisory = NewAdvisory(
            id: .unsaved, kind: .meetingPoint, severity: .extreme, audience: Audience(countries: ["IR"]),
            params: AdvisoryParameters(route: "Тегеран — Астара"), template: "meeting_point.set",
            channelPlan: ChannelPlan(mode: .all, channels: ["sms", "email"]), expiresAt: later, status: .published, version: 3,
            author: "op", approver: "ap", createdAt: at, publishedAt: at, cancelledAt: later, scope: .public, publishAt: at,
            authorTokenId: 1, approverTokenId: 2,
            pendingCorrection: PendingCorrection(correction: AdvisoryCorrection(template: "meeting_point.moved"), author: "op", authorTokenId: 1),
            cancelNoticeVersion: 4, places: [], exercise: true)
        check(advisory, advisory.stored(id: 8), id: 8, advisory.stored(id: 8).id)

        let token = NewAccessToken(id: .unsaved, name: "duty", role: .approver, agencyId: "silkway", tokenHash: "h", createdAt: at, revokedAt: later)
        check(token, token.stored(id: 9), id: 9, token.stored(id: 9).id)

        let subscriber = NewSubscriber(
            id: .unsaved, name: "partner", url: "https://example.org/hook", secret: "s", language: .english, agencyId: "silkway",
            active: false, createdAt: at, disabledAt: later, disabledReason: "410")
        check(subscriber, subscriber.stored(id: 10), id: 10, subscriber.stored(id: 10).id)

        let place = NewPlace(
            id: .unsaved, version: 2, kind: .borderCrossing, name: .perLanguage([.russian: "Астара"]), address: "КПП",
            location: GeoPoint(lat: 38.4, lon: 48.9), country: "IR", contactPhone: "+982100000000",
            openingHours: .perLanguage([.russian: "круглосуточно", .kazakh: "тәулік бойы"]), status: .closed, createdAt: at, updatedAt: later, updatedBy: "op")
        check(place, place.stored(id: 11), id: 11, place.stored(id: 11).id)

        let entry = NewAuditEntry(
            id: .unsaved, at: at, actor: "op", actorTokenId: 1, role: .operator, action: "POST /v1/citizens", target: "citizen/1",
            status: 201, requestId: "r", details: ["k": "v"], previousHash: "p", hash: "h")
        check(entry, entry.stored(id: 12), id: 12, entry.stored(id: 12).id)

        let sms = NewInboundSMS(
            id: .unsaved, channel: "kannel", sender: "+905321112233", receiver: "1414", text: "1", sentAt: at, receivedAt: later,
            providerMessageId: "m", citizenId: 5, processedAt: later)
        check(sms, sms.stored(id: 13), id: 13, sms.stored(id: 13).id)
    }
}

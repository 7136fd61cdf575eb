import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import HTTPTypes
import Testing

@Suite("Console: places, agencies with their rosters, the audit log")
struct ConsoleRegistryTests {
    @Test("the places registry lists each place at its current version; a place's page shows every version in every language, escaped")
    func places() async throws {
        let rig = try await ConsoleRig()
        let password = try await rig.account("Дана", .viewer)
        let place = try await rig.gateway.places.create(NewPlace(
            id: .unsaved, kind: .meetingPoint, name: .perLanguage([.kazakh: "ҚР елшілігі", .russian: "Посольство РК", .english: "<script>x</script>"]),
            country: "IR", updatedBy: "seed"))
        var moved = NewPlace(id: .unsaved, kind: .meetingPoint, name: .perLanguage([.kazakh: "ҚР консулдығы", .russian: "Консульство РК", .english: "Consulate"]), country: "IR", updatedBy: "Айгерим")
        moved.status = .open
        _ = try await rig.gateway.places.change(id: place.id, to: moved, by: Actor(name: "Айгерим"), now: rig.clock.now)
        try await rig.test { client in
            let session = try await client.signIn("Дана", password)
            let list = try await client.get("/console/places", cookies: ["habar_session": session])
            #expect(list.status == .ok && list.body.contains(">Консульство РК</a>") && list.body.contains("<td>v2</td>"))
            let page = try await client.get("/console/places/\(place.id)", cookies: ["habar_session": session])
            #expect(page.body.contains("id=\"v2\"") && page.body.contains("id=\"v1\""))
            #expect(page.body.contains("<td lang=\"kk\">ҚР елшілігі</td>") && page.body.contains("<td lang=\"kk\">ҚР консулдығы</td>"))
            #expect(!page.body.contains("<script>x") && page.body.contains("&lt;script&gt;x&lt;/script&gt;"))
        }
    }

    @Test("an agency's page: each group's last status and tally, its roster with the unaccounted-for first, and the people by the meeting point their group reported")
    func agencies() async throws {
        let rig = try await ConsoleRig()
        let password = try await rig.account("Дана", .viewer)
        _ = try await rig.gateway.agencyRegistry.create(id: "silkway", name: "Silk Way Travel", webhookURL: nil, language: .russian, at: rig.clock.now)
        let manifest = Manifest(
            group: Manifest.Group(id: "TR-17", name: "Стамбул 17", destination: Manifest.Destination(country: "TR", city: "Istanbul"), hotel: nil, returnFlight: nil),
            tourists: [
                Manifest.Tourist(id: "t1", fullName: "Айгүл Серікова", phone: "+77010000001", email: nil, language: .kazakh, passportNumber: nil, birthDate: nil),
                Manifest.Tourist(id: "t2", fullName: "Ерлан Иванов", phone: "+77010000002", email: nil, language: .russian, passportNumber: nil, birthDate: nil),
            ])
        _ = try await rig.gateway.store.applyAgencyEvent(AgencyEvent(agencyId: "silkway", webhookId: "m1", type: "manifest.upsert", body: Data("{}".utf8), command: .manifest(manifest), at: rig.clock.now))
        _ = try await rig.gateway.store.applyAgencyEvent(AgencyEvent(
            agencyId: "silkway", webhookId: "s1", type: "group.status", body: Data("{}".utf8),
            command: .groupStatus(GroupStatusReport(groupId: "TR-17", status: .atMeetingPoint, place: "Sultanahmet, gate 2", at: rig.clock.now)), at: rig.clock.now))
        let safe = try #require(try await rig.gateway.store.citizenId(phone: "+77010000002"))
        try await rig.gateway.store.recordCheckins([CheckinAnswer(citizenId: safe, advisoryId: nil, meaning: .safe, source: .agency, text: nil, at: rig.clock.now)])
        try await rig.test { client in
            let session = try await client.signIn("Дана", password)
            let list = try await client.get("/console/agencies", cookies: ["habar_session": session])
            #expect(list.body.contains(">Silk Way Travel</a>") && list.body.contains("<td class=\"unaccounted\">1</td>"))
            let page = try await client.get("/console/agencies/silkway", cookies: ["habar_session": session])
            #expect(page.body.contains("Последнее сообщение: <strong>на месте сбора</strong>, Sultanahmet, gate 2"))
            let group = try #require(ConsoleComposeTests.section(page.body, from: "id=\"group-TR-17\"", to: "</section>"))
            let missing = try #require(group.range(of: "Айгүл Серікова"))
            let accounted = try #require(group.range(of: "Ерлан Иванов"))
            #expect(missing.lowerBound < accounted.lowerBound, "the unaccounted-for first")
            #expect(group.contains("нет сведений: <strong class=\"unaccounted\">1</strong>"))
            let points = try #require(ConsoleComposeTests.section(page.body, from: "По местам сбора", to: "</section>"))
            #expect(points.contains("Sultanahmet, gate 2") && points.contains("нет сведений: 1 / 2"))
            let unknown = try await client.get("/console/agencies/nobody", cookies: ["habar_session": session])
            #expect(unknown.status == .notFound)
        }
    }

    @Test("the audit page gives the chain's verdict over every entry and the latest entries, the console's own actions among them")
    func audit() async throws {
        let rig = try await ConsoleRig()
        let password = try await rig.account("Дана", .viewer)
        try await rig.test { client in
            let session = try await client.signIn("Дана", password)
            let page = try await client.get("/console/audit", cookies: ["habar_session": session])
            #expect(page.status == .ok)
            let entries = try await rig.gateway.store.auditEntries(page: PageRequest()).items
            #expect(page.body.contains("Журнал цел: проверена цепочка из \(entries.count)"))
            #expect(page.body.contains("<td>console sign-in</td>") || page.body.contains("console sign"))
        }
    }
}

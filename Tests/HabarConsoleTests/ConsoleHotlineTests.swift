import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import HTTPTypes
import Testing

@Suite("Console: the hotline queue")
struct ConsoleHotlineTests {
    @Test("a citizen who asked for help is first in the queue with their phone and words (as text); assign to me, a note, resolve — each audited")
    func queue() async throws {
        let rig = try await ConsoleRig()
        let password = try await rig.account("Дана", .operator)
        let viewer = try await rig.account("Асель", .viewer)
        _ = try await rig.gateway.store.upsertCitizens([Fixtures.citizen(1, language: .kazakh), Fixtures.citizen(2)])
        let citizens = try await rig.gateway.store.citizens(CitizenFilter(), page: PageRequest()).items
        try await rig.gateway.store.recordCheckins([
            CheckinAnswer(citizenId: citizens[1].id, advisoryId: nil, meaning: .unclear, source: .sms, text: "не понял", at: rig.clock.now),
            CheckinAnswer(citizenId: citizens[0].id, advisoryId: nil, meaning: .needsHelp, source: .link, text: "<script>alert(1)</script> Біз бес адамбыз", at: rig.clock.now.addingTimeInterval(60)),
        ])
        try await rig.test { client in
            let session = try await client.signIn("Дана", password)
            let page = try await client.get("/console/cases", cookies: ["habar_session": session])
            #expect(page.status == .ok)
            let help = try #require(page.body.range(of: "просят помощи"))
            let unclear = try #require(page.body.range(of: "непонятный ответ"))
            #expect(help.lowerBound < unclear.lowerBound, "needs help first, though it came later")
            #expect(page.body.contains("<a class=\"phone\" href=\"tel:\(citizens[0].phone!.e164)\">"))
            #expect(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt; Біз бес адамбыз") && !page.body.contains("<script>alert"))
            let cases = try await rig.gateway.store.cases(CaseFilter(), page: PageRequest()).items
            let urgent = try #require(cases.first { $0.citizenId == citizens[0].id })
            let assigned = try await client.post("/console/cases/\(urgent.id)", ["csrf": page.csrf!, "action": "assign"], cookies: ["habar_session": session])
            #expect(assigned.status == .seeOther)
            let noted = try await client.post("/console/cases/\(urgent.id)", ["csrf": page.csrf!, "action": "note", "note": "Позвонила, пятеро у посольства"], cookies: ["habar_session": session])
            #expect(noted.status == .seeOther)
            let empty = try await client.post("/console/cases/\(urgent.id)", ["csrf": page.csrf!, "action": "note", "note": "  "], cookies: ["habar_session": session])
            #expect(empty.status == .unprocessableContent)
            let after = try await client.get("/console/cases", cookies: ["habar_session": session])
            #expect(after.body.contains("<strong class=\"assignee\">Дана</strong>") && after.body.contains("Позвонила, пятеро у посольства"))
            let resolved = try await client.post("/console/cases/\(urgent.id)", ["csrf": page.csrf!, "action": "resolve"], cookies: ["habar_session": session])
            #expect(resolved.status == .seeOther)
            let last = try await client.get("/console/cases", cookies: ["habar_session": session])
            #expect(!last.body.contains("id=\"case-\(urgent.id)\""), "a resolved case leaves the queue")
            let forged = try await client.post("/console/cases/\(cases[0].id)", ["csrf": "x", "action": "resolve"], cookies: ["habar_session": session])
            #expect(forged.status == .forbidden)
            let other = try await client.signIn("Асель", viewer)
            #expect(try await client.get("/console/cases", cookies: ["habar_session": other]).status == .forbidden)
        }
        let stored = try #require(try await rig.gateway.store.cases(CaseFilter(), page: PageRequest()).items.first { $0.citizenId == citizens[0].id })
        #expect(stored.status == .resolved && stored.assignee == "Дана")
        #expect(stored.entries.contains { $0.kind == .note && $0.author == "Дана" && $0.text == "Позвонила, пятеро у посольства" })
        let audit = try await rig.gateway.store.auditEntries(page: PageRequest()).items.filter { $0.action.hasPrefix("console case") }
        #expect(audit.map(\.action) == ["console case assign", "console case note", "console case resolve"] && audit.allSatisfy { $0.actor == "Дана" })
    }
}

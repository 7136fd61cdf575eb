import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import HTTPTypes
import Testing

@Suite("Console: the advisory page and approval")
struct ConsoleAdvisoryTests {
    /// Three citizens in Iran (kk, ru, en) and a draft by `author` to them.
    func draft(_ rig: ConsoleRig, author: String) async throws -> Advisory {
        _ = try await rig.gateway.store.upsertCitizens([
            Fixtures.citizen(1, language: .kazakh), Fixtures.citizen(2, language: .russian), Fixtures.citizen(3, language: .english),
        ])
        var draft = Fixtures.advisory(expiresAt: rig.clock.now.addingTimeInterval(3600))
        draft.author = author
        return try await rig.gateway.publisher.draft(draft, now: rig.clock.now)
    }

    @Test("the author of an advisory above the threshold is told before and refused when approving; a second approver sends it; both in the audit log")
    func twoPersonRule() async throws {
        let rig = try await ConsoleRig(threshold: 2)
        let aidar = try await rig.account("Айдар", .approver)
        let maria = try await rig.account("Мария", .approver)
        let advisory = try await draft(rig, author: "Айдар")
        try await rig.test { client in
            let own = try await client.signIn("Айдар", aidar)
            let page = try await client.get("/console/advisories/\(advisory.id)", cookies: ["habar_session": own])
            #expect(page.status == .ok)
            #expect(page.body.contains("Это сообщение получат 3 человека — больше порога 2. Утвердить его должен другой сотрудник, не автор."))
            #expect(page.body.contains("<dd class=\"recipients\">3</dd>"))
            // The Kazakh and Russian SMS are UCS-2 from their first Cyrillic letter.
            #expect(page.body.contains("<span class=\"encoding\">UCS-2</span>"))
            #expect(page.body.contains("<mark class=\"ucs2\" title=\"UCS-2\">"))
            let refused = try await client.post("/console/advisories/\(advisory.id)/approve", ["csrf": page.csrf!], cookies: ["habar_session": own])
            #expect(refused.status == .forbidden)
            #expect(refused.body.contains("Не утверждено: сообщение получат 3 человека (больше порога 2), а вы его автор."))
            #expect(try await rig.gateway.store.deliveryCounts(advisoryId: advisory.id).isEmpty, "nothing queued")
            let other = try await client.signIn("Мария", maria)
            let second = try await client.get("/console/advisories/\(advisory.id)", cookies: ["habar_session": other])
            #expect(!second.body.contains("Утвердить его должен другой сотрудник"), "the second approver is not warned")
            let approved = try await client.post("/console/advisories/\(advisory.id)/approve", ["csrf": second.csrf!], cookies: ["habar_session": other])
            #expect(approved.status == .ok)
            #expect(approved.body.contains("Утверждено: сообщение отправляется."))
            #expect(approved.body.contains("<dd class=\"state\">отправлено</dd>"))
        }
        #expect(try await rig.gateway.store.deliveryCounts(advisoryId: advisory.id).reduce(0) { $0 + $1.count } == 3)
        let stored = try #require(try await rig.gateway.store.advisory(id: advisory.id))
        #expect(stored.approver == "Мария" && stored.author == "Айдар")
        let audit = try await rig.gateway.store.auditEntries(page: PageRequest()).items.filter { $0.action == "console approve" }
        #expect(audit.map(\.actor) == ["Айдар", "Мария"] && audit.map(\.status) == [403, 200])
    }

    @Test("a viewer sees the advisory but no approve button, and an approval they post is refused; a forged form changes nothing")
    func roles() async throws {
        let rig = try await ConsoleRig()
        let viewer = try await rig.account("Дана", .viewer)
        let approver = try await rig.account("Мария", .approver)
        let advisory = try await draft(rig, author: "Айдар")
        try await rig.test { client in
            let session = try await client.signIn("Дана", viewer)
            let page = try await client.get("/console/advisories/\(advisory.id)", cookies: ["habar_session": session])
            #expect(page.status == .ok && !page.body.contains("/approve\"") && !page.body.contains("/cancel\""))
            let refused = try await client.post("/console/advisories/\(advisory.id)/approve", ["csrf": page.csrf!], cookies: ["habar_session": session])
            #expect(refused.status == .forbidden && refused.body.contains("Для этого нужна роль утверждающего."))
            let second = try await client.signIn("Мария", approver)
            let forged = try await client.post("/console/advisories/\(advisory.id)/approve", ["csrf": "forged"], cookies: ["habar_session": second])
            #expect(forged.status == .forbidden)
            let cancelForged = try await client.post("/console/advisories/\(advisory.id)/cancel", [:], cookies: ["habar_session": second])
            #expect(cancelForged.status == .forbidden)
        }
        #expect(try await rig.gateway.store.advisory(id: advisory.id)?.status == .draft, "nothing changed")
        #expect(try await rig.gateway.store.deliveryCounts(advisoryId: advisory.id).isEmpty)
    }

    @Test("the dashboard lists drafts waiting for approval with a link to each; an approver cancels one from its page")
    func waitingAndCancel() async throws {
        let rig = try await ConsoleRig()
        let approver = try await rig.account("Мария", .approver)
        let advisory = try await draft(rig, author: "Айдар")
        try await rig.test { client in
            let session = try await client.signIn("Мария", approver)
            let dashboard = try await client.get("/console/", cookies: ["habar_session": session])
            #expect(dashboard.body.contains("Ждут утверждения"))
            #expect(dashboard.body.contains("<a href=\"/console/advisories/\(advisory.id)\">"))
            let page = try await client.get("/console/advisories/\(advisory.id)", cookies: ["habar_session": session])
            let cancelled = try await client.post("/console/advisories/\(advisory.id)/cancel", ["csrf": page.csrf!], cookies: ["habar_session": session])
            #expect(cancelled.status == .ok && cancelled.body.contains("<dd class=\"state\">отменено</dd>"))
        }
        #expect(try await rig.gateway.store.advisory(id: advisory.id)?.status == .cancelled)
    }

    @Test("an approver interrupts a published advisory from its page, then resumes it; an operator may not; a forged form changes nothing; all audited")
    func interruptAndResume() async throws {
        let rig = try await ConsoleRig()
        let approver = try await rig.account("Мария", .approver)
        let operatorPassword = try await rig.account("Айдар", .operator)
        let advisory = try await draft(rig, author: "Айдар")
        _ = try await rig.gateway.publisher.publish(id: advisory.id, approver: "Мария", now: rig.clock.now)
        try await rig.test { client in
            let own = try await client.signIn("Айдар", operatorPassword)
            let seen = try await client.get("/console/advisories/\(advisory.id)", cookies: ["habar_session": own])
            #expect(!seen.body.contains("/interrupt\""), "an operator gets no interrupt button")
            let refused = try await client.post("/console/advisories/\(advisory.id)/interrupt", ["csrf": seen.csrf!], cookies: ["habar_session": own])
            #expect(refused.status == .forbidden)
            #expect(try await rig.gateway.store.advisory(id: advisory.id)?.interruptedAt == nil)

            let session = try await client.signIn("Мария", approver)
            let page = try await client.get("/console/advisories/\(advisory.id)", cookies: ["habar_session": session])
            #expect(page.body.contains("Немедленно приостановить отправку"))
            let forged = try await client.post("/console/advisories/\(advisory.id)/interrupt", ["csrf": "forged"], cookies: ["habar_session": session])
            #expect(forged.status == .forbidden)
            #expect(try await rig.gateway.store.advisory(id: advisory.id)?.interruptedAt == nil, "a forged form changed nothing")
            let held = try await client.post("/console/advisories/\(advisory.id)/interrupt", ["csrf": page.csrf!], cookies: ["habar_session": session])
            #expect(held.status == .ok)
            #expect(held.body.contains("Отправка приостановлена: провайдеру больше ничего не передаётся."))
            #expect(held.body.contains("<dd class=\"state\">отправка приостановлена</dd>"))
            #expect(held.body.contains("Продолжить отправку") && !held.body.contains("Немедленно приостановить отправку"))
            let stored = try await rig.gateway.store.advisory(id: advisory.id)
            #expect(stored?.interruptedAt != nil && stored?.interruptedBy == "Мария")
            let dashboard = try await client.get("/console/", cookies: ["habar_session": session])
            #expect(dashboard.body.contains("<span class=\"mode\">отправка приостановлена</span>"))

            let resumed = try await client.post("/console/advisories/\(advisory.id)/resume", ["csrf": page.csrf!], cookies: ["habar_session": session])
            #expect(resumed.status == .ok && resumed.body.contains("Отправка продолжается."))
            #expect(try await rig.gateway.store.advisory(id: advisory.id)?.interruptedAt == nil)
        }
        let audit = try await rig.gateway.store.auditEntries(page: PageRequest()).items.filter { $0.action.hasPrefix("console interrupt") || $0.action.hasPrefix("console resume") }
        #expect(audit.map { "\($0.actor) \($0.action) \($0.status)" }.sorted() == ["Айдар console interrupt 403", "Мария console interrupt 200", "Мария console resume 200"])
    }

    @Test("an unknown advisory is a 404 page, not an error")
    func missing() async throws {
        let rig = try await ConsoleRig()
        let viewer = try await rig.account("Дана", .viewer)
        try await rig.test { client in
            let session = try await client.signIn("Дана", viewer)
            let page = try await client.get("/console/advisories/999", cookies: ["habar_session": session])
            #expect(page.status == .notFound && page.body.contains("Такого сообщения нет."))
        }
    }
}

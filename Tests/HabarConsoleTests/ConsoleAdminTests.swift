import Foundation
import HabarCore
import HabarHTTP
import HabarTesting
import HTTPTypes
import Testing

@Suite("Console: the admin page")
struct ConsoleAdminTests {
    @Test("an admin creates an account (its one-time password shown once works), is refused a taken name, turns on a second factor; others get no page and change nothing")
    func accounts() async throws {
        let rig = try await ConsoleRig()
        let admin = try await rig.account("Ержан", .admin)
        let viewer = try await rig.account("Дана", .viewer)
        try await rig.test { client in
            let other = try await client.signIn("Дана", viewer)
            let refused = try await client.get("/console/admin", cookies: ["habar_session": other])
            #expect(refused.status == .forbidden)
            let board = try await client.get("/console/", cookies: ["habar_session": other])
            #expect(!board.body.contains("href=\"/console/admin\""))
            let forbiddenCreate = try await client.post("/console/admin/accounts", ["csrf": board.csrf!, "name": "x", "role": "admin", "language": "ru"], cookies: ["habar_session": other])
            #expect(forbiddenCreate.status == .forbidden)
            let session = try await client.signIn("Ержан", admin)
            let page = try await client.get("/console/admin", cookies: ["habar_session": session])
            #expect(page.status == .ok && page.body.contains("<td>Дана</td>"))
            let forged = try await client.post("/console/admin/accounts", ["csrf": "forged", "name": "Мария", "role": "approver", "language": "kk"], cookies: ["habar_session": session])
            #expect(forged.status == .forbidden)
            let created = try await client.post("/console/admin/accounts", ["csrf": page.csrf!, "name": "Мария", "role": "approver", "language": "kk"], cookies: ["habar_session": session])
            #expect(created.status == .ok && created.body.contains("Учётная запись «Мария» создана."))
            let password = try #require(ConsoleComposeTests.section(created.body, from: "<code id=\"password\">", to: "</code>")).replacingOccurrences(of: "<code id=\"password\">", with: "")
            #expect(password.count == 16)
            let theirs = try await client.signIn("Мария", password)
            let kazakh = try await client.get("/console/", cookies: ["habar_session": theirs])
            #expect(kazakh.status == .ok && kazakh.body.contains("<html lang=\"kk\">"), "the language chosen for her")
            let taken = try await client.post("/console/admin/accounts", ["csrf": page.csrf!, "name": "мария", "role": "viewer", "language": "ru"], cookies: ["habar_session": session])
            #expect(taken.status == .conflict)
            let factor = try await client.post("/console/admin/totp", ["csrf": page.csrf!, "name": "Мария"], cookies: ["habar_session": session])
            #expect(factor.status == .ok && factor.body.contains("otpauth://totp/"))
            let ended = try await client.get("/console/", cookies: ["habar_session": theirs])
            #expect(ended.status == .seeOther, "her sessions ended with the new factor")
        }
        let accounts = try await rig.gateway.store.operatorAccounts()
        #expect(accounts.count == 3 && accounts.first { $0.name == "Мария" }?.totpSecret != nil)
        let audit = try await rig.gateway.store.auditEntries(page: PageRequest()).items.filter { $0.action.hasPrefix("console account") || $0.action == "console second factor" }
        #expect(audit.map(\.status) == [403, 201, 200], "\(audit.map { "\($0.action) \($0.status)" })")
    }
}

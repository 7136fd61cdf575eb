import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

extension TestClientProtocol {
    /// A form with a file, as a browser sends it.
    func upload(_ uri: String, fields: [String: String], file: (name: String, filename: String, content: String), cookies: [String: String]) async throws -> Page {
        let boundary = "----habar\(UInt64.random(in: 0...UInt64.max))"
        var body = ""
        for (name, value) in fields { body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n" }
        body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(file.name)\"; filename=\"\(file.filename)\"\r\nContent-Type: text/csv\r\n\r\n\(file.content)\r\n--\(boundary)--\r\n"
        var headers = Self.cookieHeader(cookies)
        headers[.contentType] = "multipart/form-data; boundary=\(boundary)"
        return try await execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body)) { Page($0) }
    }
}

@Suite("Console: citizens — search, timeline, import")
struct ConsoleCitizenTests {
    func named(_ index: Int, _ name: String, country: String = "IR") -> NewCitizen {
        var citizen = Fixtures.citizen(index, country: country)
        citizen.fullName = name
        return citizen
    }

    @Test("a name in either script or part of a phone finds the person; filters narrow; a viewer may search; markup in a citizen's fields shows as text")
    func search() async throws {
        let rig = try await ConsoleRig()
        let viewer = try await rig.account("Дана", .viewer)
        var hostile = named(3, "<script>alert(1)</script>")
        hostile.city = "<img src=x onerror=alert(2)>"
        hostile.groupId = "<b>g</b>"
        hostile.tags = ["<i>t</i>"]
        _ = try await rig.gateway.store.upsertCitizens([named(1, "Айгүл Серікова"), named(2, "Ерлан Иванов", country: "TR"), hostile])
        try await rig.test { client in
            let session = try await client.signIn("Дана", viewer)
            let latin = try await client.get("/console/citizens?q=Serikova", cookies: ["habar_session": session])
            #expect(latin.status == .ok && latin.body.contains(">Айгүл Серікова</a>") && !latin.body.contains("Ерлан"))
            let phone = try await client.get("/console/citizens?q=%2B7%20701%20000%200002", cookies: ["habar_session": session])
            #expect(phone.body.contains("Ерлан Иванов") && !phone.body.contains("Серікова"))
            #expect(phone.body.contains("<a class=\"phone\" href=\"tel:+77010000002\">"))
            let country = try await client.get("/console/citizens?country=tr", cookies: ["habar_session": session])
            #expect(country.body.contains("Ерлан Иванов") && !country.body.contains("Серікова"))
            let nobody = try await client.get("/console/citizens?q=%D0%BF%D0%B5%D1%82%D1%80%D0%BE%D0%B2", cookies: ["habar_session": session])
            #expect(nobody.body.contains("Никого не найдено."))
            #expect(!latin.body.contains("href=\"/console/citizens/import\""), "a viewer is not offered the import")
            let all = try await client.get("/console/citizens", cookies: ["habar_session": session])
            #expect(!all.body.contains("<script>alert") && all.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!all.body.contains("<img src=x") && !all.body.contains("<b>g</b>"))
            let id = try #require(try await rig.gateway.store.citizenId(phone: "+77010000003"))
            let profile = try await client.get("/console/citizens/\(id)", cookies: ["habar_session": session])
            #expect(!profile.body.contains("<script>alert") && !profile.body.contains("<img src=x") && !profile.body.contains("<i>t</i>"))
            #expect(profile.body.contains("&lt;i&gt;t&lt;/i&gt;"))
        }
    }

    @Test("a citizen's timeline shows the messages with their states, the answers and welfare changes, and the hotline case, newest first, each linked")
    func timeline() async throws {
        let rig = try await ConsoleRig()
        let password = try await rig.account("Айгерим", .operator)
        _ = try await rig.gateway.store.upsertCitizens([named(1, "Айгүл Серікова")])
        let id = try #require(try await rig.gateway.store.citizenId(phone: "+77010000001"))
        let now = rig.clock.now
        let draft = try await rig.gateway.publisher.draft(Fixtures.advisory(expiresAt: now.addingTimeInterval(86_400)), now: now)
        _ = try await rig.gateway.publisher.approve(id: draft.id, by: Actor(name: "Мария"), threshold: 100, now: now)
        rig.clock.advance(60)
        try await rig.gateway.store.recordCheckins([CheckinAnswer(
            citizenId: id, advisoryId: draft.id, meaning: .needsHelp, source: .sms, text: "2 нас трое, нет воды", at: rig.clock.now)])
        rig.clock.advance(3600)
        try await rig.gateway.store.recordCheckins([CheckinAnswer(
            citizenId: id, advisoryId: draft.id, meaning: .safe, source: .link, text: nil, at: rig.clock.now)])
        try await rig.test { client in
            let session = try await client.signIn("Айгерим", password)
            let page = try await client.get("/console/citizens/\(id)", cookies: ["habar_session": session])
            #expect(page.status == .ok)
            #expect(page.body.contains("<dd class=\"welfare\">в безопасности"))
            let help = try #require(page.body.range(of: "Положение: нужна помощь"))
            let safe = try #require(page.body.range(of: "Положение: в безопасности"))
            #expect(safe.lowerBound < help.lowerBound, "newest first")
            #expect(page.body.contains("Сообщение № \(draft.id), версия 1</a> · sms · <strong>"))
            #expect(page.body.contains("href=\"/console/advisories/\(draft.id)\""))
            #expect(page.body.contains("по SMS") && page.body.contains("2 нас трое, нет воды"))
            #expect(page.body.contains("Обращение №") && page.body.contains("просят помощи"), "the hotline case it opened")
            let missing = try await client.get("/console/citizens/999999", cookies: ["habar_session": session])
            #expect(missing.status == .notFound)
        }
    }

    @Test("an imported file's report stands against its lines: the bad line with its field and reason, the good ones imported; a viewer and a forged form import nothing")
    func importReport() async throws {
        let rig = try await ConsoleRig()
        let password = try await rig.account("Айгерим", .operator)
        let viewer = try await rig.account("Дана", .viewer)
        let csv = "fullName;phone;country;language\nАйгүл Серікова;+77010000001;IR;kk\nЕрлан Иванов;+77010000002;Iran;ru\nМария Ким;+77010000003;TR;ru\n"
        try await rig.test { client in
            let other = try await client.signIn("Дана", viewer)
            let viewerPage = try await client.get("/console/citizens", cookies: ["habar_session": other])
            let refused = try await client.upload(
                "/console/citizens/import", fields: ["csrf": viewerPage.csrf!], file: ("file", "tourists.csv", csv), cookies: ["habar_session": other])
            #expect(refused.status == .forbidden)
            let session = try await client.signIn("Айгерим", password)
            let form = try await client.get("/console/citizens/import", cookies: ["habar_session": session])
            #expect(form.status == .ok && form.body.contains("enctype=\"multipart/form-data\""))
            let forged = try await client.upload(
                "/console/citizens/import", fields: ["csrf": "forged"], file: ("file", "tourists.csv", csv), cookies: ["habar_session": session])
            #expect(forged.status == .forbidden)
            #expect(try await rig.gateway.store.countCitizens() == 0, "nothing imported by the refused forms")
            let report = try await client.upload(
                "/console/citizens/import", fields: ["csrf": form.csrf!], file: ("file", "tourists.csv", csv), cookies: ["habar_session": session])
            #expect(report.status == .ok)
            #expect(report.body.contains("Добавлено: 2, обновлено: 0, отклонено строк: 1."))
            let line3 = try #require(ConsoleComposeTests.section(report.body, from: "id=\"line-3\"", to: "</tr>"))
            #expect(line3.contains("<code>Ерлан Иванов;+77010000002;Iran;ru</code>"))
            #expect(line3.contains("class=\"field-error\">country:"))
            let line2 = try #require(ConsoleComposeTests.section(report.body, from: "id=\"line-2\"", to: "</tr>"))
            #expect(!line2.contains("field-error"))
            let strict = try await client.upload(
                "/console/citizens/import", fields: ["csrf": form.csrf!, "mode": "all-or-nothing"],
                file: ("file", "more.csv", "fullName;phone;country\nНовый Человек;+77010000009;IR\nПлохой;12;IR\n"), cookies: ["habar_session": session])
            #expect(strict.status == .unprocessableContent && strict.body.contains("Файл отклонён целиком, ничего не изменено."))
        }
        #expect(try await rig.gateway.store.countCitizens() == 2)
        let audit = try await rig.gateway.store.auditEntries(page: PageRequest()).items.filter { $0.action == "console import" }
        #expect(audit.map(\.status) == [403, 200, 422])
    }
}

import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import HTTPTypes
import Testing

@Suite("Console: composing, correcting and the all-clear")
struct ConsoleComposeTests {
    /// Three citizens in Iran (kk, ru, en), one in Turkey, and a registered meeting point.
    func seed(_ rig: ConsoleRig) async throws -> Place {
        _ = try await rig.gateway.store.upsertCitizens([
            Fixtures.citizen(1, language: .kazakh), Fixtures.citizen(2, language: .russian), Fixtures.citizen(3, language: .english),
            Fixtures.citizen(4, language: .russian, country: "TR"),
        ])
        return try await rig.gateway.places.create(NewPlace(
            id: .unsaved, kind: .meetingPoint,
            name: .perLanguage([.kazakh: "ҚР елшілігі", .russian: "Посольство РК", .english: "Embassy of Kazakhstan"]),
            address: .perLanguage([.kazakh: "Нейматолла көшесі, 4", .russian: "ул. Нейматоллы, 4", .english: "4 Neymatollah St"]),
            location: GeoPoint(lat: 35.75, lon: 51.41), country: "IR", status: .open, updatedBy: "seed"))
    }

    /// A green corridor to Iran by SMS, its meeting point from the registry.
    func fields(_ csrf: String, place: Place, action: String = "preview", now: Date = Date()) -> [String: String] {
        let time = { (hours: Double) in Self.utc(now.addingTimeInterval(hours * 3600)) }
        return [
            "csrf": csrf, "action": action, "kind": "green_corridor", "template": "green_corridor.opened", "severity": "severe", "status": "actual",
            "countries": "ir", "channel.sms": "on", "mode": "fallback", "meetingPointId": String(place.id),
            "route.kk": "Тегеран — Астара", "route.ru": "Тегеран — Астара", "route.en": "Tehran - Astara",
            "borderCrossing.kk": "Астара", "borderCrossing.ru": "Астара", "borderCrossing.en": "Astara",
            "opensAt": time(24), "closesAt": time(36), "timeZone": "Asia/Tehran", "contactPhone": "+982100000000",
            "expiresAt": time(72),
        ]
    }

    @Test("the compose page offers the template's fields and the registered places; the preview counts the audience per language and channel and shows the texts side by side, the English SMS turning UCS-2 at the dash that forces it")
    func preview() async throws {
        let rig = try await ConsoleRig()
        let password = try await rig.account("Айгерим", .operator)
        let place = try await seed(rig)
        try await rig.test { client in
            let session = try await client.signIn("Айгерим", password)
            let page = try await client.get("/console/compose", cookies: ["habar_session": session])
            #expect(page.status == .ok)
            for field in ["name=\"route.kk\"", "name=\"route.ru\"", "name=\"route.en\"", "name=\"meetingPointId\"", "name=\"countries\"", "name=\"channel.sms\"", "name=\"opensAt\""] {
                #expect(page.body.contains(field), "the form has \(field)")
            }
            #expect(page.body.contains("<option value=\"\(place.id)\">Посольство РК (IR, v1)</option>"))
            #expect(page.body.contains("href=\"/console/compose\""), "an operator has the compose link")
            #expect(!page.body.contains("class=\"field-error\""), "no field is blamed before a save was tried")
            let csrf = try #require(page.csrf)
            let plain = try await client.post("/console/compose/preview", fields(csrf, place: place), cookies: ["habar_session": session])
            #expect(plain.status == .ok)
            #expect(plain.body.contains("3 получателя"), "the blast radius: three in Iran, not the one in Turkey")
            #expect(plain.body.contains("<span data-language=\"kk\">kk: <strong>1</strong></span>"))
            #expect(plain.body.contains("<span data-channel=\"sms\">sms: <strong>3</strong></span>"))
            let english = try #require(Self.cell(plain.body, channel: "sms", language: "en"))
            #expect(english.contains("Embassy of Kazakhstan"), "the meeting point's English name from the registry")
            #expect(english.contains("<span class=\"encoding\">GSM-7</span>") && !english.contains("mark class=\"ucs2\""))
            var dashed = fields(csrf, place: place)
            dashed["route.en"] = "Tehran – Astara"  // an en dash is not in GSM-7
            let ucs2 = try await client.post("/console/compose/preview", dashed, cookies: ["habar_session": session])
            let changed = try #require(Self.cell(ucs2.body, channel: "sms", language: "en"))
            #expect(changed.contains("<span class=\"encoding\">UCS-2</span>"))
            #expect(changed.contains("<mark class=\"ucs2\" title=\"UCS-2\">–</mark>"), "the dash is the character marked")
            let kazakh = try #require(Self.cell(ucs2.body, channel: "sms", language: "kk"))
            #expect(kazakh.contains("ҚР елшіл") && !kazakh.contains("nil"))
            // Without JavaScript the Preview button draws the whole page with the same preview.
            let whole = try await client.post("/console/compose", dashed, cookies: ["habar_session": session])
            #expect(whole.status == .ok && whole.body.contains("<mark class=\"ucs2\" title=\"UCS-2\">–</mark>") && whole.body.contains("value=\"Tehran – Astara\""))
        }
    }

    @Test("saving refuses a draft with errors beside their fields and stores nothing; a complete one becomes a draft by the operator, its place resolved, audited")
    func save() async throws {
        let rig = try await ConsoleRig()
        let password = try await rig.account("Айгерим", .operator)
        let place = try await seed(rig)
        try await rig.test { client in
            let session = try await client.signIn("Айгерим", password)
            let csrf = try #require(try await client.get("/console/compose", cookies: ["habar_session": session]).csrf)
            var broken = fields(csrf, place: place, action: "save")
            broken["route.kk"] = ""
            broken["route.ru"] = ""
            broken["route.en"] = ""
            broken["countries"] = "Iran"
            broken["expiresAt"] = "tomorrow"
            let refused = try await client.post("/console/compose", broken, cookies: ["habar_session": session])
            #expect(refused.status == .unprocessableContent)
            #expect(refused.body.contains("Не сохранено: ошибки указаны рядом с полями."))
            let route = try #require(Self.section(refused.body, from: "data-param=\"route\"", to: "data-param=\"borderCrossing\""))
            #expect(route.components(separatedBy: "class=\"field-error\">is required by template").count == 2, "the route's error, once: \(route)")
            #expect(refused.body.contains("<p class=\"field-error\">&#39;tomorrow&#39; is not a date and time") || refused.body.contains("is not a date and time (YYYY-MM-DD HH:MM, UTC)"))
            #expect(refused.body.contains("&#39;IRAN&#39; is not an ISO 3166-1 alpha-2 country code") || refused.body.contains("IRAN"))
            #expect(try await rig.gateway.store.advisories(AdvisoryFilter(), page: PageRequest()).items.isEmpty, "nothing stored")
            let saved = try await client.post("/console/compose", fields(csrf, place: place, action: "save"), cookies: ["habar_session": session])
            #expect(saved.status == .seeOther)
            let location = try #require(saved.headers[.location])
            let stored = try #require(try await rig.gateway.store.advisories(AdvisoryFilter(), page: PageRequest()).items.first)
            #expect(location == "/console/advisories/\(stored.id)?saved=1")
            #expect(stored.status == .draft && stored.author == "Айгерим" && stored.audience.countries == ["IR"] && !stored.exercise)
            #expect(stored.places.map(\.place.id) == [place.id] && stored.params.meetingPointId == place.id)
            let shown = try await client.get(location, cookies: ["habar_session": session])
            #expect(shown.body.contains("Черновик сохранён."))
        }
        let audit = try await rig.gateway.store.auditEntries(page: PageRequest()).items.filter { $0.action == "console draft" }
        #expect(audit.map(\.status) == [422, 201] && audit.allSatisfy { $0.actor == "Айгерим" })
    }

    @Test("an exercise through a live channel is refused beside the channels; through the stub it is saved as an exercise")
    func exercise() async throws {
        var channels = HabarConfiguration().channels
        var live = ChannelConfiguration(name: "sms-live", type: "sms-stub")
        live.exercise = false
        channels.append(live)
        let rig = try await ConsoleRig(channels: channels)
        let password = try await rig.account("Айгерим", .operator)
        let place = try await seed(rig)
        try await rig.test { client in
            let session = try await client.signIn("Айгерим", password)
            let csrf = try #require(try await client.get("/console/compose", cookies: ["habar_session": session]).csrf)
            var live = fields(csrf, place: place, action: "save")
            live["status"] = "exercise"
            live["channel.sms"] = nil
            live["channel.sms-live"] = "on"
            let refused = try await client.post("/console/compose", live, cookies: ["habar_session": session])
            #expect(refused.status == .unprocessableContent)
            #expect(refused.body.contains("<p class=\"field-error\">channel &#39;sms-live&#39; is live; an exercise goes only through channels configured exercise: true"))
            var drill = fields(csrf, place: place, action: "save")
            drill["status"] = "exercise"
            let saved = try await client.post("/console/compose", drill, cookies: ["habar_session": session])
            #expect(saved.status == .seeOther)
        }
        let stored = try #require(try await rig.gateway.store.advisories(AdvisoryFilter(), page: PageRequest()).items.first)
        #expect(stored.exercise && stored.channelPlan.channels == ["sms"])
    }

    @Test("a viewer gets no compose link, page or save, and nothing is stored; a forged token is refused")
    func roles() async throws {
        let rig = try await ConsoleRig()
        let viewer = try await rig.account("Дана", .viewer)
        let operatorPassword = try await rig.account("Айгерим", .operator)
        let place = try await seed(rig)
        try await rig.test { client in
            let session = try await client.signIn("Дана", viewer)
            let dashboard = try await client.get("/console/", cookies: ["habar_session": session])
            #expect(!dashboard.body.contains("href=\"/console/compose\""))
            let page = try await client.get("/console/compose", cookies: ["habar_session": session])
            #expect(page.status == .forbidden && page.body.contains("Чтобы писать сообщения, нужна роль оператора."))
            let posted = try await client.post("/console/compose", fields(dashboard.csrf!, place: place, action: "save"), cookies: ["habar_session": session])
            #expect(posted.status == .forbidden)
            let previewed = try await client.post("/console/compose/preview", fields(dashboard.csrf!, place: place), cookies: ["habar_session": session])
            #expect(previewed.status == .forbidden)
            let other = try await client.signIn("Айгерим", operatorPassword)
            let forged = try await client.post("/console/compose", fields("forged", place: place, action: "save"), cookies: ["habar_session": other])
            #expect(forged.status == .forbidden)
        }
        #expect(try await rig.gateway.store.advisories(AdvisoryFilter(), page: PageRequest()).items.isEmpty)
    }

    @Test("markup typed into any field shows as text in the form and the preview")
    func escaping() async throws {
        let rig = try await ConsoleRig()
        let password = try await rig.account("Айгерим", .operator)
        let place = try await seed(rig)
        try await rig.test { client in
            let session = try await client.signIn("Айгерим", password)
            let csrf = try #require(try await client.get("/console/compose", cookies: ["habar_session": session]).csrf)
            var hostile = fields(csrf, place: place)
            for key in hostile.keys where key.hasPrefix("route.") || key.hasPrefix("borderCrossing.") || key == "contactPhone" || key == "cities" || key == "tags" {
                hostile[key] = "<script>alert(1)</script>\"'"
            }
            let page = try await client.post("/console/compose", hostile, cookies: ["habar_session": session])
            #expect(!page.body.contains("<script>alert"))
            #expect(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            let preview = try await client.post("/console/compose/preview", hostile, cookies: ["habar_session": session])
            #expect(!preview.body.contains("<script>alert") && preview.body.contains("&lt;script&gt;"))
        }
    }

    @Test("from a published advisory: the correction form is prefilled, previews the texts with the correction's lead-in and sends version 2; the all-clear is prefilled to the same audience")
    func correctionAndAllClear() async throws {
        let rig = try await ConsoleRig()
        let now = rig.clock.now
        let password = try await rig.account("Айгерим", .operator)
        _ = try await seed(rig)
        let draft = try await rig.gateway.publisher.draft(Fixtures.advisory(expiresAt: now.addingTimeInterval(86_400)), now: now)
        _ = try await rig.gateway.publisher.approve(id: draft.id, by: Actor(name: "Мария"), threshold: 100, now: now)
        try await rig.test { client in
            let session = try await client.signIn("Айгерим", password)
            let advisoryPage = try await client.get("/console/advisories/\(draft.id)", cookies: ["habar_session": session])
            #expect(advisoryPage.body.contains("href=\"/console/advisories/\(draft.id)/correct\""))
            #expect(advisoryPage.body.contains("href=\"/console/compose?from=\(draft.id)&amp;as=all_clear\""))
            #expect(advisoryPage.body.contains("href=\"/console/advisories/\(draft.id)/cap\""))
            let form = try await client.get("/console/advisories/\(draft.id)/correct", cookies: ["habar_session": session])
            #expect(form.status == .ok && form.body.contains("Исправление сообщения № \(draft.id)"))
            #expect(form.body.contains("name=\"route.ru\" value=\"Тегеран — Астара\""), "prefilled from the advisory")
            #expect(form.body.contains("name=\"contactPhone\" value=\"+982100000000\""))
            var fields = Self.formFields(form.body)
            fields["contactPhone"] = "+982100000099"
            fields["action"] = "preview"
            let preview = try await client.post("/console/advisories/\(draft.id)/correct/preview", fields, cookies: ["habar_session": session])
            let russian = try #require(Self.cell(preview.body, channel: "sms", language: "ru"), "\(preview.body)")
            #expect(russian.contains(">И</mark>справление сообщения от") && russian.contains("+98 21 0000 0099"), "\(preview.body)")
            fields["action"] = "save"
            let sent = try await client.post("/console/advisories/\(draft.id)/correct", fields, cookies: ["habar_session": session])
            #expect(sent.status == .seeOther && sent.headers[.location] == "/console/advisories/\(draft.id)?corrected=sent")
            let allClear = try await client.get("/console/compose?from=\(draft.id)&as=all_clear", cookies: ["habar_session": session])
            #expect(allClear.body.contains("name=\"countries\" value=\"IR\""))
            #expect(allClear.body.contains("<option value=\"general\" selected>"))
            #expect(allClear.body.contains("name=\"text.ru\" value=\"Опасность миновала. Прежние указания больше не действуют."))
            #expect(allClear.body.contains("name=\"text.kk\" value=\"Қауіп сейілді."))
            let cap = try await client.get("/console/advisories/\(draft.id)/cap", cookies: ["habar_session": session])
            #expect(cap.status == .ok && cap.headers[.contentType] == "application/cap+xml; charset=utf-8" && cap.body.contains("<msgType>Update</msgType>"))
        }
        let stored = try #require(try await rig.gateway.store.advisory(id: draft.id))
        #expect(stored.version == 2 && stored.params.contactPhone == "+982100000099")
    }

    @Test("a correction above the threshold waits; the approver's page shows what it would send before approving it")
    func pendingCorrection() async throws {
        let rig = try await ConsoleRig(threshold: 2)
        let now = rig.clock.now
        let password = try await rig.account("Айгерим", .operator)
        let approver = try await rig.account("Мария", .approver)
        _ = try await seed(rig)
        let draft = try await rig.gateway.publisher.draft(Fixtures.advisory(expiresAt: now.addingTimeInterval(86_400)), now: now)
        _ = try await rig.gateway.publisher.approve(id: draft.id, by: Actor(name: "Мария"), threshold: 2, now: now)
        try await rig.test { client in
            let session = try await client.signIn("Айгерим", password)
            let form = try await client.get("/console/advisories/\(draft.id)/correct", cookies: ["habar_session": session])
            var fields = Self.formFields(form.body)
            fields["contactPhone"] = "+982100000077"
            fields["action"] = "save"
            let saved = try await client.post("/console/advisories/\(draft.id)/correct", fields, cookies: ["habar_session": session])
            #expect(saved.headers[.location] == "/console/advisories/\(draft.id)?corrected=pending")
            let theirs = try await client.signIn("Мария", approver)
            let page = try await client.get("/console/advisories/\(draft.id)", cookies: ["habar_session": theirs])
            let pending = try #require(Self.section(page.body, from: "<section class=\"pending warning\">", to: "</section>"))
            #expect(pending.contains("Исправление от Айгерим ждёт утверждения."))
            #expect(pending.contains("+98 21 0000 0077") && pending.contains("справление сообщения от"), "the correction's own texts: \(pending)")
            let approved = try await client.post("/console/advisories/\(draft.id)/approve", ["csrf": page.csrf!], cookies: ["habar_session": theirs])
            #expect(approved.body.contains("Исправление утверждено и отправляется."))
        }
        #expect(try await rig.gateway.store.advisory(id: draft.id)?.version == 2)
    }

    /// A moment as a `datetime-local` field holds it, in UTC.
    static func utc(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm"
        return formatter.string(from: date)
    }

    /// The cell of the side-by-side texts for `channel` and `language`.
    static func cell(_ body: String, channel: String, language: String) -> String? {
        guard let row = section(body, from: "<tr data-channel=\"\(channel)\">", to: "</tr>") else { return nil }
        return section(row, from: "<td data-language=\"\(language)\"", to: "</td>")
    }

    static func section(_ body: String, from start: String, to end: String) -> String? {
        guard let lower = body.range(of: start), let upper = body.range(of: end, range: lower.upperBound..<body.endIndex) else { return nil }
        return String(body[lower.lowerBound..<upper.lowerBound])
    }

    /// The named inputs' values of a form (inputs, selected options, checked boxes), as a browser would send them.
    static func formFields(_ body: String) -> [String: String] {
        var fields: [String: String] = [:]
        let unescape = { (text: String) in
            text.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'").replacingOccurrences(of: "&lt;", with: "<")
                .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
        }
        let input = try! Regex(#"<input([^>]*)>"#)
        for match in body.matches(of: input) {
            let attributes = String(body[match.range])
            guard let name = attributes.firstMatch(of: try! Regex(#"name="([^"]*)""#))?.output[1].substring.map(String.init) else { continue }
            let value = attributes.firstMatch(of: try! Regex(#"value="([^"]*)""#))?.output[1].substring.map(String.init) ?? ""
            if attributes.contains("type=\"checkbox\"") || attributes.contains("type=\"radio\"") {
                if attributes.contains(" checked") { fields[name] = attributes.contains("type=\"checkbox\"") && value.isEmpty ? "on" : (value.isEmpty ? "on" : value) }
                continue
            }
            if fields[name] == nil { fields[name] = unescape(value) }
        }
        let select = try! Regex(#"<select[^>]*name="([^"]*)"[^>]*>(.*?)</select>"#).dotMatchesNewlines()
        for match in body.matches(of: select) {
            guard let name = match.output[1].substring.map(String.init), let options = match.output[2].substring else { continue }
            if let chosen = String(options).firstMatch(of: try! Regex(#"<option value="([^"]*)" selected>"#))?.output[1].substring { fields[name] = unescape(String(chosen)) }
        }
        return fields
    }
}

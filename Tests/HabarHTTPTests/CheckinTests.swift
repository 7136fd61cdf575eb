import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// A published check-in request to a Kazakh- and a Russian-speaking citizen in Iran.
struct CheckinRig {
    let rig: APIRig
    let kazakh: Citizen
    let russian: Citizen
    let advisory: Advisory

    init(
        expiresAt: Date = Date().addingTimeInterval(24 * 3600), channels: [String] = ["sms"], clock: TestClock? = nil,
        _ configure: (inout HabarConfiguration) -> Void = { _ in }
    ) async throws {
        rig = try await APIRig(clock: clock, configure)
        let store = rig.gateway.store
        kazakh = try await store.insertCitizen(Fixtures.citizen(1, language: .kazakh, email: true))
        russian = try await store.insertCitizen(Fixtures.citizen(2, language: .russian))
        let draft = try await rig.gateway.publisher.draft(Fixtures.checkinRequest(channels: channels, expiresAt: expiresAt), now: Date())
        _ = try await rig.gateway.publisher.publish(id: draft.id, approver: "approver-1", now: Date())
        advisory = try #require(try await store.advisory(id: draft.id))
    }

    func token(_ citizen: Citizen) async throws -> String {
        try await rig.gateway.links.token(citizenId: citizen.id, advisoryId: advisory.id)
    }

    func form(_ body: String) -> (Data, String) { (Data(body.utf8), "application/x-www-form-urlencoded") }
}

@Suite("Check-in links")
struct CheckinLinkTests {
    @Test("the page is in the citizen's language (kk and ru), with two large buttons and a note, no script, small-screen ready")
    func pages() async throws {
        let c = try await CheckinRig()
        let kk = try await c.token(c.kazakh), ru = try await c.token(c.russian)
        #expect(kk.count == 22 && kk.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
        try await c.rig.run { api in
            let kazakh = try await api.call(.get, "/c/\(kk)")
            #expect(kazakh.status == 200 && kazakh.contentType.hasPrefix("text/html"))
            #expect(kazakh.text.contains("<html lang=\"kk\">") && kazakh.text.contains("<h1>Қауіпсіз жердесіз бе?</h1>"))
            #expect(kazakh.text.contains("value=\"safe\">Мен қауіпсіз жердемін</button>") && kazakh.text.contains("value=\"need_help\">Маған көмек керек</button>"))
            #expect(kazakh.text.contains("<textarea id=\"note\" name=\"note\""))
            // An absolute deadline, its time in the dative before «дейін» (until): «…-ге дейін (Тегеран уақыты)».
            #expect(kazakh.text.range(of: #"\d\d:\d\d-(ға|ге|қа|ке) дейін \(Тегеран уақыты\)"#, options: .regularExpression) != nil, "\(kazakh.text)")
            #expect(kazakh.text.contains("name=\"viewport\" content=\"width=device-width, initial-scale=1\""))
            #expect(!kazakh.text.lowercased().contains("<script") && kazakh.headers[.cacheControl] == "no-store")
            let russian = try await api.call(.get, "/c/\(ru)")
            #expect(russian.text.contains("<html lang=\"ru\">") && russian.text.contains("<h1>Вы в безопасности?</h1>"))
            #expect(russian.text.contains("Я в безопасности</button>") && russian.text.contains("Мне нужна помощь</button>"))
            #expect(russian.text.contains("Консул: +98 21 2256 5933"), "\(russian.text)")
        }
    }

    @Test("a change the publisher commits shows on an open page at once, whoever made it (here the core service, not the API): a correction, then a cancellation")
    func changesDropThePage() async throws {
        let c = try await CheckinRig()
        let token = try await c.token(c.russian)
        try await c.rig.run { api in
            #expect(try await api.call(.get, "/c/\(token)").text.contains("Консул: +98 21 2256 5933"))
            var params = c.advisory.params
            params.contactPhone = "+982100000000"
            let outcome = try await c.rig.gateway.publisher.correct(
                id: c.advisory.id, AdvisoryCorrection(params: params), by: Actor(name: "operator-2"), threshold: 100, now: Date())
            guard case .published = outcome else { Issue.record("the correction waits: \(outcome)"); return }
            let corrected = try await api.call(.get, "/c/\(token)")
            #expect(corrected.text.contains("Консул: +98 21 0000 0000") && !corrected.text.contains("2256 5933"), "\(corrected.text)")
            _ = try await c.rig.gateway.publisher.cancel(id: c.advisory.id, notice: false, by: Actor(name: "approver-1"), now: Date())
            #expect(try await api.call(.get, "/c/\(token)").status == 404, "a cancelled advisory's link closes at once")
        }
    }

    @Test("forged, altered, unknown-advisory and cancelled tokens get a plain 404 page and record nothing")
    func refused() async throws {
        let c = try await CheckinRig()
        let good = try await c.token(c.kazakh)
        var altered = Array(good)
        altered[3] = altered[3] == "A" ? "B" : "A"
        let otherAdvisory = try await c.rig.gateway.links.token(citizenId: c.kazakh.id, advisoryId: c.advisory.id + 1)
        let otherCitizen = try await c.rig.gateway.links.token(citizenId: 999_999, advisoryId: c.advisory.id)
        let alteredToken = String(altered)
        try await c.rig.run { api in
            for token in ["AAAAAAAAAAAAAAAAAAAAAA", alteredToken, String(good.dropLast()), good + "A", otherAdvisory, otherCitizen, "..%2F..%2Fetc"] {
                let page = try await api.call(.get, "/c/\(token)")
                #expect(page.status == 404 && page.text.contains("Сілтеме жарамсыз") && page.text.contains("Ссылка недействительна"), "\(token)")
                let post = try await api.call(.post, "/c/\(token)", body: Data("status=safe".utf8), contentType: "application/x-www-form-urlencoded")
                #expect(post.status == 404, "\(token)")
            }
        }
        try await c.rig.run { api in
            let cancelled = try await api.call(.post, "/v1/advisories/\(c.advisory.id)/cancel", json: "{}", as: .some(c.rig.tokens[.approver]))
            #expect(cancelled.status == 200)
            let page = try await api.call(.get, "/c/\(good)")
            let post = try await api.call(.post, "/c/\(good)", body: Data("status=safe".utf8), contentType: "application/x-www-form-urlencoded")
            #expect(page.status == 404 && post.status == 404)
        }
        #expect(try await c.rig.gateway.store.checkins(CheckinFilter(), page: PageRequest()).items.isEmpty)
        #expect(try await c.rig.gateway.store.citizen(id: c.kazakh.id)?.welfareStatus == .unknown)
    }

    @Test("a token stops working when its advisory expires")
    func expired() async throws {
        // The gateway's clock, moved by hand: the advisory expires in an hour of it.
        let clock = TestClock(Date())
        let c = try await CheckinRig(expiresAt: clock.now.addingTimeInterval(3600), clock: clock)
        let token = try await c.token(c.russian)
        try await c.rig.run { api in
            let page = try await api.call(.get, "/c/\(token)")
            #expect(page.status == 200)
        }
        clock.advance(3601)  // past the expiry (stored to the millisecond)
        try await c.rig.run { api in
            let page = try await api.call(.get, "/c/\(token)")
            let post = try await api.call(.post, "/c/\(token)", body: Data("status=safe".utf8), contentType: "application/x-www-form-urlencoded")
            #expect(page.status == 404 && post.status == 404)
        }
        #expect(try await c.rig.gateway.store.checkins(CheckinFilter(), page: PageRequest()).items.isEmpty)
    }

    @Test("answering: the confirmation page; a second answer replaces the first (one answer per citizen and request); help opens a case; a form without an answer records nothing")
    func answering() async throws {
        let c = try await CheckinRig()
        let token = try await c.token(c.kazakh)
        let store = c.rig.gateway.store
        try await c.rig.run { api in
            let empty = try await api.call(.post, "/c/\(token)", body: Data("note=hello".utf8), contentType: "application/x-www-form-urlencoded")
            #expect(empty.status == 422 && empty.text.contains("Жауапты таңдаңыз"))
            #expect(try await store.checkins(CheckinFilter(), page: PageRequest()).items.isEmpty)

            let safe = try await api.call(.post, "/c/\(token)", body: Data("status=safe&note=".utf8), contentType: "application/x-www-form-urlencoded")
            #expect(safe.status == 200 && safe.text.contains("Рақмет! Қауіпсіз жерде екеніңіз белгіленді."))
            #expect(try await store.citizen(id: c.kazakh.id)?.welfareStatus == .safe)
            let help = try await api.call(
                .post, "/c/\(token)", body: Data("status=need_help&note=%D0%91%D1%96%D0%B7+%D0%B1%D0%B5%D1%81+%D0%B0%D0%B4%D0%B0%D0%BC%D0%B1%D1%8B%D0%B7".utf8),
                contentType: "application/x-www-form-urlencoded")
            #expect(help.status == 200 && help.text.contains("Көмек туралы өтінішіңіз қабылданды"))

            let listed = try await api.call(.get, "/v1/checkins?advisoryId=\(c.advisory.id)", as: .some(c.rig.tokens[.viewer]))
            let items = listed.json["items"] as? [[String: Any]] ?? []
            #expect(items.count == 1 && items.first?["status"] as? String == "needs_help" && items.first?["note"] as? String == "Біз бес адамбыз")
            #expect(items.first?["source"] as? String == "link")
            let citizen = try await api.call(.get, "/v1/citizens/\(c.kazakh.id)", as: .some(c.rig.tokens[.viewer]))
            #expect(citizen.json["checkinStatus"] as? String == "needs_help" && citizen.json["lastContactSource"] as? String == "link")
            #expect((citizen.json["welfareHistory"] as? [[String: Any]])?.map { $0["status"] as? String } == ["needs_help", "safe"])

            let cases = try await api.call(.get, "/v1/cases", as: .some(c.rig.tokens[.operator]))
            let queue = cases.json["items"] as? [[String: Any]] ?? []
            #expect(queue.count == 1 && queue.first?["reason"] as? String == "needs_help" && queue.first?["status"] as? String == "open")
            #expect((queue.first?["entries"] as? [[String: Any]])?.last?["text"] as? String == "link, needs help: Біз бес адамбыз")
        }
    }
}

@Suite("Hotline cases")
struct CaseTests {
    @Test("SMS replies: understood ones set welfare and are confirmed in the citizen's language on the channel they came in on; unclear ones open a free-text case; strangers get nothing")
    func processing() async throws {
        let c = try await CheckinRig()
        let store = c.rig.gateway.store
        let third = try await store.insertCitizen(Fixtures.citizen(3, language: .russian))
        let draft = try await c.rig.gateway.publisher.draft(Fixtures.checkinRequest(), now: Date())
        _ = try await c.rig.gateway.publisher.publish(id: draft.id, approver: "approver-1", now: Date())
        func sms(_ from: String, _ text: String, id: String) async throws {
            _ = try await store.recordInboundSMS(NewInboundSMS(
                id: .unsaved, channel: "sms", sender: from, receiver: "1444", text: text, sentAt: nil, receivedAt: Date(), providerMessageId: id))
        }
        try await sms(c.kazakh.phone!.e164, "Аманмын", id: "m1")
        try await sms(c.russian.phone!.e164, "помогите!", id: "m2")
        try await sms(third.phone!.e164, "когда будет автобус до границы?", id: "m3")
        try await sms("+905551112233", "1", id: "m4")
        #expect(try await c.rig.gateway.checkinProcessor.processBatch() == 4)
        #expect(try await c.rig.gateway.checkinProcessor.processBatch() == 0)

        #expect(try await store.citizen(id: c.kazakh.id)?.welfareStatus == .safe)
        #expect(try await store.citizen(id: c.russian.id)?.welfareStatus == .needsHelp)
        #expect(try await store.citizen(id: third.id)?.welfareStatus == .unknown)
        // The newest open request is the one answered.
        #expect(try await store.checkins(CheckinFilter(advisoryId: draft.id), page: PageRequest()).items.count == 2)

        let queue = try await store.cases(CaseFilter(), page: PageRequest()).items
        #expect(queue.map(\.reason) == [.needsHelp, .freeText])
        #expect(queue.last?.entries.first?.text == "когда будет автобус до границы?")
        // One confirmation per reply, in the citizen's language, on the reply's channel; none to the stranger.
        let follow = try await store.deliveries(DeliveryFilter(advisoryId: draft.id), page: PageRequest(limit: 100)).items.filter { $0.purpose != .advisory }
        #expect(follow.map(\.purpose.rawValue).sorted() == ["confirm_help", "confirm_received", "confirm_safe"])
        #expect(follow.allSatisfy { $0.advisoryVersion == 1 }, "a follow-up carries the version it follows")
        #expect(follow.allSatisfy { $0.steps == ["sms"] })
        let texts = try c.rig.gateway.publisher.renderFollowUp(try #require(try await store.advisory(id: draft.id)), .confirmSafe, kinds: [.sms], now: Date())
        #expect(texts[.kazakh]?[.sms]?.text.hasPrefix("ҚР СІМ: рақмет, қауіпсіз екеніңіз белгіленді.") == true)
    }

    @Test("a citizen every delivery to whom failed becomes unreached (with a history entry), and counts so in the tallies")
    func unreached() async throws {
        let c = try await CheckinRig()
        let store = c.rig.gateway.store
        let now = Date()
        let claimed = try await store.claimDeliveries(
            channel: "sms", kind: .sms, address: .phone, limit: 10, owner: "t", leaseUntil: now.addingTimeInterval(60), now: now)
        #expect(claimed.count == 2)
        let failing = try #require(claimed.first { $0.message.citizenId == c.russian.id })
        try await store.recordOutcomes(
            [DeliveryOutcome(deliveryId: failing.deliveryId, step: failing.step, channel: "sms", result: .failed(reason: "number does not exist"))],
            owner: "t", now: now)
        #expect(try await store.citizen(id: c.russian.id)?.welfareStatus == .unreached)
        #expect(try await store.citizen(id: c.kazakh.id)?.welfareStatus == .unknown)
        #expect(try await store.welfareHistory(citizenId: c.russian.id, limit: 5).map(\.status) == ["unreached"])
        let tally = try await store.checkinTally(advisoryId: c.advisory.id)
        #expect(tally.total == ["safe": 0, "needs_help": 0, "no_answer": 1, "unreached": 1], "\(tally)")
        #expect(tally.byLanguage["ru"] == ["unreached": 1] && tally.byCountry["IR"]?["no_answer"] == 1)
    }

    @Test("the queue: help before free text before silence; assign, note and resolve; one open case per citizen; operators only")
    func queue() async throws {
        let c = try await CheckinRig()
        let store = c.rig.gateway.store
        let now = Date()
        try await store.recordCheckins([
            CheckinAnswer(citizenId: c.kazakh.id, advisoryId: c.advisory.id, meaning: .unclear, source: .sms, text: "алло?", at: now),
            CheckinAnswer(citizenId: c.russian.id, advisoryId: c.advisory.id, meaning: .needsHelp, source: .sms, text: "помогите", at: now.addingTimeInterval(1)),
            CheckinAnswer(citizenId: c.kazakh.id, advisoryId: c.advisory.id, meaning: .needsHelp, source: .sms, text: "көмек керек", at: now.addingTimeInterval(2)),
        ])
        try await c.rig.run { api in
            let op = c.rig.tokens[.operator]
            let viewer = try await api.call(.get, "/v1/cases", as: .some(c.rig.tokens[.viewer]))
            #expect(viewer.status == 403)
            let list = try await api.call(.get, "/v1/cases", as: .some(op))
            let items = list.json["items"] as? [[String: Any]] ?? []
            // The Kazakh citizen's reply joined their open case and raised it to needs_help.
            #expect(items.count == 2 && items.allSatisfy { $0["reason"] as? String == "needs_help" })
            #expect(items.first?["citizenId"] as? Int == Int(c.kazakh.id))
            #expect((items.first?["entries"] as? [[String: Any]])?.map { $0["text"] as? String } == ["алло?", "көмек керек"])
            let caseId = items.first?["id"] as? Int ?? 0
            let assigned = try await api.call(.patch, "/v1/cases/\(caseId)", json: #"{"assignee": "Дана", "note": "Позвонила, не отвечает"}"#, as: .some(op))
            #expect(assigned.status == 200 && assigned.json["status"] as? String == "assigned" && assigned.json["assignee"] as? String == "Дана")
            let resolved = try await api.call(.patch, "/v1/cases/\(caseId)", json: #"{"status": "resolved", "note": "Эвакуирована"}"#, as: .some(op))
            #expect(resolved.json["status"] as? String == "resolved" && resolved.json["resolvedAt"] != nil)
            let entries = (resolved.json["entries"] as? [[String: Any]] ?? []).map { "\($0["kind"] as? String ?? ""):\($0["text"] as? String ?? "")" }
            #expect(entries.suffix(4) == ["status:assigned to Дана", "note:Позвонила, не отвечает", "status:resolved", "note:Эвакуирована"])
            let unknownField = try await api.call(.patch, "/v1/cases/\(caseId)", json: #"{"priority": 1}"#, as: .some(op))
            let nothing = try await api.call(.patch, "/v1/cases/\(caseId)", json: #"{}"#, as: .some(op))
            let missing = try await api.call(.patch, "/v1/cases/999999", json: #"{"note": "x"}"#, as: .some(op))
            #expect(unknownField.status == 400 && nothing.status == 422 && missing.status == 404)
            // A new reply after resolution opens a new case.
            try await store.recordCheckins([CheckinAnswer(citizenId: c.kazakh.id, advisoryId: c.advisory.id, meaning: .unclear, source: .sms, text: "ещё вопрос", at: Date())])
            let open = try await api.call(.get, "/v1/cases?status=open&citizenId=\(c.kazakh.id)", as: .some(op))
            #expect((open.json["items"] as? [[String: Any]])?.map { $0["reason"] as? String } == ["free_text"])
            // Reopening the resolved one while another is open is a conflict.
            let reopen = try await api.call(.patch, "/v1/cases/\(caseId)", json: #"{"status": "open"}"#, as: .some(op))
            #expect(reopen.status == 409)
        }
    }

    @Test("reminders go before the deadline to those who have not answered, on another channel of the plan; at the deadline the silent ones join the queue")
    func remindersAndEscalation() async throws {
        // An e-mail channel that is never reached here (no dispatcher runs): the plan's second channel.
        let c = try await CheckinRig {
            $0.channels.append(ChannelConfiguration(name: "email", type: "smtp", options: .object([
                "host": .string("127.0.0.1"), "port": .number(9), "security": .string("none"), "fromAddress": .string("alerts@mfa.habar.test"),
            ])))
        }
        let store = c.rig.gateway.store
        let third = try await store.insertCitizen(Fixtures.citizen(3, language: .russian, email: true))
        let now = Date()
        let deadline = now.addingTimeInterval(30 * 60)
        let request = Fixtures.checkinRequest(deadline: deadline, channels: ["sms", "email"])
        let draft = try await c.rig.gateway.publisher.draft(request, now: now)
        _ = try await c.rig.gateway.publisher.publish(id: draft.id, approver: "approver-1", now: now)
        try await store.recordCheckins([CheckinAnswer(citizenId: c.kazakh.id, advisoryId: draft.id, meaning: .safe, source: .link, text: nil, at: now)])
        let scheduler = CheckinScheduler(store: store, publisher: c.rig.gateway.publisher, reminderLead: 3600, logger: .init(label: "t"), now: { now })
        #expect(try await scheduler.tick().reminded == 2)
        #expect(try await scheduler.tick().reminded == 0)  // once
        let reminders = try await store.deliveries(DeliveryFilter(advisoryId: draft.id), page: PageRequest()).items
            .filter { $0.purpose == .reminder }
        // The request went by SMS; the reminder by e-mail to whoever has an address, else SMS again.
        #expect(Dictionary(uniqueKeysWithValues: reminders.map { ($0.citizenId!, $0.steps) }) == [c.russian.id: ["sms"], third.id: ["email"]])
        let later = CheckinScheduler(store: store, publisher: c.rig.gateway.publisher, reminderLead: 3600, logger: .init(label: "t"), now: { deadline.addingTimeInterval(1) })
        #expect(try await later.tick().escalated == 2)
        #expect(try await later.tick().escalated == 0)
        let silent = try await store.cases(CaseFilter(reason: .silent), page: PageRequest()).items
        #expect(Set(silent.compactMap(\.citizenId)) == [c.russian.id, third.id] && silent.allSatisfy { $0.advisoryId == draft.id })
    }
}

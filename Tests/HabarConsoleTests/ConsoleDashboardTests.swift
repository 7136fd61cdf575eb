import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import HTTPTypes
import Testing

@Suite("Console: the dashboard's welfare and channel health; the advisory page's outcome")
struct ConsoleDashboardTests {
    @Test("welfare by country puts the country with people needing help first; each channel shows its state, waiting sends, pace and time to the last recipient; a sent advisory's page has its counts per language, a chart and its check-in tallies")
    func dashboardAndOutcome() async throws {
        let rig = try await ConsoleRig()
        let password = try await rig.account("Айгерим", .operator)
        _ = try await rig.gateway.store.upsertCitizens([
            Fixtures.citizen(1, language: .kazakh), Fixtures.citizen(2, language: .russian), Fixtures.citizen(3, language: .english),
            Fixtures.citizen(4, country: "TR"), Fixtures.citizen(5, country: "TR"), Fixtures.citizen(6, country: "TR"), Fixtures.citizen(7, country: "TR"),
        ])
        let now = rig.clock.now
        let draft = try await rig.gateway.publisher.draft(Fixtures.advisory(expiresAt: now.addingTimeInterval(86_400)), now: now)
        _ = try await rig.gateway.publisher.approve(id: draft.id, by: Actor(name: "Мария"), threshold: 100, now: now)
        let helper = try #require(try await rig.gateway.store.citizenId(phone: "+77010000002"))
        try await rig.gateway.store.recordCheckins([CheckinAnswer(citizenId: helper, advisoryId: draft.id, meaning: .needsHelp, source: .sms, text: "2", at: now)])
        try await rig.test { client in
            let session = try await client.signIn("Айгерим", password)
            // The dispatcher runs with the application: wait until the stub has all three.
            for _ in 0..<200 {
                let counts = try await rig.gateway.store.deliveryCounts(advisoryId: draft.id)
                if counts.filter({ $0.state != .queued && $0.state != .sending && $0.state != .retrying }).reduce(0, { $0 + $1.count }) >= 3 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            let board = try await client.get("/console/", cookies: ["habar_session": session])
            let welfare = try #require(ConsoleComposeTests.section(board.body, from: "<table class=\"welfare\">", to: "</table>"))
            let iran = try #require(welfare.range(of: "data-country=\"IR\""))
            let turkey = try #require(welfare.range(of: "data-country=\"TR\""))
            #expect(iran.lowerBound < turkey.lowerBound, "Iran, where one needs help, before Turkey with more people")
            #expect(welfare.contains("<tr data-country=\"IR\" class=\"urgent\">"))
            #expect(welfare.contains("checkinStatus=needs_help\">1</a>"))
            let health = try #require(ConsoleComposeTests.section(board.body, from: "<table class=\"health\">", to: "</table>"))
            #expect(health.contains("<tr data-channel=\"sms\"><th scope=\"row\">sms</th><td class=\"state\">работает</td><td class=\"queued\">0</td>"))
            #expect(health.contains("<td class=\"eta\">всё отправлено</td>"))
            let page = try await client.get("/console/advisories/\(draft.id)", cookies: ["habar_session": session])
            let languages = try #require(ConsoleComposeTests.section(page.body, from: "<table class=\"by-language\">", to: "</table>"))
            for tag in ["kk", "ru", "en"] { #expect(languages.contains("<tr data-language=\"\(tag)\">"), "a row for \(tag)") }
            #expect(page.body.contains("<svg viewBox=\"0 0 720 180\"") && page.body.contains("<polyline class=\"line handed\""))
            #expect(page.body.contains("<span class=\"legend handed\">Передано оператору: 3</span>"))
            let tally = try #require(ConsoleComposeTests.section(page.body, from: "<ul class=\"counts tally\">", to: "</ul>"))
            #expect(tally.contains("нужна помощь: <strong>1</strong>") && tally.contains("нет ответа: <strong>2</strong>"))
        }
    }

    @Test("the time to the last recipient: at the pace when sending, at the limit when idle, unknown without either")
    func eta() {
        let idle = ChannelHealth(name: "sms", pausedUntil: nil, rateLimit: 50, currentRate: 0, lastError: nil, lastErrorAt: nil)
        #expect(idle.secondsToSend(3000) == 60)
        let busy = ChannelHealth(name: "sms", pausedUntil: nil, rateLimit: 50, currentRate: 20, lastError: nil, lastErrorAt: nil)
        #expect(busy.secondsToSend(3000) == 150)
        let unknown = ChannelHealth(name: "email", pausedUntil: nil, rateLimit: nil, currentRate: 0, lastError: nil, lastErrorAt: nil)
        #expect(unknown.secondsToSend(10) == nil && unknown.secondsToSend(0) == 0)
        let activity = ChannelActivity()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        for second in 0..<10 {
            activity.record((0..<20).map { DeliveryOutcome(deliveryId: Int64($0), step: 0, channel: "sms", result: .sent(providerMessageId: nil)) }, at: start.addingTimeInterval(Double(second)))
        }
        activity.record([DeliveryOutcome(deliveryId: 1, step: 0, channel: "sms", result: .failed(reason: "HTTP 503 from Kannel"))], at: start.addingTimeInterval(9))
        #expect(activity.rate(overLast: 10, at: start.addingTimeInterval(10)) == 20)
        #expect(activity.rate(overLast: 10, at: start.addingTimeInterval(100)) == 0, "a minute later nothing is counted")
        #expect(activity.lastError?.reason == "HTTP 503 from Kannel")
    }
}

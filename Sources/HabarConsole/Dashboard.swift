import Foundation
import HabarCore
import HabarHTTP
import HabarMessages

/// What the dashboard shows: every advisory in force with its progress (queued, sent,
/// delivered, failed) per channel, and the open hotline cases by reason.
enum Dashboard {
    /// A delivery state as the dashboard groups it.
    enum Column: String, CaseIterable {
        case queued, sent, delivered, failed

        static func of(_ state: DeliveryState) -> Column? {
            switch state {
            case .queued, .retrying, .sending: .queued
            case .sent: .sent
            case .delivered: .delivered
            case .failed, .expired: .failed
            case .cancelled: nil
            }
        }
    }

    static func read(gateway: Gateway, board: ProgressBoard, language: Language, pages: ConsolePages) async throws -> [String: Any] {
        let now = gateway.now()
        // The advisories in force right now: an operator back from approving one sees it at
        // once, not after the shared figures' next read (up to a second later, and then with a
        // reload of the page).
        let asked = ContinuousClock.now
        let inForce = Set(try await ProgressBoard.inForce(gateway).map(\.id))
        var snapshot = try await board.snapshot()
        if Set(snapshot.advisories.map(\.id)) != inForce { snapshot = try await board.snapshot(readSince: asked) }
        let advisories = snapshot.advisories
        var rows: [[String: Any]] = []
        var waitingByChannel: [String: Int] = [:]
        for advisory in advisories {
            let channels = snapshot.progress[advisory.id] ?? []
            for channel in channels { waitingByChannel[channel.channel, default: 0] += channel.queued }
            let perChannel = channels.map(\.values)
            rows.append([
                "id": advisory.id, "kind": pages.text("console.kind." + advisory.kind.rawValue, language),
                "severity": pages.text("console.severity." + advisory.severity.rawValue, language),
                "template": advisory.template, "version": advisory.version, "channels": perChannel, "exercise": advisory.exercise,
                "mode": pages.text(advisory.exercise ? "console.exercise.label" : "console.live.label", language),
                "hasChannels": !perChannel.isEmpty, "interrupted": advisory.interruptedAt != nil,
            ])
        }
        let open = try await gateway.roles.checkins.cases(CaseFilter(status: .open), page: PageRequest(limit: PageRequest.maxLimit)).items
        let assigned = try await gateway.roles.checkins.cases(CaseFilter(status: .assigned), page: PageRequest(limit: PageRequest.maxLimit)).items
        var byReason: [CaseReason: Int] = [:]
        for hotlineCase in open + assigned { byReason[hotlineCase.reason, default: 0] += 1 }
        let reasons = CaseReason.allCases.map { reason -> [String: Any] in
            ["reason": pages.text("console.case_reason." + reason.rawValue, language), "count": byReason[reason] ?? 0]
        }
        // Waiting for a second person: drafts not yet approved, and corrections pending.
        let drafts = try await gateway.roles.publishing.advisories(AdvisoryFilter(status: .draft, scheduled: false), page: PageRequest(limit: PageRequest.maxLimit)).items
        let corrections = advisories.filter { $0.pendingCorrection != nil }
        let waiting = (drafts + corrections).map { advisory -> [String: Any] in
            [
                "id": advisory.id, "exercise": advisory.exercise, "author": advisory.pendingCorrection?.author ?? advisory.author,
                "mode": pages.text(advisory.exercise ? "console.exercise.label" : "console.live.label", language),
                "kind": pages.text("console.kind." + advisory.kind.rawValue, language),
                "what": pages.text(advisory.pendingCorrection == nil ? "console.dashboard.draft" : "console.dashboard.correction", language),
            ]
        }
        return [
            "advisories": rows, "noAdvisories": rows.isEmpty, "caseReasons": reasons, "waiting": waiting, "hasWaiting": !waiting.isEmpty,
            "channelHealth": health(gateway: gateway, waiting: waitingByChannel, language: language, pages: pages, now: now),
            "welfare": welfare(snapshot.welfare),
        ]
    }

    /// Each channel: sending or paused (until when), its limit and pace, how many wait, the
    /// time to hand them all over at that pace, and the provider's last error.
    static func health(gateway: Gateway, waiting: [String: Int], language: Language, pages: ConsolePages, now: Date) -> [[String: Any]] {
        gateway.dispatcher.health(at: now).map { channel in
            let queued = waiting[channel.name] ?? 0
            var row: [String: Any] = [
                "channel": channel.name, "queued": queued, "rate": String(format: "%.1f", channel.currentRate),
                "limit": channel.rateLimit.map { String(format: "%.0f", $0) } ?? "—",
                "state": pages.text(channel.pausedUntil == nil ? "console.health.sending" : "console.health.paused", language, [
                    "until": .text(channel.pausedUntil.map { ConsoleController.moment($0) } ?? ""),
                ]),
                "paused": channel.pausedUntil != nil,
                "eta": channel.secondsToSend(queued).map { duration($0, language, pages) } ?? "—",
            ]
            if let error = channel.lastError {
                row["lastError"] = error
                row["lastErrorAt"] = channel.lastErrorAt.map { ConsoleController.moment($0) } ?? ""
            }
            return row
        }
    }

    /// A duration as an operator reads it: seconds under two minutes, else minutes, else hours and minutes.
    static func duration(_ seconds: Double, _ language: Language, _ pages: ConsolePages) -> String {
        if seconds < 1 { return pages.text("console.health.done", language) }
        if seconds < 120 { return pages.text("console.health.seconds", language, ["count": .number(seconds.rounded(.up))]) }
        let minutes = (seconds / 60).rounded(.up)
        if minutes < 120 { return pages.text("console.health.minutes", language, ["count": .number(minutes)]) }
        return pages.text("console.health.hours", language, ["hours": .number((minutes / 60).rounded(.down)), "minutes": .number(minutes.truncatingRemainder(dividingBy: 60))])
    }

    /// Welfare by country: needs help, unreached, no answer yet, safe; the countries with
    /// the most people needing help first.
    static func welfare(_ totals: [WelfareTotal]) -> [[String: Any]] {
        var byCountry: [String: [WelfareStatus: Int]] = [:]
        for total in totals { byCountry[total.country, default: [:]][total.status, default: 0] += total.count }
        return byCountry.sorted { a, b in
            let (helpA, helpB) = (a.value[.needsHelp] ?? 0, b.value[.needsHelp] ?? 0)
            if helpA != helpB { return helpA > helpB }
            let (allA, allB) = (a.value.values.reduce(0, +), b.value.values.reduce(0, +))
            return allA != allB ? allA > allB : a.key < b.key
        }.map { country, counts in
            [
                "country": country, "needsHelp": counts[.needsHelp] ?? 0, "unreached": counts[.unreached] ?? 0,
                "unknown": counts[.unknown] ?? 0, "safe": counts[.safe] ?? 0, "total": counts.values.reduce(0, +),
                "urgent": (counts[.needsHelp] ?? 0) > 0,
            ]
        }
    }

    /// Queued, sent, delivered and failed per channel of one advisory, read now.
    static func progress(gateway: Gateway, advisoryId: Int64) async throws -> [[String: Any]] {
        ChannelProgress.of(try await gateway.roles.deliveries.deliveryCounts(advisoryId: advisoryId)).map(\.values)
    }
}

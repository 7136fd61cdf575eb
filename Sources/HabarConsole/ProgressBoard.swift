import Foundation
import HabarCore
import HabarHTTP

/// One channel's progress for one advisory: queued (incl. retrying and being sent), sent,
/// delivered, failed (incl. expired), and the share handed over.
struct ChannelProgress: Sendable, Hashable {
    var channel: String
    var queued = 0, sent = 0, delivered = 0, failed = 0

    var total: Int { queued + sent + delivered + failed }
    var done: Int { sent + delivered + failed }
    var percent: Int { total == 0 ? 0 : done * 100 / total }

    var values: [String: Any] {
        ["channel": channel, "queued": queued, "sent": sent, "delivered": delivered, "failed": failed, "total": total, "done": done, "percent": percent]
    }

    /// Per channel from the store's counts (cancelled ones are not shown).
    static func of(_ counts: [DeliveryCount]) -> [ChannelProgress] {
        var channels: [String: ChannelProgress] = [:]
        for count in counts {
            guard let column = Dashboard.Column.of(count.state) else { continue }
            var progress = channels[count.channel] ?? ChannelProgress(channel: count.channel)
            switch column {
            case .queued: progress.queued += count.count
            case .sent: progress.sent += count.count
            case .delivered: progress.delivered += count.count
            case .failed: progress.failed += count.count
            }
            channels[count.channel] = progress
        }
        return channels.values.sorted { $0.channel < $1.channel }
    }
}

/// What every open dashboard shows, read at most once a second however many operators
/// watch: the advisories in force with their progress, and the welfare totals. Page renders
/// and event streams share it; a reader that finds it older than it may accept waits for
/// the one refresh in flight instead of starting its own.
actor ProgressBoard {
    struct Snapshot: Sendable {
        var taken: ContinuousClock.Instant
        var advisories: [Advisory]
        var progress: [Int64: [ChannelProgress]]
        var welfare: [WelfareTotal]
    }

    let gateway: Gateway
    private var current: Snapshot?
    private var refreshing: (started: ContinuousClock.Instant, task: Task<Snapshot, any Error>)?

    init(gateway: Gateway) { self.gateway = gateway }

    /// Every open dashboard's figures, at most `maxAge` old; with `readSince`, read (begun)
    /// no earlier than that instant: a page that knows the set of advisories changed since
    /// waits for a read that shows the change.
    func snapshot(maxAge: Duration = .seconds(1), readSince: ContinuousClock.Instant? = nil) async throws -> Snapshot {
        let since = max(ContinuousClock.now - maxAge, readSince ?? .now - maxAge)
        if let current, current.taken >= since { return current }
        if let refreshing, refreshing.started >= since { return try await refreshing.task.value }
        let gateway = self.gateway
        let started = ContinuousClock.now
        let task = Task { try await Self.read(gateway, taken: started) }
        refreshing = (started, task)
        do {
            let fresh = try await task.value
            if current.map({ $0.taken < fresh.taken }) ?? true { current = fresh }
            if refreshing?.started == started { refreshing = nil }
            return fresh
        } catch {
            if refreshing?.started == started { refreshing = nil }
            throw error
        }
    }

    /// The advisories in force now, as the board lists them.
    static func inForce(_ gateway: Gateway) async throws -> [Advisory] {
        try await gateway.roles.publishing.advisories(
            AdvisoryFilter(status: .published, inForceAt: gateway.now()), page: PageRequest(limit: PageRequest.maxLimit)).items
    }

    static func read(_ gateway: Gateway, taken: ContinuousClock.Instant) async throws -> Snapshot {
        let advisories = try await inForce(gateway)
        var progress: [Int64: [ChannelProgress]] = [:]
        for advisory in advisories { progress[advisory.id] = ChannelProgress.of(try await gateway.roles.deliveries.deliveryCounts(advisoryId: advisory.id)) }
        return Snapshot(taken: taken, advisories: advisories, progress: progress, welfare: try await gateway.roles.citizens.welfareTotals())
    }
}

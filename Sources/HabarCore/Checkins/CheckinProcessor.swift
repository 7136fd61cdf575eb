import Foundation
import HabarMessages
import Logging
import ServiceLifecycle

/// Reads the incoming SMS the gateways stored, in order: matches each to its citizen (by
/// the sender's number, done when it was stored) and to their most recent open check-in
/// request, reads the reply, and records the answer with its confirmation — one per reply,
/// in the citizen's language, through the channel the reply came in on. An SMS from a
/// number that is no registered citizen is marked processed and answered with nothing:
/// Habar is no open relay.
public final class CheckinProcessor: Service {
    private let store: any CheckinStore
    private let publisher: AdvisoryPublisher
    private let parser = ReplyParser()
    private let logger: Logger
    private let pollInterval: Duration
    /// Replies read and recorded per transaction: small enough that the inbound route's own
    /// commits (what Kannel waits for) never queue long behind one.
    private let batchSize: Int
    private let now: @Sendable () -> Date

    public init(
        store: any CheckinStore, publisher: AdvisoryPublisher, logger: Logger, pollInterval: Duration = .milliseconds(100),
        batchSize: Int = 100, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.batchSize = batchSize
        self.store = store
        self.publisher = publisher
        self.logger = logger
        self.pollInterval = pollInterval
        self.now = now
    }

    /// Until a graceful shutdown: what is stored stays for the next start, nothing is lost.
    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    if try await self.processBatch() == 0 { try await Task.sleep(for: self.pollInterval) }
                } catch is CancellationError {
                    return
                } catch {
                    self.logger.error("processing incoming SMS failed; trying again", metadata: ["error": "\(error)"])
                    try await Task.sleep(for: .seconds(1))
                }
            }
        }
    }

    /// Processes what is waiting (up to `batchSize`); returns how many SMS it took.
    @discardableResult
    public func processBatch() async throws -> Int {
        let batch = try await store.unprocessedInboundSMS(limit: batchSize)
        guard !batch.isEmpty else { return 0 }
        var answers: [CheckinAnswer] = []
        var strangers: [Int64] = []
        // One read for every sender's language and requests; each advisory read and each
        // confirmation rendered once per batch.
        let contexts = try await store.replyContexts(citizenIds: Array(Set(batch.compactMap(\.citizenId))), now: now())
        var advisories: [Int64: Advisory] = [:]
        var texts: [String: [Language: [MessageKind: RenderedMessage]]] = [:]
        let rendered = now()
        for sms in batch {
            let id = sms.id
            guard let citizenId = sms.citizenId, let context = contexts[citizenId] else {
                strangers.append(id)
                continue
            }
            let reading = parser.read(sms.text)
            let meaning = reading.meaning
            var confirmation: CheckinAnswer.Confirmation?
            if let underId = context.openCheckinId ?? context.latestAdvisoryId {
                if advisories[underId] == nil { advisories[underId] = try await publisher.store.advisory(id: underId) }
                if let under = advisories[underId] {
                    let followUp = FollowUp.confirmation(of: meaning)
                    let key = "\(underId)/\(followUp.rawValue)"
                    if texts[key] == nil { texts[key] = try publisher.renderFollowUp(under, followUp, kinds: [.sms], now: rendered) }
                    if let message = texts[key]?[context.language]?[.sms] {
                        confirmation = .init(advisoryId: underId, channel: sms.channel, followUp: followUp, message: message)
                    }
                }
            }
            answers.append(CheckinAnswer(
                citizenId: citizenId, advisoryId: context.openCheckinId, meaning: meaning, urgent: reading.urgent, source: .sms, text: sms.text, inboundId: id,
                at: sms.receivedAt, confirmation: confirmation))
        }
        try await store.recordCheckins(answers)
        try await store.markInboundProcessed(ids: strangers, at: now())
        if !strangers.isEmpty {
            logger.notice("incoming SMS from numbers of no registered citizen: not answered", metadata: ["count": "\(strangers.count)"])
        }
        return batch.count
    }
}

/// When check-in requests need their reminders and, at the deadline, their silent recipients
/// in the hotline queue.
public final class CheckinScheduler: Service {
    private let store: any CheckinStore
    private let publisher: AdvisoryPublisher
    private let reminderLead: TimeInterval
    private let interval: Duration
    private let logger: Logger
    private let now: @Sendable () -> Date

    /// - Parameter reminderLead: how long before the deadline the reminder goes to those who have not answered.
    public init(
        store: any CheckinStore, publisher: AdvisoryPublisher, reminderLead: TimeInterval, interval: Duration = .seconds(5), logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.store = store
        self.publisher = publisher
        self.reminderLead = reminderLead
        self.interval = interval
        self.logger = logger
        self.now = now
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do { try await self.tick() } catch is CancellationError { return } catch {
                    self.logger.error("check-in reminders or escalation failed; trying again", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: self.interval)
            }
        }
    }

    /// Sends due reminders and escalates passed deadlines; returns (reminded, escalated) counts.
    @discardableResult
    public func tick() async throws -> (reminded: Int, escalated: Int) {
        let current = now()
        let due = try await store.checkinRequestsDue(now: current, reminderLead: reminderLead)
        var reminded = 0, escalated = 0
        for advisory in due.remind {
            let id = advisory.id
            guard let deadline = advisory.params.checkinDeadline else { continue }
            let texts = try publisher.renderFollowUp(advisory, .reminder, kinds: [.sms, .email], now: current)
            let addresses = publisher.channels.mapValues(\.addressKind)
            let count = try await store.queueReminders(
                advisoryId: id, renderings: texts, plan: advisory.channelPlan.channels, addresses: addresses, expiresAt: deadline, now: current)
            logger.info("check-in reminders queued", metadata: ["advisory": "\(id)", "count": "\(count)"])
            reminded += count
        }
        for advisory in due.escalate {
            let id = advisory.id
            let count = try await store.escalateSilent(advisoryId: id, now: current)
            logger.info("check-in deadline passed: silent recipients are in the hotline queue", metadata: ["advisory": "\(id)", "count": "\(count)"])
            escalated += count
        }
        return (reminded, escalated)
    }
}

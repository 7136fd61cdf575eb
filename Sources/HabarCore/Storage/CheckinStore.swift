import Foundation
import HabarMessages

/// Check-ins, incoming SMS, welfare and the hotline queue: what the check-in pages, the reply
/// processor and the check-in scheduler need.
/// Every requirement is one transaction: it happens whole or not at all, and a caller that
/// gets an error may assume nothing changed. `OperationError.notFound` / `.conflict` are the
/// answers a caller handles; any other error is the store failing.
public protocol CheckinStore: InstallationStore {
    /// The most recent published, unexpired advisory asking for a check-in (it has a
    /// deadline) that reached the citizen or is queued for them.
    func openCheckinRequest(citizenId: Int64, now: Date) async throws -> Advisory?
    /// For each citizen of `citizenIds` that exists, in one read: their language, their open
    /// check-in request (as `openCheckinRequest` answers) and the most recent advisory (any
    /// status but cancelled) that reached them, under which a confirmation is sent when no
    /// check-in is open.
    func replyContexts(citizenIds: [Int64], now: Date) async throws -> [Int64: ReplyContext]
    /// Records each answer in one transaction: the check-in (the later answer wins), the
    /// citizen's welfare and last contact, the history, the hotline case (needs help and
    /// unclear replies open one or join the citizen's open case), the confirmation delivery,
    /// and the incoming SMS as processed. An SMS already processed changes nothing.
    func recordCheckins(_ answers: [CheckinAnswer]) async throws

    /// Stores incoming SMS in one transaction, each unless the same message (by `dedupeKey`)
    /// is stored already (then its stored record is returned), linking it to the citizen
    /// with the sender's number.
    func recordInboundSMS(_ messages: [NewInboundSMS]) async throws -> [InboundRecord]
    /// Incoming SMS, oldest first.
    func inboundSMS(page: PageRequest) async throws -> Page<InboundSMS>
    /// Incoming SMS not processed yet, oldest first.
    func unprocessedInboundSMS(limit: Int) async throws -> [InboundSMS]
    /// Marks incoming SMS processed without an answer (not from a registered citizen).
    func markInboundProcessed(ids: [Int64], at: Date) async throws

    func checkins(_ filter: CheckinFilter, page: PageRequest) async throws -> Page<Checkin>
    /// A citizen's welfare history, newest first.
    func welfareHistory(citizenId: Int64, limit: Int) async throws -> [WelfareEvent]
    func cases(_ filter: CaseFilter, page: PageRequest) async throws -> Page<HotlineCase>
    func hotlineCase(id: Int64) async throws -> HotlineCase?
    /// Applies an operator's change; nil when there is no such case. Reopening a resolved
    /// case while the citizen has another open one is a `.conflict`.
    func updateCase(id: Int64, _ update: CaseUpdate, author: String, at: Date) async throws -> HotlineCase?

    /// Published check-in requests whose reminder time (`deadline - reminderLead`) has come
    /// and have no reminders yet, and those whose deadline has passed and are not escalated.
    func checkinRequestsDue(now: Date, reminderLead: TimeInterval) async throws -> (remind: [Advisory], escalate: [Advisory])
    /// Queues one reminder to each recipient of `advisoryId` who has not answered, on the
    /// first channel of `plan` other than the one that carried the request and that can reach
    /// them (else the same one); marks the advisory reminded, so a second call queues none.
    /// Returns how many.
    func queueReminders(
        advisoryId: Int64, renderings: [Language: [MessageKind: RenderedMessage]], plan: [String], addresses: [String: AddressKind],
        expiresAt: Date, now: Date
    ) async throws -> Int
    /// Opens a `silent` case for each recipient of `advisoryId` without an answer (who has no
    /// open case); marks the advisory escalated, so a second call opens none. Returns how many.
    func escalateSilent(advisoryId: Int64, now: Date) async throws -> Int
    func checkinTally(advisoryId: Int64) async throws -> CheckinTally
}

extension CheckinStore {
    public func recordInboundSMS(_ message: NewInboundSMS) async throws -> InboundRecord {
        try await recordInboundSMS([message])[0]
    }
}

/// The rules of reminders and escalation that every store applies to what it read.
public enum CheckinFollowUps {
    /// An advisory that asks for a check-in, with whether its reminder and its escalation
    /// have been done.
    public struct Request: Sendable {
        public var advisory: Advisory
        public var reminded: Bool
        public var escalated: Bool
        public init(advisory: Advisory, reminded: Bool, escalated: Bool) {
            self.advisory = advisory
            self.reminded = reminded
            self.escalated = escalated
        }
    }

    /// Which requests are due a reminder (inside `reminderLead` of the deadline, before it)
    /// and which an escalation (the deadline passed).
    public static func due(_ requests: [Request], now: Date, reminderLead: TimeInterval) -> (remind: [Advisory], escalate: [Advisory]) {
        var remind: [Advisory] = []
        var escalate: [Advisory] = []
        for request in requests {
            guard let deadline = request.advisory.params.checkinDeadline else { continue }
            if !request.escalated, deadline <= now {
                escalate.append(request.advisory)
            } else if !request.reminded, deadline.addingTimeInterval(-reminderLead) <= now, deadline > now {
                remind.append(request.advisory)
            }
        }
        return (remind, escalate)
    }

    /// The channel and text of a silent citizen's reminder: the first channel of the plan
    /// other than the one that carried the request (`used`) that has the citizen's address,
    /// else `used` again; nil when there is no text for it in their language.
    public static func reminder(
        used: String, phone: String?, email: String?, language: String, plan: [String], addresses: [String: AddressKind],
        renderings: [Language: [MessageKind: RenderedMessage]]
    ) -> (channel: String, message: RenderedMessage)? {
        func reaches(_ channel: String) -> Bool {
            switch addresses[channel] {
            case .phone: phone != nil
            case .email: email != nil
            case .webhook, nil: false
            }
        }
        let channel = plan.first { $0 != used && reaches($0) } ?? used
        guard let kind = addresses[channel].map({ $0 == .email ? MessageKind.email : .sms }),
            let language = Language(rawValue: language), let message = renderings[language]?[kind]
        else { return nil }
        return (channel, message)
    }
}

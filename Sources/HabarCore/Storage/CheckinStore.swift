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

import Foundation
import HabarMessages

/// A delivery claimed by a dispatcher: everything needed to send its current step.
public struct ClaimedDelivery: Sendable, Hashable {
    public var message: OutboundMessage
    public var steps: [String]
    /// Attempts already made on this step.
    public var attempts: Int
    public var stepStartedAt: Date

    public init(message: OutboundMessage, steps: [String], attempts: Int, stepStartedAt: Date) {
        self.message = message
        self.steps = steps
        self.attempts = attempts
        self.stepStartedAt = stepStartedAt
    }

    public var deliveryId: Int64 { message.deliveryId }
    public var step: Int { message.step }
    public var channel: String { steps[message.step] }
}

/// What the dispatcher decided for a claimed delivery; the store records it and its event
/// in one transaction.
public struct DeliveryOutcome: Sendable, Hashable {
    public enum Result: Sendable, Hashable {
        /// The provider took it; `sent` until a receipt (or final when the channel has none).
        case sent(providerMessageId: String?)
        /// Try this step again at `at`. `countsAttempt` is false when no send was made
        /// (the channel's breaker is open).
        case retry(at: Date, reason: String, countsAttempt: Bool)
        /// This step failed; the delivery moves to `step` (queued there).
        case fallback(toStep: Int, reason: String)
        /// This step failed and no step is left.
        case failed(reason: String)
        /// The address is gone for good (a webhook subscriber answered 410): the step fails
        /// (falling back when the plan has a next step) and the subscriber is disabled.
        case addressGone(nextStep: Int?, reason: String)
        /// Past the advisory's expiry: never sent.
        case expired
        /// Not attempted (shutdown): back to where it was, nothing counted.
        case released
    }

    public var deliveryId: Int64
    public var step: Int
    public var channel: String
    public var result: Result

    public init(deliveryId: Int64, step: Int, channel: String, result: Result) {
        self.deliveryId = deliveryId
        self.step = step
        self.channel = channel
        self.result = result
    }
}

/// The rule for a failed step, shared by the dispatcher and by receipt handling.
public enum DeliveryPlan {
    /// After step `step` failed: the next step to queue, or nil when the plan is exhausted.
    public static func nextStep(after step: Int, of steps: [String]) -> Int? {
        step + 1 < steps.count ? step + 1 : nil
    }
}

/// Whom a publication goes to.
public enum Recipients: Sendable, Hashable {
    /// The citizens an audience selects (a first publication).
    case audience(Audience)
    /// The citizens earlier versions of the advisory reached or had queued (a correction or
    /// a cancellation notice).
    case reachedBy(advisoryId: Int64, beforeVersion: Int)
}

/// Everything `publish` needs: which advisory version, the texts frozen for it, and how
/// channels reach people.
public struct Publication: Sendable {
    public var advisoryId: Int64
    public var version: Int
    public var messageType: AdvisoryMessageType
    public var approver: String
    public var approverTokenId: Int64?
    /// The advisory as this version publishes it (a correction's new content).
    public var advisory: Advisory
    public var recipients: Recipients
    /// Rendered texts by the citizen's language and the channel's message kind.
    public var renderings: [Language: [MessageKind: RenderedMessage]]
    /// For every channel in the plan: the address it needs and its message kind.
    public var channels: [String: (address: AddressKind, kind: MessageKind)]
    /// The webhook channel that carries `group.advisory` to the agencies whose groups have
    /// recipients (nil: agencies are not told).
    public var agencyChannel: String?
    /// When this version's deliveries stop being worth sending.
    public var expiresAt: Date
    public var now: Date

    public init(
        advisory: Advisory, messageType: AdvisoryMessageType, approver: String, approverTokenId: Int64? = nil,
        recipients: Recipients, renderings: [Language: [MessageKind: RenderedMessage]],
        channels: [String: (address: AddressKind, kind: MessageKind)], agencyChannel: String? = nil, expiresAt: Date? = nil, now: Date
    ) {
        self.agencyChannel = agencyChannel
        self.advisoryId = advisory.id ?? 0
        self.version = advisory.version
        self.messageType = messageType
        self.approver = approver
        self.approverTokenId = approverTokenId
        self.advisory = advisory
        self.recipients = recipients
        self.renderings = renderings
        self.channels = channels
        self.expiresAt = expiresAt ?? advisory.expiresAt
        self.now = now
    }
}

/// The groups of one agency that an audience touches and how many of their tourists (on the
/// latest manifest) it selects: what the `group.advisory` webhooks of a publication would carry.
public struct GroupAdvisoryCell: Sendable, Hashable, Codable {
    public var agencyId: String
    /// The agency's language, the one its group advisories are written in.
    public var language: Language
    public var groups: Int
    public var tourists: Int

    public init(agencyId: String, language: Language, groups: Int, tourists: Int) {
        self.agencyId = agencyId
        self.language = language
        self.groups = groups
        self.tourists = tourists
    }
}

/// How many citizens of an audience speak `language` and can be reached by phone / e-mail:
/// enough to say how many each channel of any plan would get.
public struct AudienceCell: Sendable, Hashable, Codable {
    public var language: Language
    public var hasPhone: Bool
    public var hasEmail: Bool
    public var count: Int

    public init(language: Language, hasPhone: Bool, hasEmail: Bool, count: Int) {
        self.language = language
        self.hasPhone = hasPhone
        self.hasEmail = hasEmail
        self.count = count
    }
}

/// How an advisory is doing: deliveries by state × channel × language, welfare of the
/// citizens it was for, and how fast it went out.
public struct AdvisoryStats: Sendable, Hashable, Codable {
    public var deliveries: Int
    public var counts: [DeliveryCount]
    /// Citizens the advisory was queued for, by their welfare status.
    public var checkins: [WelfareStatus: Int]
    public var publishedAt: Date?
    public var firstSentAt: Date?
    /// When 95% of the deliveries had been handed to a provider; nil until then.
    public var ninetyFivePercentSentAt: Date?

    public init(
        deliveries: Int, counts: [DeliveryCount], checkins: [WelfareStatus: Int], publishedAt: Date?, firstSentAt: Date?,
        ninetyFivePercentSentAt: Date?
    ) {
        self.deliveries = deliveries
        self.counts = counts
        self.checkins = checkins
        self.publishedAt = publishedAt
        self.firstSentAt = firstSentAt
        self.ninetyFivePercentSentAt = ninetyFivePercentSentAt
    }
}

/// What the store knows of an `Idempotency-Key` when a call begins.
public enum IdempotencyBegin: Sendable, Hashable {
    /// First use: the call runs, then its response is kept.
    case proceed
    /// The same call was answered before: here is its response.
    case replay(StoredResponse)
    /// The key was used for a different call.
    case mismatch
    /// The first call with this key is still running.
    case inProgress
}

/// A response kept for replay.
public struct StoredResponse: Sendable, Hashable {
    public var status: Int
    /// Headers worth replaying (`Content-Type`, `Location`), as name → value.
    public var headers: [String: String]
    public var body: Data

    public init(status: Int, headers: [String: String], body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// How many deliveries `publish` queued, and how many citizens of the audience no planned
/// channel can reach.
public struct PublicationResult: Sendable, Hashable, Codable {
    public var queued: Int
    public var unreachable: Int
    public init(queued: Int, unreachable: Int) {
        self.queued = queued
        self.unreachable = unreachable
    }
}

/// One count of deliveries by state, channel and language.
public struct DeliveryCount: Sendable, Hashable, Codable {
    public var state: DeliveryState
    public var channel: String
    public var language: Language
    public var count: Int
    public init(state: DeliveryState, channel: String, language: Language, count: Int) {
        self.state = state
        self.channel = channel
        self.language = language
        self.count = count
    }
}

/// A citizen to create or update from an import, matched on phone, then passport number.
public struct CitizenImportResult: Sendable, Hashable, Codable {
    public var created: Int
    public var updated: Int
    public init(created: Int, updated: Int) {
        self.created = created
        self.updated = updated
    }
}

/// What revoking a token did.
public enum TokenRevocation: Sendable, Hashable {
    case revoked
    /// No unrevoked token has that id.
    case notFound
    /// It is the last unrevoked admin token: not revoked.
    case lastAdmin
}

/// All persistence Habar needs. The dispatcher, HTTP layer and CLI talk only to this; the
/// SQLite store implements it now and a PostgreSQL one later, under one test suite.
public protocol HabarStore: PlaceStore, Sendable {
    /// A random id made when the database was created; prefixes every idempotency key.
    func installationId() async throws -> String
    /// Writes what the store logged ahead back into its files without holding up writers
    /// (SQLite's WAL, from a connection of its own); a no-op where there is nothing to do.
    func checkpoint() async throws

    // MARK: Citizens
    func insertCitizen(_ citizen: Citizen) async throws -> Citizen
    func citizen(id: Int64) async throws -> Citizen?
    /// Creates or updates every citizen in one transaction (matching on phone, then
    /// passport number). An update keeps the stored value of every field the new record
    /// leaves empty, and never touches welfare status.
    func upsertCitizens(_ citizens: [Citizen]) async throws -> CitizenImportResult
    func countCitizens() async throws -> Int
    func citizens(_ filter: CitizenFilter, page: PageRequest) async throws -> Page<Citizen>
    /// The id of the citizen with this phone number (E.164), if any.
    func citizenId(phone: String) async throws -> Int64?
    /// Replaces every field of stored citizen `citizen.id` except its welfare status and
    /// creation time; nil when there is no such citizen.
    func updateCitizen(_ citizen: Citizen) async throws -> Citizen?
    /// Erases a citizen's personal data: the citizen row and the addresses copied onto their
    /// deliveries; pending deliveries are cancelled. Delivery counts stay, anonymous.
    func eraseCitizen(id: Int64, at: Date) async throws -> Bool

    // MARK: Tokens
    func insertToken(_ token: AccessToken) async throws -> AccessToken
    /// The unrevoked token with this hash.
    func token(hash: String) async throws -> AccessToken?
    func hasTokens() async throws -> Bool
    /// Every token, revoked ones included (hashes are never shown).
    func tokens(page: PageRequest) async throws -> Page<AccessToken>
    /// Revokes a token, atomically refusing to revoke the last unrevoked admin token (after it
    /// only shell access could issue tokens again).
    func revokeToken(id: Int64, at: Date) async throws -> TokenRevocation

    // MARK: Advisories
    func insertAdvisory(_ advisory: Advisory) async throws -> Advisory
    func advisory(id: Int64) async throws -> Advisory?
    func advisories(_ filter: AdvisoryFilter, page: PageRequest) async throws -> Page<Advisory>
    /// The published versions of an advisory, oldest first.
    func advisoryVersions(id: Int64) async throws -> [AdvisoryVersion]
    /// Records an approval whose publication waits for `publishAt` (the advisory stays a draft).
    func scheduleAdvisory(id: Int64, approver: String, approverTokenId: Int64?, publishAt: Date) async throws
    /// Approved drafts whose `publishAt` has come.
    func dueScheduledAdvisories(now: Date) async throws -> [Advisory]
    /// Keeps a correction for a second person's approval (nil clears it).
    func setPendingCorrection(id: Int64, _ pending: PendingCorrection?) async throws
    /// The recipients by language and reachable address, for previews and the two-person rule.
    func audienceCells(_ recipients: Recipients) async throws -> [AudienceCell]
    /// Per agency with a webhook, the groups with tourists in the audience, in agency id order.
    func groupAdvisoryCells(_ audience: Audience) async throws -> [GroupAdvisoryCell]
    /// Publishes one version: a first publication marks the advisory published; a correction
    /// stores its new content and cancels what earlier versions had not sent yet; a cancel
    /// notice is queued although the advisory is cancelled. One delivery per recipient and plan
    /// entry, all in one transaction; publishing the same version again queues nothing new.
    func publish(_ publication: Publication) async throws -> PublicationResult
    /// Cancels the advisory and every delivery of it not yet sent; returns how many. A
    /// `notice` publication (its version one above the advisory's) is queued in the same
    /// transaction to those already reached.
    func cancelAdvisory(id: Int64, at: Date, notice: Publication?) async throws -> (cancelled: Int, notice: PublicationResult?)
    func advisoryStats(id: Int64) async throws -> AdvisoryStats?

    // MARK: Dispatching
    /// Leases up to `limit` due deliveries whose current step is on `channel`, highest
    /// priority first, then oldest. Due deliveries past expiry or of a cancelled advisory
    /// are closed (expired/cancelled) instead of returned.
    func claimDeliveries(
        channel: String, kind: MessageKind, address: AddressKind, limit: Int, owner: String,
        leaseUntil: Date, now: Date
    ) async throws -> [ClaimedDelivery]
    /// Records each outcome and its events in one transaction; outcomes for deliveries no
    /// longer leased to `owner` are ignored.
    func recordOutcomes(_ outcomes: [DeliveryOutcome], owner: String, now: Date) async throws
    /// `recordOutcomes` then `claimDeliveries`, in one transaction where the store can.
    func recordAndClaim(
        _ outcomes: [DeliveryOutcome], channel: String, kind: MessageKind, address: AddressKind, limit: Int, owner: String,
        leaseUntil: Date, now: Date
    ) async throws -> [ClaimedDelivery]
    /// Applies provider receipts; a receipt for a step whose send is not recorded yet is
    /// kept and applied when it is.
    func applyReceipts(_ receipts: [DeliveryReceipt], now: Date) async throws
    /// Moves the next attempt of `channel`'s due deliveries to `until` without claiming them
    /// (no state changes, so no event), except those whose current step started before
    /// `unlessStepStartedBefore`; returns how many.
    func postponeDue(channel: String, until: Date, unlessStepStartedBefore: Date, now: Date) async throws -> Int
    /// Takes back leases that expired, or every lease of `owner` (a restarted instance's
    /// own), to `retrying`; returns how many.
    func recoverLeases(now: Date, owner: String?) async throws -> Int
    /// Expires pending deliveries past their advisory's expiry, and marks such published
    /// advisories `expired`; returns how many deliveries.
    func expireOverdue(now: Date) async throws -> Int

    // MARK: Reading deliveries
    func delivery(id: Int64) async throws -> Delivery?
    func deliveryEvents(deliveryId: Int64) async throws -> [DeliveryEvent]
    func deliveries(_ filter: DeliveryFilter, page: PageRequest) async throws -> Page<Delivery>
    /// Counts by state × channel × language, for one advisory or all.
    func deliveryCounts(advisoryId: Int64?) async throws -> [DeliveryCount]

    // MARK: Audit log
    /// Appends `entry` to the hash chain (its hashes are computed here, in the transaction
    /// that reads the last one) and returns it as stored.
    func appendAudit(_ entry: AuditEntry) async throws -> AuditEntry
    func auditEntries(page: PageRequest) async throws -> Page<AuditEntry>

    // MARK: Webhook subscribers
    /// Stores a new subscriber; a name in use is a conflict.
    func insertSubscriber(_ subscriber: Subscriber) async throws -> Subscriber
    func subscribers() async throws -> [Subscriber]
    /// Enables or disables a subscriber by name; nil when there is none.
    func setSubscriberActive(name: String, active: Bool, reason: String?, at: Date) async throws -> Subscriber?
    /// Replaces a subscriber's secret list (rotation); nil when there is none by that name.
    func setSubscriberSecret(name: String, secret: String) async throws -> Subscriber?

    // MARK: Incoming SMS
    /// Stores incoming SMS in one transaction, each unless the same message (by `dedupeKey`)
    /// is stored already, linking it to the citizen with the sender's number.
    func recordInboundSMS(_ messages: [InboundSMS]) async throws -> [InboundRecord]
    /// Incoming SMS, oldest first.
    func inboundSMS(page: PageRequest) async throws -> Page<InboundSMS>

    // MARK: Check-ins, welfare and the hotline
    /// A random 32-byte secret of this installation named `name`, made on first use.
    func installationSecret(named name: String) async throws -> Data
    /// The most recent published, unexpired advisory asking for a check-in (it has a
    /// deadline) that reached the citizen or is queued for them.
    func openCheckinRequest(citizenId: Int64, now: Date) async throws -> Advisory?
    /// The most recent advisory (any status but cancelled) that reached the citizen: what
    /// a confirmation is sent under when no check-in is open.
    func latestAdvisory(citizenId: Int64) async throws -> Advisory?
    /// For each citizen of `citizenIds` that exists, in one read: their language, their open
    /// check-in request and their latest advisory (as the two calls above answer).
    func replyContexts(citizenIds: [Int64], now: Date) async throws -> [Int64: ReplyContext]
    /// Records each answer in one transaction: the check-in (the later answer wins), the
    /// citizen's welfare and last contact, the history, the hotline case (needs help and
    /// unclear replies open one or join the citizen's open case), the confirmation delivery,
    /// and the incoming SMS as processed. An SMS already processed changes nothing.
    func recordCheckins(_ answers: [CheckinAnswer]) async throws
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
    /// case while the citizen has another open one is a conflict.
    func updateCase(id: Int64, _ update: CaseUpdate, author: String, at: Date) async throws -> HotlineCase?
    /// Published check-in requests whose reminder time (`deadline - reminderLead`) has come
    /// and have no reminders yet, and those whose deadline has passed and are not escalated.
    func checkinRequestsDue(now: Date, reminderLead: TimeInterval) async throws -> (remind: [Advisory], escalate: [Advisory])
    /// Queues one reminder to each recipient of `advisoryId` who has not answered, on the
    /// first channel of `plan` other than the one that carried the request and that can reach
    /// them (else the same one); marks the advisory reminded. Returns how many.
    func queueReminders(
        advisoryId: Int64, renderings: [Language: [MessageKind: RenderedMessage]], plan: [String], addresses: [String: AddressKind],
        expiresAt: Date, now: Date
    ) async throws -> Int
    /// Opens a `silent` case for each recipient of `advisoryId` without an answer (who has no
    /// open case); marks the advisory escalated. Returns how many.
    func escalateSilent(advisoryId: Int64, now: Date) async throws -> Int
    func checkinTally(advisoryId: Int64) async throws -> CheckinTally

    // MARK: Travel agencies
    /// Registers an agency with its first secret, its outbound subscriber (when it has a
    /// webhook URL) and its token, in one transaction; an id in use is a conflict.
    func insertAgency(_ agency: Agency, secret: String, token: AccessToken) async throws -> Agency
    func agencies() async throws -> [Agency]
    func agency(id: String) async throws -> Agency?
    /// Stores an agency's name, webhook URL and language (nil if there is no such agency). A
    /// URL gets the agency's group advisories from now on (also those queued), in its language;
    /// `enableWebhook` turns a disabled webhook on again; no URL stops them.
    func updateAgency(_ agency: Agency, enableWebhook: Bool, at: Date) async throws -> Agency?
    /// For each of the citizens on one of the agency's manifests (now or before): the
    /// agency's group they are in (nil: detached).
    func agencyMemberships(citizenIds: [Int64], agencyId: String) async throws -> [Int64: String?]
    /// The secrets that verify the agency's webhooks at `now` (newest first).
    func agencySecrets(id: String, now: Date) async throws -> [WebhookSecret]
    /// The same, with the earliest time one of them stops verifying (nil: none expires).
    func agencySecretsWithExpiry(id: String, now: Date) async throws -> (secrets: [WebhookSecret], earliestExpiry: Date?)
    /// Adds `secret` as the newest; the others stop verifying `overlap` seconds from `now`.
    func rotateAgencySecret(id: String, secret: String, overlap: TimeInterval, now: Date) async throws -> Bool
    /// Applies verified agency webhooks and stores them, in one transaction (each in its own
    /// savepoint: one that does not validate against the stored data is refused alone); a
    /// webhook-id applied before is not applied again.
    func applyAgencyEvents(_ events: [AgencyEvent]) async throws -> [Result<AgencyEventResult, ValidationFailure>]
    /// The type of the webhook the agency sent under this id, if it was applied.
    func agencyEventType(agencyId: String, webhookId: String) async throws -> String?
    /// An agency's groups with their tallies, in id order; nil when there is no such agency.
    func agencyGroups(agencyId: String, page: PageRequest) async throws -> Page<AgencyGroup>?
    /// One group: its manifest with each tourist's welfare, who was detached, every status reported.
    func groupReconciliation(id: Int64) async throws -> GroupReconciliation?

    // MARK: Duplicate citizens
    /// What the search for duplicates reads of every citizen, and the pairs operators dismissed.
    func mergeCandidates() async throws -> (candidates: [MergeCandidate], dismissed: Set<[Int64]>)
    /// Records that the two citizens are two people; false when either does not exist.
    func dismissMergeSuggestion(_ first: Int64, _ second: Int64, actor: String, at: Date) async throws -> Bool
    /// The citizens with these ids that exist.
    func citizens(ids: [Int64]) async throws -> [Int64: Citizen]
    /// Merges `duplicate` into `keep` in one transaction, keeping every history (see the
    /// SQLite store for the rules); returns the merged citizen.
    func mergeCitizens(keep: Int64, duplicate: Int64, actor: String, at: Date) async throws -> Citizen
    /// The records merged into a citizen, oldest first.
    func citizenMerges(citizenId: Int64) async throws -> [CitizenMerge]
    /// The citizen a merged record's id now belongs to.
    func mergedInto(citizenId: Int64) async throws -> Int64?

    // MARK: Idempotency keys
    /// Claims `key` for a call with `fingerprint` (method, path and body hash) by `scope`
    /// (the caller), or says how it was used before. Keys older than `forgetBefore` are forgotten.
    func beginIdempotentCall(scope: String, key: String, fingerprint: String, now: Date, forgetBefore: Date) async throws -> IdempotencyBegin
    /// Keeps the response for replay, or (nil) releases the key so the call may be retried.
    func finishIdempotentCall(scope: String, key: String, response: StoredResponse?) async throws
}

extension HabarStore {
    public func applyAgencyEvent(_ event: AgencyEvent) async throws -> AgencyEventResult {
        try await applyAgencyEvents([event])[0].get()
    }

    public func recordInboundSMS(_ message: InboundSMS) async throws -> InboundRecord {
        try await recordInboundSMS([message])[0]
    }

    public func recordAndClaim(
        _ outcomes: [DeliveryOutcome], channel: String, kind: MessageKind, address: AddressKind, limit: Int, owner: String,
        leaseUntil: Date, now: Date
    ) async throws -> [ClaimedDelivery] {
        try await recordOutcomes(outcomes, owner: owner, now: now)
        return try await claimDeliveries(
            channel: channel, kind: kind, address: address, limit: limit, owner: owner, leaseUntil: leaseUntil, now: now)
    }
}

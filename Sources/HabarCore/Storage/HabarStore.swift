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

/// Everything `publish` needs: which advisory version, the texts frozen for it, and how
/// channels reach people.
public struct Publication: Sendable {
    public var advisoryId: Int64
    public var version: Int
    public var approver: String
    /// Rendered texts by the citizen's language and the channel's message kind.
    public var renderings: [Language: [MessageKind: RenderedMessage]]
    /// For every channel in the plan: the address it needs and its message kind.
    public var channels: [String: (address: AddressKind, kind: MessageKind)]
    public var now: Date

    public init(
        advisoryId: Int64, version: Int, approver: String, renderings: [Language: [MessageKind: RenderedMessage]],
        channels: [String: (address: AddressKind, kind: MessageKind)], now: Date
    ) {
        self.advisoryId = advisoryId
        self.version = version
        self.approver = approver
        self.renderings = renderings
        self.channels = channels
        self.now = now
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

/// All persistence Habar needs. The dispatcher, HTTP layer and CLI talk only to this; the
/// SQLite store implements it now and a PostgreSQL one later, under one test suite.
public protocol HabarStore: Sendable {
    /// A random id made when the database was created; prefixes every idempotency key.
    func installationId() async throws -> String

    // MARK: Citizens
    func insertCitizen(_ citizen: Citizen) async throws -> Citizen
    func citizen(id: Int64) async throws -> Citizen?
    /// Creates or updates every citizen in one transaction (matching on phone, then
    /// passport number). An update keeps the stored value of every field the new record
    /// leaves empty, and never touches welfare status.
    func upsertCitizens(_ citizens: [Citizen]) async throws -> CitizenImportResult
    func countCitizens() async throws -> Int

    // MARK: Tokens
    func insertToken(_ token: AccessToken) async throws -> AccessToken
    /// The unrevoked token with this hash.
    func token(hash: String) async throws -> AccessToken?
    func hasTokens() async throws -> Bool

    // MARK: Advisories
    func insertAdvisory(_ advisory: Advisory) async throws -> Advisory
    func advisory(id: Int64) async throws -> Advisory?
    /// Marks the advisory published and queues one delivery per audience member and plan
    /// entry, in one transaction; a second publish of the same version queues nothing new.
    func publish(_ publication: Publication) async throws -> PublicationResult
    /// Cancels the advisory and every delivery of it not yet sent; returns how many.
    func cancelAdvisory(id: Int64, at: Date) async throws -> Int

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
    /// Counts by state × channel × language, for one advisory or all.
    func deliveryCounts(advisoryId: Int64?) async throws -> [DeliveryCount]
}

extension HabarStore {
    public func recordAndClaim(
        _ outcomes: [DeliveryOutcome], channel: String, kind: MessageKind, address: AddressKind, limit: Int, owner: String,
        leaseUntil: Date, now: Date
    ) async throws -> [ClaimedDelivery] {
        try await recordOutcomes(outcomes, owner: owner, now: now)
        return try await claimDeliveries(
            channel: channel, kind: kind, address: address, limit: limit, owner: owner, leaseUntil: leaseUntil, now: now)
    }
}

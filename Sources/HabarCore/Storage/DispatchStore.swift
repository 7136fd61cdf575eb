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

/// What the dispatcher and receipt handling need: claim due deliveries under a lease, record
/// what each send did, apply provider receipts, take back leases of a dead instance.
///
/// The states and their transitions are `DeliveryState`'s; every change of a delivery's state
/// writes a `DeliveryEvent` in the same transaction (the history is append-only).
/// Every requirement is one transaction: it happens whole or not at all, and a caller that
/// gets an error may assume nothing changed. `OperationError.notFound` / `.conflict` are the
/// answers a caller handles; any other error is the store failing.
public protocol DispatchStore: InstallationStore {
    /// Leases up to `limit` due deliveries (queued or retrying, `nextAttemptAt <= now`) whose
    /// current step is on `channel`, highest priority first, then oldest, and marks them
    /// `sending` to `owner` until `leaseUntil`. Two concurrent claims never return the same
    /// delivery. Due deliveries past their expiry or of a cancelled advisory are closed
    /// (`expired` / `cancelled`, with their events) instead of returned. `kind`/`address`:
    /// which rendering and address of the delivery the channel takes.
    func claimDeliveries(
        channel: String, kind: MessageKind, address: AddressKind, limit: Int, owner: String,
        leaseUntil: Date, now: Date
    ) async throws -> [ClaimedDelivery]
    /// Records each outcome and its events. An outcome for a delivery no longer leased to
    /// `owner` (taken over after its lease ran out) is ignored, so a late instance cannot
    /// overwrite the one that took over. A `sent` outcome applies any receipt kept for it.
    func recordOutcomes(_ outcomes: [DeliveryOutcome], owner: String, now: Date) async throws
    /// `recordOutcomes` then `claimDeliveries`; one transaction where the store can (the
    /// default does them one after the other).
    func recordAndClaim(
        _ outcomes: [DeliveryOutcome], channel: String, kind: MessageKind, address: AddressKind, limit: Int, owner: String,
        leaseUntil: Date, now: Date
    ) async throws -> [ClaimedDelivery]
    /// Applies provider receipts (delivered, failed, …) to the deliveries with that provider
    /// message id; a non-delivery report fails the step and queues the plan's next one. A
    /// receipt for a send not recorded yet is kept and applied by the `recordOutcomes` that
    /// records it (receipts can overtake the send's record). Applying one twice changes nothing.
    func applyReceipts(_ receipts: [DeliveryReceipt], now: Date) async throws
    /// Moves the next attempt of `channel`'s due deliveries to `until` without claiming them
    /// (no state changes, so no event), except those whose current step started before
    /// `unlessStepStartedBefore`; returns how many.
    func postponeDue(channel: String, until: Date, unlessStepStartedBefore: Date, now: Date) async throws -> Int
    /// The heartbeat: extends every lease `owner` holds on a delivery still being sent to
    /// `until`; returns how many. A lease already taken over is no longer `owner`'s.
    func renewLeases(owner: String, until: Date, now: Date) async throws -> Int
    /// Takes back leases that ran out by `expiredBy`, or every lease of `owner` (a restarted
    /// instance's own), to `retrying` at `now` with an event; returns how many. The only
    /// user of a store takes back every lease at start with `expiredBy: .distantFuture`.
    func recoverLeases(expiredBy: Date, owner: String?, now: Date) async throws -> Int
    /// Expires pending deliveries past their expiry, and marks published advisories past
    /// theirs `expired`; returns how many deliveries.
    func expireOverdue(now: Date) async throws -> Int
}

extension DispatchStore {
    /// Takes back leases that ran out by `now`, or every lease of `owner`.
    public func recoverLeases(now: Date, owner: String?) async throws -> Int {
        try await recoverLeases(expiredBy: now, owner: owner, now: now)
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

import Foundation

/// How fast an advisory went out, from its deliveries' first sends.
public enum SendProgress {
    /// When `fraction` of the deliveries meant to go had been handed to a provider: the
    /// ⌈n × fraction⌉-th earliest first send of the `n` given (nil: not sent yet). Nil until
    /// that many were sent, and for no deliveries.
    public static func time(toSend fraction: Double, of firstSends: [Date?]) -> Date? {
        let rank = Int((Double(firstSends.count) * fraction).rounded(.up))
        guard rank > 0 else { return nil }
        let sent = firstSends.compactMap { $0 }.sorted()
        return rank <= sent.count ? sent[rank - 1] : nil
    }
}

extension WelfareStatus {
    /// After a delivery to the citizen finally failed: one whose welfare nobody knows becomes
    /// `unreached` once no delivery of an advisory to them is live (pending, sent or
    /// delivered); any known status stays. Follow-ups do not count: a confirmation went to
    /// someone who wrote.
    public func afterFinalFailure(liveDeliveries: Int) -> WelfareStatus {
        self == .unknown && liveDeliveries == 0 ? .unreached : self
    }
}

/// What a provider's report does to the delivery step it is about, whatever the store.
public enum ReceiptEffect: Sendable, Hashable {
    /// `sent` → `delivered`.
    case delivered
    /// `sent` → `failed` on this step: the plan's next step is queued (`next`), else the
    /// delivery fails for good.
    case stepFailed(reason: String, next: Int?)
    /// The report came before the send was recorded (`sending`): keep it and apply it when the
    /// send is recorded, in the same transaction.
    case holdUntilSent
    /// A provider's interim word: an event, no move.
    case note(String)
    /// A repeat, or a late report about a step already closed: nothing changes.
    case ignore

    /// The effect of `status` on a delivery in `state` whose plan is `steps`, reported for
    /// `step` (the store has matched step and channel to the delivery's current ones).
    public static func of(_ status: DeliveryReceipt.Status, state: DeliveryState, step: Int, steps: [String]) -> ReceiptEffect {
        switch (status, state) {
        case (.delivered, .sent): .delivered
        case (.failed(let reason), .sent):
            .stepFailed(reason: "provider reported non-delivery: \(reason)", next: DeliveryPlan.nextStep(after: step, of: steps))
        case (.delivered, .sending), (.failed, .sending): .holdUntilSent
        case (.intermediate(let text), .sent), (.intermediate(let text), .sending): .note("provider: \(text)")
        default: .ignore
        }
    }
}

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

import HabarCore
import Testing

/// The rules the stores apply (and bind from these enums), without a database.
@Suite("Delivery rules")
struct DeliveryRulesTests {
    @Test("after a cancellation only the notice and confirmations of replies are sent", arguments: [
        // (purpose, version, cancel notice version, sent?)
        (DeliveryPurpose.advisory, 1, Int?.none, false),
        (.advisory, 2, 3, false),
        (.advisory, 3, 3, true),
        (.reminder, 1, 2, false),
        (.reminder, 2, nil, false),
        (.confirmSafe, 1, 2, true),
        (.confirmHelp, 1, nil, true),
        (.confirmReceived, 4, 2, true),
    ])
    func cancellation(_ purpose: DeliveryPurpose, _ version: Int, _ notice: Int?, _ sent: Bool) {
        #expect(purpose.isSentAfterCancellation(version: version, cancelNoticeVersion: notice) == sent)
    }

    @Test("message type: version 1 alerts, the notice cancels, other versions and every follow-up update", arguments: [
        (1, DeliveryPurpose.advisory, Int?.none, AdvisoryMessageType.alert),
        (2, .advisory, nil, .update),
        (2, .advisory, 2, .cancel),
        (3, .advisory, 2, .update),
        (1, .reminder, nil, .update),
        (2, .confirmSafe, 2, .update),
    ])
    func messageType(_ version: Int, _ purpose: DeliveryPurpose, _ notice: Int?, _ expected: AdvisoryMessageType) {
        #expect(AdvisoryMessageType.of(version: version, purpose: purpose, cancelNoticeVersion: notice) == expected)
    }

    @Test("only the advisory itself counts as reaching someone; follow-ups keep the catalog templates")
    func purposes() {
        #expect(DeliveryPurpose.allCases.filter(\.isAdvisory) == [.advisory])
        #expect(FollowUp.allCases.map(\.purpose) == [.reminder, .confirmSafe, .confirmHelp, .confirmReceived])
        #expect(FollowUp.confirmation(of: .safe).template == "reply.safe")
    }
}

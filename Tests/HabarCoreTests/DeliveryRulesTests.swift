import Foundation
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

    @Test("the state machine: created queued; final states are final; a sent delivery is delivered, fails or falls back")
    func transitions() {
        #expect(DeliveryState.allows(from: nil, to: .queued) && !DeliveryState.allows(from: nil, to: .sent))
        for final in DeliveryState.allCases where final.isFinal {
            #expect(DeliveryState.allCases.allSatisfy { !DeliveryState.allows(from: final, to: $0) }, "\(final) is final")
        }
        #expect(!DeliveryState.allows(from: .queued, to: .sent), "nothing is sent without being claimed")
        #expect(!DeliveryState.allows(from: .sent, to: .retrying), "a provider took it: it is not sent again on this step")
        #expect(DeliveryState.allows(from: .sent, to: .queued) && DeliveryState.allows(from: .sending, to: .retrying))
    }

    @Test("only the advisory itself counts as reaching someone; follow-ups keep the catalog templates")
    func purposes() {
        #expect(DeliveryPurpose.allCases.filter(\.isAdvisory) == [.advisory])
        #expect(FollowUp.allCases.map(\.purpose) == [.reminder, .confirmSafe, .confirmHelp, .confirmReceived])
        #expect(FollowUp.confirmation(of: .safe).template == "reply.safe")
    }
}

@Suite("Welfare and send progress rules")
struct ProgressRulesTests {
    @Test("only an unknown welfare becomes unreached, and only when nothing of the advisory is live for them", arguments: [
        (WelfareStatus.unknown, 0, WelfareStatus.unreached),
        (.unknown, 1, .unknown),
        (.safe, 0, .safe),
        (.needsHelp, 0, .needsHelp),
        (.unreached, 0, .unreached),
    ])
    func unreached(_ current: WelfareStatus, _ live: Int, _ expected: WelfareStatus) {
        #expect(current.afterFinalFailure(liveDeliveries: live) == expected)
    }

    @Test("95% sent: the ⌈0.95·n⌉-th first send, nil until that many went")
    func ninetyFive() {
        let t = (0..<20).map { Date(timeIntervalSince1970: Double($0)) }
        #expect(SendProgress.time(toSend: 0.95, of: t.shuffled()) == t[18], "19 of 20")
        #expect(SendProgress.time(toSend: 0.95, of: Array(t.prefix(18)) + [nil, nil]) == nil, "18 of 20 sent is not 95%")
        #expect(SendProgress.time(toSend: 0.95, of: Array(t.prefix(19)) + [nil]) == t[18])
        #expect(SendProgress.time(toSend: 0.95, of: [t[3]]) == t[3])
        #expect(SendProgress.time(toSend: 0.95, of: []) == nil)
    }

    @Test("a receipt: delivered or falls back only from sent, kept while the send is unrecorded, never moves a closed step")
    func receipts() {
        let plan = ["sms", "email"]
        #expect(ReceiptEffect.of(.delivered, state: .sent, step: 0, steps: plan) == .delivered)
        #expect(ReceiptEffect.of(.failed(reason: "absent"), state: .sent, step: 0, steps: plan)
            == .stepFailed(reason: "provider reported non-delivery: absent", next: 1), "the next step of the plan")
        #expect(ReceiptEffect.of(.failed(reason: "absent"), state: .sent, step: 1, steps: plan)
            == .stepFailed(reason: "provider reported non-delivery: absent", next: nil), "the plan is exhausted")
        #expect(ReceiptEffect.of(.delivered, state: .sending, step: 0, steps: plan) == .holdUntilSent)
        #expect(ReceiptEffect.of(.failed(reason: "x"), state: .sending, step: 0, steps: plan) == .holdUntilSent)
        #expect(ReceiptEffect.of(.intermediate("buffered"), state: .sent, step: 0, steps: plan) == .note("provider: buffered"))
        for state in [DeliveryState.queued, .retrying, .delivered, .failed, .expired, .cancelled] {
            for status in [DeliveryReceipt.Status.delivered, .failed(reason: "x"), .intermediate("y")] {
                #expect(ReceiptEffect.of(status, state: state, step: 0, steps: plan) == .ignore, "\(status) on \(state)")
            }
        }
        // Every move a receipt makes is one the state machine allows.
        #expect(DeliveryState.allows(from: .sent, to: .delivered))
        #expect(DeliveryState.allows(from: .sent, to: .failed) && DeliveryState.allows(from: .sent, to: .queued))
    }
}

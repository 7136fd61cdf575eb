import HabarApp
import ChannelWebhook
import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import Logging
import Testing

@Suite("webhook subscribers through the gateway", .serialized)
struct SubscriberTests {
    /// A gateway with an SMS stub and a `partners` webhook channel, its dispatcher running.
    func gateway() async throws -> (Gateway, Task<Void, any Error>) {
        var configuration = HabarConfiguration()
        configuration.dataDir = try Fixtures.temporaryDirectory("subscribers").path
        configuration.messagesDir = Fixtures.messagesDirectory.path
        configuration.dispatcher.pollMilliseconds = 10
        configuration.channels = [
            ChannelConfiguration(name: "sms", type: "sms-stub"),
            ChannelConfiguration(name: "partners", type: "webhook", options: try JSONValue(encoding: WebhookConfiguration(timeoutMilliseconds: 2000))),
        ]
        let gateway = try await Gateway.make(configuration: configuration, logger: Logger(label: "subscribers"), catalog: try Fixtures.catalog())
        return (gateway, Task { try await gateway.dispatcher.run() })
    }

    func settled(_ gateway: Gateway, _ advisory: Int64, count: Int) async throws -> [Delivery] {
        var items: [Delivery] = []
        for _ in 0..<400 {
            items = try await gateway.store.deliveries(DeliveryFilter(advisoryId: advisory, channel: "partners"), page: PageRequest()).items
            if items.count == count, items.allSatisfy({ ![.queued, .sending, .retrying].contains($0.state) }) { return items }
            try await Task.sleep(for: .milliseconds(25))
        }
        return items
    }

    @Test("every active subscriber gets each version once, signed and in its language; a 410 disables the subscriber; corrections go to those reached")
    func publishToSubscribers() async throws {
        guard let receiver = try await Receiver.start() else { return }
        defer { receiver.stop() }
        let (gateway, dispatcher) = try await gateway()
        defer { dispatcher.cancel() }
        let store = gateway.store
        _ = try await store.insertSubscriber(NewSubscriber(id: .unsaved, name: "partner-kk", url: receiver.url("/ok"), secret: receiver.secret.text, language: .kazakh))
        _ = try await store.insertSubscriber(NewSubscriber(id: .unsaved, name: "partner-ru", url: receiver.url("/ok"), secret: receiver.secret.text, language: .russian))
        _ = try await store.insertSubscriber(NewSubscriber(id: .unsaved, name: "left", url: receiver.url("/gone"), secret: receiver.secret.text))
        _ = try await store.insertSubscriber(NewSubscriber(id: .unsaved, name: "paused", url: receiver.url("/ok"), secret: receiver.secret.text, active: false))
        await #expect(throws: OperationError.self) {
            try await store.insertSubscriber(NewSubscriber(id: .unsaved, name: "partner-kk", url: receiver.url("/ok"), secret: receiver.secret.text))
        }
        _ = try await store.upsertCitizens([Fixtures.citizen(1, language: .kazakh)])
        let advisory = try await gateway.publisher.draft(Fixtures.advisory(channels: ["sms", "partners"]), now: Date())
        let published = try await gateway.publisher.publish(id: advisory.id, approver: "approver-1", now: Date())
        #expect(published.queued == 4)  // one citizen, three active subscribers

        let first = try await settled(gateway, advisory.id, count: 3)
        #expect(first.map(\.state).sorted { $0.rawValue < $1.rawValue } == [.failed, .sent, .sent], "\(first)")
        let received = receiver.received()
        #expect(received.count == 2 && received.allSatisfy { $0["verified"] as? Bool == true }, "\(received)")
        let bodies = received.compactMap { $0["body"] as? [String: Any] }
        #expect(bodies.allSatisfy { $0["type"] as? String == "advisory.published" })
        #expect(Set(bodies.compactMap { ($0["data"] as? [String: Any])?["language"] as? String }) == ["kk", "ru"])
        let subscribers = try await store.subscribers()
        let left = try #require(subscribers.first { $0.name == "left" })
        #expect(!left.active && (left.disabledReason ?? "").contains("410"))
        #expect(subscribers.filter(\.active).map(\.name).sorted() == ["partner-kk", "partner-ru"])

        // A correction reaches the two that got the first version, and only them.
        var changed = advisory.params
        changed.meetingPoint = "Астара, кеден бекеті"
        _ = try await gateway.publisher.correct(
            id: advisory.id, AdvisoryCorrection(params: changed), by: Actor(name: "operator-1"), threshold: 100, now: Date())
        let both = try await settled(gateway, advisory.id, count: 5)
        #expect(both.filter { $0.advisoryVersion == 2 }.map(\.state) == [.sent, .sent], "\(both)")
        let updates = receiver.received().dropFirst(2).compactMap { $0["body"] as? [String: Any] }
        #expect(updates.count == 2 && updates.allSatisfy { $0["type"] as? String == "advisory.updated" })
        // Each webhook-id (the idempotency key) was used once.
        #expect(Set(receiver.received().compactMap { $0["id"] as? String }).count == 4)
    }
}

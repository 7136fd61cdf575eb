import Foundation
import HabarCore
import HabarMessages
import HabarStoreSQLite
import HabarTesting
import Logging
import Metrics
import Synchronization
import Testing

/// A dispatcher over a real SQLite store, scripted channels and a hand-moved clock.
struct DispatchRig {
    let store: SQLiteStore
    let clock = TestClock()
    let channels: [String: ScriptedChannel]
    let dispatcher: Dispatcher
    let publisher: AdvisoryPublisher

    init(_ channels: [ScriptedChannel], retry: RetryPolicy = RetryPolicy(maxAttempts: 3, baseDelaySeconds: 1, maxDelaySeconds: 10, maxStepAgeSeconds: 3600),
         breaker: BreakerSettings = BreakerSettings(failureThreshold: 100, openSeconds: 30), rate: Double? = nil) throws {
        store = try SQLiteStore.inMemory()
        self.channels = Dictionary(uniqueKeysWithValues: channels.map { ($0.name, $0) })
        let settings = DispatcherSettings(instanceId: "test-worker", batchSize: 100, leaseSeconds: 30, pollMilliseconds: 10,
                                          sendTimeoutSeconds: 5, concurrency: 4, retry: retry)
        let configurations = channels.map { ChannelConfiguration(name: $0.name, type: "scripted", ratePerSecond: rate, breaker: breaker) }
        let logger = Logger(label: "test")
        dispatcher = Dispatcher(
            store: store, adapters: self.channels, configurations: configurations,
            receipts: ReceiptCollector(store: store, logger: logger), settings: settings,
            metricsFactory: NOOPMetricsHandler.instance, logger: logger, now: clock.function)
        publisher = AdvisoryPublisher(store: store, catalog: try Fixtures.catalog(), channels: self.channels.mapValues(\.capabilities))
    }

    /// Registers `count` citizens (with e-mail when asked) and publishes an advisory to them.
    func publish(_ advisory: NewAdvisory, citizens count: Int = 1, email: Bool = false) async throws -> Int64 {
        _ = try await store.upsertCitizens((1...count).map { Fixtures.citizen($0, email: email) })
        let stored = try await store.insertAdvisory(advisory)
        _ = try await publisher.publish(id: stored.id, approver: "approver-1", now: clock.now)
        return stored.id
    }

    func delivery(_ id: Int64 = 1) async throws -> Delivery { try #require(try await store.delivery(id: id)) }

    /// The delivery's history, each move checked against the state machine in core.
    func path(_ id: Int64 = 1) async throws -> [String] {
        let events = try await store.deliveryEvents(deliveryId: id)
        for event in events where !DeliveryState.allows(from: event.fromState, to: event.toState) {
            Issue.record("delivery \(id) moved \(event.fromState?.rawValue ?? "nil") → \(event.toState.rawValue), which the state machine does not allow")
        }
        return events.map { "\($0.step):\($0.toState.rawValue)" }
    }
}

@Suite("Dispatcher state machine")
struct DispatcherStateMachineTests {
    @Test("queued → sending → sent → delivered on a receipt")
    func happyPath() async throws {
        let rig = try DispatchRig([ScriptedChannel(name: "sms")])
        _ = try await rig.publish(Fixtures.advisory(expiresAt: rig.clock.now.addingTimeInterval(3600)))
        #expect(try await rig.dispatcher.dispatchOnce(channel: "sms") == 1)
        #expect(try await rig.delivery().state == .sent)
        try await rig.store.applyReceipts([DeliveryReceipt(deliveryId: 1, step: 0, channel: "sms", status: .delivered, at: rig.clock.now)], now: rig.clock.now)
        #expect(try await rig.delivery().state == .delivered)
        #expect(try await rig.path() == ["0:queued", "0:sending", "0:sent", "0:delivered"])
        let sent = try #require(rig.channels["sms"]?.sent.first)
        #expect(sent.idempotencyKey.hasSuffix("-1-0"))
        #expect(sent.message.text.contains("Тегеран — Астара"))
    }

    @Test("a transient error retries with backoff, then succeeds")
    func retryThenSuccess() async throws {
        let rig = try DispatchRig([ScriptedChannel(name: "sms", script: [.fail(.transient("503 from provider"))])])
        _ = try await rig.publish(Fixtures.advisory(expiresAt: rig.clock.now.addingTimeInterval(3600)))
        try await rig.dispatcher.dispatchOnce(channel: "sms")
        let retrying = try await rig.delivery()
        #expect(retrying.state == .retrying)
        #expect(retrying.attempts == 1)
        #expect(retrying.nextAttemptAt >= rig.clock.now && retrying.nextAttemptAt <= rig.clock.now.addingTimeInterval(1))
        #expect(retrying.lastError == "503 from provider")
        rig.clock.advance(1.5)
        try await rig.dispatcher.dispatchOnce(channel: "sms")
        #expect(try await rig.delivery().state == .sent)
        #expect(try await rig.path() == ["0:queued", "0:sending", "0:retrying", "0:sending", "0:sent"])
        #expect(Set(rig.channels["sms"]!.sent.map(\.idempotencyKey)).count == 1, "every attempt of one step carries the same key")
    }

    @Test("a retry is not sent before it is due")
    func retryWaits() async throws {
        let rig = try DispatchRig([ScriptedChannel(name: "sms", script: [.fail(.transient("busy", retryAfter: .seconds(120)))])])
        _ = try await rig.publish(Fixtures.advisory(expiresAt: rig.clock.now.addingTimeInterval(3600)))
        try await rig.dispatcher.dispatchOnce(channel: "sms")
        let retrying = try await rig.delivery()
        #expect(abs(retrying.nextAttemptAt.timeIntervalSince(rig.clock.now) - 120) < 0.01, "Retry-After wins over the computed backoff")
        rig.clock.advance(60)
        #expect(try await rig.dispatcher.dispatchOnce(channel: "sms") == 0)
        rig.clock.advance(61)
        #expect(try await rig.dispatcher.dispatchOnce(channel: "sms") == 1)
    }

    @Test("exhausted retries fail the step and start the next channel")
    func retryExhaustionFallsBack() async throws {
        let sms = ScriptedChannel(name: "sms", otherwise: .fail(.transient("provider down")))
        let email = ScriptedChannel(name: "email", address: .email, kind: .email)
        let rig = try DispatchRig([sms, email])
        _ = try await rig.publish(Fixtures.advisory(channels: ["sms", "email"], expiresAt: rig.clock.now.addingTimeInterval(3600)), email: true)
        for _ in 0..<3 {
            try await rig.dispatcher.dispatchOnce(channel: "sms")
            rig.clock.advance(11)
        }
        let moved = try await rig.delivery()
        #expect(moved.step == 1)
        #expect(moved.channel == "email")
        #expect(moved.state == .queued)
        #expect(sms.sent.count == 3)
        try await rig.dispatcher.dispatchOnce(channel: "email")
        #expect(try await rig.delivery().state == .sent)
        #expect(try await rig.path() == [
            "0:queued", "0:sending", "0:retrying", "0:sending", "0:retrying", "0:sending", "0:failed", "1:queued", "1:sending", "1:sent",
        ])
        #expect(email.sent.first?.message.subject != nil, "the e-mail step gets the e-mail rendering")
    }

    @Test("a permanent error fails the step at once and starts the next channel")
    func permanentFallsBack() async throws {
        let sms = ScriptedChannel(name: "sms", script: [.fail(.permanent("unknown subscriber"))])
        let rig = try DispatchRig([sms, ScriptedChannel(name: "email", address: .email, kind: .email)])
        _ = try await rig.publish(Fixtures.advisory(channels: ["sms", "email"], expiresAt: rig.clock.now.addingTimeInterval(3600)), email: true)
        try await rig.dispatcher.dispatchOnce(channel: "sms")
        #expect(try await rig.delivery().channel == "email")
        #expect(try await rig.path() == ["0:queued", "0:sending", "0:failed", "1:queued"])
    }

    @Test("a permanent error on the last step fails the delivery")
    func permanentOnLastStep() async throws {
        let rig = try DispatchRig([ScriptedChannel(name: "sms", script: [.fail(.permanent("unknown subscriber"))])])
        _ = try await rig.publish(Fixtures.advisory(expiresAt: rig.clock.now.addingTimeInterval(3600)))
        try await rig.dispatcher.dispatchOnce(channel: "sms")
        let failed = try await rig.delivery()
        #expect(failed.state == .failed)
        #expect(failed.lastError == "unknown subscriber")
    }

    @Test("citizens without an address for a channel skip that step")
    func stepsFollowAddresses() async throws {
        let rig = try DispatchRig([ScriptedChannel(name: "sms"), ScriptedChannel(name: "email", address: .email, kind: .email)])
        _ = try await rig.store.insertCitizen(NewCitizen(id: .unsaved, fullName: "Only mail", email: "only@example.kz", country: "IR"))
        let stored = try await rig.store.insertAdvisory(Fixtures.advisory(channels: ["sms", "email"], expiresAt: rig.clock.now.addingTimeInterval(3600)))
        let result = try await rig.publisher.publish(id: stored.id, approver: "a", now: rig.clock.now)
        #expect(result.queued == 1)
        #expect(try await rig.delivery().steps == ["email"])
    }

    @Test("past its expiry a delivery is expired, never sent")
    func expiryBeforeSend() async throws {
        let rig = try DispatchRig([ScriptedChannel(name: "sms")])
        _ = try await rig.publish(Fixtures.advisory(expiresAt: rig.clock.now.addingTimeInterval(10)))
        rig.clock.advance(20)
        try await rig.dispatcher.dispatchOnce(channel: "sms")
        #expect(try await rig.delivery().state == .expired)
        #expect(rig.channels["sms"]!.sent.isEmpty)
        #expect(try await rig.path() == ["0:queued", "0:expired"])
    }

    @Test("overdue deliveries are expired by housekeeping even if no channel claims them")
    func housekeepingExpires() async throws {
        let rig = try DispatchRig([ScriptedChannel(name: "sms")])
        let id = try await rig.publish(Fixtures.advisory(expiresAt: rig.clock.now.addingTimeInterval(10)), citizens: 3)
        rig.clock.advance(11)
        #expect(try await rig.store.expireOverdue(now: rig.clock.now) == 3)
        #expect(try await rig.store.advisory(id: id)?.status == .expired)
        #expect(try await rig.store.deliveryCounts(advisoryId: nil).map(\.state) == [.expired])
    }

    @Test("cancelling while queued: nothing is sent")
    func cancelWhileQueued() async throws {
        let rig = try DispatchRig([ScriptedChannel(name: "sms")])
        let id = try await rig.publish(Fixtures.advisory(expiresAt: rig.clock.now.addingTimeInterval(3600)), citizens: 5)
        #expect(try await rig.store.cancelAdvisory(id: id, at: rig.clock.now, by: "approver", notice: nil).cancelled == 5)
        #expect(try await rig.dispatcher.dispatchOnce(channel: "sms") == 0)
        #expect(rig.channels["sms"]!.sent.isEmpty)
        #expect(try await rig.path() == ["0:queued", "0:cancelled"])
    }

    @Test("cancelling while retrying: the retry is never sent")
    func cancelWhileRetrying() async throws {
        let rig = try DispatchRig([ScriptedChannel(name: "sms", script: [.fail(.transient("busy"))])])
        let id = try await rig.publish(Fixtures.advisory(expiresAt: rig.clock.now.addingTimeInterval(3600)))
        try await rig.dispatcher.dispatchOnce(channel: "sms")
        #expect(try await rig.delivery().state == .retrying)
        _ = try await rig.store.cancelAdvisory(id: id, at: rig.clock.now, by: "approver", notice: nil)
        rig.clock.advance(60)
        try await rig.dispatcher.dispatchOnce(channel: "sms")
        #expect(try await rig.delivery().state == .cancelled)
        #expect(rig.channels["sms"]!.sent.count == 1)
    }

    @Test("a dead worker's lease is taken over after it expires, and its late outcome is ignored")
    func leaseTakeover() async throws {
        let rig = try DispatchRig([ScriptedChannel(name: "sms")])
        _ = try await rig.publish(Fixtures.advisory(expiresAt: rig.clock.now.addingTimeInterval(3600)))
        let claimed = try await rig.store.claimDeliveries(
            channel: "sms", kind: .sms, address: .phone, limit: 10, owner: "dead-worker",
            leaseUntil: rig.clock.now.addingTimeInterval(30), now: rig.clock.now)
        #expect(claimed.count == 1)
        #expect(try await rig.dispatcher.dispatchOnce(channel: "sms") == 0, "a live lease is not taken")
        #expect(try await rig.store.recoverLeases(now: rig.clock.now, owner: nil) == 0)
        rig.clock.advance(31)
        #expect(try await rig.store.recoverLeases(now: rig.clock.now, owner: nil) == 1)
        try await rig.dispatcher.dispatchOnce(channel: "sms")
        #expect(try await rig.delivery().state == .sent)
        try await rig.store.recordOutcomes(
            [DeliveryOutcome(deliveryId: 1, step: 0, channel: "sms", result: .failed(reason: "late"))], owner: "dead-worker", now: rig.clock.now)
        #expect(try await rig.delivery().state == .sent, "the dead worker no longer holds the lease")
        #expect(try await rig.path() == ["0:queued", "0:sending", "0:retrying", "0:sending", "0:sent"])
    }

    @Test("a restarted instance takes back its own leases at once")
    func ownLeasesAfterRestart() async throws {
        let rig = try DispatchRig([ScriptedChannel(name: "sms")])
        _ = try await rig.publish(Fixtures.advisory(expiresAt: rig.clock.now.addingTimeInterval(3600)), citizens: 4)
        _ = try await rig.store.claimDeliveries(
            channel: "sms", kind: .sms, address: .phone, limit: 10, owner: "test-worker",
            leaseUntil: rig.clock.now.addingTimeInterval(30), now: rig.clock.now)
        #expect(try await rig.store.recoverLeases(now: rig.clock.now, owner: "test-worker") == 4)
    }

    @Test("a delivery report that arrives before the send is recorded is kept and applied")
    func earlyReceipt() async throws {
        let rig = try DispatchRig([ScriptedChannel(name: "sms")])
        _ = try await rig.publish(Fixtures.advisory(expiresAt: rig.clock.now.addingTimeInterval(3600)))
        _ = try await rig.store.claimDeliveries(
            channel: "sms", kind: .sms, address: .phone, limit: 1, owner: "w", leaseUntil: rig.clock.now.addingTimeInterval(30), now: rig.clock.now)
        try await rig.store.applyReceipts([DeliveryReceipt(deliveryId: 1, step: 0, channel: "sms", status: .delivered, at: rig.clock.now)], now: rig.clock.now)
        #expect(try await rig.delivery().state == .sending)
        try await rig.store.recordOutcomes([DeliveryOutcome(deliveryId: 1, step: 0, channel: "sms", result: .sent(providerMessageId: "x"))], owner: "w", now: rig.clock.now)
        #expect(try await rig.delivery().state == .delivered)
        #expect(try await rig.path() == ["0:queued", "0:sending", "0:sent", "0:delivered"])
    }

    @Test("a non-delivery report fails the step and starts the next channel")
    func failedReceiptFallsBack() async throws {
        let rig = try DispatchRig([ScriptedChannel(name: "sms"), ScriptedChannel(name: "email", address: .email, kind: .email)])
        _ = try await rig.publish(Fixtures.advisory(channels: ["sms", "email"], expiresAt: rig.clock.now.addingTimeInterval(3600)), email: true)
        try await rig.dispatcher.dispatchOnce(channel: "sms")
        try await rig.store.applyReceipts(
            [DeliveryReceipt(deliveryId: 1, step: 0, channel: "sms", status: .failed(reason: "absent subscriber"), at: rig.clock.now)], now: rig.clock.now)
        let moved = try await rig.delivery()
        #expect(moved.channel == "email" && moved.state == .queued)
        try await rig.store.applyReceipts(
            [DeliveryReceipt(deliveryId: 1, step: 0, channel: "sms", status: .delivered, at: rig.clock.now)], now: rig.clock.now)
        #expect(try await rig.delivery().state == .queued, "a late report for an earlier step changes nothing")
    }

    @Test("after repeated transient failures the breaker pauses the channel without spending attempts")
    func breakerPauses() async throws {
        let sms = ScriptedChannel(name: "sms", otherwise: .fail(.transient("connection refused")))
        let rig = try DispatchRig([sms], retry: RetryPolicy(maxAttempts: 10, baseDelaySeconds: 0, maxDelaySeconds: 0, maxStepAgeSeconds: 3600),
                                  breaker: BreakerSettings(failureThreshold: 2, openSeconds: 30))
        _ = try await rig.publish(Fixtures.advisory(expiresAt: rig.clock.now.addingTimeInterval(3600)), citizens: 6)
        try await rig.dispatcher.dispatchOnce(channel: "sms")
        #expect(rig.dispatcher.pausedChannels() == ["sms"])
        let firstRound = sms.sent.count
        // Before the breaker opens at the 2nd failure, each of the 4 senders may have started
        // one send and the first to fail one more; none starts after.
        #expect(firstRound <= 4 + 2 - 1, "no send starts once the breaker is open")
        #expect(firstRound < 6)
        let attempts = try await (1...6).asyncMap { try await rig.delivery(Int64($0)).attempts }
        #expect(attempts.reduce(0, +) == firstRound, "deferred deliveries spend no attempt")
        let events = try await (1...6).asyncMap { try await rig.store.deliveryEvents(deliveryId: Int64($0)).count }.reduce(0, +)
        rig.clock.advance(5)
        #expect(try await rig.dispatcher.dispatchOnce(channel: "sms") == 0, "nothing is claimed while paused")
        #expect(try await (1...6).asyncMap { try await rig.store.deliveryEvents(deliveryId: Int64($0)).count }.reduce(0, +) == events,
                "waiting for the probe writes no history")
        rig.clock.advance(26)
        try await rig.dispatcher.dispatchOnce(channel: "sms")
        #expect(sms.sent.count == firstRound + 1, "after the pause exactly one probe goes out")
    }

    @Test("while a channel is paused, deliveries whose step ran out of time fall back to the next channel")
    func pausedChannelFallsBack() async throws {
        let sms = ScriptedChannel(name: "sms", otherwise: .fail(.transient("connection refused")))
        let email = ScriptedChannel(name: "email", address: .email, kind: .email)
        let rig = try DispatchRig([sms, email], retry: RetryPolicy(maxAttempts: 100, baseDelaySeconds: 0, maxDelaySeconds: 0, maxStepAgeSeconds: 60),
                                  breaker: BreakerSettings(failureThreshold: 1, openSeconds: 300))
        _ = try await rig.publish(Fixtures.advisory(channels: ["sms", "email"], expiresAt: rig.clock.now.addingTimeInterval(3600)), citizens: 3, email: true)
        try await rig.dispatcher.dispatchOnce(channel: "sms")
        #expect(rig.dispatcher.pausedChannels() == ["sms"])
        rig.clock.advance(61)
        try await rig.dispatcher.dispatchOnce(channel: "sms")
        #expect(try await (1...3).asyncMap { try await rig.delivery(Int64($0)).channel } == ["email", "email", "email"])
        try await rig.dispatcher.dispatchOnce(channel: "email")
        #expect(email.sent.count == 3)
    }

    @Test("a channel's rate limit spaces its sends")
    func rateLimit() async throws {
        /// How long 40 sends take on a fresh rig with `rate` (nil: no limit).
        func sendForty(rate: Double?) async throws -> Duration {
            let sms = ScriptedChannel(name: "sms")
            let rig = try DispatchRig([sms], rate: rate)
            _ = try await rig.publish(Fixtures.advisory(expiresAt: rig.clock.now.addingTimeInterval(3600)), citizens: 40)
            let started = ContinuousClock.now
            while sms.sent.count < 40 { try await rig.dispatcher.dispatchOnce(channel: "sms") }
            return ContinuousClock.now - started
        }
        // The same work without a limit, just before: what this machine's load costs now.
        let unlimited = try await sendForty(rate: nil)
        let elapsed = try await sendForty(rate: 20)
        // A burst of 20 goes at once, the next 20 at 20 a second.
        #expect(elapsed >= .milliseconds(900), "40 sends at 20/s with a burst of 20 take about a second; took \(elapsed)")
        // The limit adds about a second to the same work; a limiter ten times too slow would
        // add ten (the whole suite, browsers included, shares two cores, so the work itself
        // is measured beside it rather than bounded in absolute time).
        #expect(elapsed - unlimited < .seconds(5), "took \(elapsed), \(unlimited) without a limit")
    }

    @Test("higher severity is sent first, then the oldest")
    func severityOrder() async throws {
        let rig = try DispatchRig([ScriptedChannel(name: "sms")])
        _ = try await rig.store.upsertCitizens([Fixtures.citizen(1)])
        let minor = try await rig.store.insertAdvisory(Fixtures.advisory(severity: .minor, expiresAt: rig.clock.now.addingTimeInterval(3600)))
        _ = try await rig.publisher.publish(id: minor.id, approver: "a", now: rig.clock.now)
        rig.clock.advance(1)
        let extreme = try await rig.store.insertAdvisory(Fixtures.advisory(severity: .extreme, expiresAt: rig.clock.now.addingTimeInterval(3600)))
        _ = try await rig.publisher.publish(id: extreme.id, approver: "a", now: rig.clock.now)
        let claimed = try await rig.store.claimDeliveries(
            channel: "sms", kind: .sms, address: .phone, limit: 1, owner: "w", leaseUntil: rig.clock.now.addingTimeInterval(30), now: rig.clock.now)
        #expect(claimed.first?.message.advisoryId == extreme.id)
    }

    @Test("graceful shutdown returns claimed, unsent deliveries to the queue")
    func shutdownReleases() async throws {
        let rig = try DispatchRig([ScriptedChannel(name: "sms")])
        _ = try await rig.publish(Fixtures.advisory(expiresAt: rig.clock.now.addingTimeInterval(3600)), citizens: 3)
        rig.dispatcher.stop()
        try await rig.dispatcher.dispatchOnce(channel: "sms")
        #expect(rig.channels["sms"]!.sent.isEmpty)
        #expect(try await rig.delivery().state == .queued)
        #expect(try await rig.path() == ["0:queued", "0:sending", "0:queued"])
    }

    @Test("one citizen matched by several selectors is queued once; publishing again queues nothing")
    func noDuplicates() async throws {
        let rig = try DispatchRig([ScriptedChannel(name: "sms")])
        _ = try await rig.store.upsertCitizens([Fixtures.citizen(1), Fixtures.citizen(2)])
        var advisory = Fixtures.advisory(expiresAt: rig.clock.now.addingTimeInterval(3600))
        advisory.audience = Audience(countries: ["IR"], citizenIds: [1])
        let stored = try await rig.store.insertAdvisory(advisory)
        #expect(try await rig.publisher.publish(id: stored.id, approver: "a", now: rig.clock.now).queued == 2)
        #expect(try await rig.publisher.publish(id: stored.id, approver: "a", now: rig.clock.now).queued == 0)
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}

/// A channel whose sends wait until the test lets them through, one by one.
final class GatedChannel: ChannelAdapter {
    let name = "sms"
    let capabilities = ChannelCapabilities(messageKind: .sms, addressKind: .phone, deliveryReceipts: false)
    var secrets: [String] { [] }
    private let allowed = Mutex(0)
    private let begun = Mutex<[Int64]>([])

    /// The deliveries whose send has begun, in order.
    var started: [Int64] { begun.withLock { $0 } }

    /// Lets `count` more sends complete.
    func open(_ count: Int) { allowed.withLock { $0 += count } }

    func send(_ message: OutboundMessage) async throws(ChannelError) -> SendReceipt {
        let turn = begun.withLock { $0.append(message.deliveryId); return $0.count }
        while allowed.withLock({ $0 }) < turn {
            do { try await Task.sleep(for: .milliseconds(2)) } catch { throw .transient("cancelled") }
        }
        return SendReceipt(providerMessageId: "p-\(message.deliveryId)")
    }
}

@Suite("Dispatcher claims ahead")
struct ClaimAheadTests {
    @Test("the run loop claims the next batch while the last of the previous one are still being sent, never more than a batch and a half unsent")
    func claimsAhead() async throws {
        let store = try SQLiteStore.inMemory()
        let clock = TestClock()
        let channel = GatedChannel()
        let logger = Logger(label: "test")
        // One loop of one sender, batches of 10: the next claim comes when 5 are left unsent.
        let settings = DispatcherSettings(instanceId: "test-worker", batchSize: 10, leaseSeconds: 30, pollMilliseconds: 10,
                                          concurrency: 1, workersPerChannel: 1)
        let dispatcher = Dispatcher(
            store: store, adapters: ["sms": channel], configurations: [ChannelConfiguration(name: "sms", type: "gated")],
            receipts: ReceiptCollector(store: store, logger: logger), settings: settings,
            metricsFactory: NOOPMetricsHandler.instance, logger: logger, now: clock.function)
        _ = try await store.upsertCitizens((1...30).map { Fixtures.citizen($0) })
        let advisory = try await store.insertAdvisory(Fixtures.advisory(expiresAt: clock.now.addingTimeInterval(3600)))
        let publisher = AdvisoryPublisher(store: store, catalog: try Fixtures.catalog(), channels: ["sms": channel.capabilities])
        _ = try await publisher.publish(id: advisory.id, approver: "approver-1", now: clock.now)
        let running = Task { try await dispatcher.run() }
        defer { running.cancel() }

        func states() async throws -> [DeliveryState] {
            var states: [DeliveryState] = []
            for id in Int64(1)...30 { states.append(try #require(try await store.delivery(id: id)).state) }
            return states
        }
        func waitFor(_ what: String, _ condition: ([DeliveryState]) -> Bool) async throws -> [DeliveryState] {
            // Generous: beside the whole suite on two cores a claim can take seconds.
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                let current = try await states()
                if condition(current) { return current }
                try await Task.sleep(for: .milliseconds(10))
            }
            let current = try await states()
            Issue.record("\(what) did not happen: \(current.map(\.rawValue))")
            return current
        }

        // The first batch is claimed and its first send waits at the gate: nothing more is claimed.
        _ = try await waitFor("the first claim") { $0.prefix(10).allSatisfy { $0 == .sending } }
        try await Task.sleep(for: .milliseconds(100))
        var now = try await states()
        #expect(now.filter { $0 == .sending }.count == 10)
        // Four sends complete; the fifth is in flight and five wait: the loop claims the next
        // batch (11–20) while 5–10 of the first are still unsent.
        channel.open(4)
        _ = try await waitFor("the claim ahead") { $0[10] == .sending }
        // Read again once it has settled (the fifth send waits at the gate): one delivery at a
        // time, a read that began before the four records could mix the two moments.
        try await Task.sleep(for: .milliseconds(100))
        now = try await states()
        #expect(now.prefix(4).allSatisfy { $0 == .sent }, "\(now.map(\.rawValue))")
        #expect(now[4..<20].allSatisfy { $0 == .sending }, "5 in flight, 6–10 waiting, 11–20 claimed ahead")
        #expect(now[20...].allSatisfy { $0 == .queued }, "never more than a batch and a half claimed and unsent")
        #expect(channel.started == [1, 2, 3, 4, 5])
        // Everything goes, each once, in order.
        channel.open(100)
        _ = try await waitFor("every send") { $0.allSatisfy { $0 == .sent } }
        #expect(channel.started == Array(1...30))
        dispatcher.stop()
        try await running.value
    }
}

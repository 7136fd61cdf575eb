import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Sends queued deliveries through the channel adapters: claims due work in leased batches,
/// sends with each channel's concurrency, rate limit and circuit breaker, and records every
/// outcome. It alone decides retry, failure and fallback.
///
/// Graceful shutdown stops claiming, lets the sends in flight finish and records them, and
/// returns the claimed-but-unsent deliveries to the queue.
public final class Dispatcher: Service {
    private let store: any DispatchStore
    private let channels: [ChannelLane]
    private let receipts: ReceiptCollector
    private let settings: DispatcherSettings
    private let logger: Logger
    private let now: @Sendable () -> Date
    private let stopping = Mutex(false)
    private let metrics: DispatcherMetrics
    /// Puts each citizen's check-in token into the texts that carry the placeholder.
    private let links: CheckinLinks?
    /// Whether this process is its store's only user (`OpenedStore.exclusive`).
    private let exclusive: Bool
    /// Outcomes are recorded as their sends complete, many senders' in one transaction: a
    /// crash leaves unrecorded only the sends in flight (at most a channel's concurrency),
    /// not a whole claimed batch.
    private let recorder: GroupCommit<DeliveryOutcome, Void>

    /// - Parameters:
    ///   - adapters: the configured channel instances by name.
    ///   - configurations: their configuration, for limits and breakers.
    ///   - now: the clock (tests move it).
    public init(
        store: any DispatchStore,
        adapters: [String: any ChannelAdapter],
        configurations: [ChannelConfiguration],
        receipts: ReceiptCollector,
        settings: DispatcherSettings,
        metricsFactory: any MetricsFactory,
        logger: Logger,
        links: CheckinLinks? = nil,
        exclusive: Bool = false,
        writers: Int = 1,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.exclusive = exclusive
        let owner = settings.instanceId
        // Outcomes in `writers` transactions at once (`OpenedStore.outcomeWriters`; one on both
        // stores today: fewer, larger batches cost the database less per outcome).
        recorder = GroupCommit(maxBatch: 1000, lanes: writers, gathers: true) { [store] batch in
            try await store.recordOutcomes(batch, owner: owner, now: now())
            return batch.map { _ in () }
        }
        self.links = links
        self.store = store
        self.receipts = receipts
        self.settings = settings
        self.logger = logger
        self.now = now
        self.metrics = DispatcherMetrics(factory: metricsFactory)
        self.channels = configurations.compactMap { configuration in
            guard let adapter = adapters[configuration.name] else { return nil }
            // Instances sharing a store share each channel's rate limit through it.
            return ChannelLane(
                adapter: adapter, configuration: configuration, defaults: settings, metricsFactory: metricsFactory,
                shared: exclusive ? nil : store as? any RateLimitStore)
        }
    }

    /// Whether a graceful shutdown has begun.
    public var isStopping: Bool { stopping.withLock { $0 } }

    /// Channel instances whose circuit breaker has paused them.
    public func pausedChannels() -> [String] {
        channels.filter { $0.breaker.isOpen }.map(\.name).sorted()
    }

    /// Every channel's health at `now`, in the configured order.
    public func health(at now: Date) -> [ChannelHealth] {
        channels.map { lane in
            let error = lane.activity.lastError
            return ChannelHealth(
                name: lane.name, pausedUntil: lane.breaker.pausedUntil(now: now), rateLimit: lane.bucket?.rate,
                currentRate: lane.activity.rate(at: now), lastError: error?.reason, lastErrorAt: error?.at)
        }
    }

    /// Asks the dispatcher to stop claiming (what graceful shutdown does).
    public func stop() { stopping.withLock { $0 = true } }

    public func run() async throws {
        // The only user of its store takes back every lease a previous run left (whatever
        // its instance id); on a shared store only this id's (others' are live or expire).
        let recovered = exclusive
            ? try await store.recoverLeases(expiredBy: .distantFuture, owner: nil, now: now())
            : try await store.recoverLeases(now: now(), owner: settings.instanceId)
        if recovered > 0 {
            logger.notice("took back deliveries leased before a restart", metadata: ["count": "\(recovered)"])
        }
        await withGracefulShutdownHandler {
            await withThrowingTaskGroup(of: Void.self) { background in
                background.addTask { await self.receipts.run(now: self.now) }
                for lane in self.channels {
                    background.addTask { try await lane.adapter.run() }
                }
                background.addTask { await self.maintain() }
                await withTaskGroup(of: Void.self) { workers in
                    // Claim loops per channel, each claiming ahead for its share of the senders.
                    for lane in self.channels {
                        for _ in 0..<self.settings.workersPerChannel { workers.addTask { await self.work(lane) } }
                    }
                }
                background.cancelAll()
                while let result = await background.nextResult() {
                    if case .failure(let error) = result, !(error is CancellationError) {
                        logger.error("channel background task failed", metadata: ["error": "\(error)"])
                    }
                }
            }
        } onGracefulShutdown: {
            self.stop()
        }
    }

    // MARK: Work loop of one channel

    /// One claim loop of a channel and its senders: the loop claims ahead into a feed (the
    /// next claim once half a batch is left), the senders send from it.
    private func work(_ lane: ChannelLane) async {
        let feed = feed(for: lane)
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.claimAhead(lane, into: feed) }
            await self.send(from: feed, on: lane)
        }
        // Outcomes whose record failed (the database away) and that no claim took: recorded
        // now, or their leases expire and they are taken over.
        let unrecorded = feed.takeUnrecorded()
        if !unrecorded.isEmpty {
            do { try await store.recordOutcomes(unrecorded, owner: settings.instanceId, now: now()) } catch {
                logger.error("recording the last outcomes failed; their leases will expire", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Claims into `feed` whenever it runs low, until the dispatcher stops; each claim also
    /// records the outcomes whose record failed, in its transaction. Closes the feed at the end.
    private func claimAhead(_ lane: ChannelLane, into feed: ClaimFeed) async {
        defer { feed.close() }
        let poll = Duration.milliseconds(settings.pollMilliseconds)
        while !isStopping && !Task.isCancelled {
            await withTaskCancellationHandler { await feed.wantMore() } onCancel: { feed.close() }
            if isStopping || Task.isCancelled || feed.isClosed { break }
            let previous = feed.takeUnrecorded()
            do {
                let batch = try await claim(lane, limit: feed.batch, recording: previous)
                feed.add(batch)
                if batch.isEmpty { try await Task.sleep(for: poll) }
            } catch is CancellationError {
                feed.keepUnrecorded(previous)
                break
            } catch {
                feed.keepUnrecorded(previous)
                logger.error("dispatch failed; retrying", metadata: ["channel": "\(lane.name)", "error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Claims, sends and records one batch on the named channel; returns how many were
    /// claimed. The run loop does this continuously; tests and benchmarks call it directly.
    @discardableResult
    public func dispatchOnce(channel: String) async throws -> Int {
        guard let lane = channels.first(where: { $0.name == channel }) else { return 0 }
        let feed = feed(for: lane)
        let batch = try await claim(lane, limit: feed.batch, recording: [])
        feed.add(batch)
        feed.close()
        await send(from: feed, on: lane)
        let unrecorded = feed.takeUnrecorded()
        if !unrecorded.isEmpty { try await store.recordOutcomes(unrecorded, owner: settings.instanceId, now: now()) }
        return batch.count
    }

    /// An empty feed for one of `lane`'s loops: the loops share the batch size, and a rate
    /// limit caps it (`claimLimit`).
    private func feed(for lane: ChannelLane) -> ClaimFeed {
        ClaimFeed(batch: lane.claimLimit(batchSize: max(1, settings.batchSize / settings.workersPerChannel)))
    }

    /// Records `previous` and claims up to `limit` deliveries for `lane` in one transaction.
    func claim(_ lane: ChannelLane, limit: Int, recording previous: [DeliveryOutcome]) async throws -> [ClaimedDelivery] {
        let start = now()
        if let until = lane.breaker.pausedUntil(now: start) {
            // While the channel is paused its due deliveries wait for the probe without a
            // claim (and without history noise); those whose step has run out of time stay
            // due, are claimed below and fall back to their next channel.
            _ = try await store.postponeDue(
                channel: lane.name, until: until,
                unlessStepStartedBefore: start.addingTimeInterval(-settings.retry.maxStepAgeSeconds), now: start)
        }
        if !previous.isEmpty {
            logger.warning("recording outcomes whose record failed with this claim", metadata: ["channel": "\(lane.name)", "count": "\(previous.count)"])
        }
        return try await store.recordAndClaim(
            previous, channel: lane.name, kind: lane.adapter.capabilities.messageKind,
            address: lane.adapter.capabilities.addressKind, limit: limit, owner: settings.instanceId,
            leaseUntil: start.addingTimeInterval(settings.leaseSeconds), now: start)
    }

    /// The senders of one claim loop: `concurrency` split among the channel's loops, each
    /// taking the feed's deliveries in order and recording each outcome as its send completes
    /// (group commit). A sender takes its next delivery only once its last outcome is
    /// committed, so at most `concurrency` sends of the channel (or one per loop, when there
    /// are more loops) are ever unrecorded: the most a crash can send twice.
    func send(from feed: ClaimFeed, on lane: ChannelLane) async {
        let senders = max(1, lane.concurrency / settings.workersPerChannel)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<senders {
                group.addTask {
                    // Counted for metrics and the console's channel health in groups, not one by one.
                    var done: [DeliveryOutcome] = []
                    func flush() {
                        guard !done.isEmpty else { return }
                        self.metrics.count(done, channel: lane.name)
                        lane.activity.record(done, at: self.now())
                        done.removeAll(keepingCapacity: true)
                    }
                    while true {
                        if !done.isEmpty, feed.isEmpty { flush() }  // before waiting for the next claim
                        guard let claimed = await feed.next() else { break }
                        let outcome = await self.process(claimed, on: lane)
                        done.append(outcome)
                        if done.count >= 64 { flush() }
                        if feed.recordingFails {
                            feed.keepUnrecorded([outcome])  // the database is away: the next claim records it
                        } else {
                            do { try await self.recorder.submit(outcome) } catch { feed.keepUnrecorded([outcome]) }
                        }
                    }
                    flush()
                }
            }
        }
    }

    /// Decides what happens to one claimed delivery, sending it when it should be sent.
    func process(_ claimed: ClaimedDelivery, on lane: ChannelLane) async -> DeliveryOutcome {
        func outcome(_ result: DeliveryOutcome.Result) -> DeliveryOutcome {
            DeliveryOutcome(deliveryId: claimed.deliveryId, step: claimed.step, channel: claimed.channel, result: result)
        }
        func stepFailed(_ reason: String) -> DeliveryOutcome {
            if let next = DeliveryPlan.nextStep(after: claimed.step, of: claimed.steps) {
                return outcome(.fallback(toStep: next, reason: reason))
            }
            return outcome(.failed(reason: reason))
        }
        var current = now()
        if current >= claimed.message.expiresAt { return outcome(.expired) }
        if settings.retry.isExhausted(attempts: claimed.attempts, stepStartedAt: claimed.stepStartedAt, now: current) {
            return stepFailed("gave up after \(claimed.attempts) attempts")
        }
        var probing = false
        switch lane.breaker.permit(now: current) {
        case .allowed: break
        case .probe: probing = true
        case .rejected(let until):
            // Due again when the pause ends, or sooner when its step runs out of time then
            // (it falls back to the plan's next channel instead of waiting out the pause).
            let stepEnds = claimed.stepStartedAt.addingTimeInterval(settings.retry.maxStepAgeSeconds)
            return outcome(.retry(at: min(until, stepEnds), reason: "channel paused: circuit open", countsAttempt: false))
        }
        if let bucket = lane.bucket {
            do { try await bucket.acquire() } catch { return outcome(.released) }
        }
        if isStopping && !probing { return outcome(.released) }
        current = now()
        if current >= claimed.message.expiresAt { return outcome(.expired) }

        let message: OutboundMessage
        do { message = try await links?.personalize(claimed.message) ?? claimed.message } catch {
            return outcome(.retry(at: now().addingTimeInterval(1), reason: "check-in link: \(error)", countsAttempt: false))
        }
        let started = ContinuousClock.now
        let result = await send(message, through: lane.adapter)
        lane.latency.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        switch result {
        case .success(let receipt):
            lane.breaker.recordSuccess()
            return outcome(.sent(providerMessageId: receipt.providerMessageId))
        case .failure(let error):
            switch error.kind {
            case .permanent:
                if probing { lane.breaker.recordSuccess() }
                if error.addressGone {
                    return outcome(.addressGone(nextStep: DeliveryPlan.nextStep(after: claimed.step, of: claimed.steps), reason: error.reason))
                }
                return stepFailed(error.reason)
            case .transient(let retryAfter):
                if lane.breaker.recordFailure(now: now()) {
                    logger.warning("channel paused after repeated failures", metadata: ["channel": "\(lane.name)", "reason": "\(error.reason)"])
                }
                let attempts = claimed.attempts + 1
                let after = now()
                if settings.retry.isExhausted(attempts: attempts, stepStartedAt: claimed.stepStartedAt, now: after) {
                    return stepFailed("\(error.reason) (gave up after \(attempts) attempts)")
                }
                var random = SystemRandomNumberGenerator()
                let delay = settings.retry.delay(afterAttempts: attempts, retryAfter: retryAfter, using: &random)
                return outcome(.retry(at: after.addingTimeInterval(delay), reason: error.reason, countsAttempt: true))
            }
        }
    }

    /// One send. Adapters bound every send by their own I/O timeouts (the conformance suite
    /// checks it); the dispatcher adds a watchdog only when the adapter declares none, so
    /// the common path costs no timer per message.
    private func send(_ message: OutboundMessage, through adapter: any ChannelAdapter) async -> Result<SendReceipt, ChannelError> {
        guard !adapter.capabilities.boundsItsOwnSends else {
            do throws(ChannelError) { return .success(try await adapter.send(message)) } catch { return .failure(error) }
        }
        let timeout = Duration.milliseconds(Int64(settings.sendTimeoutSeconds * 1000))
        return await withTaskGroup(of: Result<SendReceipt, ChannelError>?.self) { group in
            group.addTask {
                do throws(ChannelError) { return .success(try await adapter.send(message)) } catch { return .failure(error) }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return Task.isCancelled ? nil : .failure(.transient("no answer within \(self.settings.sendTimeoutSeconds) s"))
            }
            var first: Result<SendReceipt, ChannelError>? = nil
            while first == nil, let next = await group.next() { first = next }
            group.cancelAll()
            return first ?? .failure(.transient("send cancelled"))
        }
    }

    // MARK: Housekeeping

    /// Once a second: takes over expired leases (another instance's, dead) and expires
    /// overdue deliveries; every third of the lease, renews this instance's own (the
    /// heartbeat), so a live instance's sends are never taken over however long they take.
    private func maintain() async {
        var renewed = now()
        while !Task.isCancelled {
            do {
                let current = now()
                if current.timeIntervalSince(renewed) >= settings.leaseSeconds / 3 {
                    _ = try await store.renewLeases(owner: settings.instanceId, until: current.addingTimeInterval(settings.leaseSeconds), now: current)
                    renewed = current
                }
                let recovered = try await store.recoverLeases(now: current, owner: nil)
                if recovered > 0 { logger.warning("took over expired leases", metadata: ["count": "\(recovered)"]) }
                _ = try await store.expireOverdue(now: current)
            } catch is CancellationError {
                return
            } catch {
                logger.error("housekeeping failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}

/// One channel instance as the dispatcher drives it: the adapter and its limits.
public struct ChannelLane: Sendable {
    public let adapter: any ChannelAdapter
    public let concurrency: Int
    public let bucket: (any RateLimiter)?
    public let breaker: CircuitBreaker
    /// Its pace and last error lately (the console's channel health).
    public let activity = ChannelActivity()
    /// Send latency of this channel (`habar_send_duration_seconds`).
    let latency: Metrics.Timer

    public var name: String { adapter.name }

    /// `shared`: the store that holds the cluster's rate buckets when instances share one
    /// (nil: this process's own bucket).
    public init(
        adapter: any ChannelAdapter, configuration: ChannelConfiguration, defaults: DispatcherSettings, metricsFactory: any MetricsFactory,
        shared: (any RateLimitStore)? = nil
    ) {
        self.latency = Metrics.Timer(label: "habar_send_duration_seconds", dimensions: [("channel", adapter.name)], factory: metricsFactory)
        self.adapter = adapter
        self.concurrency = max(1, configuration.concurrency ?? defaults.concurrency)
        let rate = configuration.ratePerSecond ?? adapter.capabilities.defaultRatePerSecond
        self.bucket = rate.map { rate -> any RateLimiter in
            if let shared { return SharedTokenBucket(name: "channel:" + adapter.name, rate: rate, store: shared) }
            return TokenBucket(rate: rate)
        }
        self.breaker = CircuitBreaker(settings: configuration.breaker ?? BreakerSettings())
    }

    /// How many to claim at once: no more than about two seconds of the rate limit, so
    /// leases do not run out while deliveries wait for tokens.
    func claimLimit(batchSize: Int) -> Int {
        guard let bucket else { return batchSize }
        return max(1, min(batchSize, Int(bucket.rate * 2)))
    }
}

/// The dispatcher's own metrics (delivery counts by state come from the store on scrape).
struct DispatcherMetrics: Sendable {
    let factory: any MetricsFactory

    func count(_ outcomes: [DeliveryOutcome], channel: String) {
        var byResult: [String: Int] = [:]
        for outcome in outcomes {
            let result: String
            switch outcome.result {
            case .sent: result = "sent"
            case .retry: result = "retry"
            case .fallback: result = "fallback"
            case .failed: result = "failed"
            case .addressGone: result = "address_gone"
            case .expired: result = "expired"
            case .released: result = "released"
            }
            byResult[result, default: 0] += 1
        }
        for (result, count) in byResult {
            Counter(label: "habar_dispatch_outcomes_total", dimensions: [("channel", channel), ("result", result)], factory: factory)
                .increment(by: count)
        }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

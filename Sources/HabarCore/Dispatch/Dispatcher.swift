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
        recorder = GroupCommit(maxBatch: 1000, lanes: writers) { [store] batch in
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
                    // Two loops per channel: while one waits on the database, the other sends.
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

    private func work(_ lane: ChannelLane) async {
        let poll = Duration.milliseconds(settings.pollMilliseconds)
        // Outcomes are recorded as sends complete; one whose record failed (the database
        // away) is recorded with the next claim, or at the end.
        var unrecorded: [DeliveryOutcome] = []
        while !isStopping && !Task.isCancelled {
            do {
                let (claimed, outcomes) = try await dispatchBatch(lane, recording: unrecorded)
                unrecorded = outcomes
                if claimed == 0 { try await Task.sleep(for: poll) }
            } catch is CancellationError {
                break
            } catch {
                logger.error("dispatch failed; retrying", metadata: ["channel": "\(lane.name)", "error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
        if !unrecorded.isEmpty {
            do { try await store.recordOutcomes(unrecorded, owner: settings.instanceId, now: now()) } catch {
                logger.error("recording the last outcomes failed; their leases will expire", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Claims, sends and records one batch on the named channel; returns how many were
    /// claimed. The run loop does this continuously; tests and benchmarks call it directly.
    @discardableResult
    public func dispatchOnce(channel: String) async throws -> Int {
        guard let lane = channels.first(where: { $0.name == channel }) else { return 0 }
        let (claimed, outcomes) = try await dispatchBatch(lane, recording: [])
        try await store.recordOutcomes(outcomes, owner: settings.instanceId, now: now())
        return claimed
    }

    /// Records `previous` and claims one batch for `lane` in one transaction, then sends it,
    /// each outcome recorded as its send completes (group commit); returns how many were
    /// claimed and the outcomes whose record failed.
    func dispatchBatch(_ lane: ChannelLane, recording previous: [DeliveryOutcome]) async throws -> (Int, [DeliveryOutcome]) {
        let start = now()
        if let until = lane.breaker.pausedUntil(now: start) {
            // While the channel is paused its due deliveries wait for the probe without a
            // claim (and without history noise); those whose step has run out of time stay
            // due, are claimed below and fall back to their next channel.
            _ = try await store.postponeDue(
                channel: lane.name, until: until,
                unlessStepStartedBefore: start.addingTimeInterval(-settings.retry.maxStepAgeSeconds), now: start)
        }
        // The channel's loops share one batch size, so at most `batchSize` deliveries of a
        // channel are ever in flight: the most a crash can send twice.
        let limit = lane.claimLimit(batchSize: max(1, settings.batchSize / settings.workersPerChannel))
        let batch = try await store.recordAndClaim(
            previous, channel: lane.name, kind: lane.adapter.capabilities.messageKind,
            address: lane.adapter.capabilities.addressKind, limit: limit, owner: settings.instanceId,
            leaseUntil: start.addingTimeInterval(settings.leaseSeconds), now: start)
        guard !batch.isEmpty else { return (0, []) }
        // `concurrency` senders take the batch's deliveries in order: one task per sender,
        // not per message.
        // A sender takes its next delivery only once its last outcome is committed, and the
        // channel's loops share its concurrency, so at most `concurrency` sends of the channel
        // (or one per loop, when there are more loops) are ever unrecorded.
        let senders = max(1, lane.concurrency / settings.workersPerChannel)
        let next = BatchCursor(count: batch.count)
        let (outcomes, unrecorded) = await withTaskGroup(
            of: ([DeliveryOutcome], [DeliveryOutcome]).self, returning: ([DeliveryOutcome], [DeliveryOutcome]).self
        ) { group in
            for _ in 0..<min(senders, batch.count) {
                group.addTask {
                    var mine: [DeliveryOutcome] = []
                    var failed: [DeliveryOutcome] = []
                    while let index = next.take() {
                        let outcome = await self.process(batch[index], on: lane)
                        mine.append(outcome)
                        if failed.isEmpty {
                            do { try await self.recorder.submit(outcome) } catch { failed.append(outcome) }
                        } else {
                            failed.append(outcome)  // the database is away: keep the rest for the next claim
                        }
                    }
                    return (mine, failed)
                }
            }
            var outcomes: [DeliveryOutcome] = []
            var unrecorded: [DeliveryOutcome] = []
            outcomes.reserveCapacity(batch.count)
            for await (part, failed) in group {
                outcomes += part
                unrecorded += failed
            }
            return (outcomes, unrecorded)
        }
        if !unrecorded.isEmpty {
            logger.warning("outcomes not recorded yet; they go with the next claim", metadata: ["channel": "\(lane.name)", "count": "\(unrecorded.count)"])
        }
        metrics.count(outcomes, channel: lane.name)
        lane.activity.record(outcomes, at: now())
        return (batch.count, unrecorded)
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

/// Hands out the indices of a batch, each once, to the senders working on it.
final class BatchCursor: Sendable {
    private let next = Mutex(0)
    private let count: Int

    init(count: Int) { self.count = count }

    func take() -> Int? {
        next.withLock { index in
            guard index < count else { return nil }
            defer { index += 1 }
            return index
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

import ChannelSMSStub
import Foundation
import HabarCore
import HabarMessages
import HabarStorePostgres
import HabarTesting
import Logging
import Metrics
import Testing

/// A channel's rate limit holds for the cluster, not per instance.
@Suite("Rate limits across instances")
struct SharedRateLimitTests {
    @Test("three instances on one database, a channel at 100/s: together they send 100/s (within 10%), not 300")
    func threeInstancesShareTheLimit() async throws {
        guard let peer = try await PostgresFixture.peer() else { return }
        let url = try await peer.createDatabase(prefix: "rate")
        let rate = 100.0
        let logger = Logger(label: "test.rate")
        let first = try await PostgresStore.open(try PostgresSettings(url: url, poolSize: 8), logger: logger)
        _ = try await first.upsertCitizens((1...2000).map { Fixtures.citizen($0) })
        let configuration = ChannelConfiguration(name: "sms", type: "sms-stub", concurrency: 16, ratePerSecond: rate,
                                                 options: .object(["dlrDelayMilliseconds": .number(100)]))
        var dispatchers: [Dispatcher] = []
        var capabilities: [String: ChannelCapabilities] = [:]
        for index in 0..<3 {
            // Each instance with a pool of its own, as three processes would have.
            let store = index == 0 ? first : try await PostgresStore.open(try PostgresSettings(url: url, poolSize: 8), logger: logger)
            let receipts = ReceiptCollector(store: store, logger: logger)
            let directory = try Fixtures.temporaryDirectory("rate-\(index)")
            let adapters = try ChannelRegistry([SMSStubFactory()]).makeAdapters([configuration]) { _ in
                ChannelContext(logger: logger, receipts: receipts, dataDirectory: directory)
            }
            capabilities = adapters.mapValues(\.capabilities)
            dispatchers.append(Dispatcher(
                store: store, adapters: adapters, configurations: [configuration], receipts: receipts,
                settings: DispatcherSettings(instanceId: "rate-\(index)", pollMilliseconds: 10), metricsFactory: NOOPMetricsHandler.instance,
                logger: logger))
        }
        let publisher = AdvisoryPublisher(store: first, catalog: try Fixtures.catalog(), channels: capabilities)
        let draft = try await publisher.draft(Fixtures.advisory(), now: Date())
        _ = try await publisher.publish(id: draft.id, approver: "approver", now: Date())
        func sent() async throws -> Int {
            try await first.deliveryCounts(advisoryId: draft.id).filter { $0.state != .queued && $0.state != .sending }.reduce(0) { $0 + $1.count }
        }
        let runners = dispatchers.map { dispatcher in Task { try await dispatcher.run() } }
        // After the first second's burst, the steady rate over eight seconds.
        try await Task.sleep(for: .seconds(2))
        let (startCount, start) = (try await sent(), ContinuousClock.now)
        try await Task.sleep(for: .seconds(8))
        let (endCount, end) = (try await sent(), ContinuousClock.now)
        for (runner, dispatcher) in zip(runners, dispatchers) {
            dispatcher.stop()
            runner.cancel()
            _ = await runner.result
        }
        let elapsed = Double((end - start).components.seconds) + Double((end - start).components.attoseconds) / 1e18
        let measured = Double(endCount - startCount) / elapsed
        print("shared rate limit: 3 instances, channel at \(Int(rate))/s: measured \(String(format: "%.1f", measured))/s over \(String(format: "%.1f", elapsed)) s")
        #expect(abs(measured - rate) <= rate * 0.1, "measured \(measured)/s with three instances, configured \(rate)/s")
    }
}

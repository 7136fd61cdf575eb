import ChannelSMSStub
import Foundation
import HabarCore
import HabarMessages
import HabarStoreSQLite
import HabarTesting
import Logging
import Metrics

// habar-bench: queueing and dispatch figures on this machine. Build with -c release.
//   swift run -c release habar-bench [--queue 100000,1000000] [--dispatch 200000]

func argument(_ name: String, default value: String) -> String {
    let arguments = CommandLine.arguments
    if let index = arguments.firstIndex(of: name), index + 1 < arguments.count { return arguments[index + 1] }
    return value
}

func peakRSSMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
        let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
    else { return 0 }
    return kb / 1024
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func machine() -> String {
    let memory = Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824
    return "\(ProcessInfo.processInfo.activeProcessorCount) cores, \(String(format: "%.0f", memory)) GiB"
}

/// A store with `count` citizens in Iran, half Kazakh- and half Russian-speaking.
func seededStore(_ count: Int) async throws -> (SQLiteStore, URL) {
    let directory = try Fixtures.temporaryDirectory("bench")
    let store = try SQLiteStore.open(directory: directory)
    let started = ContinuousClock.now
    var batch: [Citizen] = []
    batch.reserveCapacity(50_000)
    for index in 1...count {
        batch.append(Fixtures.citizen(index, language: index % 2 == 0 ? .kazakh : .russian))
        if batch.count == 50_000 {
            _ = try await store.upsertCitizens(batch)
            batch.removeAll(keepingCapacity: true)
        }
    }
    if !batch.isEmpty { _ = try await store.upsertCitizens(batch) }
    print(String(format: "  setup: %d citizens registered in %.1f s", count, seconds(ContinuousClock.now - started)))
    return (store, directory)
}

func queueBenchmark(_ count: Int) async throws {
    let (store, _) = try await seededStore(count)
    let publisher = AdvisoryPublisher(
        store: store, catalog: try Fixtures.catalog(),
        channels: ["sms": ChannelCapabilities(messageKind: .sms, addressKind: .phone, deliveryReceipts: true)])
    let draft = try await publisher.draft(Fixtures.advisory(), now: Date())
    let started = ContinuousClock.now
    let result = try await publisher.publish(id: draft.id!, approver: "bench", now: Date())
    let elapsed = seconds(ContinuousClock.now - started)
    print(String(format: "queue: %d deliveries (with their 'queued' events) in %.2f s = %.0f/s; peak RSS %.0f MB",
                 result.queued, elapsed, Double(result.queued) / elapsed, peakRSSMegabytes()))
}

func dispatchBenchmark(_ count: Int) async throws {
    let (store, directory) = try await seededStore(count)
    let logger = Logger(label: "bench")
    let receipts = ReceiptCollector(store: store, logger: logger)
    let configuration = ChannelConfiguration(name: "sms", type: "sms-stub", concurrency: 64, options: .object(["dlrDelayMilliseconds": .number(Double(argument("--dlr-delay-ms", default: "200"))!)]))
    let adapters = try ChannelRegistry([SMSStubFactory()]).makeAdapters([configuration]) { _ in
        ChannelContext(logger: logger, receipts: receipts, dataDirectory: directory)
    }
    let settings = DispatcherSettings(instanceId: "bench", batchSize: Int(argument("--batch", default: "1000"))!, leaseSeconds: 60, pollMilliseconds: 5,
                                      concurrency: Int(argument("--concurrency", default: "64"))!, workersPerChannel: Int(argument("--workers", default: "2"))!)
    let dispatcher = Dispatcher(store: store, adapters: adapters, configurations: [configuration], receipts: receipts,
                                settings: settings, metricsFactory: NOOPMetricsHandler.instance, logger: logger)
    let publisher = AdvisoryPublisher(store: store, catalog: try Fixtures.catalog(), channels: adapters.mapValues(\.capabilities))
    let draft = try await publisher.draft(Fixtures.advisory(), now: Date())
    _ = try await publisher.publish(id: draft.id!, approver: "bench", now: Date())

    let started = ContinuousClock.now
    let runner = Task { try await dispatcher.run() }
    var sentAt: Double? = nil
    while true {
        let counts = try await store.deliveryCounts(advisoryId: draft.id)
        let pending = counts.filter { [.queued, .retrying, .sending].contains($0.state) }.reduce(0) { $0 + $1.count }
        let done = counts.filter { $0.state.isFinal }.reduce(0) { $0 + $1.count }
        if pending == 0 && sentAt == nil { sentAt = seconds(ContinuousClock.now - started) }
        if done == count { break }
        // Counting scans the table: poll gently so the figure is the dispatcher's, not the poll's.
        try await Task.sleep(for: .milliseconds(250))
    }
    let elapsed = seconds(ContinuousClock.now - started)
    runner.cancel()
    dispatcher.stop()
    _ = await runner.result
    print(String(format: "dispatch: %d deliveries through sms-stub: all sent in %.2f s (%.0f/s); all delivered with DLRs in %.2f s = %.0f tracked deliveries/s; peak RSS %.0f MB",
                 count, sentAt ?? elapsed, Double(count) / (sentAt ?? elapsed), elapsed, Double(count) / elapsed, peakRSSMegabytes()))
}

print("habar-bench on \(machine()); SQLite WAL, synchronous=NORMAL")
let mode = argument("--only", default: "all")
if mode == "all" || mode == "queue" {
    for size in argument("--queue", default: "100000,1000000").split(separator: ",").compactMap({ Int($0) }) {
        try await queueBenchmark(size)
    }
}
if mode == "all" || mode == "dispatch" {
    try await dispatchBenchmark(Int(argument("--dispatch", default: "200000"))!)
}

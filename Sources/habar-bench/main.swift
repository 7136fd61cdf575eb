import HabarApp
import ArgumentParser
import ChannelSMSStub
import Foundation
import HabarCore
import HabarHTTP
import Hummingbird
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HabarMessages
import HabarStorePostgres
import HabarStoreSQLite
import HabarTesting
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

// habar-bench: queueing, dispatch, API and channel figures on this machine. Build with -c release.
//   swift run -c release habar-bench [--only render|queue|api|dispatch|webhook|kannel|smtp|checkin|agency|console] [...]
//   (`habar-bench --help` lists every option)

/// What to measure and how big, from the command line (`--help` lists them).
struct BenchOptions: ParsableCommand {
    enum Benchmark: String, CaseIterable, ExpressibleByArgument {
        case all, render, queue, api, dispatch, webhook, kannel, smtp, checkin, agency, console
    }

    static let configuration = CommandConfiguration(
        commandName: "habar-bench", abstract: "Queueing, dispatch, API, channel, check-in and agency figures on this machine (build with -c release).")

    @Option(help: "Which benchmark to run.") var only: Benchmark = .all
    @Option(help: "render: rounds over every template, language and kind.") var rounds = 2000
    @Option(help: "queue: audience sizes, separated by commas.") var queue = "100000,1000000"
    @Option(help: "api: citizens imported, then previewed and counted.") var api = 100_000
    @Option(help: "api: the gateway's port.") var port = 18481
    @Option(help: "dispatch: deliveries sent through the SMS stub.") var dispatch = 200_000
    @Option(name: .customLong("dlr-delay-ms"), help: "dispatch: the stub's delivery-report delay.") var dlrDelayMilliseconds = 200
    @Option(name: .customLong("latency-ms"), help: "dispatch: how long the stub takes to accept each message, as a provider's answer takes (0: at once, the machine's CPU is the bound).")
    var latencyMilliseconds = 0
    @Option(help: "dispatch: the claim batch.") var batch = 1000
    @Option(help: "dispatch: sends in flight per channel.") var concurrency = 64
    @Option(help: "dispatch: workers per channel.") var workers = 2
    @Option(help: "webhook: deliveries to a local receiver.") var webhook = 20_000
    @Option(help: "kannel: messages through a local Kannel.") var kannel = 5000
    @Option(help: "smtp: messages through a local SMTP server.") var smtp = 2000
    @Option(name: .customLong("checkin-citizens"), help: "checkin: citizens with a check-in request.") var checkinCitizens = 20_000
    @Option(help: "checkin: seconds of load per figure.") var seconds = 10
    @Option(help: "agency: tourists in the big manifest.") var tourists = 10_000
    @Option(help: "agency: pre-signed check-in webhooks for the load.") var events = 150_000
    @Option(name: .customLong("console-citizens"), help: "console: citizens, spread over the advisories' countries.") var consoleCitizens = 100_000
    @Option(name: .customLong("console-advisories"), help: "console: advisories in force on the dashboard.") var consoleAdvisories = 20
    @Flag(help: "queue, dispatch, check-in and agency figures on PostgreSQL too, side by side (a durable server started here, as the tests start theirs), plus pgbench on it.")
    var postgres = false
    @Option(help: "dispatch on PostgreSQL: instance counts, separated by commas.") var instances = "1,2,3"
    @Option(name: .customLong("dispatch-rounds"), help: "dispatch: rounds of its figures (SQLite, then PostgreSQL's instance counts; every other round in reverse order), compared by their medians (default: 3 with --postgres, else 1).")
    var dispatchRounds: Int?
    @Option(name: .customLong("pg-setting"), help: "with --postgres: a server setting for the bench's server, name=value (repeatable; e.g. shared_buffers=4GB).")
    var pgSettings: [String] = []
    @Option(help: "dispatch on PostgreSQL: transactions of outcomes and of receipts each instance writes at once (default: as `habar serve`, one).")
    var writers: Int?

    func validate() throws {
        if queueSizes.isEmpty || queueSizes.count != queue.split(separator: ",").count {
            throw ValidationError("--queue: sizes are whole numbers above 0 separated by commas, not '\(queue)'")
        }
        let counts = [("--rounds", rounds), ("--api", api), ("--dispatch", dispatch), ("--batch", batch), ("--concurrency", concurrency),
                      ("--workers", workers), ("--webhook", webhook), ("--kannel", kannel), ("--smtp", smtp),
                      ("--checkin-citizens", checkinCitizens), ("--seconds", seconds), ("--tourists", tourists), ("--events", events)]
        if let (name, _) = counts.first(where: { $0.1 < 1 }) { throw ValidationError("\(name) must be at least 1") }
        if let writers, writers < 1 { throw ValidationError("--writers must be at least 1") }
        if let dispatchRounds, dispatchRounds < 1 { throw ValidationError("--dispatch-rounds must be at least 1") }
        if let bad = pgSettings.first(where: { !$0.contains("=") || $0.hasPrefix("=") }) {
            throw ValidationError("--pg-setting: name=value, not '\(bad)'")
        }
        if dlrDelayMilliseconds < 0 { throw ValidationError("--dlr-delay-ms must not be negative") }
        if !(0...5000).contains(latencyMilliseconds) { throw ValidationError("--latency-ms: 0 to 5000") }
        if !(1...65535).contains(port) { throw ValidationError("--port must be a port number") }
    }

    var queueSizes: [Int] { queue.split(separator: ",").compactMap { Int($0) }.filter { $0 > 0 } }
    var instanceCounts: [Int] { instances.split(separator: ",").compactMap { Int($0) }.filter { (1...8).contains($0) } }
}

let options = BenchOptions.parseOrExit()

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
    try await seed(store, count)
    return (store, directory)
}

/// The same citizens in a new database of the benchmark's PostgreSQL server: a copy of a
/// database seeded once per count (and vacuumed and analyzed, as a registry long in use is),
/// so the rounds of a figure do not each spend a quarter of a minute registering citizens.
func seededPostgres(_ peer: PostgresPeer, _ count: Int) async throws -> (PostgresStore, String) {
    let template = try await seededTemplates.url(count, on: peer)
    let started = ContinuousClock.now
    let url = try await peer.createDatabase(prefix: "bench", template: template)
    let store = try await PostgresStore.open(try PostgresSettings(url: url, poolSize: 20), logger: Logger(label: "bench"))
    print(String(format: "  setup: a copy of the %d citizens' database in %.1f s", count, seconds(ContinuousClock.now - started)))
    return (store, url)
}

/// The seeded databases that `seededPostgres` copies, by citizen count.
final class SeededTemplates: Sendable {
    private let urls = Mutex<[Int: String]>([:])

    func url(_ count: Int, on peer: PostgresPeer) async throws -> String {
        if let url = urls.withLock({ $0[count] }) { return url }
        let url = try await peer.createDatabase(prefix: "bench_seed")
        let store = try await PostgresStore.open(try PostgresSettings(url: url, poolSize: 20), logger: Logger(label: "bench"))
        try await seed(store, count)
        await store.shutDown()
        try await peer.psql("VACUUM (ANALYZE)", database: try PostgresPeer.databaseName(url))
        urls.withLock { $0[count] = url }
        return url
    }
}

let seededTemplates = SeededTemplates()

/// Every PostgreSQL figure starts on a server that holds no earlier figure's data: with it, a
/// later figure paid for writing the earlier ones' dirty pages out of the buffer pool (three
/// instances' dispatch measured after one's and two's took 139 µs of CPU a delivery, measured
/// first 102).
/// `stores` are shut down first; the drop closes what is left and checkpoints.
func dropAfterwards(_ stores: [PostgresStore], url: String, on peer: PostgresPeer) async {
    for store in stores { await store.shutDown() }
    do { try await peer.dropDatabase(url) } catch { print("  (could not drop \(url): \(error))") }
}

func seed(_ store: any HabarStore, _ count: Int) async throws {
    let started = ContinuousClock.now
    var batch: [NewCitizen] = []
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
}

func queueBenchmark(_ count: Int, on peer: PostgresPeer? = nil) async throws {
    let seeded = if let peer { try await seededPostgres(peer, count) } else { nil as (PostgresStore, String)? }
    let store: any HabarStore = if let seeded { seeded.0 } else { try await seededStore(count).0 }
    let publisher = AdvisoryPublisher(
        store: store, catalog: try Fixtures.catalog(),
        channels: ["sms": ChannelCapabilities(messageKind: .sms, addressKind: .phone, deliveryReceipts: true)])
    let draft = try await publisher.draft(Fixtures.advisory(), now: Date())
    let started = ContinuousClock.now
    let result = try await publisher.publish(id: draft.id, approver: "bench", now: Date())
    let elapsed = seconds(ContinuousClock.now - started)
    // Each delivery's history opens with its `queued` event (SQLite stores it; PostgreSQL
    // reads it from the delivery row): checked on one, outside the timing.
    let one = try await store.deliveries(DeliveryFilter(advisoryId: draft.id), page: PageRequest(limit: 1)).items.first
    guard let one, try await store.deliveryEvents(deliveryId: one.id).first?.toState == .queued else {
        throw ConformanceFailure("queue", "the fan-out's deliveries do not open their history with a queued event")
    }
    print(String(format: "queue%@: %d deliveries (each with its 'queued' event) in %.2f s = %.0f/s; peak RSS %.0f MB",
                 peer == nil ? "" : " (PostgreSQL)", result.queued, elapsed, Double(result.queued) / elapsed, peakRSSMegabytes()))
    if let peer, let seeded { await dropAfterwards([seeded.0], url: seeded.1, on: peer) }
}

/// Tracked deliveries a second on SQLite.
func dispatchBenchmark(_ count: Int) async throws -> Double {
    let (store, directory) = try await seededStore(count)
    let lane = try dispatchLane(store, instanceId: "bench", directory: directory)
    // As in the gateway: the WAL is written back in the background.
    let checkpointer = Task { try await SQLiteCheckpointer(store: store, logger: Logger(label: "bench")).run() }
    defer { checkpointer.cancel() }
    return try await measureDispatch(count, store: store, lanes: [lane], label: "dispatch")
}

/// `instances` dispatchers, each with a pool of its own, on one PostgreSQL database: what
/// as many `habar serve` processes would run.
func postgresDispatchBenchmark(_ count: Int, instances: Int, peer: PostgresPeer) async throws -> Double {
    let (store, url) = try await seededPostgres(peer, count)
    var lanes: [(Dispatcher, [String: any ChannelAdapter])] = []
    var stores = [store]
    for index in 0..<instances {
        let own = try await PostgresStore.open(try PostgresSettings(url: url, poolSize: 20), logger: Logger(label: "bench"))
        stores.append(own)
        // As `habar serve` on PostgreSQL: as many transactions at once as the store says.
        lanes.append(try dispatchLane(own, instanceId: "bench-\(index)", directory: try Fixtures.temporaryDirectory("bench-pg"),
                                      writers: options.writers ?? PostgresStoreFactory.outcomeWriters))
    }
    try await postgresStatements(peer, reset: true)
    let rate = try await measureDispatch(count, store: store, lanes: lanes, label: "dispatch (PostgreSQL, \(instances) instance\(instances == 1 ? "" : "s"))")
    try await postgresStatements(peer, reset: false)
    await dropAfterwards(stores, url: url, on: peer)
    return rate
}

/// Where the server's time went since the last reset: the statements with the most execution
/// time (pg_stat_statements), printed; `reset` starts counting afresh instead.
func postgresStatements(_ peer: PostgresPeer, reset: Bool) async throws {
    if reset {
        try await peer.psql("SELECT pg_stat_statements_reset()")
        return
    }
    let top = try await peer.psql(
        """
        SELECT round(total_exec_time)::bigint || ' ms' || CASE WHEN total_plan_time > 0 THEN ' (+ ' || round(total_plan_time)::bigint
            || ' ms planning)' ELSE '' END || ', ' || calls || ' calls, ' || rows || ' rows: '
            || left(regexp_replace(query, '\\s+', ' ', 'g'), 110)
        FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 8
        """)
    print("  PostgreSQL's time by statement:\n" + top.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n"))
}

/// One instance's dispatcher over an SMS stub of its own.
func dispatchLane(_ store: any HabarStore, instanceId: String, directory: URL, writers: Int = 1) throws -> (Dispatcher, [String: any ChannelAdapter]) {
    let logger = Logger(label: "bench")
    let receipts = ReceiptCollector(store: store, logger: logger, writers: writers)
    var stub: [String: JSONValue] = ["dlrDelayMilliseconds": .number(Double(options.dlrDelayMilliseconds))]
    if options.latencyMilliseconds > 0 { stub["latencyMilliseconds"] = .number(Double(options.latencyMilliseconds)) }
    let configuration = ChannelConfiguration(name: "sms", type: "sms-stub", concurrency: options.concurrency, options: .object(stub))
    let adapters = try ChannelRegistry([SMSStubFactory()]).makeAdapters([configuration]) { _ in
        ChannelContext(logger: logger, receipts: receipts, dataDirectory: directory)
    }
    let settings = DispatcherSettings(instanceId: instanceId, batchSize: options.batch, leaseSeconds: 60, pollMilliseconds: 5,
                                      concurrency: options.concurrency, workersPerChannel: options.workers)
    return (Dispatcher(store: store, adapters: adapters, configurations: [configuration], receipts: receipts,
                       settings: settings, metricsFactory: NOOPMetricsHandler.instance, logger: logger, writers: writers), adapters)
}

/// CPU seconds used so far by this process and by the PostgreSQL server's processes.
func cpuSeconds() -> (habar: Double, postgres: Double) {
    func ticks(_ pid: String) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return (Double(fields[11]) ?? 0) + (Double(fields[12]) ?? 0)
    }
    let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
    var postgres = 0.0
    for pid in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] where Int(pid) != nil {
        if let name = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8), name.hasPrefix("postgres") { postgres += ticks(pid) }
    }
    return (ticks("self") / hz, postgres / hz)
}

/// Publishes one advisory to `count` citizens, runs the dispatchers until every delivery is
/// final, prints the figure and returns it (tracked deliveries a second).
func measureDispatch(_ count: Int, store: any HabarStore, lanes: [(Dispatcher, [String: any ChannelAdapter])], label: String) async throws -> Double {
    let publisher = AdvisoryPublisher(store: store, catalog: try Fixtures.catalog(), channels: lanes[0].1.mapValues(\.capabilities))
    let draft = try await publisher.draft(Fixtures.advisory(), now: Date())
    _ = try await publisher.publish(id: draft.id, approver: "bench", now: Date())

    let cpuBefore = cpuSeconds()
    let started = ContinuousClock.now
    let runners = lanes.map { lane in Task { try await lane.0.run() } }
    var sentAt: Double? = nil
    var polls = 0, polling = Duration.zero
    while true {
        let asked = ContinuousClock.now
        let counts = try await store.deliveryCounts(advisoryId: draft.id)
        polls += 1
        polling += ContinuousClock.now - asked
        let pending = counts.filter { [.queued, .retrying, .sending].contains($0.state) }.reduce(0) { $0 + $1.count }
        let done = counts.filter { $0.state.isFinal }.reduce(0) { $0 + $1.count }
        if pending == 0 && sentAt == nil { sentAt = seconds(ContinuousClock.now - started) }
        if done == count { break }
        // Counting reads every delivery of the advisory: poll gently, so the figure is the
        // dispatcher's and not the poll's, and more often near the end, so the end is seen
        // within a few percent of the run: a quarter of the time still to go at the rate so far
        // (at least 20 ms, at most a second).
        let elapsed = seconds(ContinuousClock.now - started)
        let remaining = done == 0 ? 1 : elapsed * Double(count - done) / Double(done)
        try await Task.sleep(for: .milliseconds(Int(min(1, max(0.02, remaining / 4)) * 1000)))
    }
    let elapsed = seconds(ContinuousClock.now - started)
    let cpuAfter = cpuSeconds()
    for (runner, lane) in zip(runners, lanes) {
        runner.cancel()
        lane.0.stop()
        _ = await runner.result
    }
    let latency = options.latencyMilliseconds > 0 ? " (\(options.latencyMilliseconds) ms to accept each, \(options.concurrency) at once per instance)" : ""
    print(String(format: "%@: %d deliveries through sms-stub%@: all sent in %.2f s (%.0f/s); all delivered with DLRs in %.2f s = %.0f tracked deliveries/s; CPU s habar %.1f, postgres %.1f; peak RSS %.0f MB; the bench's %d progress polls took %.2f s",
                 label, count, latency, sentAt ?? elapsed, Double(count) / (sentAt ?? elapsed), elapsed, Double(count) / elapsed,
                 cpuAfter.habar - cpuBefore.habar, cpuAfter.postgres - cpuBefore.postgres, peakRSSMegabytes(), polls, seconds(polling)))
    return Double(count) / elapsed
}

/// The dispatch figures in rounds: SQLite, then each PostgreSQL instance count, every other
/// round in reverse order. This machine's speed drifts by a quarter within minutes, so two
/// figures taken one after the other differ by that much whatever they measure; rounds in
/// alternating order, compared by their medians (of an even number of rounds, the upper of
/// the middle two), let a drift fall on every figure alike.
func dispatchRounds(_ count: Int, rounds: Int, instances: [Int], peer: PostgresPeer?) async throws {
    let setups: [Int?] = [nil] + (peer == nil ? [] : instances.map { $0 })
    var figures: [[Int?: Double]] = []
    for round in 1...rounds {
        if rounds > 1 { print("dispatch round \(round) of \(rounds)") }
        var figure: [Int?: Double] = [:]
        for setup in round % 2 == 1 ? setups : setups.reversed() {
            if let instances = setup, let peer {
                figure[setup] = try await postgresDispatchBenchmark(count, instances: instances, peer: peer)
            } else {
                figure[setup] = try await dispatchBenchmark(count)
            }
        }
        figures.append(figure)
    }
    guard rounds > 1 else { return }
    func typical(_ setup: Int?) -> Double { median(figures.compactMap { $0[setup] }) }
    func name(_ setup: Int?) -> String { setup.map { "PostgreSQL \($0) instance\($0 == 1 ? "" : "s")" } ?? "SQLite" }
    let summary = setups.map { String(format: "%@ %.0f", name($0), typical($0)) }
    var ratios: [String] = []
    for (from, to) in zip(setups.dropLast(), setups.dropFirst()) {
        let perRound = figures.compactMap { figure in figure[to].flatMap { to in figure[from].map { to / $0 } } }
        ratios.append(String(format: "%@ / %@: %.2f× (rounds: %@)", name(to), name(from), typical(to) / typical(from),
                             perRound.map { String(format: "%.2f", $0) }.joined(separator: ", ")))
    }
    print("dispatch, the median of \(rounds) rounds (tracked deliveries/s): " + summary.joined(separator: "; "))
    for line in ratios { print("  " + line) }
}

/// One HTTP call to the live server: status, body and wall time.
func call(_ method: String, _ url: String, token: String, body: Data? = nil, contentType: String? = nil) async throws -> (Int, Data, Double) {
    var request = URLRequest(url: URL(string: url)!)
    request.httpMethod = method
    request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
    if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
    request.httpBody = body
    request.timeoutInterval = 120
    let started = ContinuousClock.now
    let (data, response) = try await URLSession.shared.data(for: request)
    return ((response as? HTTPURLResponse)?.statusCode ?? 0, data, seconds(ContinuousClock.now - started) * 1000)
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

/// The operator API end to end on a live server (loopback HTTP, the real router): a CSV
/// import of `count` citizens, then `preview` and `stats` of an advisory to all of them
/// while the dispatcher sends it.
func apiBenchmark(_ count: Int) async throws {
    var configuration = HabarConfiguration()
    configuration.dataDir = try Fixtures.temporaryDirectory("bench-api").path
    configuration.messagesDir = Fixtures.messagesDirectory.path
    configuration.http.port = options.port
    configuration.logLevel = "warning"
    var logger = Logger(label: "bench")
    logger.logLevel = .warning
    let gateway = try await Gateway.make(configuration: configuration, logger: logger)
    func issue(_ name: String, _ role: Role) async throws -> String {
        let (token, hash) = AccessToken.generate()
        _ = try await gateway.store.insertToken(NewAccessToken(id: .unsaved, name: name, role: role, tokenHash: hash))
        return token
    }
    let operatorToken = try await issue("bench operator", .operator)
    let approverToken = try await issue("bench approver", .approver)
    let base = "http://127.0.0.1:\(configuration.http.port)"

    var csv = "fullName;phone;email;country;city;language;tags;passportNumber\r\n"
    for index in 1...count {
        let phone = index % 3 == 0 ? "8 701 \(String(format: "%03d %02d %02d", index / 10000 % 1000, index / 100 % 100, index % 100))" : String(format: "+7702%07d", index)
        csv += "\"Азамат \(index)\";\(phone);;IR;Tehran;\(index % 2 == 0 ? "kk" : "ru");pilgrims|group-\(index % 50);N\(index)\r\n"
    }
    let body = Data(csv.utf8)
    let ready = AsyncStream<Void>.makeStream()
    let app = buildApplication(gateway: gateway) { _ in ready.continuation.yield() }
    let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
    let server = Task { try await group.run() }
    for await _ in ready.stream { break }

    let (status, data, importMs) = try await call("POST", "\(base)/v1/citizens/import", token: operatorToken, body: body, contentType: "text/csv")
    let report = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    print(String(format: "api import: %d citizens (%.1f MB CSV) → HTTP %d, created %@, rejected %d, in %.2f s = %.0f citizens/s",
                 count, Double(body.count) / 1_048_576, status, "\(report["created"] ?? "?")", (report["rejected"] as? [Any])?.count ?? -1,
                 importMs / 1000, Double(count) / (importMs / 1000)))
    let (_, again, reimportMs) = try await call("POST", "\(base)/v1/citizens/import", token: operatorToken, body: body, contentType: "text/csv")
    let second = (try? JSONSerialization.jsonObject(with: again)) as? [String: Any] ?? [:]
    print(String(format: "api re-import of the same file: updated %@ in %.2f s", "\(second["updated"] ?? "?")", reimportMs / 1000))

    let advisory = Data(#"""
        {"kind": "green_corridor", "severity": "severe", "audience": {"countries": ["IR"]},
         "params": {"route": "Тегеран — Астара", "borderCrossing": "Астара", "opensAt": "2026-03-12T04:30:00Z", "closesAt": "2026-03-12T11:00:00Z",
                    "meetingPoint": "Посольство РК", "contactPhone": "+982100000000", "timeZone": "Asia/Tehran"},
         "channelPlan": {"mode": "fallback", "channels": ["sms"]}, "expiresAt": "2099-01-01T00:00:00Z"}
        """#.utf8)
    let (_, created, _) = try await call("POST", "\(base)/v1/advisories", token: operatorToken, body: advisory, contentType: "application/json")
    let id = ((try? JSONSerialization.jsonObject(with: created)) as? [String: Any])?["id"] as? Int ?? 0
    var previews: [Double] = []
    for _ in 1...5 { previews.append(try await call("GET", "\(base)/v1/advisories/\(id)/preview", token: operatorToken).2) }
    print(String(format: "api preview of an advisory to %d recipients: median %.0f ms (5 runs, min %.0f, max %.0f)",
                 count, median(previews), previews.min()!, previews.max()!))
    let (_, _, approveMs) = try await call("POST", "\(base)/v1/advisories/\(id)/approve", token: approverToken)
    print(String(format: "api approve (counts the audience, queues %d deliveries): %.0f ms", count, approveMs))
    var stats: [Double] = []
    for _ in 1...5 {
        stats.append(try await call("GET", "\(base)/v1/advisories/\(id)/stats", token: operatorToken).2)
        try await Task.sleep(for: .milliseconds(300))
    }
    print(String(format: "api stats of that advisory while the dispatcher sends it: median %.0f ms (5 runs, min %.0f, max %.0f)",
                 median(stats), stats.min()!, stats.max()!))
    while true {
        let (_, body, _) = try await call("GET", "\(base)/v1/advisories/\(id)/stats", token: operatorToken)
        let counts = ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any])?["counts"] as? [[String: Any]] ?? []
        if counts.allSatisfy({ ["delivered", "failed"].contains($0["state"] as? String ?? "") }) { break }
        try await Task.sleep(for: .milliseconds(500))
    }
    stats = []
    for _ in 1...5 { stats.append(try await call("GET", "\(base)/v1/advisories/\(id)/stats", token: operatorToken).2) }
    print(String(format: "api stats once every delivery is final: median %.0f ms (5 runs, min %.0f, max %.0f)",
                 median(stats), stats.min()!, stats.max()!))
    await group.triggerGracefulShutdown()
    _ = await server.result
}

/// Catalog rendering: every template × language × message kind with the sample parameters,
/// as the publisher renders at queue time.
func renderBenchmark(_ rounds: Int) throws {
    let directory = Fixtures.messagesDirectory
    let catalog = try MessageCatalog.load(directory: directory)
    let samples = try CatalogSamples.load(directory.appendingPathComponent("samples.json"))
    let zones = MessageZones(local: samples.timeZone)
    var renders = 0
    var bytes = 0
    let started = ContinuousClock.now
    for _ in 0..<rounds {
        for template in MessageCatalog.requiredTemplates {
            for language in Language.allCases {
                let arguments = samples.arguments(template, language) ?? [:]
                for kind in MessageKind.allCases {
                    let rendered = try catalog.render(template: template, kind: kind, language: language, arguments: arguments, zones: zones)
                    bytes &+= rendered.text.utf8.count
                    renders += 1
                }
            }
        }
    }
    let elapsed = seconds(ContinuousClock.now - started)
    print(String(format: "render: %d renders (template × language × kind: sms 1 string, email 3, webhook 2) in %.2f s = %.0f renders/s (%.1f µs each; %d bytes of text)",
                 renders, elapsed, Double(renders) / elapsed, elapsed / Double(renders) * 1e6, bytes))
}

print("habar-bench on \(machine()); SQLite WAL, synchronous=NORMAL")
let mode = options.only
/// With --postgres: a durable server of the benchmark's own (fsync on, as in production).
/// pg_stat_statements is loaded to say where the server's time goes in each figure.
let serverSettings = ["shared_preload_libraries": "pg_stat_statements", "max_wal_size": "4GB"].merging(
    options.pgSettings.map { setting in
        let parts = setting.split(separator: "=", maxSplits: 1).map(String.init)
        return (parts[0], parts.count > 1 ? parts[1] : "")
    }, uniquingKeysWith: { _, given in given })
let postgres: PostgresPeer? = options.postgres
    ? try await PostgresPeer.start(durable: true, settings: serverSettings) : nil
defer { postgres?.stop() }
if let postgres {
    try await postgres.psql("CREATE EXTENSION pg_stat_statements")
    let shown = try await postgres.psql("SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM pg_settings WHERE name IN ('shared_buffers', 'max_wal_size', 'wal_compression', 'fsync', 'synchronous_commit')")
    print("PostgreSQL: \(postgres.url()) (durable; \(shown.trimmingCharacters(in: .whitespacesAndNewlines)))")
}
if mode == .all || mode == .render {
    try renderBenchmark(options.rounds)
}
if mode == .all || mode == .queue {
    for size in options.queueSizes {
        try await queueBenchmark(size)
        if let postgres { try await queueBenchmark(size, on: postgres) }
    }
}
if mode == .all || mode == .api {
    try await apiBenchmark(options.api)
}
if mode == .all || mode == .dispatch {
    try await dispatchRounds(
        options.dispatch, rounds: options.dispatchRounds ?? (postgres == nil ? 1 : 3), instances: options.instanceCounts, peer: postgres)
}
if let postgres, mode == .all || mode == .dispatch || mode == .queue {
    // The server's own ceiling on these cores: pgbench's TPC-B-like transactions.
    try await postgres.psql("CREATE DATABASE pgbench")
    _ = try await ExternalProcess.run(PostgresPeer.program("pgbench"), ["-i", "-q", "-s", "10", "-h", "127.0.0.1", "-p", "\(postgres.port)", "-U", postgres.user, "pgbench"])
    let run = try await ExternalProcess.run(
        PostgresPeer.program("pgbench"), ["-c", "8", "-j", "2", "-T", "20", "-h", "127.0.0.1", "-p", "\(postgres.port)", "-U", postgres.user, "pgbench"])
    let tps = run.stdout.split(separator: "\n").first { $0.hasPrefix("tps") } ?? "pgbench: \(run.stderr)"
    print("pgbench (scale 10, 8 clients, 20 s, on the same cores): \(tps)")
}
if mode == .all || mode == .webhook {
    try await webhookBenchmark(options.webhook)
}
if mode == .all || mode == .kannel {
    try await kannelBenchmark(options.kannel)
}
if mode == .all || mode == .checkin {
    try await checkinBenchmark(citizens: options.checkinCitizens, seconds: options.seconds)
    if let postgres { try await checkinBenchmark(citizens: options.checkinCitizens, seconds: options.seconds, on: postgres) }
}
if mode == .all || mode == .agency {
    try await agencyBenchmark(tourists: options.tourists, events: options.events)
    if let postgres { try await agencyBenchmark(tourists: options.tourists, events: options.events, on: postgres) }
}
if mode == .all || mode == .console {
    try await consoleBenchmark(citizens: options.consoleCitizens, advisories: options.consoleAdvisories, port: options.port + 1)
}
if mode == .all || mode == .smtp {
    try await smtpBenchmark(options.smtp)
}

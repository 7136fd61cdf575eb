import Foundation
import HabarCore
import HabarMessages

/// The behaviour the gateway relies on from any store, written against the role protocols
/// only: each backend's tests run every case against a fresh store of theirs (SQLite in
/// memory and as a WAL file pool today; PostgreSQL next, unchanged). A failed check throws
/// `ConformanceFailure` naming the case and what was seen.
public struct StoreConformance: Sendable {
    /// Makes an empty, migrated store; called once per case.
    public let makeStore: @Sendable () async throws -> any HabarStore

    public init(makeStore: @escaping @Sendable () async throws -> any HabarStore) { self.makeStore = makeStore }

    /// The cases, by name; run each as its own test.
    public static let cases = [
        "installation identity", "fan-out once per citizen and version", "claims: lease, no double claim, take-over",
        "receipts before the send record", "audit chain under concurrent appends", "idempotency keys", "pagination",
        "conflicts", "last admin token", "console accounts and sessions", "citizen search", "interrupt holds claims",
        "heartbeat renews only its own live leases", "citizen import matches by phone, then passport",
    ]

    public func run(_ name: String) async throws {
        let store = try await makeStore()
        switch name {
        case "installation identity": try await installation(store)
        case "fan-out once per citizen and version": try await fanOutOnce(store)
        case "claims: lease, no double claim, take-over": try await claims(store)
        case "receipts before the send record": try await earlyReceipts(store)
        case "audit chain under concurrent appends": try await auditChain(store)
        case "idempotency keys": try await idempotency(store)
        case "pagination": try await pagination(store)
        case "conflicts": try await conflicts(store)
        case "last admin token": try await lastAdmin(store)
        case "console accounts and sessions": try await console(store)
        case "citizen search": try await citizenSearch(store)
        case "interrupt holds claims": try await interrupt(store)
        case "heartbeat renews only its own live leases": try await heartbeat(store)
        case "citizen import matches by phone, then passport": try await citizenImport(store)
        default: throw ConformanceFailure(name, "no such case")
        }
    }

    // MARK: Cases

    /// Names are unique without case; a session is found by its hash while in use, touched on
    /// each use, gone once idle or ended; two browsers of one account are two sessions.
    func console(_ store: any HabarStore) async throws {
        let name = "console accounts and sessions"
        let start = Date(timeIntervalSince1970: 1_773_300_000)
        let account = try await store.insertOperator(name: "Aigerim", role: .approver, passwordHash: "$2b$04$x", language: .kazakh, at: start)
        do {
            _ = try await store.insertOperator(name: "aigerim", role: .viewer, passwordHash: "h", language: .russian, at: start)
            throw ConformanceFailure(name, "a second account named aigerim (other case) was accepted")
        } catch OperationError.conflict {}
        guard try await store.operatorAccount(name: "AIGERIM")?.id == account.id, try await store.operatorAccounts().count == 1 else {
            throw ConformanceFailure(name, "the account is not found by its name without case")
        }
        for (hash, at) in [("one", start), ("two", start.addingTimeInterval(10))] {
            try await store.insertSession(ConsoleSession(tokenHash: hash, operatorId: account.id, csrfToken: "csrf-" + hash, createdAt: at, lastSeenAt: at))
        }
        let hour = start.addingTimeInterval(3600)
        guard let found = try await store.session(tokenHash: "one", idleSince: start.addingTimeInterval(-1), now: hour),
            found.account.id == account.id, found.account.role == .approver, found.session.csrfToken == "csrf-one", found.session.lastSeenAt == hour
        else { throw ConformanceFailure(name, "an open session is not found with its account, or not touched") }
        // Idle since `hour - 1`: "one" was used at `hour`, "two" at start + 10 s.
        guard try await store.session(tokenHash: "one", idleSince: hour.addingTimeInterval(-1), now: hour.addingTimeInterval(1)) != nil else {
            throw ConformanceFailure(name, "a session used after the idle limit was ended")
        }
        guard try await store.session(tokenHash: "two", idleSince: hour.addingTimeInterval(-1), now: hour) == nil,
            try await store.session(tokenHash: "two", idleSince: start, now: start) == nil
        else { throw ConformanceFailure(name, "an idle session is still open (or came back)") }
        try await store.deleteSession(tokenHash: "one")
        guard try await store.session(tokenHash: "one", idleSince: start, now: hour) == nil else {
            throw ConformanceFailure(name, "an ended session is still open")
        }
        guard try await store.setOperatorLanguage(id: account.id, language: .english),
            try await store.operatorAccount(name: "Aigerim")?.language == .english,
            try await !store.setOperatorLanguage(id: account.id + 100, language: .english)
        else { throw ConformanceFailure(name, "the language is not kept, or an unknown account was changed") }
        try await store.insertSession(ConsoleSession(tokenHash: "three", operatorId: account.id, csrfToken: "c", createdAt: hour, lastSeenAt: hour))
        guard try await store.setOperatorTOTP(id: account.id, secret: "JBSWY3DPEHPK3PXP"),
            try await store.operatorAccount(name: "aigerim")?.totpSecret == "JBSWY3DPEHPK3PXP",
            try await store.session(tokenHash: "three", idleSince: start, now: hour) == nil
        else { throw ConformanceFailure(name, "a second factor is not kept, or the account's sessions outlived its change") }
    }

    func installation(_ store: any HabarStore) async throws {
        let name = "installation identity"
        let id = try await store.installationId()
        guard !id.isEmpty, try await store.installationId() == id else { throw ConformanceFailure(name, "the installation id changes or is empty") }
        // Concurrent first uses of one secret name agree.
        let secrets = try await withThrowingTaskGroup(of: Data.self) { group in
            for _ in 0..<8 { group.addTask { try await store.installationSecret(named: "links") } }
            return try await group.reduce(into: Set<Data>()) { $0.insert($1) }
        }
        guard secrets.count == 1, let secret = secrets.first, secret.count == 32 else {
            throw ConformanceFailure(name, "concurrent first uses made \(secrets.count) different secrets (or not 32 bytes)")
        }
        guard try await store.installationSecret(named: "other") != secret else { throw ConformanceFailure(name, "two names share a secret") }
    }

    func fanOutOnce(_ store: any HabarStore) async throws {
        let name = "fan-out once per citizen and version"
        _ = try await store.upsertCitizens((1...30).map { Fixtures.citizen($0) } + [Fixtures.citizen(99, country: "AE")])
        let publisher = try Self.publisher(store)
        let draft = try await publisher.draft(Fixtures.advisory(), now: Date())
        let id = draft.id
        let approvedAt = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        // Two approvals of the same draft at once (two instances, a double click).
        let results = await withTaskGroup(of: Result<PublicationResult, any Error>.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    do { return .success(try await publisher.publish(id: id, approver: "approver", now: approvedAt)) } catch { return .failure(error) }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let queued = results.compactMap { try? $0.get().queued }.reduce(0, +)
        guard queued == 30 else { throw ConformanceFailure(name, "two concurrent publications queued \(queued), not 30 (\(results))") }
        let deliveries = try await Self.all { try await store.deliveries(DeliveryFilter(advisoryId: id), page: $0) }
        let citizens = Set(deliveries.compactMap(\.citizenId))
        guard deliveries.count == 30, citizens.count == 30 else {
            throw ConformanceFailure(name, "\(deliveries.count) deliveries for \(citizens.count) citizens, not one each for 30")
        }
        guard Set(deliveries.map(\.idempotencyKey)).count == 30 else { throw ConformanceFailure(name, "two deliveries share an idempotency key") }
        let counted = try await store.deliveryCounts(advisoryId: id).reduce(0) { $0 + $1.count }
        guard counted == 30 else { throw ConformanceFailure(name, "deliveryCounts says \(counted)") }
        // Each history opens with its `queued` event: when, on which channel, by which version.
        func opening(_ delivery: Int64, at: Date, detail: String?) -> DeliveryEvent {
            DeliveryEvent(deliveryId: delivery, at: at, step: 0, channel: "sms", fromState: nil, toState: .queued, attempt: 0, detail: detail)
        }
        let first = deliveries[0].id
        guard try await store.deliveryEvents(deliveryId: first) == [opening(first, at: approvedAt, detail: nil)] else {
            throw ConformanceFailure(name, "delivery \(first)'s history is \(try await store.deliveryEvents(deliveryId: first))")
        }
        // A correction queues version 2 for the same 30 and supersedes what version 1 had not sent.
        let correctedAt = approvedAt.addingTimeInterval(60)
        var params = draft.params
        params.meetingPoint = "Астара, кеден бекеті"
        _ = try await publisher.correct(id: id, AdvisoryCorrection(params: params), by: Actor(name: "approver"), threshold: 100, now: correctedAt)
        let corrected = try await Self.all { try await store.deliveries(DeliveryFilter(advisoryId: id), page: $0) }.filter { $0.advisoryVersion == 2 }
        guard corrected.count == 30, let second = corrected.first?.id else {
            throw ConformanceFailure(name, "the correction queued \(corrected.count) deliveries, not 30")
        }
        guard try await store.deliveryEvents(deliveryId: second) == [opening(second, at: correctedAt, detail: "update, version 2")] else {
            throw ConformanceFailure(name, "delivery \(second)'s history is \(try await store.deliveryEvents(deliveryId: second))")
        }
        let superseded = try await store.deliveryEvents(deliveryId: first)
        guard superseded.map(\.toState) == [.queued, .cancelled], superseded[0] == opening(first, at: approvedAt, detail: nil),
            superseded[1].at == correctedAt, superseded[1].detail == "superseded by version 2"
        else { throw ConformanceFailure(name, "the superseded delivery \(first)'s history is \(superseded)") }
    }

    func claims(_ store: any HabarStore) async throws {
        let name = "claims: lease, no double claim, take-over"
        try await Self.publishAdvisory(store, to: (1...10).map { Fixtures.citizen($0) })
        let now = Date()
        let lease = now.addingTimeInterval(30)
        func claim(_ owner: String, limit: Int, at: Date, until: Date) async throws -> [ClaimedDelivery] {
            try await store.claimDeliveries(channel: "sms", kind: .sms, address: .phone, limit: limit, owner: owner, leaseUntil: until, now: at)
        }
        async let first = claim("instance-a", limit: 6, at: now, until: lease)
        async let second = claim("instance-b", limit: 6, at: now, until: lease)
        let (a, b) = try await (first, second)
        let ids = a.map(\.deliveryId) + b.map(\.deliveryId)
        guard ids.count == 10, Set(ids).count == 10 else {
            throw ConformanceFailure(name, "two concurrent claims returned \(a.count) + \(b.count), \(Set(ids).count) distinct, of 10")
        }
        guard try await claim("instance-c", limit: 10, at: now, until: lease).isEmpty else { throw ConformanceFailure(name, "a leased delivery was claimed again") }
        guard try await store.recoverLeases(now: now.addingTimeInterval(29), owner: nil) == 0 else {
            throw ConformanceFailure(name, "a live lease was taken back")
        }
        let recovered = try await store.recoverLeases(now: now.addingTimeInterval(31), owner: nil)
        guard recovered == 10 else { throw ConformanceFailure(name, "\(recovered) expired leases taken back, not 10") }
        let later = now.addingTimeInterval(32)
        let taken = try await claim("instance-c", limit: 10, at: later, until: later.addingTimeInterval(30))
        guard taken.count == 10 else { throw ConformanceFailure(name, "the survivor claimed \(taken.count) of 10") }
        let victim = taken[0].deliveryId
        // The dead instance's late outcome is ignored; the survivor's counts.
        try await store.recordOutcomes(
            [DeliveryOutcome(deliveryId: victim, step: 0, channel: "sms", result: .failed(reason: "late"))], owner: "instance-a", now: later)
        guard try await store.delivery(id: victim)?.state == .sending else { throw ConformanceFailure(name, "an outcome from a lost lease was recorded") }
        try await store.recordOutcomes(
            [DeliveryOutcome(deliveryId: victim, step: 0, channel: "sms", result: .sent(providerMessageId: "p-1"))], owner: "instance-c", now: later)
        guard try await store.delivery(id: victim)?.state == .sent else { throw ConformanceFailure(name, "the lease holder's outcome was not recorded") }
        let path = try await store.deliveryEvents(deliveryId: victim).map(\.toState)
        guard path == [.queued, .sending, .retrying, .sending, .sent] else { throw ConformanceFailure(name, "events \(path)") }
        // A restarted instance takes back its own leases at once.
        guard try await store.recoverLeases(now: later, owner: "instance-c") == 9 else { throw ConformanceFailure(name, "own leases not taken back") }
        try await Self.checkMoves(store, ids: taken.map(\.deliveryId), case: name)
    }

    /// A live instance renews its leases (they are not taken over however long its sends
    /// take); another instance's, and one already taken over, stay as they are.
    func heartbeat(_ store: any HabarStore) async throws {
        let name = "heartbeat renews only its own live leases"
        try await Self.publishAdvisory(store, to: (1...4).map { Fixtures.citizen($0) })
        let now = Date()
        let a = try await store.claimDeliveries(channel: "sms", kind: .sms, address: .phone, limit: 2, owner: "a", leaseUntil: now.addingTimeInterval(15), now: now)
        let b = try await store.claimDeliveries(channel: "sms", kind: .sms, address: .phone, limit: 2, owner: "b", leaseUntil: now.addingTimeInterval(15), now: now)
        guard a.count == 2, b.count == 2 else { throw ConformanceFailure(name, "claimed \(a.count) + \(b.count), not 2 + 2") }
        // `a` records one of its two, then beats at 10 s: only its other one is renewed.
        try await store.recordOutcomes(
            [DeliveryOutcome(deliveryId: a[0].deliveryId, step: 0, channel: "sms", result: .sent(providerMessageId: "hb-1"))], owner: "a", now: now)
        let renewed = try await store.renewLeases(owner: "a", until: now.addingTimeInterval(25), now: now.addingTimeInterval(10))
        guard renewed == 1 else { throw ConformanceFailure(name, "the heartbeat renewed \(renewed) leases, not the 1 still being sent") }
        // At 20 s, `b` (silent) is taken over; `a`'s renewed lease is not.
        let taken = try await store.recoverLeases(now: now.addingTimeInterval(20), owner: nil)
        guard taken == 2, try await store.delivery(id: a[1].deliveryId)?.state == .sending,
            try await store.delivery(id: a[1].deliveryId)?.leaseOwner == "a",
            try await store.delivery(id: b[0].deliveryId)?.state == .retrying
        else { throw ConformanceFailure(name, "take-over at 20 s took \(taken) (want b's 2) or took a's renewed lease") }
        guard try await store.renewLeases(owner: "b", until: now.addingTimeInterval(40), now: now.addingTimeInterval(21)) == 0 else {
            throw ConformanceFailure(name, "a heartbeat renewed leases already taken over")
        }
        guard try await store.recoverLeases(now: now.addingTimeInterval(26), owner: nil) == 1 else {
            throw ConformanceFailure(name, "the renewed lease was not taken over once it ran out")
        }
        // The only user of a store, starting, takes back every lease, live or not, due at once.
        let restart = now.addingTimeInterval(40)
        let held = try await store.claimDeliveries(channel: "sms", kind: .sms, address: .phone, limit: 10, owner: "c", leaseUntil: restart.addingTimeInterval(600), now: restart)
        let back = try await store.recoverLeases(expiredBy: .distantFuture, owner: nil, now: restart)
        guard back == held.count, held.count == 3, let first = held.first,
            let due = try await store.delivery(id: first.deliveryId)?.nextAttemptAt, abs(due.timeIntervalSince(restart)) < 0.01
        else { throw ConformanceFailure(name, "taking back every lease at start returned \(back) of \(held.count), or not due at once") }
    }

    /// Every recorded move of these deliveries is one the state machine allows.
    static func checkMoves(_ store: any HabarStore, ids: [Int64], case name: String) async throws {
        for id in ids {
            for event in try await store.deliveryEvents(deliveryId: id) where !DeliveryState.allows(from: event.fromState, to: event.toState) {
                throw ConformanceFailure(name, "delivery \(id) moved \(event.fromState?.rawValue ?? "nil") → \(event.toState.rawValue)")
            }
        }
    }

    func earlyReceipts(_ store: any HabarStore) async throws {
        let name = "receipts before the send record"
        let advisoryId = try await Self.publishAdvisory(store, to: [Fixtures.citizen(1)])
        let now = Date()
        guard let claimed = try await store.claimDeliveries(
            channel: "sms", kind: .sms, address: .phone, limit: 1, owner: "w", leaseUntil: now.addingTimeInterval(30), now: now
        ).first else { throw ConformanceFailure(name, "nothing to claim") }
        let receipt = DeliveryReceipt(deliveryId: claimed.deliveryId, step: 0, channel: "sms", status: .delivered, at: now)
        try await store.applyReceipts([receipt], now: now)
        guard try await store.delivery(id: claimed.deliveryId)?.state == .sending else { throw ConformanceFailure(name, "a receipt moved an unsent delivery") }
        try await store.recordOutcomes(
            [DeliveryOutcome(deliveryId: claimed.deliveryId, step: 0, channel: "sms", result: .sent(providerMessageId: "x"))], owner: "w", now: now)
        guard try await store.delivery(id: claimed.deliveryId)?.state == .delivered else {
            throw ConformanceFailure(name, "the kept receipt was not applied when the send was recorded")
        }
        try await store.applyReceipts([receipt], now: now)
        let path = try await store.deliveryEvents(deliveryId: claimed.deliveryId).map(\.toState)
        guard path == [.queued, .sending, .sent, .delivered] else { throw ConformanceFailure(name, "events \(path) (a repeated receipt must change nothing)") }
        try await Self.checkMoves(store, ids: [claimed.deliveryId], case: name)
        // The chart of deliveries over time counts it once, delivered, in the bucket of its last move.
        let buckets = try await store.deliveryTimes(advisoryId: advisoryId, bucketSeconds: 60)
        let moved = try await store.delivery(id: claimed.deliveryId)?.updatedAt ?? now
        let start = Date(timeIntervalSince1970: (moved.timeIntervalSince1970 / 60).rounded(.down) * 60)
        guard buckets == [DeliveryTimeBucket(start: start, state: .delivered, count: 1)] else {
            throw ConformanceFailure(name, "delivery times \(buckets), not one delivered in the minute from \(start)")
        }
        // Counts read once every delivery is final, then again after the advisory got another
        // (a correction to the same citizen): the new one shows at once.
        for _ in 0..<2 {
            let final = try await store.deliveryCounts(advisoryId: advisoryId)
            guard final.map(\.state) == [.delivered], final.map(\.count) == [1] else { throw ConformanceFailure(name, "counts \(final), not one delivered") }
        }
        let publisher = try Self.publisher(store)
        _ = try await publisher.correct(id: advisoryId, AdvisoryCorrection(severity: .extreme), by: Actor(name: "operator-1"), threshold: 100, now: Date())
        let corrected = try await store.deliveryCounts(advisoryId: advisoryId).map { "\($0.state.rawValue) \($0.count)" }.sorted()
        guard corrected == ["delivered 1", "queued 1"] else { throw ConformanceFailure(name, "counts after a correction \(corrected), not delivered 1 and queued 1") }
    }

    func auditChain(_ store: any HabarStore) async throws {
        let name = "audit chain under concurrent appends"
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<40 {
                group.addTask {
                    _ = try await store.appendAudit(NewAuditEntry(
                        id: .unsaved, at: Date(), actor: "writer-\(index % 4)", actorTokenId: nil, role: .operator, action: "POST /v1/citizens",
                        target: "citizen/\(index)", status: 201, requestId: "r-\(index)", details: [:]))
                }
            }
            try await group.waitForAll()
        }
        let entries = try await Self.all { try await store.auditEntries(page: $0) }
        guard entries.count == 40 else { throw ConformanceFailure(name, "\(entries.count) entries, not 40") }
        var verifier = AuditChainVerifier()
        for entry in entries {
            if let problem = verifier.check(entry) { throw ConformanceFailure(name, "the chain breaks: \(problem)") }
        }
    }

    func idempotency(_ store: any HabarStore) async throws {
        let name = "idempotency keys"
        let now = Date()
        let forget = now.addingTimeInterval(-86_400)
        func begin(_ key: String, _ fingerprint: String, scope: String = "token/1") async throws -> IdempotencyBegin {
            try await store.beginIdempotentCall(scope: scope, key: key, fingerprint: fingerprint, now: now, forgetBefore: forget)
        }
        let racers = try await withThrowingTaskGroup(of: IdempotencyBegin.self) { group in
            for _ in 0..<6 { group.addTask { try await begin("k1", "POST /v1/citizens abc") } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        guard racers.filter({ $0 == .proceed }).count == 1, racers.filter({ $0 == .inProgress }).count == 5 else {
            throw ConformanceFailure(name, "six concurrent first uses: \(racers)")
        }
        guard try await begin("k1", "POST /v1/citizens other") == .mismatch else { throw ConformanceFailure(name, "another call under a used key is not a mismatch") }
        guard try await begin("k1", "POST /v1/citizens abc", scope: "token/2") == .proceed else { throw ConformanceFailure(name, "keys are not per caller") }
        let response = StoredResponse(status: 201, headers: ["Content-Type": "application/json"], body: Data(#"{"id":1}"#.utf8))
        try await store.finishIdempotentCall(scope: "token/1", key: "k1", response: response)
        guard try await begin("k1", "POST /v1/citizens abc") == .replay(response) else { throw ConformanceFailure(name, "the kept response is not replayed") }
        guard try await begin("k2", "PATCH x") == .proceed else { throw ConformanceFailure(name, "a new key") }
        try await store.finishIdempotentCall(scope: "token/1", key: "k2", response: nil)
        guard try await begin("k2", "PATCH x") == .proceed else { throw ConformanceFailure(name, "a released key cannot be used again") }
        let much = now.addingTimeInterval(2 * 86_400)
        guard try await store.beginIdempotentCall(scope: "token/1", key: "k1", fingerprint: "other", now: much, forgetBefore: much.addingTimeInterval(-86_400)) == .proceed else {
            throw ConformanceFailure(name, "an old key is not forgotten")
        }
    }

    func pagination(_ store: any HabarStore) async throws {
        let name = "pagination"
        for index in 1...23 { _ = try await store.insertCitizen(Fixtures.citizen(index)) }
        var seen: [Int64] = []
        var page = PageRequest(limit: 5)
        var pages = 0
        while true {
            let result = try await store.citizens(CitizenFilter(), page: page)
            seen += result.items.compactMap(\.id)
            pages += 1
            guard let next = result.nextAfter else { break }
            guard pages < 10 else { throw ConformanceFailure(name, "paging does not end") }
            page = PageRequest(limit: 5, after: next)
        }
        guard seen.count == 23, Set(seen).count == 23, seen == seen.sorted(), pages == 5 else {
            throw ConformanceFailure(name, "\(seen.count) citizens in \(pages) pages of 5, in order: \(seen == seen.sorted())")
        }
    }

    /// A name in either script, a part of it, or some digits of a phone find the person, as
    /// core's `CitizenSearch` decides; with the other filters and paging.
    func citizenSearch(_ store: any HabarStore) async throws {
        let name = "citizen search"
        func named(_ index: Int, _ fullName: String, country: String = "IR") -> NewCitizen {
            var citizen = Fixtures.citizen(index, country: country)
            citizen.fullName = fullName
            return citizen
        }
        let cyrillic = try await store.insertCitizen(named(1, "Айгүл Серікова"))
        let latin = try await store.insertCitizen(named(2, "SERIKOVA Aigul", country: "TR"))
        _ = try await store.insertCitizen(named(3, "Ерлан Иванов"))
        for index in 4...9 { _ = try await store.insertCitizen(named(index, "Сериков Данияр \(index)")) }
        func found(_ query: String, _ filter: CitizenFilter = CitizenFilter(), limit: Int = 50) async throws -> [Int64] {
            var filter = filter
            filter.search = query
            var ids: [Int64] = []
            var page = PageRequest(limit: limit)
            while true {
                let result = try await store.citizens(filter, page: page)
                ids += result.items.map(\.id)
                guard let next = result.nextAfter else { return ids }
                page = PageRequest(limit: limit, after: next)
            }
        }
        let expectations: [(String, CitizenFilter, [Int64])] = [
            ("серикова", CitizenFilter(), [cyrillic.id, latin.id]),
            ("Serikova aig", CitizenFilter(), [cyrillic.id, latin.id]),
            ("серикова", CitizenFilter(country: "TR"), [latin.id]),
            ("7010000002", CitizenFilter(), [latin.id]),
            ("+7 701 000 0001", CitizenFilter(), [cyrillic.id]),
            ("петров", CitizenFilter(), []),
        ]
        for (query, filter, expected) in expectations {
            let ids = try await found(query, filter)
            guard ids == expected else { throw ConformanceFailure(name, "'\(query)' found \(ids), not \(expected)") }
        }
        let many = try await found("сериков", limit: 2)
        guard many.count == 8, many == many.sorted(), Set(many).count == 8 else { throw ConformanceFailure(name, "'сериков' in pages of 2 found \(many)") }
        guard try await found("").count == 9 else { throw ConformanceFailure(name, "an empty query does not find everyone") }
        try await store.recordCheckins([CheckinAnswer(citizenId: cyrillic.id, advisoryId: nil, meaning: .needsHelp, source: .operator, text: "hotline", at: Date())])
        let totals = Set(try await store.welfareTotals())
        let expected: Set<WelfareTotal> = [
            WelfareTotal(country: "IR", status: .needsHelp, count: 1), WelfareTotal(country: "IR", status: .unknown, count: 7),
            WelfareTotal(country: "TR", status: .unknown, count: 1),
        ]
        guard totals == expected else { throw ConformanceFailure(name, "welfare totals \(totals), not \(expected)") }
    }

    func conflicts(_ store: any HabarStore) async throws {
        let name = "conflicts"
        func expectConflict(_ what: String, _ body: () async throws -> Void) async throws {
            do {
                try await body()
                throw ConformanceFailure(name, "\(what) was accepted")
            } catch let error as OperationError {
                guard case .conflict = error else { throw ConformanceFailure(name, "\(what): \(error), not a conflict") }
            }
        }
        _ = try await store.insertSubscriber(NewSubscriber(id: .unsaved, name: "partner", url: "https://example.org/hook", secret: "whsec_a"))
        try await expectConflict("a second subscriber named partner") {
            _ = try await store.insertSubscriber(NewSubscriber(id: .unsaved, name: "partner", url: "https://example.org/other", secret: "whsec_b"))
        }
        guard try await store.subscribers().count == 1 else { throw ConformanceFailure(name, "the refused subscriber was stored") }
        let place = try await store.insertPlace(NewPlace(id: .unsaved, kind: .meetingPoint, name: "Посольство", location: GeoPoint(lat: 35.7, lon: 51.4), country: "IR", updatedBy: "operator-1"))
        var next = place
        next.version += 1
        next.name = "Консульство"
        _ = try await store.insertPlaceVersion(next)
        try await expectConflict("a place version built on an old one") { _ = try await store.insertPlaceVersion(next) }
        guard try await store.place(id: place.id, version: nil)?.version == 2 else { throw ConformanceFailure(name, "the place's version moved on a conflict") }
        let publisher = try Self.publisher(store)
        let draft = try await publisher.draft(Fixtures.advisory(), now: Date())
        try await store.scheduleAdvisory(id: draft.id, approver: "a", approverTokenId: nil, publishAt: Date().addingTimeInterval(60))
        _ = try await store.cancelAdvisory(id: draft.id, at: Date(), by: "approver", notice: nil)
        try await expectConflict("scheduling a cancelled advisory") {
            try await store.scheduleAdvisory(id: draft.id, approver: "a", approverTokenId: nil, publishAt: Date())
        }
    }

    /// An interrupted advisory's deliveries are not claimed until it is
    /// resumed; only a published advisory can be held; a cancellation lets go of the hold.
    func interrupt(_ store: any HabarStore) async throws {
        let name = "interrupt holds claims"
        _ = try await store.upsertCitizens((1...4).map { Fixtures.citizen($0) })
        let publisher = try Self.publisher(store)
        let draft = try await publisher.draft(Fixtures.advisory(), now: Date())
        do {
            try await store.setInterrupted(id: draft.id, at: Date(), by: "approver")
            throw ConformanceFailure(name, "a draft was interrupted")
        } catch let error as OperationError {
            guard case .conflict = error else { throw ConformanceFailure(name, "interrupting a draft: \(error), not a conflict") }
        }
        _ = try await publisher.publish(id: draft.id, approver: "approver", now: Date())
        let now = Date()
        try await store.setInterrupted(id: draft.id, at: now, by: "approver")
        guard let held = try await store.advisory(id: draft.id), held.interruptedAt != nil, held.interruptedBy == "approver" else {
            throw ConformanceFailure(name, "the hold and who set it were not kept")
        }
        func claim(_ limit: Int) async throws -> [ClaimedDelivery] {
            try await store.claimDeliveries(channel: "sms", kind: .sms, address: .phone, limit: limit, owner: "w", leaseUntil: now.addingTimeInterval(30), now: now)
        }
        guard try await claim(10).isEmpty else { throw ConformanceFailure(name, "an interrupted advisory's delivery was claimed") }
        try await store.setInterrupted(id: draft.id, at: nil, by: nil)
        guard try await claim(2).count == 2 else { throw ConformanceFailure(name, "a resumed advisory's deliveries were not claimed") }
        try await store.setInterrupted(id: draft.id, at: now, by: "approver")
        _ = try await store.cancelAdvisory(id: draft.id, at: now, by: "approver", notice: nil)
        guard try await store.advisory(id: draft.id)?.interruptedAt == nil else { throw ConformanceFailure(name, "a cancelled advisory is still held") }
    }

    func lastAdmin(_ store: any HabarStore) async throws {
        let name = "last admin token"
        // Four instances starting at once on an empty store: one first token between them.
        let made = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<4 {
                group.addTask { try await store.insertFirstToken(NewAccessToken(id: .unsaved, name: "boot \(index)", role: .admin, tokenHash: "boot-\(index)")) != nil }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        guard made == 1 else { throw ConformanceFailure(name, "\(made) first tokens made by four at once, not 1") }
        let boot = try await store.tokens(page: PageRequest()).items
        guard boot.count == 1, let bootId = boot.first?.id, try await store.insertFirstToken(NewAccessToken(id: .unsaved, name: "late", role: .admin, tokenHash: "late")) == nil
        else { throw ConformanceFailure(name, "a first token was made beside another") }
        let first = try await store.insertToken(NewAccessToken(id: .unsaved, name: "first", role: .admin, tokenHash: "h1"))
        let second = try await store.insertToken(NewAccessToken(id: .unsaved, name: "second", role: .admin, tokenHash: "h2"))
        _ = try await store.revokeToken(id: bootId, at: Date())
        // Two admins revoking each other at once: one must stay.
        async let a = store.revokeToken(id: first.id, at: Date())
        async let b = store.revokeToken(id: second.id, at: Date())
        let outcomes = try await [a, b]
        guard outcomes.filter({ $0 == .revoked }).count == 1, outcomes.contains(.lastAdmin) else {
            throw ConformanceFailure(name, "concurrent revocations of the two admins: \(outcomes)")
        }
        let left = try await [store.token(hash: "h1"), store.token(hash: "h2")].compactMap { $0 }
        guard left.count == 1 else { throw ConformanceFailure(name, "\(left.count) admin tokens left") }
        guard try await store.revokeToken(id: 999, at: Date()) == .notFound else { throw ConformanceFailure(name, "an unknown token") }
    }

    // MARK: Helpers

    /// An import updates the citizen it finds by phone, else by passport number, keeps every
    /// stored field the new record leaves empty and never touches welfare; records of one
    /// import that name the same person (in a later line) update the one an earlier line made.
    func citizenImport(_ store: any HabarStore) async throws {
        let name = "citizen import matches by phone, then passport"
        func person(
            _ fullName: String, phone: String?, email: String? = nil, passport: String? = nil, city: String? = nil, welfare: WelfareStatus = .unknown
        ) -> NewCitizen {
            NewCitizen(
                id: .unsaved, fullName: fullName, phone: phone.flatMap { PhoneNumber($0) }, email: email, country: "TR", city: city,
                passportNumber: passport, welfareStatus: welfare)
        }
        let first = try await store.upsertCitizens([
            person("Aigerim Nurlanova", phone: "+77010000001", passport: "N0000001", city: "Antalya", welfare: .safe),
            person("Dias Sapar", phone: "+77010000002"),
            person("Ержан Ахметов", phone: nil, email: "erzhan@example.kz", passport: "N0000003"),
        ])
        guard first == CitizenImportResult(created: 3, updated: 0) else { throw ConformanceFailure(name, "first import \(first), not 3 created") }
        let stored = try await Self.all { try await store.citizens(CitizenFilter(), page: $0) }
        guard stored.count == 3, let aigerim = stored.first(where: { $0.passportNumber == "N0000001" }),
            let erzhan = stored.first(where: { $0.passportNumber == "N0000003" })
        else { throw ConformanceFailure(name, "stored \(stored.map(\.fullName))") }
        let second = try await store.upsertCitizens([
            // Same phone, no city or passport given: the name changes, city, passport and welfare stay.
            person("Aigerim Nurlanovna", phone: "+77010000001"),
            // No phone match, the passport matches: the phone is added.
            person("Yerzhan Akhmetov", phone: "+77010000003", passport: "N0000003"),
            person("Marat Ospan", phone: "+77010000004"),
        ])
        guard second == CitizenImportResult(created: 1, updated: 2) else { throw ConformanceFailure(name, "second import \(second), not 1 created and 2 updated") }
        let third = try await store.upsertCitizens([
            // New, then the same phone again later in the same import: the later line updates the new one.
            person("Saule Ospan", phone: "+77010000005"),
            person("Saule Ospanova", phone: "+77010000005", city: "Alanya"),
            person("Marat Ospanov", phone: "+77010000004", city: "Alanya"),
        ])
        guard third == CitizenImportResult(created: 1, updated: 2) else { throw ConformanceFailure(name, "third import \(third), not 1 created and 2 updated") }
        let after = try await Self.all { try await store.citizens(CitizenFilter(), page: $0) }
        guard after.count == 5 else { throw ConformanceFailure(name, "\(after.count) citizens after three imports, not 5") }
        guard let a = after.first(where: { $0.id == aigerim.id }), a.fullName == "Aigerim Nurlanovna", a.city == "Antalya",
            a.passportNumber == "N0000001", a.welfareStatus == .safe
        else { throw ConformanceFailure(name, "the phone match became \(String(describing: after.first { $0.id == aigerim.id }))") }
        guard let e = after.first(where: { $0.id == erzhan.id }), e.fullName == "Yerzhan Akhmetov", e.phone?.e164 == "+77010000003",
            e.email == "erzhan@example.kz"
        else { throw ConformanceFailure(name, "the passport match became \(String(describing: after.first { $0.id == erzhan.id }))") }
        for (phone, fullName) in [("+77010000004", "Marat Ospanov"), ("+77010000005", "Saule Ospanova")] {
            let found = after.filter { $0.phone?.e164 == phone }
            guard found.count == 1, found[0].fullName == fullName, found[0].city == "Alanya" else {
                throw ConformanceFailure(name, "\(phone) is \(found.map { "\($0.fullName) in \($0.city ?? "-")" }), not \(fullName) in Alanya")
            }
        }
        var search = CitizenFilter()
        search.search = "Yerzhan"
        guard try await store.citizens(search, page: PageRequest(limit: 10)).items.map(\.id) == [erzhan.id] else {
            throw ConformanceFailure(name, "the updated name is not found by search")
        }
    }

    /// Registers `citizens` and publishes one advisory to them through the SMS plan.
    /// Returns the advisory's id.
    @discardableResult
    static func publishAdvisory(_ store: any HabarStore, to citizens: [NewCitizen]) async throws -> Int64 {
        _ = try await store.upsertCitizens(citizens)
        let publisher = try Self.publisher(store)
        let draft = try await publisher.draft(Fixtures.advisory(), now: Date())
        _ = try await publisher.publish(id: draft.id, approver: "approver", now: Date())
        return draft.id
    }

    static func publisher(_ store: any HabarStore) throws -> AdvisoryPublisher {
        AdvisoryPublisher(
            store: store, catalog: try Fixtures.catalog(),
            channels: ["sms": ChannelCapabilities(messageKind: .sms, addressKind: .phone, deliveryReceipts: true)])
    }

    /// Every item of a paged listing.
    static func all<Item>(_ read: (PageRequest) async throws -> Page<Item>) async throws -> [Item] {
        var items: [Item] = []
        var page = PageRequest(limit: PageRequest.maxLimit)
        while true {
            let result = try await read(page)
            items += result.items
            guard let next = result.nextAfter else { return items }
            page = PageRequest(limit: PageRequest.maxLimit, after: next)
        }
    }
}

extension StoreConformance {
    /// `run(name)`, failing with the case's name when it takes longer than `seconds` (a store
    /// that waits forever, on a lock or its pool, fails the one case instead of hanging the run).
    public func run(_ name: String, within seconds: Double) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await self.run(name)
                return true
            }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                return false
            }
            let finished = try await group.next() ?? false
            group.cancelAll()
            if !finished { throw ConformanceFailure(name, "did not finish within \(Int(seconds)) s") }
        }
    }
}

@testable import ChannelKannel
import HabarApp
import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarStoreSQLite
import HabarTesting
import Hummingbird
import Logging
import Synchronization
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

func kannelAdapter(_ options: KannelConfiguration, name: String = "sms", logger: Logger = Logger(label: "t")) throws -> KannelAdapter {
    let adapter = try KannelFactory().makeAdapter(
        configuration: ChannelConfiguration(name: name, type: "kannel", options: try JSONValue(encoding: options)),
        keyPath: "channels[0].options",
        context: ChannelContext(logger: logger, receipts: DiscardingReceiptSink(), dataDirectory: try Fixtures.temporaryDirectory("kannel-adapter")))
    return try #require(adapter as? KannelAdapter)
}

func smsMessage(_ key: String, to phone: String, text: String, delivery: Int64 = 11) -> OutboundMessage {
    OutboundMessage(
        deliveryId: delivery, step: 0, idempotencyKey: key, address: .phone(PhoneNumber(phone)!),
        message: RenderedMessage(language: .kazakh, kind: .sms, text: text),
        advisoryId: 3, advisoryVersion: 1, severity: .severe, expiresAt: Date().addingTimeInterval(3600))
}

extension KannelPeer {
    /// A running Kannel, or nil (a loud skip locally, a failure under CI) when it is not installed.
    static func startForTest(habarURL: String = "http://127.0.0.1:9", channel: String = "sms", key: String = "k") async throws -> KannelPeer? {
        guard isInstalled else {
            if ExternalProcess.underCI {
                Issue.record("Kannel is missing (apt-get install kannel kannel-extras; Tests/run-all.sh installs it)")
            } else {
                print("⚠️  SKIPPED: Kannel tests need bearerbox, smsbox and fakesmsc (apt-get install kannel kannel-extras)")
            }
            return nil
        }
        return try await start(habarURL: habarURL, channel: channel, key: key)
    }
}

/// The conformance suite against a real Kannel: a wrong password is Kannel's 403
/// (permanent), a closed port is a route that is down (transient), a port that never
/// answers is a hung smsbox.
struct KannelHarness: ChannelConformanceHarness {
    let kannel: KannelPeer
    let silent: SilentListener
    let timeout: Duration = .milliseconds(300)

    func makeAdapter(_ scenario: ConformanceScenario, logger: Logger) async throws -> any ChannelAdapter {
        var options = KannelConfiguration(
            sendsmsURL: kannel.sendsmsURL, username: "habar", password: kannel.password, from: "HABAR",
            callbackBaseURL: "http://127.0.0.1:9", callbackSecret: "callback-secret-\(UInt32.random(in: 0...UInt32.max))",
            timeoutMilliseconds: 300)
        switch scenario {
        case .success: break
        case .permanentFailure: options.password = "wrong-\(kannel.password)"
        case .transientFailure: options.sendsmsURL = "http://127.0.0.1:\(Fixtures.freePort())/cgi-bin/sendsms"
        case .unresponsive: options.sendsmsURL = "http://127.0.0.1:\(silent.port)/cgi-bin/sendsms"
        }
        return try kannelAdapter(options, logger: logger)
    }

    func message(key: String) -> OutboundMessage {
        smsMessage(key, to: "+77011234567", text: "Жасыл дәліз ашық. Зелёный коридор открыт. \(key)")
    }

    /// bearerbox's `Sent SMS` lines (with the idempotency key as ACT) and the texts the SMSC got.
    func received() async throws -> [String] {
        // Kannel hands the message to the SMSC link a moment after it answers 202.
        try await Task.sleep(for: .milliseconds(500))
        return kannel.accessLog().split(separator: "\n").filter { $0.contains("Sent SMS") }.map(String.init) + kannel.mtMessages().map(\.text)
    }
}

@Suite("kannel channel against a real bearerbox + smsbox + fakesmsc", .serialized)
struct KannelTests {
    @Test("Kannel's DLR types map to delivery states: 1 delivered, 2 and 16 failed, 4 and 8 history only; unknown types and missing fields are refused")
    func reportMapping() throws {
        let adapter = try kannelAdapter(KannelConfiguration(
            sendsmsURL: "http://127.0.0.1:9/cgi-bin/sendsms", username: "u", password: "p", from: "1444",
            callbackBaseURL: "http://127.0.0.1:8080", callbackSecret: "s"))
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        func report(_ status: String, at: String = "1795617860", reply: String = "") throws(ProviderRequestRefusal) -> DeliveryReceipt {
            try adapter.deliveryReport(ProviderRequest(method: "GET", fields: [
                "delivery": "42", "step": "1", "sig": adapter.signature(delivery: 42, step: 1), "status": status, "at": at, "reply": reply,
            ]), now: now)
        }
        #expect(try report("1").status == .delivered)
        #expect(try report("2", reply: "NACK/0x0000000b").status == .failed(reason: "undelivered, Kannel status 2 (NACK/0x0000000b)"))
        #expect(try report("16").status == .failed(reason: "rejected by the SMSC, Kannel status 16"))
        #expect(try report("4").status == .intermediate("buffered at the SMSC"))
        #expect(try report("8", reply: "ACK/").status == .intermediate("accepted by the SMSC (ACK/)"))
        let receipt = try report("1")
        #expect(receipt.deliveryId == 42 && receipt.step == 1 && receipt.channel == "sms")
        #expect(receipt.at == Date(timeIntervalSince1970: 1_795_617_860))
        // A report dated after now (a fast SMSC clock) is dated now.
        #expect(try report("1", at: "1900000000").at == now)
        #expect(throws: ProviderRequestRefusal.self) { try report("3") }
        #expect(throws: ProviderRequestRefusal.self) { try report("x") }
        #expect(throws: ProviderRequestRefusal.self) {
            try adapter.deliveryReport(ProviderRequest(method: "GET", fields: ["step": "1", "status": "1"]), now: now)
        }
    }

    @Test("passes the channel conformance suite", arguments: ChannelConformance.cases)
    func conformance(_ name: String) async throws {
        guard let kannel = try await KannelPeer.startForTest() else { return }
        defer { kannel.stop() }
        try await ChannelConformance(harness: KannelHarness(kannel: kannel, silent: try SilentListener())).run(name)
    }

    @Test("Kazakh and Russian text arrives intact at the SMSC as UCS-2, Latin text as 7-bit; a three-segment message arrives whole")
    func textsArriveIntact() async throws {
        guard let kannel = try await KannelPeer.startForTest() else { return }
        defer { kannel.stop() }
        let adapter = try kannelAdapter(KannelConfiguration(sendsmsURL: kannel.sendsmsURL, username: "habar", password: kannel.password, from: "HABAR"))
        let texts = [
            ("+77011234567", "Назар аударыңыз! Тегеран — Астара жасыл дәлізі ашылды. Жиналу орны: ҚР елшілігі. Өтініш, құжаттарыңызды алыңыз."),
            ("+77011234568", "Внимание! Открыт зелёный коридор Тегеран — Астара. Место сбора: посольство РК. Возьмите документы; «ёлка» №5."),
            ("+905321234567", "Green corridor Tehran - Astara is open. Meet at the embassy of Kazakhstan at 10:00."),
            ("+77011234569", String(repeating: "Қазақстан азаматтары, елшілікке хабарласыңыз. ", count: 3)),
        ]
        for (index, (phone, text)) in texts.enumerated() {
            _ = try await adapter.send(smsMessage("inst-\(index)-0", to: phone, text: text))
        }
        var received: [KannelPeer.MTMessage] = []
        for _ in 0..<100 where received.count < texts.count || received.contains(where: { $0.coding == "udh" && $0.parts < 2 }) {
            try await Task.sleep(for: .milliseconds(50))
            received = kannel.mtMessages()
        }
        for (phone, text) in texts {
            #expect(received.filter { $0.to == phone }.map(\.text) == [text], "\(received.filter { $0.to == phone })")
        }
        #expect(received.allSatisfy { $0.from == "HABAR" })
        // Latin text goes 7-bit in one SMS; Cyrillic as UCS-2, split by Kannel into
        // concatenated parts where it is longer than 70 characters (as the catalog measured).
        let measured = texts.map { SMSMeasurement($0.1) }
        #expect(measured.map(\.encoding) == [.ucs2, .ucs2, .gsm7, .ucs2])
        #expect(received.map(\.coding) == ["udh", "udh", "text", "udh"])
        #expect(received.map(\.parts) == measured.map(\.segments), "\(measured)")
        // The idempotency key is in Kannel's own log, so a message can be traced both ways.
        #expect(kannel.accessLog().contains("[ACT:inst-0-0]"))
    }
}

/// Habar running on a free port with Kannel channels, Kannel pointed back at it.
struct LiveGateway: Sendable {
    let gateway: Gateway
    let port: Int
    let task: Task<Void, any Error>

    static let callbackSecret = "kannel-callback-\(UInt32.random(in: 0...UInt32.max))"

    /// `channels` are built from the port chosen here (their callback URL points back).
    static func start(
        port: Int = Fixtures.freePort(), retry: RetryPolicy = RetryPolicy(), _ channels: (_ baseURL: String) throws -> [ChannelConfiguration]
    ) async throws -> LiveGateway {
        var configuration = HabarConfiguration()
        configuration.dataDir = try Fixtures.temporaryDirectory("kannel-live").path
        configuration.messagesDir = Fixtures.messagesDirectory.path
        configuration.http.host = "127.0.0.1"
        configuration.http.port = port
        configuration.dispatcher.pollMilliseconds = 10
        configuration.dispatcher.retry = retry
        configuration.channels = try channels("http://127.0.0.1:\(port)")
        let gateway = try await Gateway.make(configuration: configuration, logger: Logger(label: "kannel-live"), catalog: try Fixtures.catalog())
        let application = buildApplication(gateway: gateway)
        let task = Task { try await application.runService(gracefulShutdownSignals: []) }
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let (_, response) = try? await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/health")!),
                (response as? HTTPURLResponse)?.statusCode == 200
            {
                return LiveGateway(gateway: gateway, port: port, task: task)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        task.cancel()
        throw KannelPeerError(description: "the gateway did not start on port \(port)")
    }

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// A Kannel whose incoming SMS go to a gateway whose one channel, `sms`, sends through it.
    static func startWithKannel() async throws -> (KannelPeer, LiveGateway)? {
        let port = Fixtures.freePort()
        guard let kannel = try await KannelPeer.startForTest(habarURL: "http://127.0.0.1:\(port)", key: callbackSecret) else { return nil }
        do {
            return (kannel, try await LiveGateway.start(port: port) { base in [try LiveGateway.kannel("sms", kannel, baseURL: base)] })
        } catch {
            kannel.stop()
            throw error
        }
    }

    func stop() async {
        task.cancel()
        _ = await task.result
    }

    static func kannel(_ name: String, _ kannel: KannelPeer, baseURL: String, sendsmsURL: String? = nil) throws -> ChannelConfiguration {
        ChannelConfiguration(
            name: name, type: "kannel",
            options: try JSONValue(encoding: KannelConfiguration(
                sendsmsURL: sendsmsURL ?? kannel.sendsmsURL, username: "habar", password: kannel.password, from: "1444",
                callbackBaseURL: baseURL, callbackSecret: callbackSecret, timeoutMilliseconds: 2000)))
    }

    /// Waits until every delivery of `advisory` is in `states`; returns them.
    func deliveries(of advisory: Int64, until states: Set<DeliveryState>, count: Int, timeout: TimeInterval = 20) async throws -> [Delivery] {
        let deadline = Date().addingTimeInterval(timeout)
        var items: [Delivery] = []
        while Date() < deadline {
            items = try await gateway.store.deliveries(DeliveryFilter(advisoryId: advisory), page: PageRequest(limit: 500)).items
            if items.count == count, items.allSatisfy({ states.contains($0.state) }) { return items }
            try await Task.sleep(for: .milliseconds(50))
        }
        return items
    }

    func get(_ path: String) async throws -> Int {
        let (_, response) = try await URLSession.shared.data(from: URL(string: baseURL + path)!)
        return (response as? HTTPURLResponse)?.statusCode ?? 0
    }
}

@Suite("Habar with Kannel end to end", .serialized)
struct KannelEndToEndTests {
    @Test("an advisory reaches Kazakh and Russian speakers through Kannel; the DLRs come back signed and mark the deliveries delivered")
    func deliveredThroughKannel() async throws {
        guard let (kannel, live) = try await LiveGateway.startWithKannel() else { return }
        defer { kannel.stop() }
        defer { Task { await live.stop() } }
        let store = live.gateway.store
        _ = try await store.upsertCitizens([Fixtures.citizen(1, language: .kazakh), Fixtures.citizen(2, language: .russian)])
        let advisory = try await live.gateway.publisher.draft(Fixtures.advisory(channels: ["sms"]), now: Date())
        _ = try await live.gateway.publisher.publish(id: advisory.id, approver: "approver-1", now: Date())

        let deliveries = try await live.deliveries(of: advisory.id, until: [.delivered], count: 2)
        #expect(deliveries.map(\.state) == [.delivered, .delivered], "\(deliveries.map { ($0.state, $0.lastError ?? "") })")
        // Exactly the frozen texts arrived at the SMSC, once each, from Habar's sender number.
        let texts = try live.gateway.publisher.render(advisory, now: Date())
        let received = kannel.mtMessages()
        for (index, language) in [(1, Language.kazakh), (2, Language.russian)] {
            let phone = Fixtures.citizen(index).phone!.e164
            let expected = try #require(texts[language]?[.sms]?.text)
            #expect(received.filter { $0.to == phone }.map(\.text) == [expected], "\(received)")
        }
        // The history ends with Kannel's report; intermediate reports (8: accepted by the SMSC),
        // when Kannel sends one for a multipart message, are kept without changing the state.
        let events = try await store.deliveryEvents(deliveryId: deliveries[0].id)
        #expect(events.filter { $0.fromState != $0.toState }.map(\.toState) == [.queued, .sending, .sent, .delivered], "\(events)")
        #expect(events.filter { $0.fromState == $0.toState }.allSatisfy { ($0.detail ?? "").contains("by the SMSC") }, "\(events)")
        #expect(events.last?.detail == "delivery report")
    }

    @Test("incoming SMS injected at the SMSC reach /inbound/sms with sender and text, linked to the citizen; Kannel's retries and replays are stored once; a request without the key is refused")
    func incomingSMS() async throws {
        guard let (kannel, live) = try await LiveGateway.startWithKannel() else { return }
        defer { kannel.stop() }
        defer { Task { await live.stop() } }
        let store = live.gateway.store
        let citizen = try await store.insertCitizen(Fixtures.citizen(1, language: .kazakh))
        try kannel.inject(from: citizen.phone!.e164, to: "1444", text: "Аманмын, көмек керек емес")
        try await Task.sleep(for: .milliseconds(300))
        try kannel.inject(from: "+905551112233", to: "1444", text: "SOS 2")
        var stored: [InboundSMS] = []
        for _ in 0..<100 where stored.count < 2 {
            try await Task.sleep(for: .milliseconds(50))
            stored = try await store.inboundSMS(page: PageRequest(limit: 10)).items
        }
        #expect(stored.map(\.text) == ["Аманмын, көмек керек емес", "SOS 2"])
        #expect(stored.map(\.sender) == [citizen.phone!.e164, "+905551112233"])
        #expect(stored.map(\.citizenId) == [citizen.id, nil])
        #expect(stored.allSatisfy { $0.channel == "sms" && $0.receiver == "1444" && $0.providerMessageId != nil })

        // Kannel's retry of the same request (same %I) is acknowledged and stored once. smsbox
        // logs the request once our answer has reached it, which can come after the rows are
        // stored: wait for the line (up to 5 s; beside the whole suite it lagged).
        var logged: Substring?
        for _ in 0..<100 where logged == nil {
            logged = kannel.smsboxAccessLog().split(separator: "\n").first { $0.contains("/inbound/sms/sms?") }
            if logged == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        let line = try #require(logged)
        let url = try #require(line.split(separator: "'").first { $0.hasPrefix("http://") })
        #expect(try await live.get(String(url.dropFirst(live.baseURL.count))) == 200)
        #expect(try await store.inboundSMS(page: PageRequest(limit: 10)).items.count == 2)
        // Without the key, or with another, nothing is stored.
        #expect(try await live.get("/inbound/sms/sms?from=%2B77011234567&text=hi&id=x1") == 403)
        #expect(try await live.get("/inbound/sms/sms?key=nope&from=%2B77011234567&text=hi&id=x2") == 403)
        #expect(try await live.get("/inbound/sms/nosuch?key=\(LiveGateway.callbackSecret)&from=%2B77011234567&text=hi&id=x3") == 404)
        #expect(try await store.inboundSMS(page: PageRequest(limit: 10)).items.count == 2)
    }

    @Test("check-in end to end: the request reaches each citizen with their own link; replies injected at the SMSC set their status and cases; each reply is confirmed in the citizen's language; a stranger gets nothing")
    func checkinThroughKannel() async throws {
        guard let (kannel, live) = try await LiveGateway.startWithKannel() else { return }
        defer { kannel.stop() }
        defer { Task { await live.stop() } }
        let store = live.gateway.store
        let kazakh = try await store.insertCitizen(Fixtures.citizen(1, language: .kazakh))
        let russian = try await store.insertCitizen(Fixtures.citizen(2, language: .russian))
        let asking = try await store.insertCitizen(Fixtures.citizen(3, language: .russian))
        let draft = try await live.gateway.publisher.draft(Fixtures.checkinRequest(channels: ["sms"]), now: Date())
        _ = try await live.gateway.publisher.publish(id: draft.id, approver: "approver-1", now: Date())
        let advisory = try #require(try await store.advisory(id: draft.id))
        let sent = try await live.deliveries(of: draft.id, until: [.delivered], count: 3)
        #expect(sent.allSatisfy { $0.state == .delivered }, "\(sent)")

        // Each request carries the citizen's own link, and the link opens their page.
        var tokens: [String] = []
        for citizen in [kazakh, russian, asking] {
            let text = try #require(kannel.mtMessages().first { $0.to == citizen.phone!.e164 }?.text)
            let token = try #require(text.components(separatedBy: "/c/").last.map { String($0.prefix(22)) })
            #expect(try await live.gateway.links.verify(token).map { $0.citizenId } == citizen.id, "\(text)")
            #expect(try await live.get("/c/\(token)") == 200)
            tokens.append(token)
        }
        #expect(Set(tokens).count == 3)

        try kannel.inject(from: kazakh.phone!.e164, to: "1444", text: "Аманмын")
        try await Task.sleep(for: .milliseconds(200))
        try kannel.inject(from: russian.phone!.e164, to: "1444", text: "Помогите!")
        try await Task.sleep(for: .milliseconds(200))
        try kannel.inject(from: asking.phone!.e164, to: "1444", text: "Где автобус?")
        try await Task.sleep(for: .milliseconds(200))
        try kannel.inject(from: "+905551112233", to: "1444", text: "1")
        var confirmations: [Delivery] = []
        for _ in 0..<200 {
            confirmations = try await store.deliveries(DeliveryFilter(advisoryId: draft.id), page: PageRequest(limit: 100)).items
                .filter { $0.purpose != .advisory }
            if confirmations.count == 3, confirmations.allSatisfy({ $0.state == .delivered }) { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(confirmations.count == 3 && confirmations.allSatisfy { $0.state == .delivered }, "\(confirmations)")
        #expect(try await store.citizen(id: kazakh.id)?.welfareStatus == .safe)
        #expect(try await store.citizen(id: russian.id)?.welfareStatus == .needsHelp)
        #expect(try await store.citizen(id: asking.id)?.welfareStatus == .unknown)
        let cases = try await store.cases(CaseFilter(status: .open), page: PageRequest()).items
        #expect(cases.map(\.citizenId) == [russian.id, asking.id] && cases.map(\.reason) == [.needsHelp, .freeText])
        #expect(cases.last?.entries.first?.text == "Где автобус?")

        // What arrived at the SMSC after the request: one confirmation each, in their language.
        let received = kannel.mtMessages()
        for (citizen, followUp) in [(kazakh, FollowUp.confirmSafe), (russian, .confirmHelp), (asking, .confirmReceived)] {
            let expected = try live.gateway.publisher.renderFollowUp(advisory, followUp, kinds: [.sms], now: Date())[citizen.language]?[.sms]?.text
            #expect(received.filter { $0.to == citizen.phone!.e164 }.map(\.text).dropFirst() == [expected], "\(received)")
        }
        #expect(!received.contains { $0.to == "+905551112233" })
    }

    @Test("a forged or altered delivery report is refused and changes nothing")
    func forgedReports() async throws {
        guard let kannel = try await KannelPeer.startForTest() else { return }
        defer { kannel.stop() }
        let live = try await LiveGateway.start { base in [try LiveGateway.kannel("sms", kannel, baseURL: base, sendsmsURL: "http://127.0.0.1:\(Fixtures.freePort())/x")] }
        defer { Task { await live.stop() } }
        // A genuine report URL for delivery 1 step 0, then the same signature on delivery 2.
        let adapter = try #require(live.gateway.adapters["sms"] as? any SMSGatewayCallbacks)
        let genuine = try adapter.deliveryReport(
            ProviderRequest(method: "GET", fields: Self.fields(try Self.reportQuery(live, delivery: 1, status: 1))), now: Date())
        #expect(genuine.deliveryId == 1 && genuine.status == .delivered)
        let altered = try Self.reportQuery(live, delivery: 1, status: 1).replacingOccurrences(of: "delivery=1", with: "delivery=2")
        #expect(try await live.get("/callbacks/sms/sms/dlr?" + altered) == 403)
        #expect(try await live.get("/callbacks/sms/sms/dlr?delivery=1&step=0&status=1&sig=AAAAAAAAAAAAAAAAAAAAAA") == 403)
        #expect(try await live.get("/callbacks/sms/sms/dlr?delivery=1&step=0&status=1") == 403)
        #expect(try await live.get("/callbacks/sms/other/dlr?delivery=1&step=0&status=1") == 404)
    }

    /// The query Kannel would call for `delivery` with `status` (what the adapter put in the dlr-url).
    static func reportQuery(_ live: LiveGateway, delivery: Int64, status: Int) throws -> String {
        let adapter = try #require(live.gateway.adapters["sms"] as? KannelAdapter)
        let url = adapter.reportURL(base: live.baseURL, delivery: delivery, step: 0)
        return String(url.split(separator: "?", maxSplits: 1)[1]).replacingOccurrences(of: "%d", with: "\(status)")
            .replacingOccurrences(of: "%T", with: "1795617860").replacingOccurrences(of: "%A", with: "")
    }

    static func fields(_ query: String) -> [String: String] {
        var result: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            result[String(parts[0])] = parts.count > 1 ? String(parts[1]).removingPercentEncoding : ""
        }
        return result
    }

    @Test("two Kannel routes in a fallback plan: with the primary down, messages go through the backup and are delivered")
    func fallbackAcrossRoutes() async throws {
        guard let kannel = try await KannelPeer.startForTest() else { return }
        defer { kannel.stop() }
        let down = "http://127.0.0.1:\(Fixtures.freePort())/cgi-bin/sendsms"
        let live = try await LiveGateway.start(retry: RetryPolicy(maxAttempts: 2, baseDelaySeconds: 0.05, maxDelaySeconds: 0.1)) { base in
            [try LiveGateway.kannel("sms", kannel, baseURL: base, sendsmsURL: down), try LiveGateway.kannel("sms-backup", kannel, baseURL: base)]
        }
        defer { Task { await live.stop() } }
        _ = try await live.gateway.store.upsertCitizens([Fixtures.citizen(1, language: .kazakh), Fixtures.citizen(2, language: .russian)])
        let advisory = try await live.gateway.publisher.draft(Fixtures.advisory(channels: ["sms", "sms-backup"]), now: Date())
        _ = try await live.gateway.publisher.publish(id: advisory.id, approver: "approver-1", now: Date())
        let deliveries = try await live.deliveries(of: advisory.id, until: [.delivered], count: 2)
        #expect(deliveries.map(\.state) == [.delivered, .delivered], "\(deliveries.map { ($0.state, $0.lastError ?? "") })")
        #expect(deliveries.allSatisfy { $0.channel == "sms-backup" && $0.step == 1 })
        let events = try await live.gateway.store.deliveryEvents(deliveryId: deliveries[0].id)
        #expect(events.contains { $0.channel == "sms" && $0.toState == .failed && ($0.detail ?? "").contains("no answer from Kannel") }, "\(events)")
        #expect(Set(kannel.mtMessages().map(\.to)) == [Fixtures.citizen(1).phone!.e164, Fixtures.citizen(2).phone!.e164])
        #expect(kannel.mtMessages().count == 2)
    }
}

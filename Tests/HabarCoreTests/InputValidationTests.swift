import Foundation
import HabarCore
import HabarMessages
import HabarStoreSQLite
import HabarTesting
import Logging
import Testing

@Suite("Phone numbers")
struct PhoneNumberTests {
    @Test(arguments: [
        ("+77011234567", "+77011234567"), ("8 701 123 45 67", "+77011234567"), ("+7 (701) 123-45-67", "+77011234567"),
        ("87011234567", "+77011234567"), ("0098 912 345 6789", "+989123456789"), ("+994 50 123 45 67", "+994501234567"),
    ])
    func normalises(_ input: String, _ e164: String) {
        #expect(PhoneNumber(input)?.e164 == e164)
    }

    @Test(arguments: ["12345", "+7701123", "+0701123456", "701-abc", "", "++77011234567", "+7701123456789"])
    func refuses(_ input: String) {
        #expect(PhoneNumber(input) == nil)
    }
}

@Suite("Citizen CSV")
struct CitizenCSVTests {
    @Test("semicolons, a BOM, quotes with separators and line breaks; line numbers count physical lines")
    func parsesExcelStyle() throws {
        let csv = "\u{FEFF}fullName;phone;country;tags;city\r\n"
            + "\"Серіков; Айбек\";8 701 123 45 67;IR;pilgrims|group-7;\"Tehran\"\r\n"
            + "\"Multi\nline\";+77020000000;AE;;Dubai\r\n"
            + "Broken;12345;IR;;\r\n"
        let parsed = try CitizenCSV.parse(Data(csv.utf8))
        #expect(parsed.citizens.count == 2)
        #expect(parsed.citizens[0].fullName == "Серіков; Айбек")
        #expect(parsed.citizens[0].phone?.e164 == "+77011234567")
        #expect(parsed.citizens[0].tags == ["pilgrims", "group-7"])
        #expect(parsed.citizens[0].language == .russian)
        #expect(parsed.lines == [2, 3])
        #expect(parsed.rejected == [FieldError(line: 5, field: "phone", detail: "'12345' is not a phone number (E.164, e.g. +77011234567, or 8 701 123 45 67)")])
    }

    @Test("every bad field of a row is reported with line, field and reason")
    func reportsEveryField() throws {
        let csv = "fullName,language,email,country,birthDate,lat,lon\n,xx,not-mail,ZZ,1990-02-30,91,10\n"
        let parsed = try CitizenCSV.parse(Data(csv.utf8))
        #expect(parsed.citizens.isEmpty)
        #expect(Set(parsed.rejected.map(\.field)) == ["fullName", "language", "email", "country", "birthDate", "lat"])
        #expect(parsed.rejected.allSatisfy { $0.line == 2 })
    }

    @Test("unknown columns refuse the whole file, naming them")
    func unknownColumns() {
        #expect { try CitizenCSV.parse(Data("fullName,phone,country,shoeSize\nA,+77011234567,IR,42\n".utf8)) } throws: { error in
            "\(error)".contains("shoeSize")
        }
    }

    @Test("a row with the wrong number of fields is rejected, the others kept")
    func wrongFieldCount() throws {
        let parsed = try CitizenCSV.parse(Data("fullName,phone,country\nA,+77011234567,IR\nB,+77011234568\n".utf8))
        #expect(parsed.citizens.count == 1)
        #expect(parsed.rejected.first?.line == 3)
    }
}

@Suite("Advisory validation")
struct AdvisoryValidationTests {
    func publisher() throws -> AdvisoryPublisher {
        AdvisoryPublisher(
            store: try SQLiteStore.inMemory(), catalog: try Fixtures.catalog(),
            channels: ["sms": ChannelCapabilities(messageKind: .sms, addressKind: .phone, deliveryReceipts: true)])
    }

    func pointers(_ advisory: NewAdvisory) throws -> [String] {
        let publisher = try publisher()
        do {
            try publisher.validate(advisory, now: Date())
            return []
        } catch {
            return error.errors.compactMap(\.pointer)
        }
    }

    @Test("a valid draft passes")
    func valid() throws { #expect(try pointers(Fixtures.advisory()).isEmpty) }

    @Test("an unknown template is refused")
    func unknownTemplate() throws { #expect(try pointers(Fixtures.advisory(template: "volcano.erupted")) == ["/template"]) }

    @Test("missing parameters are named one by one")
    func missingParameters() throws {
        var advisory = Fixtures.advisory()
        advisory.params.route = nil
        advisory.params.contactPhone = nil
        #expect(try pointers(advisory) == ["/params/contactPhone", "/params/route"])
    }

    @Test("an advisory already expired is refused")
    func expired() throws { #expect(try pointers(Fixtures.advisory(expiresAt: Date().addingTimeInterval(-1))) == ["/expiresAt"]) }

    @Test("an unknown channel, an empty audience and a bad country are refused together")
    func several() throws {
        var advisory = Fixtures.advisory(channels: ["pigeon"])
        advisory.audience = Audience(countries: ["Iran"])
        #expect(try pointers(advisory) == ["/audience/countries/0", "/channelPlan/channels/0"])
        advisory.audience = Audience()
        #expect(try pointers(advisory).contains("/audience"))
    }

    @Test("nothing is stored when a draft is refused")
    func nothingStored() async throws {
        let store = try SQLiteStore.inMemory()
        let publisher = AdvisoryPublisher(store: store, catalog: try Fixtures.catalog(), channels: [:])
        await #expect(throws: ValidationFailure.self) { try await publisher.draft(Fixtures.advisory(), now: Date()) }
        #expect(try await store.advisory(id: 1) == nil)
    }
}

@Suite("Retry, rate and breaker building blocks")
struct DispatchBuildingBlockTests {
    @Test("backoff is full jitter under an exponential bound capped at the maximum")
    func backoff() {
        let policy = RetryPolicy(maxAttempts: 8, baseDelaySeconds: 2, maxDelaySeconds: 60, maxStepAgeSeconds: 3600)
        var random = SystemRandomNumberGenerator()
        for attempts in 1...10 {
            let bound = min(60, 2 * pow(2, Double(attempts - 1)))
            let delays = (0..<200).map { _ in policy.delay(afterAttempts: attempts, retryAfter: nil, using: &random) }
            #expect(delays.allSatisfy { $0 >= 0 && $0 <= bound })
            #expect(delays.max()! > bound / 2, "the draw spreads over the whole range")
        }
        #expect(policy.delay(afterAttempts: 1, retryAfter: .seconds(90), using: &random) == 90)
    }

    @Test("a step is exhausted by attempts or by age")
    func exhaustion() {
        let policy = RetryPolicy(maxAttempts: 3, maxStepAgeSeconds: 60)
        let start = Date()
        #expect(!policy.isExhausted(attempts: 2, stepStartedAt: start, now: start.addingTimeInterval(59)))
        #expect(policy.isExhausted(attempts: 3, stepStartedAt: start, now: start))
        #expect(policy.isExhausted(attempts: 0, stepStartedAt: start, now: start.addingTimeInterval(60)))
    }

    @Test("the token bucket spaces sends at its rate after the burst")
    func tokenBucket() {
        let bucket = TokenBucket(rate: 10, burst: 2)
        let now = ContinuousClock.now
        #expect(bucket.reserve(now: now) == .zero)
        #expect(bucket.reserve(now: now) == .zero)
        #expect(bucket.reserve(now: now) == .milliseconds(100))
        #expect(bucket.reserve(now: now) == .milliseconds(200))
    }

    @Test("the breaker opens after the threshold, probes once after the pause, and closes on success")
    func breaker() {
        let breaker = CircuitBreaker(settings: BreakerSettings(failureThreshold: 3, openSeconds: 10))
        let t0 = Date()
        #expect(!breaker.recordFailure(now: t0))
        #expect(!breaker.recordFailure(now: t0))
        #expect(breaker.recordFailure(now: t0))
        #expect(breaker.permit(now: t0.addingTimeInterval(5)) == .rejected(until: t0.addingTimeInterval(10)))
        #expect(breaker.permit(now: t0.addingTimeInterval(10)) == .probe)
        if case .rejected = breaker.permit(now: t0.addingTimeInterval(10)) {} else { Issue.record("only one probe at a time") }
        breaker.recordSuccess()
        #expect(breaker.permit(now: t0.addingTimeInterval(11)) == .allowed)
    }

    @Test("secrets are redacted from log messages and metadata")
    func redaction() {
        let capture = LogCapture()
        let logger = RedactingLogHandler.wrap(capture.logger, secrets: ["s3cr3t-pass"])
        logger.info("login with s3cr3t-pass", metadata: ["url": "http://u:s3cr3t-pass@host/", "nested": ["a": "s3cr3t-pass"]])
        #expect(!capture.text.contains("s3cr3t-pass"))
        #expect(capture.text.contains("login with ***"))
    }
}

@Suite("Hand-written JSON")
struct JSONTextTests {
    @Test("quoted strings parse back to the same text", arguments: ["plain", "Сбор в 14:30", "quote \" and \\ back", "line\nbreak\ttab\u{1}", "emoji 👍", ""])
    func roundTrip(_ text: String) throws {
        let parsed = try JSONDecoder().decode([String].self, from: Data("[\(JSONText.quote(text))]".utf8))
        #expect(parsed == [text])
        #expect(JSONText.quote(nil as String?) == "null")
    }
}

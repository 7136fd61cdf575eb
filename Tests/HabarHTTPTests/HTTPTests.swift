import HabarApp
import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HabarTesting
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// A gateway on a temporary data directory with the shipped catalogs.
/// `clock`: the gateway's clock, moved by the test (the wall clock without one).
func testGateway(clock: TestClock? = nil, _ configure: (inout HabarConfiguration) -> Void = { _ in }) async throws -> Gateway {
    var configuration = HabarConfiguration()
    configuration.dataDir = try Fixtures.temporaryDirectory("http").path
    configuration.messagesDir = Fixtures.messagesDirectory.path
    configuration.dispatcher.pollMilliseconds = 10
    configure(&configuration)
    var now: @Sendable () -> Date = { Date() }
    if let clock { now = clock.function }
    let shipped = configuration.messagesDir == Fixtures.messagesDirectory.path
    return try await Gateway.make(
        configuration: configuration, logger: Logger(label: "test"), catalog: shipped ? try Fixtures.catalog() : nil, now: now)
}

func token(_ gateway: Gateway, _ role: Role, agency: String? = nil) async throws -> String {
    let (token, hash) = AccessToken.generate()
    _ = try await gateway.store.insertToken(NewAccessToken(id: .unsaved, name: "\(role)", role: role, agencyId: agency, tokenHash: hash))
    return token
}

struct ProblemBody: Decodable {
    var type: String
    var title: String
    var status: Int
    var detail: String
}

@Suite("HTTP basics")
struct HTTPBasicsTests {
    @Test("/health answers 200 and /ready reports the database and channels")
    func healthAndReady() async throws {
        let gateway = try await testGateway()
        try await buildApplication(gateway: gateway).test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/ready", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("\"status\":\"ready\""))
            }
        }
    }

    @Test("/metrics shows deliveries by state and channel, queue depth and send latency")
    func metrics() async throws {
        // The stub's delivery reports wait an hour: the two stay `sent` however slow the machine.
        let gateway = try await testGateway {
            $0.channels = [ChannelConfiguration(name: "sms", type: "sms-stub", options: .object(["dlrDelayMilliseconds": .number(3_600_000)]))]
        }
        _ = try await gateway.store.upsertCitizens([Fixtures.citizen(1), Fixtures.citizen(2)])
        let draft = try await gateway.publisher.draft(Fixtures.advisory(), now: Date())
        _ = try await gateway.publisher.publish(id: draft.id, approver: "a", now: Date())
        try await gateway.dispatcher.dispatchOnce(channel: "sms")
        try await buildApplication(gateway: gateway).test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                let text = String(buffer: response.body)
                #expect(response.status == .ok)
                #expect(text.contains(#"habar_deliveries{state="sent",channel="sms"} 2"#))
                #expect(text.contains(#"habar_queue_depth{channel="sms"} 0"#))
                #expect(text.contains("habar_send_duration_seconds_bucket"))
            }
        }
    }

    @Test("no token → 401, a bad token → 401, a role too weak → 403, the right role → 200; all problem+json")
    func authorization() async throws {
        let gateway = try await testGateway()
        let viewer = try await token(gateway, .viewer)
        let agency = try await token(gateway, .agency, agency: "agency-1")
        _ = try await gateway.store.upsertCitizens([Fixtures.citizen(1)])
        let draft = try await gateway.publisher.draft(Fixtures.advisory(), now: Date())
        _ = try await gateway.publisher.publish(id: draft.id, approver: "a", now: Date())
        try await buildApplication(gateway: gateway).test(.router) { client in
            for (header, status) in [(nil, HTTPResponse.Status.unauthorized), ("Bearer hb_wrong", .unauthorized), ("Bearer \(agency)", .forbidden)] {
                var headers: HTTPFields = [:]
                if let header { headers[.authorization] = header }
                try await client.execute(uri: "/v1/deliveries/1", method: .get, headers: headers) { response in
                    #expect(response.status == status)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    let problem = try JSONDecoder().decode(ProblemBody.self, from: Data(String(buffer: response.body).utf8))
                    #expect(problem.status == Int(status.code))
                }
            }
            try await client.execute(uri: "/v1/deliveries/1", method: .get, headers: [.authorization: "Bearer \(viewer)"]) { response in
                #expect(response.status == .ok)
                let body = String(buffer: response.body)
                #expect(body.contains("\"idempotencyKey\":"))
                #expect(body.contains("\"events\":[{"))
            }
        }
    }

    @Test("unknown routes and missing deliveries are problem+json 404s")
    func notFound() async throws {
        let gateway = try await testGateway()
        let viewer = try await token(gateway, .viewer)
        try await buildApplication(gateway: gateway).test(.router) { client in
            for uri in ["/nowhere", "/v1/deliveries/999"] {
                try await client.execute(uri: uri, method: .get, headers: [.authorization: "Bearer \(viewer)"]) { response in
                    #expect(response.status == .notFound)
                    #expect(response.headers[.contentType] == "application/problem+json")
                }
            }
        }
    }

    @Test("a body over the limit is refused with 413 before it is read")
    func bodyLimit() async throws {
        let gateway = try await testGateway { $0.http.maxBodyBytes = 2048 }
        try await buildApplication(gateway: gateway).test(.router) { client in
            let body = ByteBuffer(repeating: UInt8(ascii: "a"), count: 4096)
            try await client.execute(uri: "/v1/deliveries/1", method: .post, body: body) { response in
                #expect(response.status == .contentTooLarge)
                #expect(response.headers[.contentType] == "application/problem+json")
            }
        }
    }

    @Test("the first start creates exactly one admin token")
    func firstAdminToken() async throws {
        let gateway = try await testGateway()
        let first = try #require(try await gateway.bootstrapAdminToken())
        #expect(try await gateway.bootstrapAdminToken() == nil)
        #expect(try await gateway.store.token(hash: AccessToken.hash(first))?.role == .admin)
    }
}

@Suite("Configuration")
struct ConfigurationTests {
    func load(_ json: String, environment: [String: String] = [:]) throws -> HabarConfiguration {
        let file = try Fixtures.temporaryDirectory("config").appendingPathComponent("habar.json")
        try Data(json.utf8).write(to: file)
        return try HabarConfiguration.load(file: file.path, environment: environment)
    }

    func keyPath(_ json: String) -> String? {
        do { _ = try load(json); return nil } catch { return (error as? ConfigurationError)?.keyPath }
    }

    @Test("with no file: SQLite under ./data, 127.0.0.1:8080, one sms-stub channel named sms")
    func defaults() throws {
        let configuration = try HabarConfiguration.load(file: nil, environment: [:])
        #expect(configuration.dataDir == "./data")
        #expect(configuration.http.host == "127.0.0.1" && configuration.http.port == 8080)
        #expect(configuration.channels.map(\.name) == ["sms"] && configuration.channels[0].type == "sms-stub")
    }

    @Test("where the file is wrong, the error says: line and column of a syntax error, of a bad value, of an unknown key")
    func locatedErrors() throws {
        func located(_ json: String, environment: [String: String] = [:]) -> String? {
            do { _ = try load(json, environment: environment); return nil } catch {
                return (error as? ConfigurationError)?.location.map { String($0.split(separator: ":").suffix(2).joined(separator: ":")) }
            }
        }
        // Syntax: trailing comma, single quotes, unclosed string, duplicate key, text after the end.
        #expect(located("{\n  \"http\": {\"port\": 8080,}\n}") == "2:25")
        #expect(located("{\n  'dataDir': 1\n}") == "2:3")
        #expect(located("{\"dataDir\": \"/x\n\"}") == "1:16")
        #expect(located("{\"dataDir\": \"a\",\n \"dataDir\": \"b\"}") == "2:2")
        #expect(located("{} {}") == "1:4")
        // Values: a type, a range, an unknown key (Cyrillic before it counts as characters).
        #expect(located("{\"cap\": {\"senderName\": \"Хабар\"},\n \"http\": {\"port\": \"80\"}}") == "2:19")
        #expect(located("{\n\"http\": {\n  \"port\": 0}}") == "3:11")
        #expect(located("{\"http\": {\"prot\": 1}}") == "1:19")
        #expect(keyPath("{\"http\": {\"prot\": 1}}") == "http.prot")
        // A value the environment replaced is not blamed on the file.
        #expect(located("{}", environment: ["HABAR_PORT": "0"]) == nil)
        #expect(keyPath("{\"storage\": {\"kind\": 5}}") == "storage.kind")
        #expect(try load("{\"storage\": {\"kind\": \"sqlite\"}}").storage.kind == "sqlite")
        #expect(try load("{}", environment: ["HABAR_STORAGE_KIND": "other"]).storage.kind == "other")
    }

    @Test("the example configuration in deploy/ is valid")
    func exampleConfiguration() throws {
        let file = Fixtures.repositoryRoot.appendingPathComponent("deploy/habar.example.json").path
        let configuration = try HabarConfiguration.load(file: file, environment: [:])
        #expect(configuration.dataDir == "/var/lib/habar")
        #expect(configuration.channels.first?.type == "sms-stub")
    }

    @Test("the production example in deploy/ builds every channel it names: two Kannel routes, SMTP and webhooks")
    func productionExample() async throws {
        let file = Fixtures.repositoryRoot.appendingPathComponent("deploy/habar.production.example.json").path
        var configuration = try HabarConfiguration.load(file: file, environment: [:])
        #expect(configuration.channels.map(\.type) == ["kannel", "kannel", "smtp", "webhook"])
        configuration.dataDir = try Fixtures.temporaryDirectory("production-example").path
        configuration.messagesDir = Fixtures.messagesDirectory.path
        let gateway = try await Gateway.make(configuration: configuration, logger: Logger(label: "test"))
        #expect(gateway.adapters.keys.sorted() == ["email", "partners", "sms", "sms-backup"])
        #expect(gateway.adapters["sms"]?.capabilities.deliveryReceipts == true)
        // Group advisories to agencies go through the configured webhook channel.
        #expect(gateway.publisher.agencyChannel == "partners")
    }

    @Test("agencies' group advisories: a webhook channel named agencies is added unless configured; a non-webhook channel is refused")
    func agenciesChannel() async throws {
        var configuration = HabarConfiguration()
        configuration.dataDir = try Fixtures.temporaryDirectory("agencies-channel").path
        configuration.messagesDir = Fixtures.messagesDirectory.path
        let defaults = try await Gateway.make(configuration: configuration, logger: Logger(label: "test"))
        #expect(defaults.adapters.keys.sorted() == ["agencies", "sms"] && defaults.adapters["agencies"]?.capabilities.addressKind == .webhook)
        configuration.agencies.channel = "sms"
        await #expect(throws: StartupError.self) { try await Gateway.make(configuration: configuration, logger: Logger(label: "test")) }
        do {
            _ = try await Gateway.make(configuration: configuration, logger: Logger(label: "test"))
        } catch {
            #expect("\(error)".contains("agencies.channel"))
        }
    }

    @Test("a partial file keeps the other defaults; HABAR_* variables override the file")
    func layering() throws {
        let configuration = try load(#"{"http": {"port": 9000}, "dispatcher": {"retry": {"maxAttempts": 4}}}"#, environment: ["HABAR_PORT": "9100", "HABAR_DATA_DIR": "/var/lib/habar"])
        #expect(configuration.http.port == 9100)
        #expect(configuration.http.host == "127.0.0.1")
        #expect(configuration.dataDir == "/var/lib/habar")
        #expect(configuration.dispatcher.retry.maxAttempts == 4)
        #expect(configuration.dispatcher.retry.maxDelaySeconds == 300)
    }

    @Test("an invalid file names the key path", arguments: [
        (#"{"http": {"port": "eighty"}}"#, "http.port"),
        (#"{"http": {"port": 70000}}"#, "http.port"),
        (#"{"htp": {}}"#, "htp"),
        (#"{"channels": [{"name": "sms", "type": "sms-stub", "rate": 5}]}"#, "channels[0].rate"),
        (#"{"channels": [{"name": "sms"}]}"#, "channels[0].type"),
        (#"{"dispatcher": {"batchSize": 0}}"#, "dispatcher.batchSize"),
        (#"{"logLevel": "loud"}"#, "logLevel"),
    ])
    func invalid(_ json: String, _ expected: String) {
        #expect(keyPath(json) == expected)
    }

    @Test("an unknown channel type and bad adapter options fail at start with the key path")
    func channelErrors() async throws {
        await #expect { try await testGateway { $0.channels = [ChannelConfiguration(name: "sms", type: "carrier-pigeon")] } } throws: { error in
            "\(error)".contains("channels[0].type") && "\(error)".contains("carrier-pigeon")
        }
        await #expect { try await testGateway { $0.channels = [ChannelConfiguration(name: "sms", type: "sms-stub", options: .object(["failureRate": .number(2)]))] } } throws: { error in
            "\(error)".contains("channels[0].options.failureRate")
        }
    }
}

import Foundation
import HabarCore
import HabarMessages

/// The gateway's configuration: built-in defaults, then the JSON file, then `HABAR_*`
/// environment variables, then command-line flags (each overrides the one before).
public struct HabarConfiguration: Sendable, Codable {
    public struct HTTP: Sendable, Codable {
        public var host: String = "127.0.0.1"
        public var port: Int = 8080
        /// Largest request body, bytes (API calls).
        public var maxBodyBytes: Int = 1 << 20
        /// Largest CSV import body, bytes.
        public var maxImportBytes: Int = 10 << 20
        public init() {}
    }

    public struct Approval: Sendable, Codable {
        /// Above this audience size the approver must not be the author.
        public var threshold: Int = 100
        public init() {}
    }

    /// CAP 1.2 export: who the alerts are from, and whether the feed needs a token.
    public struct CAP: Sendable, Codable {
        /// CAP `sender`: the originator's unique id, e.g. an e-mail address of the HQ.
        public var sender: String = "habar@localhost"
        /// CAP `senderName`, shown by receivers.
        public var senderName: String = "Habar"
        /// When true, `GET /v1/feed/cap` needs a viewer token; otherwise it is open.
        public var feedRequiresToken: Bool = false
        public init() {}
    }

    /// Check-in requests: when the reminder goes to those who have not answered.
    public struct Checkins: Sendable, Codable {
        /// The reminder goes this long before the deadline (default 60 minutes).
        public var reminderBeforeDeadlineMinutes: Double = 60
        /// How often reminders and deadlines are looked at (default 5 s).
        public var schedulerSeconds: Double = 5
        public init() {}
    }

    /// Travel agencies: the webhook channel their group advisories go through.
    public struct Agencies: Sendable, Codable {
        /// A channel of type `webhook` (or another that reaches webhook addresses). When no
        /// channel of this name is configured, one of type `webhook` with default options is
        /// added under it.
        public var channel: String = "agencies"
        public init() {}
    }

    /// The SQLite database and the stub channels' files live under it.
    public var dataDir: String = "./data"
    /// The message catalogs. Unset: the `messages` directory next to the installed binary,
    /// then `share/habar/messages` under its install prefix, then `./messages` (the gateway
    /// logs which it took).
    public var messagesDir: String?
    /// Which store: `{"kind": "sqlite"}` (the default).
    public var storage = StorageConfiguration()
    /// `trace`, `debug`, `info`, `notice`, `warning`, `error`, `critical`.
    public var logLevel: String = "info"
    public var http = HTTP()
    public var approval = Approval()
    public var cap = CAP()
    /// How citizens and partners reach this gateway from outside (links in the CAP feed,
    /// check-in links); no trailing slash.
    public var publicBaseURL: String = "http://127.0.0.1:8080"
    /// Which languages a citizen gets, in order, when their own has no catalog
    /// (`{"kk": ["kk", "ru", "en"], ...}`); a missing key is a catalog error the checker
    /// catches, so this applies only to a language without any catalog file.
    public var languageFallback: [String: [String]] = ["kk": ["kk", "ru", "en"], "ru": ["ru", "kk", "en"], "en": ["en", "ru"]]
    public var dispatcher = DispatcherSettings()
    public var channels: [ChannelConfiguration] = [ChannelConfiguration(name: "sms", type: "sms-stub")]
    public var checkins = Checkins()
    public var agencies = Agencies()

    public init() {}

    /// The configured channels, plus the agencies' webhook channel when none has its name.
    public var effectiveChannels: [ChannelConfiguration] {
        channels.contains { $0.name == agencies.channel } ? channels : channels + [ChannelConfiguration(name: agencies.channel, type: "webhook")]
    }

    // MARK: Loading

    /// The keys the file may contain; anything else is refused, so a typo never goes
    /// unnoticed. Channel `options` belong to each adapter, which checks them itself.
    static let knownKeys: [String: Set<String>] = [
        "": ["dataDir", "messagesDir", "storage", "logLevel", "http", "approval", "cap", "publicBaseURL", "languageFallback", "dispatcher", "channels", "checkins", "agencies"],
        "agencies": ["channel"],
        "storage": ["kind", "url", "poolSize"],
        "checkins": ["reminderBeforeDeadlineMinutes", "schedulerSeconds"],
        "cap": ["sender", "senderName", "feedRequiresToken"],
        "http": ["host", "port", "maxBodyBytes", "maxImportBytes"],
        "approval": ["threshold"],
        "dispatcher": ["instanceId", "batchSize", "leaseSeconds", "pollMilliseconds", "sendTimeoutSeconds", "concurrency", "workersPerChannel", "retry"],
        "dispatcher.retry": ["maxAttempts", "baseDelaySeconds", "maxDelaySeconds", "maxStepAgeSeconds"],
        "channels[]": ["name", "type", "concurrency", "ratePerSecond", "breaker", "segmentBudget", "options", "exercise"],
        "channels[].breaker": ["failureThreshold", "openSeconds"],
    ]

    /// Reads `file` (if any) over the defaults and applies `environment` overrides. An error in
    /// the file names its line and column (`habar.json:3:13: http.port: must be 1...65535`).
    public static func load(file: String?, environment: [String: String]) throws(ConfigurationError) -> HabarConfiguration {
        var configuration = HabarConfiguration()
        var map: JSONSourceMap?
        if let file {
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
                throw ConfigurationError(keyPath: "", reason: "cannot read configuration file \(file): \(error.localizedDescription)")
            }
            (configuration, map) = try decode(data, file: file)
        }
        let overridden = try configuration.applyEnvironment(environment)
        do { try configuration.validate() } catch {
            // A value the environment did not replace is the file's: say where it is.
            var error = error
            if let file, let map, !overridden.contains(error.keyPath), let position = map.position(of: error.keyPath) {
                error.location = "\(file):\(position)"
            }
            throw error
        }
        return configuration
    }

    static func decode(_ data: Data, file: String) throws(ConfigurationError) -> (HabarConfiguration, JSONSourceMap) {
        let map: JSONSourceMap
        do { map = try JSONSourceMap(data) } catch {
            throw ConfigurationError(keyPath: "", reason: "not valid JSON: \(error.reason)", location: "\(file):\(error.position)")
        }
        func located(_ error: ConfigurationError) -> ConfigurationError {
            var error = error
            error.location = map.position(of: error.keyPath).map { "\(file):\($0)" }
            return error
        }
        let value: JSONValue
        do { value = try JSONDecoder().decode(JSONValue.self, from: data) } catch {
            throw ConfigurationError(keyPath: "", reason: "not valid JSON: \(error)", location: file)
        }
        do { try checkKeys(value, path: "", schemaPath: "") } catch { throw located(error) }
        do {
            return (try JSONDecoder().decode(HabarConfiguration.self, from: data), map)
        } catch let error as DecodingError {
            throw located(ConfigurationError.from(error, prefix: ""))
        } catch {
            throw ConfigurationError(keyPath: "", reason: "\(error)", location: file)
        }
    }

    static func checkKeys(_ value: JSONValue, path: String, schemaPath: String) throws(ConfigurationError) {
        switch value {
        case .object(let object):
            guard let known = knownKeys[schemaPath] else { return }
            for (key, child) in object.sorted(by: { $0.key < $1.key }) {
                let childPath = path.isEmpty ? key : "\(path).\(key)"
                guard known.contains(key) else {
                    throw ConfigurationError(keyPath: childPath, reason: "unknown key (known here: \(known.sorted().joined(separator: ", ")))")
                }
                try checkKeys(child, path: childPath, schemaPath: schemaPath.isEmpty ? key : "\(schemaPath).\(key)")
            }
        case .array(let items):
            for (index, item) in items.enumerated() {
                try checkKeys(item, path: "\(path)[\(index)]", schemaPath: schemaPath + "[]")
            }
        default:
            return
        }
    }

    /// The environment variables that override the file (documented in the README).
    public static let environmentKeys: [String] = [
        "HABAR_DATA_DIR", "HABAR_MESSAGES_DIR", "HABAR_STORAGE_KIND", "HABAR_LOG_LEVEL", "HABAR_HOST", "HABAR_PORT", "HABAR_MAX_BODY_BYTES",
        "HABAR_MAX_IMPORT_BYTES", "HABAR_APPROVAL_THRESHOLD", "HABAR_INSTANCE_ID", "HABAR_BATCH_SIZE", "HABAR_LEASE_SECONDS",
        "HABAR_CONCURRENCY", "HABAR_PUBLIC_BASE_URL", "HABAR_CAP_SENDER",
    ]

    /// Applies the `HABAR_*` overrides; returns the key paths they replaced.
    @discardableResult
    mutating func applyEnvironment(_ environment: [String: String]) throws(ConfigurationError) -> Set<String> {
        func int(_ key: String) throws(ConfigurationError) -> Int? {
            guard let raw = environment[key] else { return nil }
            guard let value = Int(raw) else { throw ConfigurationError(keyPath: key, reason: "'\(raw)' is not a whole number") }
            return value
        }
        var overridden: Set<String> = []
        func text(_ key: String, _ keyPath: String) -> String? {
            guard let value = environment[key] else { return nil }
            overridden.insert(keyPath)
            return value
        }
        func number(_ key: String, _ keyPath: String) throws(ConfigurationError) -> Int? {
            guard let value = try int(key) else { return nil }
            overridden.insert(keyPath)
            return value
        }
        if let value = text("HABAR_DATA_DIR", "dataDir") { dataDir = value }
        if let value = text("HABAR_MESSAGES_DIR", "messagesDir") { messagesDir = value }
        if let value = text("HABAR_STORAGE_KIND", "storage.kind") { storage.kind = value }
        if let value = text("HABAR_DATABASE_URL", "storage.url") { storage.url = value }
        if let value = text("HABAR_LOG_LEVEL", "logLevel") { logLevel = value }
        if let value = text("HABAR_HOST", "http.host") { http.host = value }
        if let value = try number("HABAR_PORT", "http.port") { http.port = value }
        if let value = try number("HABAR_MAX_BODY_BYTES", "http.maxBodyBytes") { http.maxBodyBytes = value }
        if let value = try number("HABAR_MAX_IMPORT_BYTES", "http.maxImportBytes") { http.maxImportBytes = value }
        if let value = try number("HABAR_APPROVAL_THRESHOLD", "approval.threshold") { approval.threshold = value }
        if let value = text("HABAR_INSTANCE_ID", "dispatcher.instanceId") { dispatcher.instanceId = value }
        if let value = try number("HABAR_BATCH_SIZE", "dispatcher.batchSize") { dispatcher.batchSize = value }
        if let value = try number("HABAR_LEASE_SECONDS", "dispatcher.leaseSeconds") { dispatcher.leaseSeconds = Double(value) }
        if let value = try number("HABAR_CONCURRENCY", "dispatcher.concurrency") { dispatcher.concurrency = value }
        if let value = text("HABAR_PUBLIC_BASE_URL", "publicBaseURL") { publicBaseURL = value }
        if let value = text("HABAR_CAP_SENDER", "cap.sender") { cap.sender = value }
        return overridden
    }

    public func validate() throws(ConfigurationError) {
        if !(1...65535).contains(http.port) { throw ConfigurationError(keyPath: "http.port", reason: "must be 1...65535") }
        if storage.kind.isEmpty { throw ConfigurationError(keyPath: "storage.kind", reason: "must name a store (sqlite or postgres)") }
        if !(1...500).contains(storage.poolSize) { throw ConfigurationError(keyPath: "storage.poolSize", reason: "must be 1...500") }
        if http.host.isEmpty { throw ConfigurationError(keyPath: "http.host", reason: "must not be empty") }
        if http.maxBodyBytes < 1024 { throw ConfigurationError(keyPath: "http.maxBodyBytes", reason: "must be at least 1024") }
        if http.maxImportBytes < 1024 { throw ConfigurationError(keyPath: "http.maxImportBytes", reason: "must be at least 1024") }
        if URL(string: publicBaseURL)?.scheme.map({ ["http", "https"].contains($0) }) != true || publicBaseURL.hasSuffix("/") {
            throw ConfigurationError(keyPath: "publicBaseURL", reason: "must be an http(s) URL without a trailing slash")
        }
        if cap.sender.isEmpty || cap.sender.contains(where: { $0 == " " || $0 == "," || $0 == "<" || $0 == "&" }) {
            throw ConfigurationError(keyPath: "cap.sender", reason: "must be non-empty without spaces, commas, < or & (CAP 1.2)")
        }
        for (language, chain) in languageFallback.sorted(by: { $0.key < $1.key }) {
            guard let first = Language(rawValue: language) else {
                throw ConfigurationError(keyPath: "languageFallback.\(language)", reason: "not one of kk, ru, en")
            }
            for (index, item) in chain.enumerated() where Language(rawValue: item) == nil {
                throw ConfigurationError(keyPath: "languageFallback.\(language)[\(index)]", reason: "'\(item)' is not one of kk, ru, en")
            }
            if chain.first != first.rawValue {
                throw ConfigurationError(keyPath: "languageFallback.\(language)", reason: "must start with \(language) itself")
            }
        }
        if approval.threshold < 0 { throw ConfigurationError(keyPath: "approval.threshold", reason: "must not be negative") }
        if logLevelValue == nil {
            throw ConfigurationError(keyPath: "logLevel", reason: "'\(logLevel)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        if channels.isEmpty { throw ConfigurationError(keyPath: "channels", reason: "at least one channel is needed") }
        for (index, channel) in channels.enumerated() {
            if let concurrency = channel.concurrency, concurrency < 1 {
                throw ConfigurationError(keyPath: "channels[\(index)].concurrency", reason: "must be at least 1")
            }
            if let budget = channel.segmentBudget, !(1...10).contains(budget) {
                throw ConfigurationError(keyPath: "channels[\(index)].segmentBudget", reason: "must be 1...10")
            }
            if let rate = channel.ratePerSecond, rate <= 0 {
                throw ConfigurationError(keyPath: "channels[\(index)].ratePerSecond", reason: "must be more than 0")
            }
        }
        try dispatcher.validate(keyPath: "dispatcher")
        if checkins.reminderBeforeDeadlineMinutes < 0 {
            throw ConfigurationError(keyPath: "checkins.reminderBeforeDeadlineMinutes", reason: "must not be negative")
        }
        if agencies.channel.isEmpty { throw ConfigurationError(keyPath: "agencies.channel", reason: "must name a channel") }
        if checkins.schedulerSeconds <= 0 { throw ConfigurationError(keyPath: "checkins.schedulerSeconds", reason: "must be more than 0") }
    }
}

extension HabarConfiguration {
    /// Decoding fills every key the file leaves out with its default.
    public init(from decoder: any Decoder) throws {
        self.init()
        let container = try decoder.container(keyedBy: CodingKeys.self)
        dataDir = try container.decodeIfPresent(String.self, forKey: .dataDir) ?? dataDir
        messagesDir = try container.decodeIfPresent(String.self, forKey: .messagesDir) ?? messagesDir
        if container.contains(.storage) {
            let nested = try container.decode(PartialStorage.self, forKey: .storage)
            if let kind = nested.kind { storage.kind = kind }
            if let url = nested.url { storage.url = url }
            if let poolSize = nested.poolSize { storage.poolSize = poolSize }
        }
        logLevel = try container.decodeIfPresent(String.self, forKey: .logLevel) ?? logLevel
        http = try container.decodeIfPresent(HTTP.self, forKey: .http) ?? http
        approval = try container.decodeIfPresent(Approval.self, forKey: .approval) ?? approval
        cap = try container.decodeIfPresent(CAP.self, forKey: .cap) ?? cap
        publicBaseURL = try container.decodeIfPresent(String.self, forKey: .publicBaseURL) ?? publicBaseURL
        languageFallback = try container.decodeIfPresent([String: [String]].self, forKey: .languageFallback) ?? languageFallback
        if container.contains(.dispatcher) {
            let nested = try container.decode(PartialDispatcher.self, forKey: .dispatcher)
            nested.apply(to: &dispatcher)
        }
        channels = try container.decodeIfPresent([ChannelConfiguration].self, forKey: .channels) ?? channels
        checkins = try container.decodeIfPresent(Checkins.self, forKey: .checkins) ?? checkins
        agencies = try container.decodeIfPresent(Agencies.self, forKey: .agencies) ?? agencies
    }

    /// The storage section with every key optional.
    struct PartialStorage: Decodable {
        var kind: String?
        var url: String?
        var poolSize: Int?
    }

    /// The dispatcher section with every key optional.
    struct PartialDispatcher: Decodable {
        var instanceId: String?
        var batchSize: Int?
        var leaseSeconds: Double?
        var pollMilliseconds: Int?
        var sendTimeoutSeconds: Double?
        var concurrency: Int?
        var workersPerChannel: Int?
        var retry: PartialRetry?

        struct PartialRetry: Decodable {
            var maxAttempts: Int?
            var baseDelaySeconds: Double?
            var maxDelaySeconds: Double?
            var maxStepAgeSeconds: Double?
        }

        func apply(to settings: inout DispatcherSettings) {
            if let instanceId { settings.instanceId = instanceId }
            if let batchSize { settings.batchSize = batchSize }
            if let leaseSeconds { settings.leaseSeconds = leaseSeconds }
            if let pollMilliseconds { settings.pollMilliseconds = pollMilliseconds }
            if let sendTimeoutSeconds { settings.sendTimeoutSeconds = sendTimeoutSeconds }
            if let concurrency { settings.concurrency = concurrency }
            if let workersPerChannel { settings.workersPerChannel = workersPerChannel }
            if let retry {
                if let value = retry.maxAttempts { settings.retry.maxAttempts = value }
                if let value = retry.baseDelaySeconds { settings.retry.baseDelaySeconds = value }
                if let value = retry.maxDelaySeconds { settings.retry.maxDelaySeconds = value }
                if let value = retry.maxStepAgeSeconds { settings.retry.maxStepAgeSeconds = value }
            }
        }
    }
}

extension HabarConfiguration.HTTP {
    public init(from decoder: any Decoder) throws {
        self.init()
        let container = try decoder.container(keyedBy: CodingKeys.self)
        host = try container.decodeIfPresent(String.self, forKey: .host) ?? host
        port = try container.decodeIfPresent(Int.self, forKey: .port) ?? port
        maxBodyBytes = try container.decodeIfPresent(Int.self, forKey: .maxBodyBytes) ?? maxBodyBytes
        maxImportBytes = try container.decodeIfPresent(Int.self, forKey: .maxImportBytes) ?? maxImportBytes
    }
}

extension HabarConfiguration.Approval {
    public init(from decoder: any Decoder) throws {
        self.init()
        let container = try decoder.container(keyedBy: CodingKeys.self)
        threshold = try container.decodeIfPresent(Int.self, forKey: .threshold) ?? threshold
    }
}

extension HabarConfiguration.Checkins {
    public init(from decoder: any Decoder) throws {
        self.init()
        let container = try decoder.container(keyedBy: CodingKeys.self)
        reminderBeforeDeadlineMinutes = try container.decodeIfPresent(Double.self, forKey: .reminderBeforeDeadlineMinutes) ?? reminderBeforeDeadlineMinutes
        schedulerSeconds = try container.decodeIfPresent(Double.self, forKey: .schedulerSeconds) ?? schedulerSeconds
    }
}

extension HabarConfiguration.Agencies {
    public init(from decoder: any Decoder) throws {
        self.init()
        let container = try decoder.container(keyedBy: CodingKeys.self)
        channel = try container.decodeIfPresent(String.self, forKey: .channel) ?? channel
    }
}

extension HabarConfiguration.CAP {
    public init(from decoder: any Decoder) throws {
        self.init()
        let container = try decoder.container(keyedBy: CodingKeys.self)
        sender = try container.decodeIfPresent(String.self, forKey: .sender) ?? sender
        senderName = try container.decodeIfPresent(String.self, forKey: .senderName) ?? senderName
        feedRequiresToken = try container.decodeIfPresent(Bool.self, forKey: .feedRequiresToken) ?? feedRequiresToken
    }
}

extension HabarConfiguration {
    /// The configured fallback chains as the publisher uses them.
    public var fallback: LanguageFallback {
        var chains: [Language: [Language]] = [:]
        for (language, chain) in languageFallback {
            if let language = Language(rawValue: language) { chains[language] = chain.compactMap(Language.init(rawValue:)) }
        }
        return LanguageFallback(chains: LanguageFallback().chains.merging(chains) { _, configured in configured })
    }
}

import Foundation
import Logging

/// A configuration value that could not be used: the key path (`channels[0].options.delayMs`)
/// and why.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var keyPath: String
    public var reason: String
    /// Where in the file, `path:line:column`, when the value came from one.
    public var location: String?
    public init(keyPath: String, reason: String, location: String? = nil) {
        self.keyPath = keyPath
        self.reason = reason
        self.location = location
    }
    public var description: String {
        let text = keyPath.isEmpty ? reason : "\(keyPath): \(reason)"
        return location.map { "\($0): \(text)" } ?? text
    }
}

/// Any JSON value, for the adapter-specific part of a channel's configuration.
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

/// Circuit breaker settings for one channel instance.
public struct BreakerSettings: Sendable, Hashable, Codable {
    /// Consecutive transient failures that open the breaker.
    public var failureThreshold: Int
    /// How long an open breaker pauses the channel before a probe.
    public var openSeconds: Double

    public init(failureThreshold: Int = 10, openSeconds: Double = 30) {
        self.failureThreshold = failureThreshold
        self.openSeconds = openSeconds
    }
}

/// One configured channel instance: its name, its adapter type, the dispatcher's limits for
/// it, and the adapter's own options.
public struct ChannelConfiguration: Sendable, Hashable, Codable {
    public var name: String
    public var type: String
    /// Sends in flight at once on this instance.
    public var concurrency: Int?
    /// Token-bucket rate, messages per second (nil: the adapter's default, or unlimited).
    public var ratePerSecond: Double?
    public var breaker: BreakerSettings?
    /// SMS channels: the most segments one message may take (default 3); approval refuses
    /// an advisory whose text would take more.
    public var segmentBudget: Int?
    /// Adapter-specific options; each adapter documents its own.
    public var options: JSONValue?
    /// Whether exercises may go through this channel (nil: only the SMS stub, which reaches
    /// nobody, may).
    public var exercise: Bool?

    /// Whether exercises go through this channel.
    public var isExercise: Bool { exercise ?? (type == "sms-stub") }

    public init(
        name: String, type: String, concurrency: Int? = nil, ratePerSecond: Double? = nil,
        breaker: BreakerSettings? = nil, segmentBudget: Int? = nil, options: JSONValue? = nil
    ) {
        self.name = name
        self.type = type
        self.concurrency = concurrency
        self.ratePerSecond = ratePerSecond
        self.breaker = breaker
        self.segmentBudget = segmentBudget
        self.options = options
    }

    /// Decodes `options` as the adapter's own type; errors name the key path under
    /// `keyPath` (e.g. `channels[0].options`).
    public func decodeOptions<T: Decodable>(_ type: T.Type, keyPath: String) throws(ConfigurationError) -> T {
        do {
            let data = try JSONEncoder().encode(options ?? .object([:]))
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            throw ConfigurationError.from(error, prefix: keyPath)
        } catch {
            throw ConfigurationError(keyPath: keyPath, reason: "\(error)")
        }
    }
}

extension ConfigurationError {
    /// Turns a decoding error into a key path and a reason a person can act on.
    public static func from(_ error: DecodingError, prefix: String) -> ConfigurationError {
        func path(_ codingPath: [any CodingKey]) -> String {
            var result = prefix
            for key in codingPath {
                if let index = key.intValue { result += "[\(index)]" } else { result += result.isEmpty ? key.stringValue : ".\(key.stringValue)" }
            }
            return result
        }
        switch error {
        case .keyNotFound(let key, let context):
            return ConfigurationError(keyPath: path(context.codingPath + [key]), reason: "is required")
        case .typeMismatch(let type, let context):
            return ConfigurationError(keyPath: path(context.codingPath), reason: "expected \(Self.describe(type))")
        case .valueNotFound(let type, let context):
            return ConfigurationError(keyPath: path(context.codingPath), reason: "expected \(Self.describe(type)), found null")
        case .dataCorrupted(let context):
            return ConfigurationError(keyPath: path(context.codingPath), reason: context.underlyingError.map { "\($0)" } ?? context.debugDescription)
        @unknown default:
            return ConfigurationError(keyPath: prefix, reason: "\(error)")
        }
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: "\(type)"
        }
    }
}

/// What an adapter gets from the gateway when it is built.
public struct ChannelContext: Sendable {
    /// Logs through this logger have the adapter's secrets redacted.
    public var logger: Logger
    public var receipts: any DeliveryReceiptSink
    /// Where adapters that keep files (the SMS stub) put them.
    public var dataDirectory: URL

    public init(logger: Logger, receipts: any DeliveryReceiptSink, dataDirectory: URL) {
        self.logger = logger
        self.receipts = receipts
        self.dataDirectory = dataDirectory
    }
}

/// Builds adapters of one type from configuration.
public protocol ChannelAdapterFactory: Sendable {
    /// The `type` name in configuration (`sms-stub`, `smtp`, `webhook`, `kannel`).
    var typeName: String { get }
    func makeAdapter(
        configuration: ChannelConfiguration, keyPath: String, context: ChannelContext
    ) throws(ConfigurationError) -> any ChannelAdapter
}

/// The adapter types the gateway knows, by type name. Several instances of one type may be
/// configured; each gets its own adapter.
public struct ChannelRegistry: Sendable {
    private var factories: [String: any ChannelAdapterFactory] = [:]

    public init(_ factories: [any ChannelAdapterFactory]) {
        for factory in factories { self.factories[factory.typeName] = factory }
    }

    public var typeNames: [String] { factories.keys.sorted() }

    /// Builds every configured instance; an unknown type or a duplicate name is an error
    /// naming the entry.
    public func makeAdapters(
        _ configurations: [ChannelConfiguration],
        context: (ChannelConfiguration) -> ChannelContext
    ) throws(ConfigurationError) -> [String: any ChannelAdapter] {
        var adapters: [String: any ChannelAdapter] = [:]
        for (index, configuration) in configurations.enumerated() {
            let keyPath = "channels[\(index)]"
            guard let factory = factories[configuration.type] else {
                throw ConfigurationError(
                    keyPath: keyPath + ".type",
                    reason: "unknown channel type '\(configuration.type)' (known: \(typeNames.joined(separator: ", ")))")
            }
            guard !configuration.name.isEmpty, configuration.name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
                throw ConfigurationError(keyPath: keyPath + ".name", reason: "'\(configuration.name)' must be letters, digits, '-' or '_'")
            }
            guard adapters[configuration.name] == nil else {
                throw ConfigurationError(keyPath: keyPath + ".name", reason: "'\(configuration.name)' is configured twice")
            }
            adapters[configuration.name] = try factory.makeAdapter(
                configuration: configuration, keyPath: keyPath + ".options", context: context(configuration))
        }
        return adapters
    }
}

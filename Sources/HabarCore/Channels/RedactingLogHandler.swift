import Foundation
import Logging

/// A log handler that replaces every configured secret with `***` before passing the entry
/// on, so an adapter cannot leak a password through a message or metadata by mistake.
public struct RedactingLogHandler: LogHandler {
    private var upstream: any LogHandler
    private let secrets: [String]

    public init(upstream: any LogHandler, secrets: [String]) {
        self.upstream = upstream
        self.secrets = secrets.filter { !$0.isEmpty }.sorted { $0.count > $1.count }
    }

    /// A copy of `logger` whose output is redacted.
    public static func wrap(_ logger: Logger, secrets: [String]) -> Logger {
        var wrapped = logger
        wrapped.handler = RedactingLogHandler(upstream: logger.handler, secrets: secrets)
        return wrapped
    }

    public func redact(_ text: String) -> String {
        secrets.reduce(text) { $0.replacingOccurrences(of: $1, with: "***") }
    }

    private func redact(_ value: Logger.MetadataValue) -> Logger.MetadataValue {
        switch value {
        case .string(let text): .string(redact(text))
        case .stringConvertible(let value): .string(redact(value.description))
        case .array(let values): .array(values.map(redact))
        case .dictionary(let values): .dictionary(values.mapValues(redact))
        }
    }

    public func log(event: LogEvent) {
        var event = event
        event.message = "\(redact(event.message.description))"
        event.metadata = event.metadata?.mapValues(redact)
        upstream.log(event: event)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { upstream[metadataKey: key] }
        set { upstream[metadataKey: key] = newValue.map(redact) }
    }

    public var metadata: Logger.Metadata {
        get { upstream.metadata }
        set { upstream.metadata = newValue.mapValues(redact) }
    }

    public var logLevel: Logger.Level {
        get { upstream.logLevel }
        set { upstream.logLevel = newValue }
    }
}

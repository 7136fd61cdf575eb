import Foundation
import HabarCore

/// Builds `sms-stub` channels.
public struct SMSStubFactory: ChannelAdapterFactory {
    public let typeName = "sms-stub"
    public init() {}

    public func makeAdapter(
        configuration: ChannelConfiguration, keyPath: String, context: ChannelContext
    ) throws(ConfigurationError) -> any ChannelAdapter {
        let options = try configuration.decodeOptions(SMSStubConfiguration.self, keyPath: keyPath)
        if let rate = options.failureRate, !(0...1).contains(rate) {
            throw ConfigurationError(keyPath: keyPath + ".failureRate", reason: "must be between 0 and 1")
        }
        if let delay = options.dlrDelayMilliseconds, delay < 0 {
            throw ConfigurationError(keyPath: keyPath + ".dlrDelayMilliseconds", reason: "must not be negative")
        }
        for (field, numbers) in [("rejectNumbers", options.rejectNumbers), ("unavailableNumbers", options.unavailableNumbers)] {
            for (index, number) in (numbers ?? []).enumerated() where PhoneNumber(number)?.e164 != number {
                throw ConfigurationError(keyPath: "\(keyPath).\(field)[\(index)]", reason: "'\(number)' is not an E.164 number")
            }
        }
        let defaultName = configuration.name == "sms" ? "sms-stub.jsonl" : "\(configuration.name).jsonl"
        let file = options.file.map { URL(fileURLWithPath: $0) }
            ?? context.dataDirectory.appendingPathComponent(defaultName)
        var context = context
        if let key = options.inboundKey, key.count < 16 {
            throw ConfigurationError(keyPath: keyPath + ".inboundKey", reason: "must be at least 16 characters")
        }
        context.logger = RedactingLogHandler.wrap(context.logger, secrets: [options.accountToken, options.inboundKey].compactMap { $0 })
        return SMSStubAdapter(name: configuration.name, options: options, file: file.absoluteURL, context: context)
    }
}

import AsyncHTTPClient
import ChannelHTTP
import Foundation
import HabarCore
import HabarMessages
import Logging
import NIOCore
import NIOHTTP1

/// The `webhook` channel: one signed JSON POST per subscriber and message, as API.md's
/// "Outbound webhook payload" and the Standard Webhooks specification have it.
/// `webhook-id` is the delivery's idempotency key, so a retry carries the same id and the
/// receiver can drop it.
public final class WebhookAdapter: ChannelAdapter {
    public let name: String
    public let capabilities = ChannelCapabilities(
        messageKind: .webhook, addressKind: .webhook, deliveryReceipts: false, boundsItsOwnSends: true)
    public var secrets: [String] { [] }

    let options: WebhookConfiguration
    let logger: Logger
    let now: @Sendable () -> Date

    init(name: String, options: WebhookConfiguration, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }) {
        self.name = name
        self.options = options
        self.logger = logger
        self.now = now
    }

    /// The JSON body: `{"type", "timestamp", "data": {advisoryId, version, kind, severity,
    /// language, title, text, params, expiresAt}}`; a group advisory (to a travel agency) is
    /// `group.advisory` with `status` (published, updated, cancelled), `group` and `tourists`.
    func body(_ message: OutboundMessage, at time: Date) -> Data {
        let status: String
        switch message.messageType ?? .alert {
        case .alert: status = "published"
        case .update: status = "updated"
        case .cancel: status = "cancelled"
        }
        let type = message.group == nil ? "advisory." + status : "group.advisory"
        func timestamp(_ date: Date) -> String { date.formatted(.iso8601) }
        var data = "{\"advisoryId\":\(message.advisoryId),\"version\":\(message.advisoryVersion)"
        if let group = message.group {
            data += ",\"status\":\(JSONText.quote(status)),\"group\":{\"id\":\(JSONText.quote(group.groupId)),\"name\":\(JSONText.quote(group.name))}"
            data += ",\"tourists\":[" + group.tourists.map { "{\"id\":\(JSONText.quote($0.id)),\"fullName\":\(JSONText.quote($0.fullName))}" }
                .joined(separator: ",") + "]"
        }
        if let kind = message.kind { data += ",\"kind\":\(JSONText.quote(kind.rawValue))" }
        data += ",\"severity\":\(JSONText.quote(message.severity.rawValue)),\"language\":\(JSONText.quote(message.message.language.tag))"
        data += ",\"title\":\(JSONText.quote(message.message.subject ?? "")),\"text\":\(JSONText.quote(message.message.text))"
        if let params = message.paramsJSON { data += ",\"params\":\(params)" }
        data += ",\"expiresAt\":\(JSONText.quote(timestamp(message.expiresAt)))}"
        return Data("{\"type\":\(JSONText.quote(type)),\"timestamp\":\(JSONText.quote(timestamp(time))),\"data\":\(data)}".utf8)
    }

    // Receiver answers, as the contract maps them:
    //   2xx                      → sent (webhooks have no delivery reports: final)
    //   410 Gone                 → permanent, and the subscriber is disabled (it unsubscribed)
    //   408, 425, 429, 5xx       → transient, honouring Retry-After (seconds or an HTTP date)
    //   3xx                      → permanent: redirects are not followed (a subscriber's URL is exact)
    //   other 4xx                → permanent
    //   timeout, refused, reset  → transient
    //   link-local/metadata host → permanent, nothing sent (unless allowLinkLocal)
    public func send(_ message: OutboundMessage) async throws(HabarCore.ChannelError) -> SendReceipt {
        guard case .webhook(let urlText, let secretText) = message.address else {
            throw .permanent("the webhook channel sends to webhook subscribers, not \(message.address.kind.rawValue) addresses")
        }
        guard let url = URL(string: urlText), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), let host = url.host else {
            throw .permanent("'\(urlText)' is not an http(s) URL")
        }
        if options.allowLinkLocal != true, let refusal = await AddressGuard.refusal(host: host) {
            throw .permanent("refused to send to \(refusal)")
        }
        let secrets = secretText.split(separator: " ").compactMap { WebhookSecret(String($0)) }
        guard !secrets.isEmpty else { throw .permanent("the subscriber has no valid whsec_ secret") }
        let time = now()
        let body = body(message, at: time)
        var request = HTTPClientRequest(url: urlText)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: options.userAgent ?? "Habar-Webhooks/1")
        for (name, value) in StandardWebhooks.headers(id: message.idempotencyKey, timestamp: time, body: body, secrets: secrets) {
            request.headers.add(name: name, value: value)
        }
        request.body = .bytes(ByteBuffer(bytes: body))
        logger.debug("webhook POST", metadata: ["delivery": "\(message.deliveryId)", "host": "\(host)", "webhook-id": "\(message.idempotencyKey)"])
        let answer: ProviderHTTP.Answer
        do {
            answer = try await ProviderHTTP.execute(
                request, timeoutMilliseconds: options.timeout, responseLimit: options.responseLimit, logger: logger)
        } catch {
            throw .transient("no answer from \(host): \(ProviderHTTP.describe(error))")
        }
        let status = answer.status
        let summary = answer.summary
        switch status {
        case 200..<300:
            return SendReceipt(providerMessageId: nil)
        case 410:
            throw .gone("410 Gone: the subscriber at \(host) unsubscribed; it is disabled")
        case 408, 425, 429, 500..<600:
            throw .transient("\(summary)", retryAfter: answer.retryAfter(now: time))
        case 300..<400:
            throw .permanent("\(summary) (redirects are not followed)")
        default:
            throw .permanent(summary)
        }
    }
}

/// Builds `webhook` channels.
public struct WebhookFactory: ChannelAdapterFactory {
    public let typeName = "webhook"
    public init() {}

    public func makeAdapter(
        configuration: ChannelConfiguration, keyPath: String, context: ChannelContext
    ) throws(ConfigurationError) -> any ChannelAdapter {
        let options = try configuration.decodeOptions(WebhookConfiguration.self, keyPath: keyPath)
        if let value = options.timeoutMilliseconds, !(50...120_000).contains(value) {
            throw ConfigurationError(keyPath: "\(keyPath).timeoutMilliseconds", reason: "must be 50...120000")
        }
        if let limit = options.maxResponseBytes, limit < 0 { throw ConfigurationError(keyPath: "\(keyPath).maxResponseBytes", reason: "must not be negative") }
        return WebhookAdapter(name: configuration.name, options: options, logger: context.logger)
    }
}

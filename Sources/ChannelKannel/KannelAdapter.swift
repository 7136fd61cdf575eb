import AsyncHTTPClient
import ChannelHTTP
import Crypto
import Foundation
import HabarCore
import HabarMessages
import Logging

/// The `kannel` channel: SMS through Kannel's smsbox HTTP `sendsms`, delivery reports back
/// through a signed `dlr-url`, incoming SMS from an `sms-service` get-url or post-url.
public final class KannelAdapter: SMSGatewayCallbacks {
    public let name: String
    public let capabilities: ChannelCapabilities
    public var secrets: [String] { [options.password, options.callbackSecret].compactMap { $0 } }

    let options: KannelConfiguration
    let logger: Logger
    /// Signs delivery-report URLs: `callbackSecret`, or one derived from the password.
    let signingKey: SymmetricKey

    init(name: String, options: KannelConfiguration, logger: Logger) {
        self.name = name
        self.options = options
        self.logger = logger
        self.capabilities = ChannelCapabilities(
            messageKind: .sms, addressKind: .phone, encodings: [.gsm7, .ucs2], deliveryReceipts: options.callbackBaseURL != nil,
            boundsItsOwnSends: true)
        let material = options.callbackSecret ?? "habar-kannel-dlr:\(options.password)"
        self.signingKey = SymmetricKey(data: SHA256.hash(data: Data(material.utf8)))
    }

    // MARK: Sending

    /// The sendsms query. Text goes as UTF-8; `coding=2` (UCS-2 on the air) when the
    /// catalog's measurement says the text needs it, Kannel's default GSM 7-bit otherwise.
    /// `account` carries the idempotency key into Kannel's access log (ACT), so a message
    /// can be traced from Habar's history to Kannel's log; `validity` ends with the advisory.
    func query(_ message: OutboundMessage, to phone: PhoneNumber, now: Date) -> [(String, String)] {
        var fields: [(String, String)] = [
            ("username", options.username), ("password", options.password), ("from", options.from), ("to", phone.e164),
            ("text", message.message.text), ("charset", "UTF-8"), ("account", message.idempotencyKey),
        ]
        if message.message.sms.encoding == .ucs2 { fields.append(("coding", "2")) }
        let minutes = Int(message.expiresAt.timeIntervalSince(now) / 60)
        if minutes >= 1 { fields.append(("validity", String(minutes))) }
        if let smsc = options.smsc { fields.append(("smsc", smsc)) }
        if let base = options.callbackBaseURL {
            fields.append(("dlr-mask", String(options.dlrMask ?? 31)))
            fields.append(("dlr-url", reportURL(base: base, delivery: message.deliveryId, step: message.step)))
        }
        return fields
    }

    /// The `dlr-url` this channel gives Kannel for a delivery step (nil without
    /// `callbackBaseURL`), with Kannel's `%d`, `%T` and `%A` still to fill in.
    public func reportURL(delivery: Int64, step: Int) -> String? {
        options.callbackBaseURL.map { reportURL(base: $0, delivery: delivery, step: step) }
    }

    /// `{base}/callbacks/sms/{name}/dlr?delivery=…&step=…&sig=…&status=%d&at=%T&reply=%A`;
    /// Kannel fills in the `%` codes. `sig` binds the channel, delivery and step, so a forged
    /// report for another delivery is refused.
    func reportURL(base: String, delivery: Int64, step: Int) -> String {
        let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
        return "\(trimmed)/callbacks/sms/\(ProviderHTTP.percentEncode(name))/dlr?delivery=\(delivery)&step=\(step)"
            + "&sig=\(signature(delivery: delivery, step: step))&status=%d&at=%T&reply=%A"
    }

    func signature(delivery: Int64, step: Int) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(name):\(delivery):\(step)".utf8), using: signingKey)
        return Data(mac).prefix(16).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    // Kannel's answers, as this adapter maps them:
    //   202 "0: Accepted for delivery", "3: Queued for later delivery", any 2xx → sent
    //   503 "Temporal failure, try again later", other 5xx      → transient
    //   connection refused, reset, timeout                        → transient
    //   403 "Authorization failed", 400 (missing or bad field), other 4xx → permanent
    //   3xx                                                        → permanent (not followed)
    public func send(_ message: OutboundMessage) async throws(HabarCore.ChannelError) -> SendReceipt {
        guard case .phone(let phone) = message.address else {
            throw .permanent("kannel sends to phone numbers, not \(message.address.kind.rawValue) addresses")
        }
        let query = ProviderHTTP.formEncode(query(message, to: phone, now: Date()))
        let separator = options.sendsmsURL.contains("?") ? "&" : "?"
        let request = HTTPClientRequest(url: options.sendsmsURL + separator + query)
        // The request line holds the password: the channel's logger redacts it.
        logger.debug("kannel sendsms", metadata: [
            "delivery": "\(message.deliveryId)", "request": "\(options.sendsmsURL)\(separator)\(query)",
        ])
        let answer: ProviderHTTP.Answer
        do {
            answer = try await ProviderHTTP.execute(request, timeoutMilliseconds: options.timeout, responseLimit: 4096, logger: logger)
        } catch {
            throw .transient("no answer from Kannel: \(ProviderHTTP.describe(error))")
        }
        switch answer.status {
        case 200..<300:
            return SendReceipt(providerMessageId: nil)
        case 500..<600:
            throw .transient(answer.summary, retryAfter: answer.retryAfter(now: Date()))
        default:
            throw .permanent("Kannel refused: \(answer.summary)")
        }
    }

    // MARK: Callbacks

    /// Kannel's DLR types and what they mean for the step:
    ///   1 delivered to the phone   → delivered
    ///   2 undelivered              → failed: the plan's next step (another route) is tried
    ///   16 rejected by the SMSC    → failed, the same way
    ///   4 buffered at the SMSC, 8 accepted by the SMSC → history only
    public func deliveryReport(_ request: ProviderRequest, now: Date) throws(ProviderRequestRefusal) -> DeliveryReceipt {
        let fields = request.fields
        guard let delivery = fields["delivery"].flatMap({ Int64($0) }), let step = fields["step"].flatMap({ Int($0) }) else {
            throw .invalid("delivery and step are required")
        }
        guard let presented = fields["sig"], ConstantTime.equal(presented, signature(delivery: delivery, step: step)) else {
            throw .forbidden("the report's signature does not match delivery \(delivery) step \(step)")
        }
        guard let status = fields["status"].flatMap({ Int($0) }) else { throw .invalid("status must be Kannel's %d value") }
        let reply = fields["reply"].map { $0.isEmpty ? "" : " (\($0.prefix(100)))" } ?? ""
        let result: DeliveryReceipt.Status
        switch status {
        case 1: result = .delivered
        case 2: result = .failed(reason: "undelivered, Kannel status 2\(reply)")
        case 16: result = .failed(reason: "rejected by the SMSC, Kannel status 16\(reply)")
        case 4: result = .intermediate("buffered at the SMSC\(reply)")
        case 8: result = .intermediate("accepted by the SMSC\(reply)")
        default: throw .invalid("unknown Kannel delivery status \(status)")
        }
        let at = fields["at"].flatMap { TimeInterval($0) }.map { Date(timeIntervalSince1970: $0) }
        // The SMSC's clock may run ahead; a report is never dated in the future.
        return DeliveryReceipt(deliveryId: delivery, step: step, channel: name, status: result, at: min(at ?? now, now))
    }

    /// An `sms-service` request: `from` (%p), `to` (%P), `text` (%a or %b; for a post-url the
    /// body), `id` (%I, Kannel's message id, which makes Kannel's retries recognisable), `time`
    /// (%T), and `key` when `callbackSecret` is set. Kannel's X-Kannel-From/To headers are
    /// read when the query has no sender or receiver.
    public func incomingMessage(_ request: ProviderRequest, now: Date) throws(ProviderRequestRefusal) -> NewInboundSMS {
        let fields = request.fields
        if let secret = options.callbackSecret {
            guard let key = fields["key"], ConstantTime.equal(key, secret) else {
                throw .forbidden("the incoming-SMS request has no valid key")
            }
        }
        return try request.incomingSMS(channel: name, now: now, headerPrefix: "x-kannel-")
    }
}

/// Builds `kannel` channels.
public struct KannelFactory: ChannelAdapterFactory {
    public let typeName = "kannel"
    public init() {}

    public func makeAdapter(
        configuration: ChannelConfiguration, keyPath: String, context: ChannelContext
    ) throws(ConfigurationError) -> any ChannelAdapter {
        let options = try configuration.decodeOptions(KannelConfiguration.self, keyPath: keyPath)
        for (field, value) in [("sendsmsURL", options.sendsmsURL), ("callbackBaseURL", options.callbackBaseURL)] {
            guard let value else { continue }
            guard let url = URL(string: value), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil else {
                throw ConfigurationError(keyPath: "\(keyPath).\(field)", reason: "'\(value)' is not an http(s) URL")
            }
        }
        for (field, value) in [("username", options.username), ("password", options.password), ("from", options.from)] where value.isEmpty {
            throw ConfigurationError(keyPath: "\(keyPath).\(field)", reason: "must not be empty")
        }
        if let mask = options.dlrMask, !(1...31).contains(mask) {
            throw ConfigurationError(keyPath: "\(keyPath).dlrMask", reason: "must be 1...31 (Kannel's dlr-mask bits)")
        }
        if let value = options.timeoutMilliseconds, !(50...120_000).contains(value) {
            throw ConfigurationError(keyPath: "\(keyPath).timeoutMilliseconds", reason: "must be 50...120000")
        }
        let logger = RedactingLogHandler.wrap(context.logger, secrets: [options.password, options.callbackSecret].compactMap { $0 })
        return KannelAdapter(name: configuration.name, options: options, logger: logger)
    }
}

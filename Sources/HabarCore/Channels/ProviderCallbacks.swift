import Foundation

/// A request a provider made to Habar (a delivery report, an incoming SMS), reduced to what
/// adapters read: the query and form fields, the headers they care about and the body.
public struct ProviderRequest: Sendable, Hashable {
    public var method: String
    /// Query parameters, and for a form post the form fields too (the query wins).
    public var fields: [String: String]
    /// Header names in lower case.
    public var headers: [String: String]
    public var body: String?

    public init(method: String, fields: [String: String], headers: [String: String] = [:], body: String? = nil) {
        self.method = method
        self.fields = fields
        self.headers = headers
        self.body = body
    }
}

/// Why a provider request was refused; the status says whether the provider should retry
/// (5xx) or drop it (4xx).
public struct ProviderRequestRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    public var status: Int
    public var reason: String
    public init(status: Int, _ reason: String) {
        self.status = status
        self.reason = reason
    }
    public static func invalid(_ reason: String) -> ProviderRequestRefusal { .init(status: 400, reason) }
    /// A forged or tampered request: 403 without detail on the wire.
    public static func forbidden(_ reason: String) -> ProviderRequestRefusal { .init(status: 403, reason) }
    public var description: String { "\(status): \(reason)" }
}

/// An SMS channel whose gateway calls Habar back: delivery reports at
/// `/callbacks/sms/{channel}/dlr` and incoming messages at `/inbound/sms/{channel}`. The
/// adapter checks and reads the request (it alone knows its gateway's format and how it
/// signed the callback URL); the HTTP layer stores what it returns before answering, so the
/// gateway's retry covers a crash.
public protocol SMSGatewayCallbacks: ChannelAdapter {
    func deliveryReport(_ request: ProviderRequest, now: Date) throws(ProviderRequestRefusal) -> DeliveryReceipt
    func incomingMessage(_ request: ProviderRequest, now: Date) throws(ProviderRequestRefusal) -> NewInboundSMS
}

extension ProviderRequest {
    /// An incoming SMS from the fields SMS gateways call back with: `from` (required), `to`,
    /// `text` (or a POST's body), `id` (the gateway's message id, which makes its retries
    /// recognisable) and `time` (Unix seconds); `headerPrefix` names headers to read the sender
    /// and receiver from when the fields lack them (Kannel's `x-kannel-`).
    public func incomingSMS(channel: String, now: Date, headerPrefix: String? = nil) throws(ProviderRequestRefusal) -> NewInboundSMS {
        let header = { (name: String) in headerPrefix.flatMap { headers[$0 + name] } }
        guard let rawSender = fields["from"] ?? header("from"), !rawSender.isEmpty else {
            throw .invalid("from (the sender's number) is required")
        }
        guard let text = fields["text"] ?? (method == "POST" ? body : nil) else { throw .invalid("text is required") }
        let sentAt = fields["time"].flatMap { TimeInterval($0) }.map { Date(timeIntervalSince1970: $0) }
        return NewInboundSMS(
            id: .unsaved, channel: channel, sender: PhoneNumber(rawSender)?.e164 ?? rawSender, receiver: fields["to"] ?? header("to"),
            text: text, sentAt: sentAt, receivedAt: now, providerMessageId: fields["id"].flatMap { $0.isEmpty ? nil : $0 })
    }
}

/// The kind of message a channel carries, which decides the catalog variants it needs.
public enum MessageKind: String, Sendable, Codable, Hashable, CaseIterable {
    /// Short text: one `sms` variant.
    case sms
    /// `email.subject`, `email.text` and `email.html`.
    case email
    /// `webhook.title` and `webhook.text`, sent inside a structured JSON payload.
    case webhook

    /// The catalog variants (key suffixes) this kind is rendered from.
    public var variants: [String] {
        switch self {
        case .sms: ["sms"]
        case .email: ["email.subject", "email.text", "email.html"]
        case .webhook: ["webhook.title", "webhook.text"]
        }
    }
}

/// One message rendered for one language and one kind of channel, frozen at queue time.
public struct RenderedMessage: Sendable, Hashable, Codable {
    public var language: Language
    public var kind: MessageKind
    /// E-mail subject or webhook title; nil for SMS.
    public var subject: String?
    /// The plain text (the SMS itself, the e-mail's text part, the webhook's text).
    public var text: String
    /// The e-mail's HTML part.
    public var html: String?

    public init(language: Language, kind: MessageKind, subject: String? = nil, text: String, html: String? = nil) {
        self.language = language
        self.kind = kind
        self.subject = subject
        self.text = text
        self.html = html
    }

    /// The SMS measurement of `text`.
    public var sms: SMSMeasurement { SMSMeasurement(text) }
}

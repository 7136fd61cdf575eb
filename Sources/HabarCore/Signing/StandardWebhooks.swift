import Crypto
import Foundation

/// Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over
/// `{id}.{timestamp}.{body}` with the base64-decoded bytes of a `whsec_` secret, sent as
/// `webhook-signature: v1,<base64>` (several, space-separated, while a secret rotates).
/// One type signs what Habar sends and verifies what agencies send.
public struct WebhookSecret: Sendable, Hashable, CustomStringConvertible {
    /// The key bytes (never logged: `description` hides them).
    let key: SymmetricKey
    /// The secret as configured, `whsec_…`.
    public let text: String

    public static let prefix = "whsec_"

    /// Parses `whsec_<base64>`; nil when it is not one.
    public init?(_ text: String) {
        guard text.hasPrefix(Self.prefix), let bytes = Data(base64Encoded: String(text.dropFirst(Self.prefix.count))), bytes.count >= 16 else {
            return nil
        }
        self.key = SymmetricKey(data: bytes)
        self.text = text
    }

    /// A new random secret of `bytes` random bytes (24, as API.md asks, or more).
    public static func generate(bytes: Int = 32) -> WebhookSecret {
        var generator = SystemRandomNumberGenerator()
        let random = (0..<max(24, bytes)).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return WebhookSecret(prefix + Data(random).base64EncodedString())!
    }

    public var description: String { "whsec_…(redacted)" }

    public static func == (lhs: WebhookSecret, rhs: WebhookSecret) -> Bool { lhs.text == rhs.text }
    public func hash(into hasher: inout Hasher) { hasher.combine(text) }

    /// The `v1,<base64>` signature of one message.
    public func signature(id: String, timestamp: Int64, body: Data) -> String {
        var content = Data("\(id).\(timestamp).".utf8)
        content.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: content, using: key)
        return "v1," + Data(mac).base64EncodedString()
    }
}

public enum StandardWebhooks {
    /// Accepted distance between a message's timestamp and now.
    public static let tolerance: TimeInterval = 5 * 60

    /// The three headers for one message, signed with every secret in `secrets` (the new
    /// one and the old one while a secret rotates).
    public static func headers(id: String, timestamp: Date, body: Data, secrets: [WebhookSecret]) -> [String: String] {
        let seconds = Int64(timestamp.timeIntervalSince1970.rounded(.down))
        return [
            "webhook-id": id,
            "webhook-timestamp": String(seconds),
            "webhook-signature": secrets.map { $0.signature(id: id, timestamp: seconds, body: body) }.joined(separator: " "),
        ]
    }

    /// Why a message does not verify.
    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        case missingHeader(String)
        case badTimestamp
        case staleTimestamp
        case futureTimestamp
        case noMatchingSignature

        public var description: String {
            switch self {
            case .missingHeader(let name): "missing header \(name)"
            case .badTimestamp: "webhook-timestamp is not Unix seconds"
            case .staleTimestamp: "webhook-timestamp is more than 5 minutes old"
            case .futureTimestamp: "webhook-timestamp is more than 5 minutes in the future"
            case .noMatchingSignature: "no webhook-signature matches (wrong secret, or the id, timestamp or body changed)"
            }
        }
    }

    /// Verifies a received message against any of `secrets`, comparing signatures in
    /// constant time; entries that are not `v1,` signatures are skipped.
    public static func verify(
        id: String?, timestamp: String?, signature: String?, body: Data, secrets: [WebhookSecret], now: Date
    ) throws(Failure) {
        guard let id, !id.isEmpty else { throw .missingHeader("webhook-id") }
        guard let timestamp else { throw .missingHeader("webhook-timestamp") }
        guard let signature, !signature.isEmpty else { throw .missingHeader("webhook-signature") }
        guard let seconds = Int64(timestamp) else { throw .badTimestamp }
        let age = now.timeIntervalSince1970 - Double(seconds)
        if age > tolerance { throw .staleTimestamp }
        if age < -tolerance { throw .futureTimestamp }
        let offered = signature.split(separator: " ").compactMap { entry -> Data? in
            guard entry.hasPrefix("v1,") else { return nil }
            return Data(base64Encoded: String(entry.dropFirst(3)))
        }
        var matched = false
        for secret in secrets {
            let expected = Data(base64Encoded: String(secret.signature(id: id, timestamp: seconds, body: body).dropFirst(3)))!
            for candidate in offered where ConstantTime.equal(candidate, expected) { matched = true }
        }
        if !matched { throw .noMatchingSignature }
    }
}

/// Comparisons of secrets and signatures that take the same time wherever they differ.
public enum ConstantTime {
    /// Equal length and equal bytes, looking at every byte whatever differs first.
    public static func equal(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }

    public static func equal(_ a: String, _ b: String) -> Bool { equal(a.utf8, b.utf8) }
}

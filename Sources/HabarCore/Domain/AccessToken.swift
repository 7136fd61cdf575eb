import Crypto
import Foundation

/// What a token holder may do.
public enum Role: String, Sendable, Codable, CaseIterable {
    case admin, `operator`, approver, viewer, agency

    /// Whether this role may act where `required` is asked for. `admin` may do everything
    /// but act as an agency; `operator` and `approver` may read what a `viewer` reads.
    public func satisfies(_ required: Role) -> Bool {
        if self == required { return true }
        switch (self, required) {
        case (.admin, .agency): return false
        case (.admin, _): return true
        case (.`operator`, .viewer), (.approver, .viewer): return true
        default: return false
        }
    }
}

/// An issued API token. The token itself is shown once; only its SHA-256 is stored.
/// (As stored; `NewAccessToken` before it is.)
public typealias AccessToken = AccessTokenRecord<Int64>
/// An API token on the way into the store.
public typealias NewAccessToken = AccessTokenRecord<Unsaved>

public struct AccessTokenRecord<ID: RecordID>: Sendable, Hashable, Codable, Identifiable {
    public var id: ID
    public var name: String
    public var role: Role
    public var agencyId: String?
    public var tokenHash: String
    public var createdAt: Date
    public var revokedAt: Date?

    public init(
        id: ID, name: String, role: Role, agencyId: String? = nil, tokenHash: String,
        createdAt: Date = Date(), revokedAt: Date? = nil
    ) {
        self.id = id
        self.name = name
        self.role = role
        self.agencyId = agencyId
        self.tokenHash = tokenHash
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }

    /// A new random token (`hb_` + 32 random bytes, URL-safe base64) and its stored hash.
    public static func generate() -> (token: String, hash: String) {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let token = "hb_" + Data(bytes).base64URLEncoded()
        return (token, hash(token))
    }

    /// SHA-256 of the token, hex.
    public static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// This record under the id the store gave it.
    public func stored(id: Int64) -> AccessToken {
        AccessToken(id: id, name: name, role: role, agencyId: agencyId, tokenHash: tokenHash, createdAt: createdAt, revokedAt: revokedAt)
    }
}

extension Data {
    /// Base64 with the URL-safe alphabet and no padding.
    public func base64URLEncoded() -> String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}

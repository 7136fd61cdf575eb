import Foundation

/// An operation that cannot be done as asked, for a reason the caller can act on.
public enum OperationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The thing it names does not exist.
    case notFound(String)
    /// The thing is not in a state that allows it (a cancelled advisory cannot be approved).
    case conflict(String)
    /// A rule forbids this caller to do it (the two-person rule).
    case forbidden(String)

    public var description: String {
        switch self {
        case .notFound(let what): "\(what) not found"
        case .conflict(let why), .forbidden(let why): why
        }
    }
}

/// Who does something: a token's holder, or the command line.
public struct Actor: Sendable, Hashable {
    public var name: String
    public var tokenId: Int64?
    public var role: Role?

    public init(name: String, tokenId: Int64? = nil, role: Role? = nil) {
        self.name = name
        self.tokenId = tokenId
        self.role = role
    }

    public init(_ token: AccessToken) {
        self.init(name: token.name, tokenId: token.id, role: token.role)
    }

    /// Whether this is the same person as the one who wrote something: the same token, or
    /// the same name.
    public func isSamePerson(name other: String, tokenId otherToken: Int64?) -> Bool {
        if let tokenId, let otherToken, tokenId == otherToken { return true }
        return name.trimmingCharacters(in: .whitespaces).lowercased() == other.trimmingCharacters(in: .whitespaces).lowercased()
    }
}

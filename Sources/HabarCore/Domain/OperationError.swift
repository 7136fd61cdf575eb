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
/// An approval the two-person rule refuses: the approver wrote it, and more than the threshold
/// would get it. Carries the author, so whoever refuses can record whose it was.
public struct TwoPersonRuleRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    public var author: String
    public var recipients: Int
    public var threshold: Int

    public init(author: String, recipients: Int, threshold: Int) {
        self.author = author
        self.recipients = recipients
        self.threshold = threshold
    }

    public var description: String {
        "two-person rule: this goes to \(recipients) people, more than the threshold of \(threshold), so it must be approved by someone other than its author (\(author))"
    }
}

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

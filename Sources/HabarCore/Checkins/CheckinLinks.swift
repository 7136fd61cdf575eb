import Crypto
import Foundation
import HabarMessages
import Synchronization

/// The one-tap check-in links: `<publicBaseURL>/c/<token>`, a token per (citizen, advisory).
///
/// A token is 22 URL-safe characters: the base64url of the citizen id and the advisory id
/// (4 bytes each) and the first 8 bytes of their HMAC-SHA256 under this installation's secret.
/// It needs no storage, cannot be guessed or altered (a changed id breaks the MAC; 2^64
/// tries per token), is compared in constant time, and is only valid while its advisory is
/// published and unexpired — checked where it is used.
///
/// Texts are rendered once per language, not per citizen: they carry `placeholder` (as long as a
/// token, so SMS segment counts do not change) and the dispatcher puts each citizen's token
/// in its place just before the send.
public final class CheckinLinks: Sendable {
    public static let placeholder = "HabarCheckinTokenXXXXX"
    public static let tokenLength = 22

    private let store: any InstallationStore
    private let key = Mutex<SymmetricKey?>(nil)

    public init(store: any InstallationStore) {
        self.store = store
    }

    /// The installation's key, read (or made) once.
    func signingKey() async throws -> SymmetricKey {
        if let key = key.withLock({ $0 }) { return key }
        let loaded = SymmetricKey(data: try await store.installationSecret(named: "checkin-links"))
        key.withLock { $0 = loaded }
        return loaded
    }

    public func token(citizenId: Int64, advisoryId: Int64) async throws -> String {
        Self.token(citizenId: citizenId, advisoryId: advisoryId, key: try await signingKey())
    }

    static func token(citizenId: Int64, advisoryId: Int64, key: SymmetricKey) -> String {
        var bytes = Self.ids(citizenId, advisoryId)
        bytes += HMAC<SHA256>.authenticationCode(for: bytes, using: key).prefix(8)
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func ids(_ citizen: Int64, _ advisory: Int64) -> [UInt8] {
        let c = UInt32(truncatingIfNeeded: citizen), a = UInt32(truncatingIfNeeded: advisory)
        return [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: c >> $0) } + [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: a >> $0) }
    }

    /// The (citizen, advisory) a token was made for, or nil for anything forged or altered.
    public func verify(_ token: String) async throws -> (citizenId: Int64, advisoryId: Int64)? {
        guard token.utf8.count == Self.tokenLength,
            token.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }),
            let data = Data(base64Encoded: token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/") + "=="),
            data.count == 16
        else { return nil }
        let bytes = [UInt8](data)
        let key = try await signingKey()
        let expected = HMAC<SHA256>.authenticationCode(for: bytes.prefix(8), using: key).prefix(8)
        guard ConstantTime.equal(bytes.suffix(8), Array(expected)) else { return nil }
        let citizen = bytes[0..<4].reduce(Int64(0)) { $0 << 8 | Int64($1) }
        let advisory = bytes[4..<8].reduce(Int64(0)) { $0 << 8 | Int64($1) }
        // One spelling per token: the last character carries 4 unused bits, and a token
        // that differs only there is not the token that was sent.
        guard ConstantTime.equal(Self.token(citizenId: citizen, advisoryId: advisory, key: key), token) else { return nil }
        return (citizen, advisory)
    }

    /// `message` with the placeholder replaced by its citizen's token (unchanged when it has
    /// no placeholder). A message to no citizen (a webhook subscriber) has no personal link:
    /// it points at the site instead of a page that would not open.
    public func personalize(_ message: OutboundMessage) async throws -> OutboundMessage {
        let rendered = message.message
        guard rendered.text.contains(Self.placeholder) || rendered.html?.contains(Self.placeholder) == true else { return message }
        let target: String, replacement: String
        if let citizen = message.citizenId {
            (target, replacement) = (Self.placeholder, try await self.token(citizenId: citizen, advisoryId: message.advisoryId))
        } else {
            (target, replacement) = ("/c/" + Self.placeholder, "")
        }
        var copy = message
        copy.message.text = rendered.text.replacingOccurrences(of: target, with: replacement)
        copy.message.html = rendered.html?.replacingOccurrences(of: target, with: replacement)
        copy.message.subject = rendered.subject?.replacingOccurrences(of: target, with: replacement)
        return copy
    }
}

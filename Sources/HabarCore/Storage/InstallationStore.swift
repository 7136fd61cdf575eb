import Foundation

/// What identifies this installation's database: an id and named secrets, made once and never
/// changed (every instance on the database reads the same ones).
public protocol InstallationStore: Sendable {
    /// A random id made when the database was created; prefixes every idempotency key a
    /// channel gets, so two installations never share one. The same on every call.
    func installationId() async throws -> String
    /// A random 32-byte secret of this installation named `name`, made on first use
    /// atomically: two callers asking at once for a new name get the same secret.
    func installationSecret(named name: String) async throws -> Data
}

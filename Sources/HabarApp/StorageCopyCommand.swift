import Foundation
import HabarCore
import HabarStorePostgres
import HabarStoreSQLite
import Logging

/// `habar storage copy --from DIR --to URL`: an installation's SQLite database, taken at one
/// moment while it may keep serving, into an empty PostgreSQL database (migrated first), then
/// verified table by table and along the audit chain. The copy leaves its own entry in the
/// target's audit log. A target that holds data is refused before anything is written.
public func copyStorage(
    fromDataDirectory directory: URL, to url: String, poolSize: Int = 4, logger: Logger, progress: (String, Int) -> Void = { _, _ in }
) async throws -> StorageCopy.Report {
    let file = directory.appendingPathComponent(SQLiteStore.fileName)
    guard FileManager.default.fileExists(atPath: file.path) else {
        throw StorageCopy.Refused("--from: there is no SQLite database at \(file.path)")
    }
    let settings: PostgresSettings
    do { settings = try PostgresSettings(url: url, poolSize: poolSize) } catch {
        throw StorageCopy.Refused("--to: \(error)")
    }
    let live = try SQLiteStore.open(directory: directory)
    let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("habar-copy-\(UUID().uuidString.prefix(8))")
    defer { try? FileManager.default.removeItem(at: scratch) }
    let moment = try await live.snapshot(into: scratch)
    let target = try await PostgresStore.open(settings, logger: logger)
    defer { target.close() }
    let report = try await StorageCopy.copy(from: moment, to: target, progress: progress)
    _ = try await target.appendAudit(NewAuditEntry(
        id: .unsaved, at: Date(), actor: "cli:\(ProcessInfo.processInfo.userName)", actorTokenId: nil, role: nil, action: "storage.copy",
        target: settings.redactedURL, status: 0, requestId: UUID().uuidString,
        details: ["from": directory.path, "rows": "\(report.rows.values.reduce(0, +))", "auditEntries": "\(report.auditEntries)"]))
    return report
}

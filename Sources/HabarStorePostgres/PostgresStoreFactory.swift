import Foundation
import HabarCore
import Logging

/// `storage.kind: "postgres"`: the database at `storage.url` (`HABAR_DATABASE_URL`), shared by
/// any number of instances. Serving takes no data-directory lock: instances coordinate in the
/// database (claims under leases, row locks, the migration lock). The store runs its own
/// connection pool from the moment it opens (migrations need it before any service starts)
/// until the last reference to it goes, after the gateway's services have stopped.
public struct PostgresStoreFactory: StoreFactory {
    public let kind = "postgres"
    public init() {}

    public func open(_ location: StoreLocation, serving: Bool, logger: Logger) async throws -> OpenedStore {
        let settings = try PostgresSettings(location.storage)
        // A quarter of the pool for each group commit's batches: three of them (answers,
        // inbound SMS, agency events) and the dispatcher share it.
        return OpenedStore(store: try await PostgresStore.open(settings, logger: logger), writers: max(1, settings.poolSize / 4))
    }
}

import Foundation
import HabarCore
import Logging
import ServiceLifecycle

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
        // A quarter of the pool for each of the gateway's group commits (answers, inbound SMS,
        // agency events: several statements per item, so a batch waits on round trips and more
        // lanes answer sooner); two for the dispatcher's (`outcomeWriters`).
        let store = try await PostgresStore.open(settings, logger: logger)
        return OpenedStore(store: store, services: serving ? [PostgresPoolService(store: store, logger: logger)] : [],
                           writers: max(1, settings.poolSize / 4), outcomeWriters: Self.outcomeWriters)
    }

    /// Send outcomes and delivery reports written at once by each instance: each batch is one
    /// statement, so fewer lanes make larger batches for the same load, each committed once.
    /// One lane since the batch moves are prepared statements (stop 28): 200,000 sends with
    /// delivery reports, alternating in one session, one instance 11,041 and 10,603/s with one
    /// lane against 10,491 and 10,034/s with two; three instances 13,736 and 11,723/s against
    /// 9,709 and 9,808/s; and a sixth less CPU, Habar's and the server's. (With statements
    /// planned on every run, two lanes had been ahead: 9,752 against 9,124/s. The gateway's own
    /// group commits keep a quarter of the pool: with two lanes, check-in answers fell from 878
    /// to 559/s.)
    public static let outcomeWriters = 1
}

/// The store's connection pool as a service of the gateway. The pool runs from `open`
/// (the migrations need it before any service starts); this service is what ends it: the
/// store's services run first in the gateway's service group, so on graceful shutdown they
/// stop last, after the HTTP server and the dispatcher have written their last outcomes and
/// released their leases, and the pool's connections are closed before the process exits.
public struct PostgresPoolService: Service {
    let store: PostgresStore
    let logger: Logger

    public func run() async throws {
        // Until the gateway shuts down (or its group is cancelled: close the pool either way).
        try? await gracefulShutdown()
        await store.shutDown()
        logger.notice("postgres pool closed")
    }
}

import Foundation
import HabarCore
import Logging
import ServiceLifecycle

/// `storage.kind: "sqlite"`: the database `habar.sqlite` under the data directory. Serving
/// takes the directory's lock (one `habar serve` per SQLite file: two would take each other's
/// leases) and runs the WAL checkpointer beside the gateway.
public struct SQLiteStoreFactory: StoreFactory {
    public let kind = "sqlite"
    public init() {}

    public func open(_ location: StoreLocation, serving: Bool, logger: Logger) async throws -> OpenedStore {
        let lock = serving ? try DataDirectoryLock(directory: location.dataDirectory) : nil
        let store = try SQLiteStore.open(directory: location.dataDirectory)
        return OpenedStore(store: store, services: serving ? [SQLiteCheckpointer(store: store, logger: logger)] : [], hold: lock, exclusive: serving)
    }
}

/// Copies the write-ahead log back into the database in the background, so that no write
/// waits for it: SQLite would otherwise do it in the transaction that fills the log, and
/// every request waiting behind that commit would wait too (100–200 ms seen under load).
public struct SQLiteCheckpointer: Service {
    let store: SQLiteStore
    let interval: Duration
    let logger: Logger

    public init(store: SQLiteStore, interval: Duration = .milliseconds(250), logger: Logger) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let started = ContinuousClock.now
                do {
                    try await store.checkpoint()
                    let took = ContinuousClock.now - started
                    if took > .milliseconds(50) {
                        logger.notice("slow checkpoint", metadata: ["ms": "\(took.components.seconds * 1000 + took.components.attoseconds / 1_000_000_000_000_000)"])
                    }
                } catch {
                    // Interrupted because the service is stopping (SQLite error 9): not a failure.
                    if Task.isCancelled { break }
                    logger.warning("background checkpoint failed; SQLite will checkpoint by itself", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}

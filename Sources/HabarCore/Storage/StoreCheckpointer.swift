import Foundation
import Logging
import ServiceLifecycle

/// Copies the store's write-ahead log back into the database in the background, so that no
/// write waits for it: SQLite would otherwise do it in the transaction that fills the log,
/// and every request waiting behind that commit would wait too (100–200 ms seen under load).
public struct StoreCheckpointer: Service {
    let store: any HabarStore
    let interval: Duration
    let logger: Logger

    public init(store: any HabarStore, interval: Duration = .milliseconds(250), logger: Logger) {
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
                    if took > .milliseconds(50) { logger.notice("slow checkpoint", metadata: ["ms": "\(took.components.seconds * 1000 + took.components.attoseconds / 1_000_000_000_000_000)"]) }
                } catch {
                    logger.warning("background checkpoint failed; SQLite will checkpoint by itself", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}

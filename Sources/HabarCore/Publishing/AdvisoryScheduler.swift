import Foundation
import Logging
import ServiceLifecycle

/// Publishes approved advisories when their `publishAt` comes (checked every second). The
/// schedule lives in the store, so a restart loses nothing: what fell due while the gateway
/// was down goes out at start, unless it has expired meanwhile.
public struct AdvisoryScheduler: Service {
    let publisher: AdvisoryPublisher
    let logger: Logger
    let now: @Sendable () -> Date
    let interval: Duration

    public init(publisher: AdvisoryPublisher, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }, interval: Duration = .seconds(1)) {
        self.publisher = publisher
        self.logger = logger
        self.now = now
        self.interval = interval
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let result = try await publisher.publishDue(now: now())
                    if result.published > 0 { logger.info("published scheduled advisories", metadata: ["count": "\(result.published)"]) }
                    for failure in result.failures {
                        logger.error("a scheduled advisory was not published", metadata: ["advisory": "\(failure.id)", "error": "\(failure.error)"])
                    }
                } catch {
                    logger.error("scheduled publishing failed; will retry", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}

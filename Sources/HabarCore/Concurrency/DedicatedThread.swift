import Foundation

/// Runs work that blocks (a DNS lookup, waiting for a child process) or holds a CPU for long
/// (parsing a large manifest) on a thread of its own. Not on Dispatch's global queues: on
/// Linux, Swift's concurrency runs its jobs on those same threads (as many as there are
/// cores), so work blocked there makes every other task's timers and continuations wait.
public enum DedicatedThread {
    public static func run<T: Sendable>(_ name: String = "habar.blocking", _ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try work() }) }
            thread.name = name
            thread.start()
        }
    }

    public static func run<T: Sendable>(_ name: String = "habar.blocking", _ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread { continuation.resume(returning: work()) }
            thread.name = name
            thread.start()
        }
    }
}

import NIOSSL

/// Up to `poolSize` sessions to one server, reused from send to send (RSET between
/// transactions); a session that broke, timed out or got a 421 is dropped and the next
/// send opens a new one.
actor SMTPPool {
    private let options: SMTPConfiguration
    private let tls: NIOSSLContext?
    private var idle: [SMTPConnection] = []
    private var open = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(options: SMTPConfiguration, tls: NIOSSLContext?) {
        self.options = options
        self.tls = tls
    }

    /// Runs `body` with a session; the session goes back to the pool when it is still usable.
    func withConnection<T: Sendable>(_ body: @Sendable (SMTPConnection) async throws -> T) async throws -> T {
        let connection = try await take()
        do {
            let result = try await body(connection)
            give(connection)
            return result
        } catch {
            give(connection)
            throw error
        }
    }

    private func take() async throws -> SMTPConnection {
        while true {
            while let connection = idle.popLast() {
                if connection.isUsable { return connection }
                connection.close()
                open -= 1
            }
            if open < options.pool {
                open += 1
                do {
                    return try await SMTPConnection.open(options, tls: tls)
                } catch {
                    open -= 1
                    wakeOne()
                    throw error
                }
            }
            await withCheckedContinuation { waiters.append($0) }
        }
    }

    private func give(_ connection: SMTPConnection) {
        if connection.isUsable {
            idle.append(connection)
        } else {
            connection.close()
            open -= 1
        }
        wakeOne()
    }

    private func wakeOne() {
        if !waiters.isEmpty { waiters.removeFirst().resume() }
    }

    /// Says QUIT on every idle session.
    func shutdown() async {
        let sessions = idle
        idle = []
        open -= sessions.count
        for session in sessions { await session.quit() }
    }
}

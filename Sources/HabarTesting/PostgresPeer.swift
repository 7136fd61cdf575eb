import Foundation
import Synchronization

/// A real PostgreSQL server on 127.0.0.1 for tests and benchmarks: a cluster made by `initdb`
/// in a temporary directory, started by `pg_ctl` on a free port (its socket in the same
/// directory), stopped and removed when the process ends. PostgreSQL refuses to run as root,
/// so under root the cluster belongs to the `postgres` user (Debian's package makes it) or
/// `HABAR_TEST_PG_USER`, and its programs run through `runuser`.
///
/// One cluster per process (`shared()`); each test takes a database of its own
/// (`createDatabase()`), so tests running in parallel never see each other's rows.
public final class PostgresPeer: Sendable {
    public let directory: URL
    public let port: Int
    /// The superuser `initdb` made (trust authentication on loopback: the cluster lives for
    /// one test run and listens on 127.0.0.1 only).
    public let user = "habar"
    let osUser: String?
    private let databases = Mutex(0)

    /// The directory of `initdb`, `pg_ctl`, `postgres`, `psql` and `pgbench`: Debian's
    /// newest `/usr/lib/postgresql/N/bin`, else the one `initdb` on PATH is in.
    public static let binDirectory: URL? = {
        let root = URL(fileURLWithPath: "/usr/lib/postgresql")
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for version in versions {
            let bin = root.appendingPathComponent("\(version)/bin")
            if FileManager.default.isExecutableFile(atPath: bin.appendingPathComponent("initdb").path) { return bin }
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for entry in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(entry)/initdb") {
            return URL(fileURLWithPath: String(entry)).resolvingSymlinksInPath()
        }
        return nil
    }()

    public static var isInstalled: Bool {
        guard let bin = binDirectory else { return false }
        return ["initdb", "pg_ctl", "postgres", "psql"].allSatisfy { FileManager.default.isExecutableFile(atPath: bin.appendingPathComponent($0).path) }
    }

    /// The program `name` of the server's installation.
    public static func program(_ name: String) -> String { (binDirectory ?? URL(fileURLWithPath: "/usr/bin")).appendingPathComponent(name).path }

    /// The process's cluster, started once on first use (tests that ask at once wait for it).
    public static func shared() async throws -> PostgresPeer {
        let starting = sharedPeer.withLock { current -> Task<PostgresPeer, any Error> in
            if let current { return current }
            let task = Task { () throws -> PostgresPeer in
                let peer = try await start()
                stopAtExit(peer)
                return peer
            }
            current = task
            return task
        }
        return try await starting.value
    }

    private static let sharedPeer = Mutex<Task<PostgresPeer, any Error>?>(nil)

    /// The shared cluster for a test, or nil (a loud skip) when PostgreSQL is not here; under
    /// `CI=true` its absence is an error that fails the test, never a skip.
    public static func forTests() async throws -> PostgresPeer? {
        do {
            return try await shared()
        } catch {
            if ExternalProcess.underCI { throw PeerMissing("PostgreSQL is needed under CI=true (Tests/run-all.sh installs it): \(error)") }
            print("⚠️  SKIPPED (no PostgreSQL here): \(error)")
            return nil
        }
    }

    /// Starts a cluster of its own; `stop()` ends it. `durable: false` (tests) turns off
    /// fsync and synchronous commit: nothing a test checks depends on surviving a power cut,
    /// and on a small machine they are most of a commit's time. Benchmarks keep them on.
    public static func start(durable: Bool = false, settings: [String: String] = [:]) async throws -> PostgresPeer {
        guard isInstalled else { throw PeerMissing("PostgreSQL (initdb, pg_ctl, postgres, psql) is not installed") }
        var attempt = 1
        while true {
            let peer = try PostgresPeer()
            do {
                try await peer.launch(durable: durable, settings: settings)
                return peer
            } catch {
                peer.stop()
                guard attempt < 3 else { throw error }
                attempt += 1
            }
        }
    }

    private init() throws {
        let base = URL(fileURLWithPath: "/tmp").appendingPathComponent("habar-pg-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        directory = base
        port = Fixtures.freePort()
        if getuid() == 0 {
            let name = ProcessInfo.processInfo.environment["HABAR_TEST_PG_USER"] ?? "postgres"
            guard let entry = getpwnam(name) else {
                throw PeerMissing("PostgreSQL does not run as root, and there is no user '\(name)' to run it (useradd -m \(name), or set HABAR_TEST_PG_USER)")
            }
            guard chown(base.path, entry.pointee.pw_uid, entry.pointee.pw_gid) == 0 else {
                throw PeerMissing("cannot give \(base.path) to \(name): errno \(errno)")
            }
            osUser = name
        } else {
            osUser = nil
        }
    }

    private var dataDirectory: String { directory.appendingPathComponent("data").path }
    private var logFile: String { directory.appendingPathComponent("server.log").path }

    /// Runs a program of the installation as the cluster's owner.
    @discardableResult
    func run(_ name: String, _ arguments: [String], timeout: TimeInterval = 60) async throws -> ExternalProcess.Output {
        let output: ExternalProcess.Output
        if let osUser {
            output = try await ExternalProcess.run("/usr/sbin/runuser", ["-u", osUser, "--", Self.program(name)] + arguments, in: directory, timeout: timeout)
        } else {
            output = try await ExternalProcess.run(Self.program(name), arguments, in: directory, timeout: timeout)
        }
        guard output.status == 0 else {
            throw PeerMissing("\(name) \(arguments.joined(separator: " ")) exited \(output.status): \(output.stderr)\(output.stdout)")
        }
        return output
    }

    private func launch(durable: Bool, settings: [String: String]) async throws {
        try await run("initdb", ["-D", dataDirectory, "-U", user, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], timeout: 120)
        var options: [String: String] = [
            "listen_addresses": "127.0.0.1", "port": "\(port)", "unix_socket_directories": directory.path,
            "max_connections": "300", "shared_buffers": "256MB",
        ]
        if !durable {
            options["fsync"] = "off"
            options["synchronous_commit"] = "off"
            options["full_page_writes"] = "off"
        }
        for (key, value) in settings { options[key] = value }
        let flags = options.sorted { $0.key < $1.key }.map { "-c \($0.key)=\($0.value)" }.joined(separator: " ")
        try await run("pg_ctl", ["-D", dataDirectory, "-o", flags, "-l", logFile, "-w", "-t", "60", "start"], timeout: 90)
    }

    /// A URL for database `database` of this cluster.
    public func url(database: String = "postgres", query: String = "") -> String {
        "postgres://\(user)@127.0.0.1:\(port)/\(database)" + (query.isEmpty ? "" : "?" + query)
    }

    /// Creates an empty database of its own for one test; returns its URL.
    /// `template`: a copy of that database (`createDatabase`'s URL of it), file by file after a
    /// checkpoint, instead of an empty one (benchmarks: one seeding for many figures).
    public func createDatabase(prefix: String = "t", template: String? = nil) async throws -> String {
        let number = databases.withLock { count -> Int in
            count += 1
            return count
        }
        let name = "\(prefix)_\(getpid())_\(number)"
        if let template {
            try await psql("CREATE DATABASE \(name) TEMPLATE \(try Self.databaseName(template)) STRATEGY FILE_COPY")
        } else {
            try await psql("CREATE DATABASE \(name)")
        }
        return url(database: name)
    }

    /// The database a `createDatabase` URL names.
    public static func databaseName(_ url: String) throws -> String {
        guard let name = URLComponents(string: url)?.path.split(separator: "/").last, !name.isEmpty else {
            throw PeerMissing("no database in \(url)")
        }
        return String(name)
    }

    /// Drops the database a `createDatabase` URL names, closing its connections (benchmarks:
    /// each figure on a server holding no other figure's data — a dropped database's pages
    /// leave the buffer pool, and its drop checkpoints).
    public func dropDatabase(_ url: String) async throws {
        try await psql("DROP DATABASE \(try Self.databaseName(url)) WITH (FORCE)")
    }

    /// Runs SQL with psql on `database`; returns what it printed (unaligned, tuples only).
    @discardableResult
    public func psql(_ sql: String, database: String = "postgres") async throws -> String {
        try await run("psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", "\(port)", "-U", user, "-d", database, "-c", sql]).stdout
    }

    /// Stops the server at once and removes its files.
    public func stop() {
        let arguments = ["-D", dataDirectory, "-m", "immediate", "-w", "stop"]
        if let osUser {
            _ = try? ExternalProcess.runBlocking("/usr/sbin/runuser", ["-u", osUser, "--", Self.program("pg_ctl")] + arguments, in: nil, timeout: 30)
        } else {
            _ = try? ExternalProcess.runBlocking(Self.program("pg_ctl"), arguments, in: nil, timeout: 30)
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// What the server wrote to its log (for a failing test's message).
    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    private static func stopAtExit(_ peer: PostgresPeer) {
        atExitPeer.withLock { $0 = peer }
        atexit { PostgresPeer.atExitPeer.withLock { $0 }?.stop() }
    }

    private static let atExitPeer = Mutex<PostgresPeer?>(nil)
}

/// A peer a test needs is not there (or would not start): locally a loud skip, under CI a failure.
public struct PeerMissing: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

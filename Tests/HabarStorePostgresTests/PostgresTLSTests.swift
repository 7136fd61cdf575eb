import Foundation
import HabarCore
@testable import HabarStorePostgres
import HabarTesting
import Logging
import Testing

/// TLS to the database, end to end: a server of the test's own with `ssl = on` and a
/// certificate for 127.0.0.1 signed by a CA made here; the store connects as the URL's `sslmode`
/// says, and the server's `pg_stat_ssl` says whether the connection is encrypted.
@Suite("PostgreSQL over TLS")
struct PostgresTLSTests {
    /// A CA, a server certificate for 127.0.0.1 and localhost signed by it, and another CA that
    /// signed nothing here, in a new directory the server can read.
    static func certificates() async throws -> URL {
        let directory = try Fixtures.temporaryDirectory("pg-tls")
        let script = """
            set -e
            openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=habar-test-ca -keyout ca.key -out ca.pem
            openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=another-ca -keyout other.key -out other.pem
            openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server.key -out server.csr
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.pem
            chmod 755 .
            chmod 644 ca.pem other.pem server.pem
            chmod 600 server.key
            """
        let made = try await ExternalProcess.run("/bin/sh", ["-c", script], in: directory, timeout: 60)
        guard made.status == 0 else { throw PeerMissing("openssl could not make the test's certificates: \(made.stderr)") }
        if getuid() == 0 {
            // The server runs as another user: PostgreSQL accepts a key owned by root and readable by its group.
            let name = ProcessInfo.processInfo.environment["HABAR_TEST_PG_USER"] ?? "postgres"
            guard let entry = getpwnam(name) else { throw PeerMissing("no user '\(name)' to run PostgreSQL") }
            let key = directory.appendingPathComponent("server.key").path
            guard chown(key, 0, entry.pointee.pw_gid) == 0, chmod(key, 0o640) == 0 else {
                throw PeerMissing("cannot give the key to group of \(name): errno \(errno)")
            }
        }
        return directory
    }

    /// Whether the store's connection to `url` is encrypted, as the server sees it.
    static func encrypted(_ url: String) async throws -> Bool {
        let store = try await PostgresStore.open(try PostgresSettings(url: url, poolSize: 1), logger: Logger(label: "test.tls"))
        defer { store.close() }
        return try await store.read { pg in
            try await pg.value("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", as: Bool.self)
        } ?? false
    }

    @Test("sslmode require, verify-ca and verify-full with the CA file encrypt; disable does not; a certificate from another CA is refused without the password in the error")
    func modes() async throws {
        guard try await PostgresFixture.peer() != nil else { return }
        let certificates = try await Self.certificates()
        let file = { (name: String) in certificates.appendingPathComponent(name).path }
        let peer = try await PostgresPeer.start(settings: ["ssl": "on", "ssl_cert_file": file("server.pem"), "ssl_key_file": file("server.key")])
        defer { peer.stop() }
        // The server ignores the password (trust); the store must never show it.
        let database = try await peer.createDatabase().replacingOccurrences(of: "://\(peer.user)@", with: "://\(peer.user):tls-s3cret@")
        #expect(try await Self.encrypted(database + "?sslmode=require"))
        #expect(try await Self.encrypted(database + "?sslmode=verify-ca&sslrootcert=" + file("ca.pem")))
        #expect(try await Self.encrypted(database + "?sslmode=verify-full&sslrootcert=" + file("ca.pem")))
        #expect(try await Self.encrypted(database + "?sslmode=prefer"))
        #expect(try await !Self.encrypted(database + "?sslmode=disable"))
        for mode in ["verify-ca", "verify-full"] {
            do {
                _ = try await Self.encrypted(database + "?sslmode=\(mode)&sslrootcert=" + file("other.pem"))
                Issue.record("\(mode) trusted a server whose certificate another CA signed")
            } catch {
                let text = "\(error)"
                print("\(mode) with another CA, refused as it should be: \(text)")
                #expect(!text.contains("tls-s3cret"), "the password is in the error: \(text)")
                #expect(text.lowercased().contains("certificate") || text.lowercased().contains("tls") || text.lowercased().contains("ssl"),
                        "the error does not say it is the server's certificate: \(text)")
            }
        }
    }
}

import Foundation
import HabarCore
@testable import HabarStorePostgres
import PostgresNIO
import Testing

/// `storage.url` as libpq reads it; a bad one is a precise error that never shows the password.
@Suite("PostgreSQL settings")
struct PostgresSettingsTests {
    @Test("the parts of a URL, percent-decoded, with libpq's defaults")
    func parts() throws {
        let full = try PostgresSettings(url: "postgres://hq%40mfa:p%2Fss@db.example.kz:6543/habar?sslmode=require&application_name=habar-a", poolSize: 30)
        #expect(full.user == "hq@mfa" && full.password == "p/ss" && full.host == "db.example.kz" && full.port == 6543)
        #expect(full.database == "habar" && full.sslMode == "require" && full.applicationName == "habar-a" && full.poolSize == 30)
        #expect(full.redactedURL == "postgres://hq%40mfa:***@db.example.kz:6543/habar?sslmode=require&application_name=habar-a")
        let plain = try PostgresSettings(url: "postgresql://habar@127.0.0.1/")
        #expect(plain.port == 5432 && plain.database == "habar" && plain.sslMode == "prefer" && plain.password == nil && plain.connectTimeout == 10)
        #expect(try PostgresSettings(url: "postgres://habar@127.0.0.1/habar?connect_timeout=3").clientConfiguration.options.connectTimeout == .seconds(3))
        let socket = try PostgresSettings(url: "postgres://habar@/habar?host=/var/run/postgresql")
        #expect(socket.socketDirectory == "/var/run/postgresql")
    }

    @Test("a bad URL names the key and the reason, and never the password", arguments: [
        ("mysql://u:secret-pw@h/db", "postgres://"),
        ("postgres://:secret-pw@h/db", "user"),
        ("postgres://u:secret-pw@h/db?sslmode=sometimes", "sslmode"),
        ("postgres://u:secret-pw@h/db?sslrootcert=/nonexistent/ca.pem&sslmode=verify-full", "sslrootcert"),
        ("postgres://u:secret-pw@h/db?options=-c%20x", "options"),
        ("postgres://u:secret-pw@h/db?connect_timeout=0", "connect_timeout"),
        ("postgres://u:secret-pw@h/db?connect_timeout=soon", "connect_timeout"),
    ])
    func refused(_ url: String, _ reason: String) {
        #expect { try PostgresSettings(url: url) } throws: { error in
            let text = "\(error)"
            return text.contains("storage.url") && text.contains(reason) && !text.contains("secret-pw")
        }
    }

    @Test("the storage section without a URL, or a pool out of range, is refused")
    func section() {
        #expect(throws: ConfigurationError.self) { try PostgresSettings(StorageConfiguration(kind: "postgres")) }
        #expect(throws: ConfigurationError.self) { try PostgresSettings(url: "postgres://u@h/db", poolSize: 0) }
        #expect(StorageConfiguration(kind: "postgres", url: "postgres://u:pw@h/db").description.contains("***"))
        #expect(!StorageConfiguration(kind: "postgres", url: "postgres://u:pw@h/db").description.contains("pw@"))
    }
}

import Foundation
import HabarCore
import HabarStorePostgres
import HabarTesting
import Logging
import Testing

/// The PostgreSQL server the tests start (`PostgresPeer`): nil, with the reason, when it is
/// not installed; under `CI=true` that is a failure, locally a loud skip.
enum PostgresFixture {
    static func peer() async throws -> PostgresPeer? { try await PostgresPeer.forTests() }

    /// A new, empty, migrated store on a database of its own.
    static func store(_ peer: PostgresPeer, poolSize: Int = 8) async throws -> PostgresStore {
        let url = try await peer.createDatabase()
        return try await PostgresStore.open(try PostgresSettings(url: url, poolSize: poolSize), logger: Logger(label: "test.postgres"))
    }
}

/// The store conformance suite (HabarTesting), unchanged, against PostgreSQL: each case on a
/// database of its own in one server.
@Suite("Store conformance: PostgreSQL")
struct PostgresStoreConformanceTests {
    @Test("conformance", arguments: StoreConformance.cases)
    func conformance(_ name: String) async throws {
        guard let peer = try await PostgresFixture.peer() else { return }
        try await StoreConformance { try await PostgresFixture.store(peer) }.run(name, within: 120)
    }
}

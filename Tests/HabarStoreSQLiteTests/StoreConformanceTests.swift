import Foundation
import HabarCore
import HabarStoreSQLite
import HabarTesting
import Testing

/// The store conformance suite (HabarTesting) against both SQLite configurations the gateway
/// runs: a private in-memory queue and a WAL file pool with its reader connections.
@Suite("Store conformance: SQLite")
struct StoreConformanceTests {
    static let configurations: [String] = ["in-memory queue", "file pool"]

    static func suite(_ configuration: String) -> StoreConformance {
        StoreConformance {
            configuration == "in-memory queue" ? try SQLiteStore.inMemory() : try SQLiteStore.open(directory: Fixtures.temporaryDirectory("conformance"))
        }
    }

    @Test("conformance", arguments: configurations, StoreConformance.cases)
    func conformance(_ configuration: String, _ name: String) async throws {
        try await Self.suite(configuration).run(name, within: 120)
    }
}

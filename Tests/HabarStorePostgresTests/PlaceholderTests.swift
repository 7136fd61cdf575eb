@testable import HabarStorePostgres
import Testing

/// Statements are written with `?`; the store numbers them `$1…` for PostgreSQL.
@Suite("PostgreSQL statement placeholders")
struct PlaceholderTests {
    @Test("each ? outside a quoted literal becomes $1, $2, …; quoted ones and non-ASCII text stay as written")
    func numbering() {
        let (text, count) = PG.numbered("SELECT ?, 'a?b', ? FROM t WHERE name = 'Айгүл?' AND x IN (?, ?) AND y = ? || '✓'")
        #expect(text == "SELECT $1, 'a?b', $2 FROM t WHERE name = 'Айгүл?' AND x IN ($3, $4) AND y = $5 || '✓'")
        #expect(count == 5)
        let (many, twelve) = PG.numbered(Array(repeating: "?", count: 12).joined(separator: ","))
        #expect(many.hasSuffix("$10,$11,$12") && twelve == 12)
        #expect(PG.numbered("SELECT 1") == ("SELECT 1", 0))
    }

    @Test("a statement whose values do not match its placeholders is refused before it is sent")
    func mismatch() {
        #expect(throws: PostgresStoreError.self) { try PG.query("SELECT ?, ?", [1]) }
    }
}

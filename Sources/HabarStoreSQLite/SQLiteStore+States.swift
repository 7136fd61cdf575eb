import HabarCore

// State names in SQL come from the domain's enums, never typed out: `state IN \(DeliveryState.pending.sql)`,
// `purpose = \(DeliveryPurpose.advisory.sql)`. (The partial indexes of the migrations spell the
// same lists; the text here is identical, so SQLite still uses them.)

extension RawRepresentable where RawValue == String {
    /// `'queued'`
    var sql: String { "'\(rawValue)'" }
}

extension Array where Element: RawRepresentable, Element.RawValue == String {
    /// `('queued', 'retrying')`
    var sql: String { "(" + map(\.sql).joined(separator: ", ") + ")" }
}

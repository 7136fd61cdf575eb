/// `WHERE` clauses and their bound values, built one filter at a time, for any SQL store:
/// `Value` is the store's bindable value type. Clauses use `?` placeholders.
public struct SQLConditions<Value> {
    public private(set) var clauses: [String] = []
    public private(set) var values: [Value?] = []

    public init() {}

    public mutating func add(_ clause: String, _ bound: Value?...) {
        clauses.append(clause)
        values += bound
    }

    /// `column = value`, when there is a value (a filter left out selects everything).
    public mutating func equal(_ column: String, _ value: Value?) {
        if let value { add("\(column) = ?", value) }
    }

    /// `WHERE` and the clauses joined by `AND`, or nothing when there are none.
    public var whereClause: String { clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ") }

    /// The `WHERE … ORDER BY idColumn LIMIT ?` of one page: rows after the cursor `after`,
    /// `fetch` of them (a page's limit and one more, to tell whether there is a next page).
    public func page(after: Value?, idColumn: String, fetch: Value) -> (sql: String, values: [Value?]) {
        var all = clauses
        var bound = values
        if let after {
            all.append("\(idColumn) > ?")
            bound.append(after)
        }
        bound.append(fetch)
        let whereClause = all.isEmpty ? "" : "WHERE " + all.joined(separator: " AND ")
        return ("\(whereClause) ORDER BY \(idColumn) LIMIT ?", bound)
    }
}

import Foundation
import HTTPTypes

/// `application/x-www-form-urlencoded` (and query strings): the first value of each name.
public enum FormFields {
    /// A bad percent-encoding (not UTF-8) is a 400.
    public static func parse(_ raw: String) throws -> [String: String] {
        var fields: [String: String] = [:]
        for pair in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let plain = { (part: Substring) -> String? in part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
            guard let name = plain(parts[0]), let value = plain(parts.count > 1 ? parts[1] : "") else {
                throw Problem(.badRequest, detail: "the query or form has a bad percent-encoding (it must be UTF-8)")
            }
            if fields[name] == nil { fields[name] = value }
        }
        return fields
    }
}

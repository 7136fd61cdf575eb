import Foundation
import HabarCore

/// The advisory page's chart of deliveries over time, drawn on the server as SVG: one line
/// per state (handed over, delivered, failed), each the running total by the end of each
/// bucket. The template gets numbers only (points, ticks), so nothing in it needs escaping.
enum DeliveryChart {
    static let width = 720.0
    static let height = 180.0
    static let left = 56.0
    static let bottom = 24.0

    /// A bucket length that puts about 60 buckets between `start` and `end` (at least 5 s).
    static func bucketSeconds(from start: Date, to end: Date) -> Int {
        let span = max(1, end.timeIntervalSince(start))
        let steps = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400]
        return steps.first { Double($0) * 60 >= span } ?? 86400
    }

    static func values(_ buckets: [DeliveryTimeBucket], bucketSeconds: Int, language: String, labels: [DeliveryState: String]) -> [String: Any]? {
        guard let first = buckets.map(\.start).min(), let last = buckets.map(\.start).max() else { return nil }
        let step = Double(bucketSeconds)
        let count = Int((last.timeIntervalSince(first) / step).rounded()) + 1
        // "Handed over" counts everything past the provider: sent, delivered and failed at the provider.
        let series: [(key: String, states: Set<DeliveryState>)] = [
            ("handed", [.sent, .delivered, .failed]), ("delivered", [.delivered]), ("failed", [.failed]),
        ]
        var totals: [String: [Int]] = [:]
        for (key, states) in series {
            var perBucket = Array(repeating: 0, count: count)
            for bucket in buckets where states.contains(bucket.state) {
                perBucket[min(count - 1, max(0, Int((bucket.start.timeIntervalSince(first) / step).rounded())))] += bucket.count
            }
            var running = 0
            totals[key] = perBucket.map { running += $0; return running }
        }
        let top = max(1, totals["handed"]?.last ?? 1)
        let plotWidth = width - left - 8
        let plotHeight = height - bottom - 8
        func x(_ index: Int) -> Double { left + (count == 1 ? plotWidth : plotWidth * Double(index) / Double(count - 1)) }
        func y(_ value: Int) -> Double { 8 + plotHeight * (1 - Double(value) / Double(top)) }
        let lines = series.map { key, _ -> [String: Any] in
            let points = (totals[key] ?? []).enumerated().map { String(format: "%.1f,%.1f", x($0.offset), y($0.element)) }
            return [
                "key": key, "points": (count == 1 ? ["\(left),\(y(totals[key]?.first ?? 0))"] : []) .joined() + points.joined(separator: " "),
                "label": labels[key == "handed" ? .sent : key == "delivered" ? .delivered : .failed] ?? key, "total": totals[key]?.last ?? 0,
            ]
        }
        let end = first.addingTimeInterval(step * Double(count))
        return [
            "width": Int(width), "height": Int(height), "lines": lines, "top": top, "left": left, "plotBottom": height - bottom,
            "topY": y(top), "start": ConsoleController.moment(first), "end": ConsoleController.moment(end),
            "endX": width - 8, "labelY": height - 6, "bucket": bucketSeconds,
        ]
    }
}

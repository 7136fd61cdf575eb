import Foundation
import HabarCore
import HabarHTTP
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle

/// `GET /console/events`: Server-Sent Events for the dashboard, written by hand (the
/// packages here have no SSE helper). Every second the progress of the advisories in force
/// is read; when it changed, one `progress` event carries it as JSON
/// (`[{"id", "channels": [{"channel", "queued", "sent", "delivered", "failed", "total", "done", "percent"}]}]`).
/// A stream lasts five minutes, then ends; the browser's EventSource reconnects (each
/// reconnection checks the session again). Without JavaScript the dashboard reloads itself
/// every 10 seconds instead.
extension ConsoleController {
    static let eventInterval: Duration = .seconds(1)
    static let streamLifetime: TimeInterval = 300

    func addLiveRoutes(to router: Router<HabarRequestContext>) {
        router.get("console/events") { request, _ in try await events(request) }
        router.get("console/static/console.js") { _, _ in Self.asset(pages.script, type: "text/javascript; charset=utf-8") }
    }

    func events(_ request: Request) async throws -> Response {
        guard try await signed(request) != nil else { return Response(status: .unauthorized) }
        let board = self.board
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-store", HTTPField.Name("X-Accel-Buffering")!: "no"],
            body: ResponseBody { writer in
                let ends = Date().addingTimeInterval(Self.streamLifetime)
                var last = ""
                try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                // A server shutting down ends the stream at once (else it would wait for it).
                while Date() < ends, !Task.isCancelled, !Task.isShuttingDownGracefully {
                    let snapshot = try await Self.progressJSON(board)
                    if snapshot != last {
                        try await writer.write(ByteBuffer(string: "event: progress\ndata: \(snapshot)\n\n"))
                        last = snapshot
                    } else {
                        try await writer.write(ByteBuffer(string: ": still here\n\n"))
                    }
                    do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: Self.eventInterval) } } catch { break }
                }
                try await writer.finish(nil)
            })
    }

    /// The progress of every advisory in force, as one line of JSON (from the board every
    /// stream and page shares: one read a second however many dashboards are open).
    static func progressJSON(_ board: ProgressBoard) async throws -> String {
        let snapshot = try await board.snapshot()
        let items: [[String: Any]] = snapshot.advisories.map { advisory in
            ["id": advisory.id, "channels": (snapshot.progress[advisory.id] ?? []).map(\.values)]
        }
        let data = try JSONSerialization.data(withJSONObject: items, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}

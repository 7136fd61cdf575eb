import Foundation
import HabarCore
import HabarMessages
import Hummingbird
import NIOCore
import Prometheus

/// `/health`, `/ready` and `/metrics`: no token needed (bind `/metrics` to an internal
/// interface in production; see deploy/).
struct HealthController {
    let gateway: Gateway

    func addRoutes(to router: Router<HabarRequestContext>) {
        router.get("/health") { _, _ in
            try JSONBody.response(["status": "ok"])
        }
        router.get("/ready") { _, _ in try await ready() }
        router.get("/metrics") { _, _ in try await metrics() }
    }

    struct Readiness: Encodable {
        var status: String
        var reasons: [String]
        /// This instance's id, the owner named in its leases (`dispatcher.instanceId`).
        var instance: String
        /// The store kind (`storage.kind`).
        var storage: String
    }

    func ready() async throws -> Response {
        var reasons: [String] = []
        do { _ = try await gateway.roles.installation.installationId() } catch {
            reasons.append("database: \(error)")
        }
        for name in gateway.dispatcher.pausedChannels() {
            reasons.append("channel \(name): paused by its circuit breaker after repeated failures")
        }
        if gateway.dispatcher.pausedChannels().count == gateway.adapters.count && !gateway.adapters.isEmpty {
            reasons.append("no channel can send")
        }
        let usable = reasons.isEmpty || (reasons.allSatisfy { $0.hasPrefix("channel ") } && gateway.dispatcher.pausedChannels().count < gateway.adapters.count)
        return try JSONBody.response(Readiness(
                status: usable ? "ready" : "unavailable", reasons: reasons, instance: gateway.configuration.dispatcher.instanceId,
                storage: gateway.configuration.storage.kind), status: usable ? .ok : .serviceUnavailable)
    }

    static var deliveries: MetricNameDescriptor { MetricNameDescriptor(
        metricName: "habar_deliveries", unitName: "", helpText: "Deliveries by the state of their current step and channel") }
    static var queueDepth: MetricNameDescriptor { MetricNameDescriptor(
        metricName: "habar_queue_depth", unitName: "", helpText: "Deliveries queued, retrying or being sent, by channel") }

    func metrics() async throws -> Response {
        let counts = try await gateway.roles.deliveries.deliveryCounts(advisoryId: nil)
        var byStateChannel: [String: [String: Int]] = [:]
        for count in counts { byStateChannel[count.state.rawValue, default: [:]][count.channel, default: 0] += count.count }
        let channels = Set(gateway.adapters.keys).union(counts.map(\.channel))
        for channel in channels {
            var depth = 0
            for state in DeliveryState.allCases {
                let value = byStateChannel[state.rawValue]?[channel] ?? 0
                gateway.metrics.makeGauge(descriptor: Self.deliveries, labels: [("state", state.rawValue), ("channel", channel)])
                    .set(Double(value))
                if DeliveryState.pending.contains(state) || state == .sending { depth += value }
            }
            gateway.metrics.makeGauge(descriptor: Self.queueDepth, labels: [("channel", channel)]).set(Double(depth))
        }
        var buffer: [UInt8] = []
        gateway.metrics.emit(into: &buffer)
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
    }
}

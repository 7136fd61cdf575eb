import Foundation
import HabarCore
import HabarMessages
import Hummingbird

/// `/v1/deliveries`: one delivery with its full event history (viewer).
struct DeliveriesController {
    let gateway: Gateway

    func addRoutes(to group: RouterGroup<HabarRequestContext>) {
        group.get("{id}") { _, context in try await show(context) }
    }

    struct DeliveryBody: Encodable {
        var id: Int64
        var advisoryId: Int64
        var advisoryVersion: Int
        var citizenId: Int64?
        var subscriberId: Int64?
        var language: String
        var steps: [String]
        var step: Int
        var channel: String
        var state: DeliveryState
        var attempts: Int
        var nextAttemptAt: Date
        var providerMessageId: String?
        var lastError: String?
        var idempotencyKey: String
        var expiresAt: Date
        var createdAt: Date
        var updatedAt: Date
        var events: [DeliveryEvent]
    }

    func show(_ context: HabarRequestContext) async throws -> Response {
        try context.require(.viewer)
        guard let id = context.parameters.get("id", as: Int64.self) else {
            throw Problem(.notFound, detail: "no such delivery")
        }
        guard let delivery = try await gateway.store.delivery(id: id) else {
            throw Problem(.notFound, detail: "no delivery \(id)")
        }
        let events = try await gateway.store.deliveryEvents(deliveryId: id)
        return try JSONBody.response(DeliveryBody(
            id: delivery.id, advisoryId: delivery.advisoryId, advisoryVersion: delivery.advisoryVersion,
            citizenId: delivery.citizenId, subscriberId: delivery.subscriberId, language: delivery.language.tag,
            steps: delivery.steps, step: delivery.step, channel: delivery.channel, state: delivery.state,
            attempts: delivery.attempts, nextAttemptAt: delivery.nextAttemptAt, providerMessageId: delivery.providerMessageId,
            lastError: delivery.lastError, idempotencyKey: delivery.idempotencyKey, expiresAt: delivery.expiresAt,
            createdAt: delivery.createdAt, updatedAt: delivery.updatedAt, events: events))
    }
}

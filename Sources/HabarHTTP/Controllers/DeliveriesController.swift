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

    /// A delivery as the domain has it, plus its current channel and its history.
    struct DeliveryBody: Encodable {
        enum Extra: String, CodingKey { case channel, events }
        var delivery: Delivery
        var events: [DeliveryEvent]

        func encode(to encoder: any Encoder) throws {
            try delivery.encode(to: encoder)
            var container = encoder.container(keyedBy: Extra.self)
            try container.encode(delivery.channel, forKey: .channel)
            try container.encode(events, forKey: .events)
        }
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
        return try JSONBody.response(DeliveryBody(delivery: delivery, events: events))
    }
}

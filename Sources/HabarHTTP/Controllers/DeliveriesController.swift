import Foundation
import HabarCore
import HabarMessages
import Hummingbird

/// `/v1/deliveries`: one delivery with its full event history (viewer).
struct DeliveriesController {
    let gateway: Gateway

    func addRoutes(to group: RouterGroup<HabarRequestContext>) {
        group.get { request, context in try await list(request, context) }
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

    /// A delivery in a list: the domain type plus its current channel.
    struct ListedBody: Encodable {
        enum Extra: String, CodingKey { case channel }
        var delivery: Delivery

        func encode(to encoder: any Encoder) throws {
            try delivery.encode(to: encoder)
            var container = encoder.container(keyedBy: Extra.self)
            try container.encode(delivery.channel, forKey: .channel)
        }
    }

    func list(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        try context.require(.viewer)
        let filter = DeliveryFilter(
            advisoryId: try Listing.int(request, "advisoryId"), citizenId: try Listing.int(request, "citizenId"),
            state: try Listing.value(request, "state", as: DeliveryState.self), channel: try Listing.string(request, "channel"),
            groupId: try Listing.int(request, "groupId"))
        return try Listing.response(try await gateway.roles.deliveries.deliveries(filter, page: try Listing.page(request)), ListedBody.init)
    }

    func show(_ context: HabarRequestContext) async throws -> Response {
        try context.require(.viewer)
        guard let id = context.parameters.get("id", as: Int64.self) else {
            throw Problem(.notFound, detail: "no such delivery")
        }
        guard let delivery = try await gateway.roles.deliveries.delivery(id: id) else {
            throw Problem(.notFound, detail: "no delivery \(id)")
        }
        let events = try await gateway.roles.deliveries.deliveryEvents(deliveryId: id)
        return try JSONBody.response(DeliveryBody(delivery: delivery, events: events))
    }
}

import Foundation
import HabarCore
import HabarMessages
import HTTPTypes
import Hummingbird
import NIOCore

/// `POST /inbound/agencies/{agencyId}`: an agency's signed webhook (Standard Webhooks),
/// verified against each of its valid secrets in constant time, within ±5 minutes, applied
/// and stored in one transaction before the 200; a webhook-id seen before is acknowledged
/// with no second effect.
struct AgencyInboundController {
    let gateway: Gateway

    func addRoutes(to router: Router<HabarRequestContext>) {
        router.post("inbound/agencies/{agencyId}") { request, context in try await receive(request, context) }
    }

    /// `{"status": "applied" | "duplicate", "type", "summary"?}`, written directly: every
    /// webhook is answered with one.
    static func answer(status: String, type: String, summary: [String: Int]? = nil) -> Response {
        var json = "{\"status\":\"\(status)\",\"type\":\(JSONText.quote(type))"
        if let summary {
            json += ",\"summary\":{" + summary.sorted { $0.key < $1.key }.map { "\(JSONText.quote($0.key)):\($0.value)" }.joined(separator: ",") + "}"
        }
        return Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: json + "}")))
    }

    func receive(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        let agencyId = context.parameters.get("agencyId") ?? ""
        let buffer = try await RequestJSON.body(request, limit: gateway.configuration.http.maxImportBytes)
        let body = Data(buffer.readableBytesView)
        let now = gateway.now()
        let secrets = try await gateway.agencySecrets.secrets(agencyId: agencyId, now: now)
        let id = request.headers[HTTPField.Name("webhook-id")!]
        do {
            guard !secrets.isEmpty else { throw StandardWebhooks.Failure.noMatchingSignature }
            try StandardWebhooks.verify(
                id: id, timestamp: request.headers[HTTPField.Name("webhook-timestamp")!],
                signature: request.headers[HTTPField.Name("webhook-signature")!], body: body, secrets: secrets, now: now)
        } catch let failure as StandardWebhooks.Failure {
            // The same answer for an unknown agency and a wrong signature.
            throw Problem(.unauthorized, type: "urn:habar:problem:webhook-signature", title: "Webhook not verified", detail: "\(failure)")
        }
        // A big body (a manifest) is parsed and checked on a Dispatch thread, so the
        // cooperative threads keep serving the other requests meanwhile.
        let read = { @Sendable in try Self.command(buffer, body: body) }
        let type: String, command: AgencyCommand
        do {
            (type, command) = body.count > 65_536 ? try await Self.offPool(read) : try read()
        } catch let problem as Problem {
            // A webhook-id seen before is acknowledged whatever came with it this time.
            if let seen = try await gateway.roles.agencies.agencyEventType(agencyId: agencyId, webhookId: id ?? "") {
                return Self.answer(status: "duplicate", type: seen)
            }
            throw problem
        }
        let result: AgencyEventResult
        switch try await gateway.agencyEvents.submit(
            AgencyEvent(agencyId: agencyId, webhookId: id ?? "", type: type, body: body, command: command, at: now))
        {
        case .success(let applied): result = applied
        case .failure(let failure): throw Problem.validation(failure)
        }
        switch result {
        case .duplicate: return Self.answer(status: "duplicate", type: type)
        case .applied(let summary): return Self.answer(status: "applied", type: type, summary: summary)
        }
    }

    /// What the verified body asks for, checked completely.
    static func command(_ buffer: ByteBuffer, body: Data) throws -> (String, AgencyCommand) {
        let object = try RequestJSON.object(buffer)
        let type = try eventType(object)
        do {
            switch type {
            case "manifest.upsert":
                return (type, .manifest(try decodeManifest(object["data"] ?? NSNull(), body: body)))
            case "group.status":
                let report = try decodeFlat(GroupStatusReport.self, object, body: body)
                try report.validate()
                return (type, .groupStatus(report))
            default:
                let checkin = try decodeFlat(TouristCheckin.self, object, body: body)
                try checkin.validate()
                return (type, .touristCheckin(checkin))
            }
        } catch let failure as ValidationFailure {
            throw Problem.validation(failure)
        }
    }

    /// The envelope `{"type", "data"}`: nothing else in it, a known type, data an object.
    static func eventType(_ object: [String: Any]) throws -> String {
        let unknown = object.keys.filter { $0 != "type" && $0 != "data" }.sorted()
        if !unknown.isEmpty {
            throw Problem(.badRequest, type: "urn:habar:problem:unknown-fields", title: "Unknown fields",
                          detail: "unknown field\(unknown.count == 1 ? "" : "s"): \(unknown.map { "/" + $0 }.joined(separator: ", "))",
                          errors: unknown.map { FieldError(pointer: "/" + $0, detail: "is not a field of this request") })
        }
        var v = Validator()
        let type = object["type"] as? String
        v.check(type != nil, "/type", object["type"] == nil ? "is required" : "must be a string")
        v.check(object["data"] is [String: Any], "/data", object["data"] == nil ? "is required" : "must be an object")
        try v.throwIfAny()
        guard let type, AgencyCommand.types.contains(type) else {
            throw Problem(.badRequest, type: "urn:habar:problem:unknown-event-type", title: "Unknown event type",
                          detail: "unknown type '\(type ?? "")' (known: \(AgencyCommand.types.joined(separator: ", ")))",
                          errors: [FieldError(pointer: "/type", detail: "'\(type ?? "")' is not an event type")])
        }
        return type
    }

    /// The body `{"data": {...}}`.
    struct Typed<T: Decodable>: Decodable { var data: T }

    /// A flat event's `data`, decoded once from the body as sent: a field the type does not
    /// have is 400 by pointer; a missing, mistyped or invalid value is 422 by pointer.
    static func decodeFlat<T: Decodable & FlatFields>(_ type: T.Type, _ object: [String: Any], body: Data) throws -> T {
        let data = object["data"] as? [String: Any] ?? [:]
        let unknown = data.keys.filter { !T.fieldNames.contains($0) }.sorted()
        if !unknown.isEmpty {
            throw Problem(.badRequest, type: "urn:habar:problem:unknown-fields", title: "Unknown fields",
                          detail: "unknown field\(unknown.count == 1 ? "" : "s"): \(unknown.map { "/data/" + $0 }.joined(separator: ", "))",
                          errors: unknown.map { FieldError(pointer: "/data/" + $0, detail: "is not a field of this request") })
        }
        do { return try RequestJSON.decoder.decode(Typed<T>.self, from: body).data } catch let error as DecodingError {
            throw Problem.validation(ValidationFailure([RequestJSON.fieldError(error)]))
        }
    }

    /// A manifest, checked completely. It decodes as a whole (unknown fields are 400 by
    /// pointer); when it does not, one more pass over the body decodes each tourist on its own,
    /// so every missing or mistyped field of every tourist is reported at once (422), together
    /// with the checks of `validate()` on the tourists that did decode.
    static func decodeManifest(_ data: Any, body: Data) throws -> Manifest {
        let manifest: Manifest
        do {
            manifest = try decode(Manifest.self, data, prefix: "/data")
        } catch let whole as Problem where whole.status == .unprocessableContent {
            guard let scan = try? RequestJSON.decoder.decode(Typed<ManifestScan>.self, from: body).data, let tourists = scan.tourists else { throw whole }
            var invalid = [scan.group?.error, scan.error].compactMap { $0 }.map(RequestJSON.fieldError)
            var decoded: [Manifest.Tourist] = []
            var indices: [Int] = []
            for (index, tourist) in tourists.enumerated() {
                if let error = tourist.error { invalid.append(RequestJSON.fieldError(error)) }
                if let value = tourist.value {
                    decoded.append(value)
                    indices.append(index)
                }
            }
            if let group = scan.group?.value {
                // The checks across tourists, on those that decoded, under their own indices.
                do { try Manifest(group: group, tourists: decoded).validate() } catch {
                    invalid += error.errors.map { error in
                        guard let pointer = error.pointer, pointer.hasPrefix("/data/tourists/") else { return error }
                        let rest = pointer.dropFirst("/data/tourists/".count)
                        let position = Int(rest.prefix { $0.isNumber }) ?? 0
                        let original = indices.indices.contains(position) ? indices[position] : position
                        return FieldError(pointer: "/data/tourists/\(original)" + rest.drop { $0.isNumber }, detail: error.detail)
                    }
                }
            }
            guard !invalid.isEmpty else { throw whole }
            throw Problem.validation(ValidationFailure(invalid.sorted { ($0.pointer ?? "").compare($1.pointer ?? "", options: .numeric) == .orderedAscending }))
        }
        do { try manifest.validate() } catch { throw Problem.validation(error) }
        return manifest
    }

    /// A value that decodes, or the reason it does not (with its coding path from the body's root).
    struct Attempt<T: Decodable>: Decodable {
        var value: T?
        var error: DecodingError?
        init(from decoder: any Decoder) throws {
            do { value = try T(from: decoder) } catch let failure as DecodingError { error = failure }
        }
    }

    /// A manifest's `data`, each part decoded on its own.
    struct ManifestScan: Decodable {
        var group: Attempt<Manifest.Group>?
        var tourists: [Attempt<Manifest.Tourist>]?
        var error: DecodingError?
        enum CodingKeys: String, CodingKey { case group, tourists }
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            group = try container.decodeIfPresent(Attempt<Manifest.Group>.self, forKey: .group)
            tourists = try container.decodeIfPresent([Attempt<Manifest.Tourist>].self, forKey: .tourists)
            if group == nil {
                error = .keyNotFound(CodingKeys.group, .init(codingPath: container.codingPath, debugDescription: "missing"))
            }
        }
    }

    /// Runs CPU-heavy work (a big manifest) on a thread of its own, so the tasks of other
    /// requests keep the cooperative threads meanwhile.
    static func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await DedicatedThread.run("habar.manifest", work)
    }

    /// Decodes strictly (unknown fields are 400), naming problems by pointer under `prefix`.
    static func decode<T: Codable>(_ type: T.Type, _ value: Any, prefix: String) throws -> T {
        do {
            guard let object = value as? [String: Any] else {
                throw Problem.validation(ValidationFailure([FieldError(pointer: prefix.isEmpty ? "/" : prefix, detail: "must be an object")]))
            }
            return try RequestJSON.decode(T.self, from: object)
        } catch var problem as Problem {
            problem.errors = problem.errors?.map { FieldError(pointer: prefix + ($0.pointer ?? ""), detail: $0.detail) }
            if !prefix.isEmpty { problem.detail = problem.errors?.count == 1 ? problem.errors![0].description : problem.detail }
            throw problem
        }
    }
}

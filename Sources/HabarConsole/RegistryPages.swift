import Foundation
import HabarCore
import HabarHTTP
import HabarMessages
import HTTPTypes
import Hummingbird

/// The places registry with its versions, the travel agencies with their groups (who is
/// unaccounted for, as a roster per group and per meeting point), and the audit log with
/// `habar audit verify`'s verdict. Reading them needs a viewer; nothing here writes.
extension ConsoleController {
    func addRegistryRoutes(to router: Router<HabarRequestContext>) {
        router.get("console/places") { request, _ in try await placesPage(request) }
        router.get("console/places/{id}") { request, context in try await placePage(request, context) }
        router.get("console/agencies") { request, _ in try await agenciesPage(request) }
        router.get("console/agencies/{id}") { request, context in try await agencyPage(request, context) }
        router.get("console/audit") { request, _ in try await auditPage(request) }
    }

    func placeName(_ text: LocalizedText?, _ language: Language) -> String {
        text?.value(for: language, fallback: [.russian, .english, .kazakh]) ?? "—"
    }

    func placeRow(_ place: Place, _ language: Language) -> [String: Any] {
        [
            "id": place.id, "version": place.version, "kind": pages.text("console.place_kind." + place.kind.rawValue, language),
            "name": placeName(place.name, language), "address": placeName(place.address, language), "country": place.country ?? "—",
            "status": pages.text("console.place_status." + place.status.rawValue, language), "open": place.status == .open,
            "updated": ConsoleController.moment(place.updatedAt), "by": place.updatedBy, "phone": place.contactPhone ?? "",
            "location": place.location.map { String(format: "%.5f, %.5f", $0.lat, $0.lon) } ?? "—",
        ]
    }

    func placesPage(_ request: Request) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        let places = try await gateway.roles.places.places(PlaceFilter(), page: PageRequest(limit: PageRequest.maxLimit)).items
        let values: [String: Any] = ["places": places.map { placeRow($0, signed.language) }, "none": places.isEmpty]
        return html(.ok, pages.render("places", language: signed.language, try await frame(signed, path: "/console/places").merging(values) { a, _ in a }))
    }

    func placePage(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        let language = signed.language
        guard let id = context.parameters.get("id").flatMap(Int64.init), let current = try await gateway.roles.places.place(id: id, version: nil) else {
            return try await refusedPage(signed, "console.places.missing", status: .notFound)
        }
        var versions: [[String: Any]] = []
        for version in stride(from: current.version, through: 1, by: -1) {
            guard let place = try await gateway.roles.places.place(id: id, version: version) else { continue }
            var row = placeRow(place, language)
            row["names"] = [Language.kazakh, .russian, .english].map { ["lang": $0.tag, "name": place.name.value(for: $0) ?? "—", "address": place.address?.value(for: $0) ?? "—"] }
            versions.append(row)
        }
        var values = placeRow(current, language)
        values["versions"] = versions
        return html(.ok, pages.render("place", language: language, try await frame(signed, path: "/console/places/\(id)").merging(values) { a, _ in a }))
    }

    func agenciesPage(_ request: Request) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        let agencies = try await gateway.roles.agencies.agencies()
        var rows: [[String: Any]] = []
        for agency in agencies {
            let groups = try await gateway.roles.agencies.agencyGroups(agencyId: agency.id, page: PageRequest(limit: PageRequest.maxLimit))?.items ?? []
            rows.append([
                "id": agency.id, "name": agency.name, "groups": groups.count,
                "tourists": groups.reduce(0) { $0 + $1.tally.onManifest }, "unaccounted": groups.reduce(0) { $0 + $1.tally.unaccountedFor },
                "needsHelp": groups.reduce(0) { $0 + $1.tally.needsHelp },
            ])
        }
        let values: [String: Any] = ["agencies": rows, "none": rows.isEmpty]
        return html(.ok, pages.render("agencies", language: signed.language, try await frame(signed, path: "/console/agencies").merging(values) { a, _ in a }))
    }

    /// An agency's groups: each with its last reported status and tally, its roster with the
    /// unaccounted-for first; and the same people by the meeting point their group is at.
    func agencyPage(_ request: Request, _ context: HabarRequestContext) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        let language = signed.language
        guard let id = context.parameters.get("id"), let agency = try await gateway.roles.agencies.agency(id: id),
            let groups = try await gateway.roles.agencies.agencyGroups(agencyId: agency.id, page: PageRequest(limit: PageRequest.maxLimit))?.items
        else { return try await refusedPage(signed, "console.agencies.missing", status: .notFound) }
        var groupRows: [[String: Any]] = []
        var byPoint: [String: [[String: Any]]] = [:]
        for group in groups {
            let members = try await gateway.roles.agencies.groupReconciliation(id: group.id)?.members ?? []
            let roster = members.sorted { ($0.isUnaccountedFor ? 0 : 1, $0.fullName) < ($1.isUnaccountedFor ? 0 : 1, $1.fullName) }.map { member -> [String: Any] in
                var row: [String: Any] = [
                    "name": member.fullName, "citizen": member.citizenId, "welfare": pages.text("console.welfare." + member.welfareStatus.rawValue, language),
                    "welfareCode": member.welfareStatus.rawValue, "missing": member.isUnaccountedFor, "group": group.name,
                ]
                if let phone = member.phone { row["phone"] = phone }
                return row
            }
            var row: [String: Any] = [
                "name": group.name, "groupId": group.groupId, "onManifest": group.tally.onManifest, "safe": group.tally.safe,
                "needsHelp": group.tally.needsHelp, "unaccounted": group.tally.unaccountedFor, "roster": roster,
                "destination": [group.destination.city, group.destination.country].compactMap { $0 }.joined(separator: ", "),
            ]
            if let status = group.status {
                row["status"] = pages.text("console.group_status." + status.status.rawValue, language)
                row["statusAt"] = ConsoleController.moment(status.at)
                if let place = status.place { row["place"] = place }
                if status.status == .atMeetingPoint { byPoint[status.place ?? "—", default: []] += roster }
            }
            groupRows.append(row)
        }
        let points = byPoint.keys.sorted().map { point -> [String: Any] in
            let people = byPoint[point] ?? []
            return ["point": point, "people": people, "missing": people.filter { $0["missing"] as? Bool == true }.count, "total": people.count]
        }
        let values: [String: Any] = [
            "id": agency.id, "name": agency.name, "groups": groupRows, "none": groupRows.isEmpty, "points": points, "hasPoints": !points.isEmpty,
        ]
        return html(.ok, pages.render("agency", language: language, try await frame(signed, path: "/console/agencies/\(agency.id)").merging(values) { a, _ in a }))
    }

    /// The audit log: the chain's verdict over every entry, and the latest 200 entries, newest first.
    func auditPage(_ request: Request) async throws -> Response {
        guard let signed = try await signed(request) else { return Self.redirect("/console/login") }
        let language = signed.language
        var latest: [AuditEntry] = []
        let verdict = try await AuditChainVerifier.verify(gateway.roles.operators) { entry in
            latest.append(entry)
            if latest.count > 400 { latest.removeFirst(200) }
        }
        var values: [String: Any] = [
            "entries": latest.suffix(200).reversed().map { entry -> [String: Any] in
                [
                    "id": entry.id, "at": ConsoleController.moment(entry.at), "actor": entry.actor, "role": entry.role?.rawValue ?? "—",
                    "action": entry.action, "target": entry.target ?? "", "status": entry.status, "refused": entry.status >= 400,
                ]
            },
        ]
        switch verdict {
        case .intact(let entries, let lastHash):
            values["intact"] = pages.text("console.audit.intact", language, ["count": .number(Double(entries)), "hash": .text(String(lastHash.prefix(16)))])
        case .broken(let problem):
            values["broken"] = pages.text("console.audit.broken", language, ["problem": .text(problem)])
        }
        return html(.ok, pages.render("audit", language: language, try await frame(signed, path: "/console/audit").merging(values) { a, _ in a }))
    }
}

import Foundation
import HabarCore
import HabarMessages
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

extension HabarConfiguration {
    var logLevelValue: Logger.Level? { Logger.Level(rawValue: logLevel) }
}

/// A failure to start, with the exit code the CLI reports.
public struct StartupError: Error, CustomStringConvertible {
    public enum Kind: Sendable { case configuration, unavailable }
    public var kind: Kind
    public var description: String
    public init(kind: Kind, description: String) {
        self.kind = kind
        self.description = description
    }
}

/// Everything a running gateway is made of, wired from one configuration.
public struct Gateway: Sendable {
    public let configuration: HabarConfiguration
    /// The whole store, for the composition and the services; controllers use `roles` and
    /// the services below.
    public let store: any HabarStore
    /// The store by role.
    public var roles: StoreRoles { StoreRoles(store) }
    /// Creating, changing, merging and erasing citizens.
    public var citizenRecords: CitizenRecords { CitizenRecords(store: store) }
    /// Agencies and their secrets.
    public var agencyRegistry: AgencyRegistry { AgencyRegistry(store: store, secrets: agencySecrets) }
    /// The hotline queue.
    public var hotline: HotlineQueue { HotlineQueue(store: store) }
    public let catalog: MessageCatalog
    public let adapters: [String: any ChannelAdapter]
    public let receipts: ReceiptCollector
    public let dispatcher: Dispatcher
    public let publisher: AdvisoryPublisher
    /// Who may see which citizens (HQ, an agency).
    public var citizens: CitizenVisibility { CitizenVisibility(store: store) }
    /// The places registry: versions, and corrections of the advisories that used them.
    public var places: PlaceRegistry { PlaceRegistry(store: store, publisher: publisher) }
    public let links: CheckinLinks
    public let checkinProcessor: CheckinProcessor
    public let checkinScheduler: CheckinScheduler
    /// Answers from the check-in pages and incoming SMS from the gateways, many per
    /// transaction under load, each acknowledged only once stored.
    public let answers: GroupCommit<CheckinAnswer, Void>
    public let inbound: GroupCommit<NewInboundSMS, InboundRecord>
    /// Agencies' verified webhooks, many per transaction (a manifest in a savepoint of its own).
    public let agencyEvents: GroupCommit<AgencyEvent, Result<AgencyEventResult, ValidationFailure>>
    /// The secrets that verify agencies' webhooks, kept for a few seconds.
    public let agencySecrets: AgencySecretCache
    public let checkinPages: CheckinPages
    public let metrics: PrometheusCollectorRegistry
    /// What the store runs beside the gateway, and what it holds while it serves.
    public let storeServices: [any Service]
    let storeHold: (any Sendable)?
    public let logger: Logger
    /// The clock every handler reads (tests set their own).
    public let now: @Sendable () -> Date

    /// Builds the channels and services around an opened store and loaded catalogs; a
    /// problem is an error naming the configuration key. The composition root (`HabarApp`)
    /// chooses the store and finds the catalogs.
    public static func assemble(
        configuration: HabarConfiguration, opened: OpenedStore, catalog: MessageCatalog, registry: ChannelRegistry,
        logger: Logger, now: @escaping @Sendable () -> Date = { Date() }
    ) throws -> Gateway {
        let dataDirectory = URL(fileURLWithPath: configuration.dataDir)
        let store = opened.store
        let receipts = ReceiptCollector(store: store, logger: logger, writers: opened.outcomeWriters)
        let adapters: [String: any ChannelAdapter]
        do {
            adapters = try registry.makeAdapters(configuration.effectiveChannels) { channel in
                var channelLogger = logger
                channelLogger[metadataKey: "channel"] = "\(channel.name)"
                return ChannelContext(logger: channelLogger, receipts: receipts, dataDirectory: dataDirectory)
            }
        } catch {
            throw StartupError(kind: .configuration, description: "configuration: \(error)")
        }
        guard adapters[configuration.agencies.channel]?.capabilities.addressKind == .webhook else {
            throw StartupError(
                kind: .configuration,
                description: "configuration: agencies.channel: channel '\(configuration.agencies.channel)' does not send webhooks (give the name of a webhook channel, or one not configured)")
        }
        let registryMetrics = PrometheusCollectorRegistry()
        let links = CheckinLinks(store: store)
        let dispatcher = Dispatcher(
            store: store, adapters: adapters, configurations: configuration.effectiveChannels, receipts: receipts,
            settings: configuration.dispatcher, metricsFactory: PrometheusMetricsFactory(registry: registryMetrics),
            logger: logger, links: links, exclusive: opened.exclusive, writers: opened.outcomeWriters, now: now)
        var budgets: [String: Int] = [:]
        for channel in configuration.channels { if let budget = channel.segmentBudget { budgets[channel.name] = budget } }
        let publisher = AdvisoryPublisher(
            store: store, catalog: catalog, channels: adapters.mapValues(\.capabilities), fallback: configuration.fallback,
            smsSegmentBudgets: budgets, checkinBaseURL: configuration.publicBaseURL + "/c", agencyChannel: configuration.agencies.channel,
            exerciseChannels: Set(configuration.effectiveChannels.filter(\.isExercise).map(\.name)))
        // Whatever the publisher changes, from the API, the CLI, a place or the scheduler,
        // drops the check-in pages' copy of it.
        let checkinPages = CheckinPages()
        publisher.changes.observe { id in checkinPages.forget(id) }
        let processor = CheckinProcessor(store: store, publisher: publisher, logger: logger, now: now)
        let scheduler = CheckinScheduler(
            store: store, publisher: publisher, reminderLead: configuration.checkins.reminderBeforeDeadlineMinutes * 60,
            interval: .milliseconds(Int64(configuration.checkins.schedulerSeconds * 1000)), logger: logger, now: now)
        return Gateway(
            configuration: configuration, store: store, catalog: catalog, adapters: adapters, receipts: receipts,
            dispatcher: dispatcher, publisher: publisher, links: links, checkinProcessor: processor, checkinScheduler: scheduler,
            answers: GroupCommit(lanes: opened.writers) { batch in
                try await store.recordCheckins(batch)
                return batch.map { _ in () }
            },
            inbound: GroupCommit(lanes: opened.writers) { batch in try await store.recordInboundSMS(batch) },
            agencyEvents: GroupCommit(maxBatch: 200, lanes: opened.writers) { batch in try await store.applyAgencyEvents(batch) },
            agencySecrets: AgencySecretCache(store: store),
            checkinPages: checkinPages, metrics: registryMetrics, storeServices: opened.services, storeHold: opened.hold, logger: logger, now: now)
    }

    /// On a database with no token at all, makes the first admin token (shown once).
    public func bootstrapAdminToken() async throws -> String? {
        guard try await !store.hasTokens() else { return nil }
        let (token, hash) = AccessToken.generate()
        guard try await store.insertFirstToken(NewAccessToken(id: .unsaved, name: "first admin", role: .admin, tokenHash: hash)) != nil else { return nil }
        return token
    }
}

/// The HTTP application with the dispatcher and the scheduler as its services; tests call
/// this with their own gateway.
public func buildApplication(
    gateway: Gateway, modules: [any GatewayModule] = [], onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
) -> some ApplicationProtocol {
    Application(
        router: buildRouter(gateway: gateway, modules: modules),
        configuration: .init(address: .hostname(gateway.configuration.http.host, port: gateway.configuration.http.port), serverName: "habar"),
        // The store's services first: a service group stops its services in reverse order,
        // so the store's (SQLite's checkpointer, PostgreSQL's pool) stop after everything
        // that writes through them.
        services: gateway.storeServices + [
            gateway.dispatcher, AdvisoryScheduler(publisher: gateway.publisher, logger: gateway.logger, now: gateway.now),
            gateway.checkinProcessor, gateway.checkinScheduler,
        ],
        onServerRunning: onServerRunning,
        logger: gateway.logger)
}

/// A front end that brings its own routes to the gateway's server (the operator console),
/// built on the gateway's services like the API.
public protocol GatewayModule: Sendable {
    func addRoutes(to router: Router<HabarRequestContext>, gateway: Gateway)
}

/// Every route and middleware of the API, and those of `modules`.
public func buildRouter(gateway: Gateway, modules: [any GatewayModule] = []) -> Router<HabarRequestContext> {
    let router = Router(context: HabarRequestContext.self)
    router.add(middleware: ProblemMiddleware())
    let limits = BodyLimitMiddleware<HabarRequestContext>(
        maxBodyBytes: gateway.configuration.http.maxBodyBytes, maxImportBytes: gateway.configuration.http.maxImportBytes)
    router.add(middleware: limits)
    // Before authentication, audit and idempotency: a wrong method is refused as it is.
    router.add(middleware: MethodNotAllowedMiddleware(openAPI: OpenAPIController.data))
    router.add(middleware: AuthenticationMiddleware(store: gateway.store))
    router.add(middleware: AuditMiddleware(store: gateway.store, now: gateway.now))
    router.add(middleware: IdempotencyMiddleware(store: gateway.store, limits: limits, now: gateway.now))
    HealthController(gateway: gateway).addRoutes(to: router)
    OpenAPIController().addRoutes(to: router)
    CitizensController(gateway: gateway).addRoutes(to: router.group("v1/citizens"))
    AdvisoriesController(gateway: gateway).addRoutes(to: router.group("v1/advisories"))
    DeliveriesController(gateway: gateway).addRoutes(to: router.group("v1/deliveries"))
    TokensController(gateway: gateway).addRoutes(to: router.group("v1/tokens"))
    AuditController(gateway: gateway).addRoutes(to: router.group("v1/audit"))
    FeedController(gateway: gateway).addRoutes(to: router)
    ProviderCallbacksController(gateway: gateway).addRoutes(to: router)
    CheckinPageController(gateway: gateway).addRoutes(to: router)
    CheckinsController(gateway: gateway).addRoutes(to: router.group("v1/checkins"))
    CasesController(gateway: gateway).addRoutes(to: router.group("v1/cases"))
    AgenciesController(gateway: gateway).addRoutes(to: router.group("v1/agencies"))
    AgencyInboundController(gateway: gateway).addRoutes(to: router)
    GroupsController(gateway: gateway).addRoutes(to: router.group("v1/groups"))
    PlacesController(gateway: gateway).addRoutes(to: router.group("v1/places"))
    for module in modules { module.addRoutes(to: router, gateway: gateway) }
    return router
}

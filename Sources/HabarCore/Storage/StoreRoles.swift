/// One store seen by role: a front end (the API's controllers, the console) reads and
/// writes through the role a screen needs, and through the core services for anything
/// with a rule (`CitizenRecords`, `CitizenVisibility`, `AgencyRegistry`, `HotlineQueue`,
/// `PlaceRegistry`, `AdvisoryPublisher`), never through the whole `HabarStore`.
public struct StoreRoles: Sendable {
    public let installation: any InstallationStore
    public let publishing: any PublishingStore
    public let deliveries: any DeliveryReadStore
    public let checkins: any CheckinStore
    public let citizens: any CitizenStore
    public let agencies: any AgencyStore
    public let operators: any OperatorStore
    public let places: any PlaceStore
    public let console: any ConsoleStore

    public init(_ store: any HabarStore) {
        installation = store
        publishing = store
        deliveries = store
        checkins = store
        citizens = store
        agencies = store
        operators = store
        places = store
        console = store
    }
}

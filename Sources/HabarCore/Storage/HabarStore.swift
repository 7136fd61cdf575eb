/// All persistence Habar needs: every role a store plays. A backend implements this (the
/// SQLite store now, a PostgreSQL one next) and passes `StoreConformance` (HabarTesting);
/// each consumer takes only the role it uses.
///
/// | role | used by |
/// | --- | --- |
/// | `InstallationStore` | idempotency keys, check-in link signing |
/// | `DispatchStore` | the dispatcher, receipt handling |
/// | `PublishingStore` | the publisher, scheduled publishing, previews |
/// | `DeliveryReadStore` | `/v1/deliveries`, stats, `advisory send --wait` |
/// | `CitizenStore` | citizens, CSV import, duplicates and merges |
/// | `CheckinStore` | check-in pages, replies, reminders, escalation, the hotline |
/// | `AgencyStore` | travel agencies and their webhooks |
/// | `OperatorStore` | tokens, the audit log, `Idempotency-Key`, webhook subscribers |
/// | `PlaceStore` | the places registry |
/// | `ConsoleStore` | the operator console's accounts and sessions |
public protocol HabarStore:
    DispatchStore, PublishingStore, DeliveryReadStore, CitizenStore, CheckinStore, AgencyStore, OperatorStore, PlaceStore,
    ConsoleStore
{}

import Foundation
import GRDB

/// The schema, as append-only migrations with plain string names. A migration that has
/// landed is never edited; changes come as new migrations.
enum Migrations {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: core") { db in
            try db.execute(sql: """
                CREATE TABLE meta (
                    key TEXT PRIMARY KEY NOT NULL,
                    value TEXT NOT NULL
                );
                INSERT INTO meta (key, value) VALUES ('installation_id', lower(hex(randomblob(6))));

                CREATE TABLE citizens (
                    id INTEGER PRIMARY KEY,
                    full_name TEXT NOT NULL CHECK (length(trim(full_name)) > 0),
                    language TEXT NOT NULL CHECK (language IN ('kk', 'ru', 'en')),
                    phone TEXT CHECK (phone IS NULL OR phone GLOB '+[1-9][0-9]*'),
                    email TEXT CHECK (email IS NULL OR email LIKE '%_@_%'),
                    country TEXT NOT NULL CHECK (length(country) = 2),
                    city TEXT,
                    lat REAL CHECK (lat IS NULL OR lat BETWEEN -90 AND 90),
                    lon REAL CHECK (lon IS NULL OR lon BETWEEN -180 AND 180),
                    group_id TEXT,
                    agency_id TEXT,
                    tags TEXT NOT NULL DEFAULT '',
                    passport_number TEXT,
                    birth_date TEXT,
                    welfare_status TEXT NOT NULL DEFAULT 'unknown'
                        CHECK (welfare_status IN ('unknown', 'safe', 'needs_help', 'unreached')),
                    last_contact_at INTEGER,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    CHECK (phone IS NOT NULL OR email IS NOT NULL),
                    CHECK ((lat IS NULL) = (lon IS NULL))
                );
                CREATE INDEX citizens_by_country ON citizens (country, city);
                CREATE INDEX citizens_by_phone ON citizens (phone) WHERE phone IS NOT NULL;
                CREATE INDEX citizens_by_passport ON citizens (passport_number) WHERE passport_number IS NOT NULL;
                CREATE INDEX citizens_by_group ON citizens (group_id) WHERE group_id IS NOT NULL;
                CREATE INDEX citizens_by_agency ON citizens (agency_id) WHERE agency_id IS NOT NULL;

                CREATE TABLE tokens (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'approver', 'viewer', 'agency')),
                    agency_id TEXT,
                    token_hash TEXT NOT NULL UNIQUE,
                    created_at INTEGER NOT NULL,
                    revoked_at INTEGER,
                    CHECK ((role = 'agency') = (agency_id IS NOT NULL))
                );

                CREATE TABLE subscribers (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    url TEXT NOT NULL,
                    secret TEXT NOT NULL CHECK (secret LIKE 'whsec\\_%' ESCAPE '\\'),
                    language TEXT NOT NULL CHECK (language IN ('kk', 'ru', 'en')),
                    agency_id TEXT,
                    active INTEGER NOT NULL DEFAULT 1,
                    created_at INTEGER NOT NULL
                );

                CREATE TABLE advisories (
                    id INTEGER PRIMARY KEY,
                    kind TEXT NOT NULL CHECK (kind IN ('green_corridor', 'meeting_point', 'checkin_request', 'general')),
                    severity TEXT NOT NULL CHECK (severity IN ('extreme', 'severe', 'moderate', 'minor', 'unknown')),
                    audience TEXT NOT NULL,
                    params TEXT NOT NULL,
                    template TEXT NOT NULL,
                    channel_plan TEXT NOT NULL,
                    expires_at INTEGER NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('draft', 'published', 'cancelled', 'expired')),
                    version INTEGER NOT NULL DEFAULT 1 CHECK (version >= 1),
                    author TEXT NOT NULL,
                    approver TEXT,
                    created_at INTEGER NOT NULL,
                    published_at INTEGER,
                    cancelled_at INTEGER,
                    CHECK (status = 'draft' OR approver IS NOT NULL)
                );

                -- The texts an advisory version was approved with, frozen at queue time.
                CREATE TABLE renderings (
                    advisory_id INTEGER NOT NULL REFERENCES advisories (id) ON DELETE CASCADE,
                    version INTEGER NOT NULL,
                    language TEXT NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('sms', 'email', 'webhook')),
                    rendered_language TEXT NOT NULL,
                    subject TEXT,
                    text TEXT NOT NULL,
                    html TEXT,
                    PRIMARY KEY (advisory_id, version, language, kind)
                ) WITHOUT ROWID;

                CREATE TABLE deliveries (
                    id INTEGER PRIMARY KEY,
                    advisory_id INTEGER NOT NULL REFERENCES advisories (id),
                    advisory_version INTEGER NOT NULL,
                    plan_index INTEGER NOT NULL DEFAULT 0,
                    citizen_id INTEGER REFERENCES citizens (id) ON DELETE SET NULL,
                    subscriber_id INTEGER REFERENCES subscribers (id),
                    language TEXT NOT NULL CHECK (language IN ('kk', 'ru', 'en')),
                    phone TEXT,
                    email TEXT,
                    steps TEXT NOT NULL CHECK (length(steps) > 0),
                    step INTEGER NOT NULL DEFAULT 0 CHECK (step >= 0),
                    channel TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN
                        ('queued', 'sending', 'sent', 'delivered', 'retrying', 'failed', 'expired', 'cancelled')),
                    priority INTEGER NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at INTEGER NOT NULL,
                    lease_owner TEXT,
                    lease_expires_at INTEGER,
                    provider_message_id TEXT,
                    last_error TEXT,
                    expires_at INTEGER NOT NULL,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    step_started_at INTEGER NOT NULL,
                    UNIQUE (advisory_id, advisory_version, citizen_id, plan_index),
                    CHECK ((state = 'sending') = (lease_owner IS NOT NULL))
                );
                -- The dispatcher's claim: one channel, one priority, oldest due first.
                CREATE INDEX deliveries_claim ON deliveries (channel, priority, next_attempt_at)
                    WHERE state IN ('queued', 'retrying');
                CREATE INDEX deliveries_leases ON deliveries (lease_expires_at) WHERE state = 'sending';
                CREATE INDEX deliveries_expiry ON deliveries (expires_at) WHERE state IN ('queued', 'retrying');
                CREATE INDEX deliveries_by_citizen ON deliveries (citizen_id) WHERE citizen_id IS NOT NULL;

                -- Every transition, append-only.
                CREATE TABLE delivery_events (
                    id INTEGER PRIMARY KEY,
                    delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
                    at INTEGER NOT NULL,
                    step INTEGER NOT NULL,
                    channel TEXT NOT NULL,
                    from_state TEXT,
                    to_state TEXT NOT NULL,
                    attempt INTEGER NOT NULL,
                    detail TEXT,
                    provider_message_id TEXT
                );
                CREATE INDEX delivery_events_by_delivery ON delivery_events (delivery_id);
                CREATE TRIGGER delivery_events_append_only_update BEFORE UPDATE ON delivery_events
                    BEGIN SELECT RAISE(ABORT, 'delivery events are append-only'); END;
                CREATE TRIGGER delivery_events_append_only_delete BEFORE DELETE ON delivery_events
                    BEGIN SELECT RAISE(ABORT, 'delivery events are append-only'); END;

                -- Receipts that arrived before their send was recorded; applied when it is.
                CREATE TABLE early_receipts (
                    delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
                    step INTEGER NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('delivered', 'failed')),
                    reason TEXT,
                    at INTEGER NOT NULL,
                    provider_message_id TEXT,
                    PRIMARY KEY (delivery_id, step)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v2: operator API") { db in
            try db.execute(sql: """
                -- Who may see an advisory outside HQ (CAP scope), when it goes out, and who
                -- wrote and approved it (token ids make the two-person rule exact).
                ALTER TABLE advisories ADD COLUMN scope TEXT NOT NULL DEFAULT 'restricted'
                    CHECK (scope IN ('public', 'restricted'));
                ALTER TABLE advisories ADD COLUMN publish_at INTEGER;
                ALTER TABLE advisories ADD COLUMN author_token_id INTEGER;
                ALTER TABLE advisories ADD COLUMN approver_token_id INTEGER;
                -- A correction above the approval threshold waits here for a second person.
                ALTER TABLE advisories ADD COLUMN pending_correction TEXT;
                ALTER TABLE advisories ADD COLUMN pending_author TEXT;
                ALTER TABLE advisories ADD COLUMN pending_author_token_id INTEGER;
                -- The version whose deliveries carry the cancellation notice (sent although
                -- the advisory is cancelled).
                ALTER TABLE advisories ADD COLUMN cancel_notice_version INTEGER;

                -- Every message an advisory has published (CAP Alert, Update, Cancel).
                CREATE TABLE advisory_versions (
                    advisory_id INTEGER NOT NULL REFERENCES advisories (id),
                    version INTEGER NOT NULL,
                    message_type TEXT NOT NULL CHECK (message_type IN ('alert', 'update', 'cancel')),
                    sent_at INTEGER NOT NULL,
                    approver TEXT NOT NULL,
                    PRIMARY KEY (advisory_id, version)
                ) WITHOUT ROWID;
                INSERT INTO advisory_versions (advisory_id, version, message_type, sent_at, approver)
                    SELECT id, version, 'alert', published_at, approver FROM advisories WHERE published_at IS NOT NULL;

                -- When a delivery was first handed to a provider (stats: time to first send, to 95%).
                ALTER TABLE deliveries ADD COLUMN first_sent_at INTEGER;
                UPDATE deliveries SET first_sent_at = updated_at WHERE state IN ('sent', 'delivered');
                -- (Stats and corrections find one advisory's deliveries through the UNIQUE index,
                -- which starts with advisory_id; an index on state would cost every transition.)
                CREATE INDEX citizens_by_welfare ON citizens (welfare_status);

                -- Every state-changing call, hash-chained: each entry's hash covers the previous one's.
                CREATE TABLE audit_log (
                    id INTEGER PRIMARY KEY,
                    at INTEGER NOT NULL,
                    actor TEXT NOT NULL,
                    actor_token_id INTEGER,
                    role TEXT,
                    action TEXT NOT NULL,
                    target TEXT,
                    status INTEGER NOT NULL,
                    request_id TEXT NOT NULL,
                    details TEXT NOT NULL,
                    previous_hash TEXT NOT NULL,
                    hash TEXT NOT NULL UNIQUE
                );
                CREATE TRIGGER audit_log_append_only_update BEFORE UPDATE ON audit_log
                    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
                CREATE TRIGGER audit_log_append_only_delete BEFORE DELETE ON audit_log
                    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

                -- Idempotency-Key: the first response to (caller, key), replayed on a repeat.
                CREATE TABLE idempotency_keys (
                    scope TEXT NOT NULL,
                    key TEXT NOT NULL,
                    fingerprint TEXT NOT NULL,
                    status INTEGER,
                    headers TEXT,
                    body BLOB,
                    created_at INTEGER NOT NULL,
                    PRIMARY KEY (scope, key)
                ) WITHOUT ROWID;
                CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
                """)
        }
        migrator.registerMigration("v3: channels") { db in
            try db.execute(sql: """
                -- A subscriber answering 410 Gone is disabled, with when and why.
                ALTER TABLE subscribers ADD COLUMN disabled_at INTEGER;
                ALTER TABLE subscribers ADD COLUMN disabled_reason TEXT;
                CREATE UNIQUE INDEX subscribers_by_name ON subscribers (name);
                -- Subscriber deliveries have no citizen: each subscriber at most once per version and plan entry.
                CREATE UNIQUE INDEX deliveries_once_per_subscriber
                    ON deliveries (advisory_id, advisory_version, subscriber_id, plan_index) WHERE subscriber_id IS NOT NULL;

                -- Incoming SMS from the SMS gateways, once each (their retries carry the same key).
                CREATE TABLE inbound_sms (
                    id INTEGER PRIMARY KEY,
                    channel TEXT NOT NULL,
                    dedupe_key TEXT NOT NULL,
                    sender TEXT NOT NULL,
                    receiver TEXT,
                    text TEXT NOT NULL,
                    citizen_id INTEGER REFERENCES citizens (id) ON DELETE CASCADE,
                    provider_message_id TEXT,
                    sent_at INTEGER,
                    received_at INTEGER NOT NULL,
                    processed_at INTEGER,
                    UNIQUE (channel, dedupe_key)
                );
                CREATE INDEX inbound_sms_unprocessed ON inbound_sms (received_at) WHERE processed_at IS NULL;
                CREATE INDEX inbound_sms_by_citizen ON inbound_sms (citizen_id) WHERE citizen_id IS NOT NULL;
                """)
        }
        migrator.registerMigration("v4: check-ins and hotline") { db in
            try db.execute(sql: """
                -- Random secrets made on first use (the check-in link key); they never leave the database.
                CREATE TABLE installation_secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;

                -- Each citizen's current answer to each check-in request: the latest answer wins.
                CREATE TABLE checkins (
                    id INTEGER PRIMARY KEY,
                    citizen_id INTEGER NOT NULL REFERENCES citizens (id) ON DELETE CASCADE,
                    advisory_id INTEGER NOT NULL REFERENCES advisories (id),
                    status TEXT NOT NULL CHECK (status IN ('safe', 'needs_help')),
                    source TEXT NOT NULL,
                    note TEXT,
                    answered_at INTEGER NOT NULL,
                    UNIQUE (citizen_id, advisory_id)
                );
                CREATE INDEX checkins_by_advisory ON checkins (advisory_id, status);

                -- Every welfare fact about a citizen: answers, reports, operators, failed deliveries.
                CREATE TABLE welfare_events (
                    id INTEGER PRIMARY KEY,
                    citizen_id INTEGER NOT NULL REFERENCES citizens (id) ON DELETE CASCADE,
                    advisory_id INTEGER,
                    status TEXT NOT NULL CHECK (status IN ('safe', 'needs_help', 'unreached', 'unclear')),
                    source TEXT NOT NULL,
                    detail TEXT,
                    at INTEGER NOT NULL
                );
                CREATE INDEX welfare_events_by_citizen ON welfare_events (citizen_id, at);
                ALTER TABLE citizens ADD COLUMN last_contact_source TEXT;

                -- The hotline queue: at most one case open (or assigned) per citizen.
                CREATE TABLE cases (
                    id INTEGER PRIMARY KEY,
                    citizen_id INTEGER REFERENCES citizens (id) ON DELETE CASCADE,
                    advisory_id INTEGER,
                    status TEXT NOT NULL CHECK (status IN ('open', 'assigned', 'resolved')),
                    reason TEXT NOT NULL CHECK (reason IN ('needs_help', 'free_text', 'silent')),
                    priority INTEGER NOT NULL,
                    assignee TEXT,
                    opened_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    resolved_at INTEGER
                );
                CREATE UNIQUE INDEX cases_one_open_per_citizen ON cases (citizen_id) WHERE status != 'resolved';
                CREATE INDEX cases_queue ON cases (status, priority, opened_at);
                CREATE TABLE case_entries (
                    id INTEGER PRIMARY KEY,
                    case_id INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
                    kind TEXT NOT NULL CHECK (kind IN ('reply', 'note', 'status')),
                    author TEXT,
                    text TEXT NOT NULL,
                    at INTEGER NOT NULL
                );
                CREATE INDEX case_entries_by_case ON case_entries (case_id, id);

                -- When a check-in request's reminders went out and its silent recipients were escalated.
                ALTER TABLE advisories ADD COLUMN reminded_at INTEGER;
                ALTER TABLE advisories ADD COLUMN escalated_at INTEGER;
                """)
        }
        migrator.registerMigration("v5: agencies") { db in
            try db.execute(sql: """
                CREATE TABLE agencies (
                    id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    webhook_url TEXT,
                    language TEXT NOT NULL CHECK (language IN ('kk', 'ru', 'en')),
                    subscriber_id INTEGER REFERENCES subscribers (id),
                    created_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                -- Each agency's whsec_ secrets: a rotated-out secret verifies until it expires.
                CREATE TABLE agency_secrets (
                    id INTEGER PRIMARY KEY,
                    agency_id TEXT NOT NULL REFERENCES agencies (id),
                    secret TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    expires_at INTEGER
                );
                CREATE INDEX agency_secrets_by_agency ON agency_secrets (agency_id);
                -- Every verified webhook an agency sent, stored in the transaction that applied it;
                -- a webhook-id seen before is acknowledged and not applied again.
                CREATE TABLE agency_events (
                    agency_id TEXT NOT NULL,
                    webhook_id TEXT NOT NULL,
                    type TEXT NOT NULL,
                    body BLOB NOT NULL,
                    received_at INTEGER NOT NULL,
                    summary TEXT,
                    PRIMARY KEY (agency_id, webhook_id)
                ) WITHOUT ROWID;
                -- An agency's tourists: its own ids, the citizen each is, the group they are in.
                CREATE TABLE agency_tourists (
                    agency_id TEXT NOT NULL,
                    tourist_id TEXT NOT NULL,
                    citizen_id INTEGER NOT NULL REFERENCES citizens (id) ON DELETE CASCADE,
                    group_id TEXT,
                    -- 1: matched to a citizen registered before (by phone or passport), whose name stays HQ's.
                    linked INTEGER NOT NULL DEFAULT 0,
                    PRIMARY KEY (agency_id, tourist_id)
                ) WITHOUT ROWID;
                CREATE INDEX agency_tourists_by_group ON agency_tourists (agency_id, group_id);
                CREATE TABLE agency_groups (
                    agency_id TEXT NOT NULL,
                    group_id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    country TEXT NOT NULL,
                    city TEXT,
                    hotel TEXT,
                    return_flight TEXT,
                    return_date TEXT,
                    status TEXT,
                    status_place TEXT,
                    status_at INTEGER,
                    updated_at INTEGER NOT NULL,
                    PRIMARY KEY (agency_id, group_id)
                ) WITHOUT ROWID;
                CREATE TABLE agency_group_events (
                    id INTEGER PRIMARY KEY,
                    agency_id TEXT NOT NULL,
                    group_id TEXT NOT NULL,
                    status TEXT NOT NULL,
                    place TEXT,
                    at INTEGER NOT NULL
                );
                """)
        }
        migrator.registerMigration("v6: agency groups, group advisories, merges") { db in
            try db.execute(sql: """
                -- Groups get a Habar id (GET /v1/groups/{id}); the agency's own id stays unique per agency.
                CREATE TABLE agency_groups_v6 (
                    id INTEGER PRIMARY KEY,
                    agency_id TEXT NOT NULL REFERENCES agencies (id),
                    group_id TEXT NOT NULL,
                    name TEXT NOT NULL,
                    country TEXT NOT NULL,
                    city TEXT,
                    hotel TEXT,
                    return_flight TEXT,
                    return_date TEXT,
                    status TEXT CHECK (status IS NULL OR status IN ('at_meeting_point', 'crossed_border', 'boarded', 'arrived_home')),
                    status_place TEXT,
                    status_at INTEGER,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    UNIQUE (agency_id, group_id)
                );
                INSERT INTO agency_groups_v6 (agency_id, group_id, name, country, city, hotel, return_flight, return_date,
                        status, status_place, status_at, created_at, updated_at)
                    SELECT agency_id, group_id, name, country, city, hotel, return_flight, return_date, status, status_place, status_at,
                        updated_at, updated_at
                    FROM agency_groups ORDER BY updated_at, agency_id, group_id;
                DROP TABLE agency_groups;
                ALTER TABLE agency_groups_v6 RENAME TO agency_groups;
                CREATE INDEX agency_group_events_by_group ON agency_group_events (agency_id, group_id, at);

                -- The name the agency's manifest gives (a linked citizen keeps HQ's), and when and
                -- from which group a tourist missing from a later manifest was detached.
                ALTER TABLE agency_tourists ADD COLUMN manifest_name TEXT;
                ALTER TABLE agency_tourists ADD COLUMN detached_from TEXT;
                ALTER TABLE agency_tourists ADD COLUMN detached_at INTEGER;
                CREATE INDEX agency_tourists_by_citizen ON agency_tourists (citizen_id);

                -- A group advisory (webhook to an agency) is about one of its groups; plan_index
                -- carries the group's id so the subscriber index keeps one per group and version.
                ALTER TABLE deliveries ADD COLUMN agency_group INTEGER REFERENCES agency_groups (id);
                -- The tourists a group advisory lists, frozen when it is queued (erasing a citizen
                -- removes them from it).
                CREATE TABLE group_advisory_tourists (
                    delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
                    tourist_id TEXT NOT NULL,
                    citizen_id INTEGER NOT NULL REFERENCES citizens (id) ON DELETE CASCADE,
                    PRIMARY KEY (delivery_id, tourist_id)
                ) WITHOUT ROWID;
                CREATE INDEX group_advisory_tourists_by_citizen ON group_advisory_tourists (citizen_id);

                -- A merge: the record merged into citizen_id, as it was, and who merged it. Its id
                -- and phone still lead to citizen_id (check-in links, SMS replies). Erasing the
                -- kept citizen erases this too.
                CREATE TABLE citizen_merges (
                    id INTEGER PRIMARY KEY,
                    citizen_id INTEGER NOT NULL REFERENCES citizens (id) ON DELETE CASCADE,
                    merged_id INTEGER NOT NULL UNIQUE,
                    merged_phone TEXT,
                    merged_record TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    at INTEGER NOT NULL
                );
                CREATE INDEX citizen_merges_by_citizen ON citizen_merges (citizen_id);
                CREATE INDEX citizen_merges_by_phone ON citizen_merges (merged_phone) WHERE merged_phone IS NOT NULL;
                -- Pairs an operator said are two people: never suggested again.
                CREATE TABLE merge_dismissals (
                    citizen_a INTEGER NOT NULL REFERENCES citizens (id) ON DELETE CASCADE,
                    citizen_b INTEGER NOT NULL REFERENCES citizens (id) ON DELETE CASCADE,
                    actor TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    PRIMARY KEY (citizen_a, citizen_b),
                    CHECK (citizen_a < citizen_b)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v7: places") { db in
            try db.execute(sql: """
                -- The registry: one row per place with its current version; every version kept whole.
                CREATE TABLE places (
                    id INTEGER PRIMARY KEY,
                    kind TEXT NOT NULL CHECK (kind IN ('meeting_point', 'border_crossing', 'corridor')),
                    version INTEGER NOT NULL CHECK (version >= 1),
                    country TEXT CHECK (country IS NULL OR length(country) = 2),
                    status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
                    created_at INTEGER NOT NULL
                );
                CREATE INDEX places_by_kind ON places (kind, country);
                CREATE TABLE place_versions (
                    place_id INTEGER NOT NULL REFERENCES places (id),
                    version INTEGER NOT NULL CHECK (version >= 1),
                    -- The version as JSON: names and addresses per language, position, contact, status.
                    body TEXT NOT NULL CHECK (json_valid(body)),
                    updated_at INTEGER NOT NULL,
                    updated_by TEXT NOT NULL,
                    PRIMARY KEY (place_id, version)
                ) WITHOUT ROWID;
                -- The place versions an advisory's current texts were rendered from (JSON array of
                -- {role, place}); '[]' for advisories with typed names only.
                ALTER TABLE advisories ADD COLUMN places TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(places));
                """)
        }
        migrator.registerMigration("v8: merged phones where v6 lacked them") { db in
            // v6 gained merged_phone (and merged_id's UNIQUE) after it had shipped: a database
            // created in between has neither, so a merged citizen's number led nowhere.
            guard try !db.columns(in: "citizen_merges").contains(where: { $0.name == "merged_phone" }) else { return }
            try db.execute(sql: """
                ALTER TABLE citizen_merges ADD COLUMN merged_phone TEXT;
                UPDATE citizen_merges SET merged_phone = merged_record ->> '$.phone';
                CREATE INDEX citizen_merges_by_phone ON citizen_merges (merged_phone) WHERE merged_phone IS NOT NULL;
                CREATE UNIQUE INDEX citizen_merges_merged_id ON citizen_merges (merged_id);
                """)
        }
        migrator.registerMigration("v9: delivery purposes instead of negative versions") { db in
            // Follow-ups (reminders, confirmations of replies) were deliveries and renderings
            // of versions -1…-4. They get a purpose of their own and the advisory's version
            // (for those already queued: its version now); every version is 1 or more. SQLite
            // cannot change a table's UNIQUE constraint, so both tables are rebuilt (foreign
            // keys are checked after the migration, by the migrator).
            try db.execute(sql: """
                CREATE TABLE deliveries_v9 (
                    id INTEGER PRIMARY KEY,
                    advisory_id INTEGER NOT NULL REFERENCES advisories (id),
                    advisory_version INTEGER NOT NULL CHECK (advisory_version >= 1),
                    purpose TEXT NOT NULL DEFAULT 'advisory'
                        CHECK (purpose IN ('advisory', 'reminder', 'confirm_safe', 'confirm_help', 'confirm_received')),
                    plan_index INTEGER NOT NULL DEFAULT 0,
                    citizen_id INTEGER REFERENCES citizens (id) ON DELETE SET NULL,
                    subscriber_id INTEGER REFERENCES subscribers (id),
                    language TEXT NOT NULL CHECK (language IN ('kk', 'ru', 'en')),
                    phone TEXT,
                    email TEXT,
                    steps TEXT NOT NULL CHECK (length(steps) > 0),
                    step INTEGER NOT NULL DEFAULT 0 CHECK (step >= 0),
                    channel TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN
                        ('queued', 'sending', 'sent', 'delivered', 'retrying', 'failed', 'expired', 'cancelled')),
                    priority INTEGER NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at INTEGER NOT NULL,
                    lease_owner TEXT,
                    lease_expires_at INTEGER,
                    provider_message_id TEXT,
                    last_error TEXT,
                    expires_at INTEGER NOT NULL,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    step_started_at INTEGER NOT NULL,
                    first_sent_at INTEGER,
                    agency_group INTEGER REFERENCES agency_groups (id),
                    -- One per (version, purpose, citizen, plan entry): a confirmation's plan_index
                    -- is the id of the SMS it answers.
                    UNIQUE (advisory_id, advisory_version, purpose, citizen_id, plan_index),
                    CHECK ((state = 'sending') = (lease_owner IS NOT NULL))
                );
                INSERT INTO deliveries_v9 (id, advisory_id, advisory_version, purpose, plan_index, citizen_id, subscriber_id, language,
                    phone, email, steps, step, channel, state, priority, attempts, next_attempt_at, lease_owner, lease_expires_at,
                    provider_message_id, last_error, expires_at, created_at, updated_at, step_started_at, first_sent_at, agency_group)
                SELECT d.id, d.advisory_id, CASE WHEN d.advisory_version >= 1 THEN d.advisory_version ELSE max(a.version, 1) END,
                    CASE d.advisory_version WHEN -1 THEN 'reminder' WHEN -2 THEN 'confirm_safe' WHEN -3 THEN 'confirm_help'
                        WHEN -4 THEN 'confirm_received' ELSE 'advisory' END,
                    d.plan_index, d.citizen_id, d.subscriber_id, d.language, d.phone, d.email, d.steps, d.step, d.channel, d.state,
                    d.priority, d.attempts, d.next_attempt_at, d.lease_owner, d.lease_expires_at, d.provider_message_id, d.last_error,
                    d.expires_at, d.created_at, d.updated_at, d.step_started_at, d.first_sent_at, d.agency_group
                FROM deliveries d JOIN advisories a ON a.id = d.advisory_id;
                DROP TABLE deliveries;
                ALTER TABLE deliveries_v9 RENAME TO deliveries;
                CREATE INDEX deliveries_claim ON deliveries (channel, priority, next_attempt_at)
                    WHERE state IN ('queued', 'retrying');
                CREATE INDEX deliveries_leases ON deliveries (lease_expires_at) WHERE state = 'sending';
                CREATE INDEX deliveries_expiry ON deliveries (expires_at) WHERE state IN ('queued', 'retrying');
                CREATE INDEX deliveries_by_citizen ON deliveries (citizen_id) WHERE citizen_id IS NOT NULL;
                CREATE UNIQUE INDEX deliveries_once_per_subscriber
                    ON deliveries (advisory_id, advisory_version, subscriber_id, plan_index) WHERE subscriber_id IS NOT NULL;

                CREATE TABLE renderings_v9 (
                    advisory_id INTEGER NOT NULL REFERENCES advisories (id) ON DELETE CASCADE,
                    version INTEGER NOT NULL CHECK (version >= 1),
                    purpose TEXT NOT NULL DEFAULT 'advisory',
                    language TEXT NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('sms', 'email', 'webhook')),
                    rendered_language TEXT NOT NULL,
                    subject TEXT,
                    text TEXT NOT NULL,
                    html TEXT,
                    PRIMARY KEY (advisory_id, version, purpose, language, kind)
                ) WITHOUT ROWID;
                INSERT OR IGNORE INTO renderings_v9 (advisory_id, version, purpose, language, kind, rendered_language, subject, text, html)
                SELECT r.advisory_id, CASE WHEN r.version >= 1 THEN r.version ELSE max(a.version, 1) END,
                    CASE r.version WHEN -1 THEN 'reminder' WHEN -2 THEN 'confirm_safe' WHEN -3 THEN 'confirm_help'
                        WHEN -4 THEN 'confirm_received' ELSE 'advisory' END,
                    r.language, r.kind, r.rendered_language, r.subject, r.text, r.html
                FROM renderings r JOIN advisories a ON a.id = r.advisory_id;
                DROP TABLE renderings;
                ALTER TABLE renderings_v9 RENAME TO renderings;
                """)
        }
        migrator.registerMigration("v10: CHECK lists SQLite evaluates without a temporary index") { db in
            // SQLite evaluates `column IN ('a', 'b', …)` in a CHECK through a temporary index
            // for every row written: 100,000 deliveries queued in one approval took 0.2–0.3 s
            // longer for v9's purpose list alone. `(column = 'a' OR column = 'b' …)` accepts
            // exactly the same values and costs nothing measurable. Only the text of the
            // constraints changes, which the procedure SQLite documents for changes that do
            // not touch stored content does in place (lang_altertable.html, "other kinds of
            // table schema changes"): every stored row already satisfies the equivalent form.
            let list = try NSRegularExpression(pattern: #"([a-z_]+) IN\s*\(('[a-z_]+'(?:,\s*'[a-z_]+')*)\)"#)
            func rewritten(_ sql: String) -> String {
                var result = sql
                for match in list.matches(in: sql, range: NSRange(sql.startIndex..., in: sql)).reversed() {
                    let column = String(sql[Range(match.range(at: 1), in: sql)!])
                    let values = sql[Range(match.range(at: 2), in: sql)!].split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
                    result.replaceSubrange(Range(match.range, in: result)!, with: "(" + values.map { "\(column) = \($0)" }.joined(separator: " OR ") + ")")
                }
                return result
            }
            let tables = try Row.fetchAll(db, sql: "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND sql LIKE '%CHECK%'")
            let changes = tables.compactMap { row -> (String, String)? in
                let sql: String = row["sql"]
                let new = rewritten(sql)
                return new == sql ? nil : (row["name"], new)
            }
            guard !changes.isEmpty else { return }
            let schemaVersion = try Int.fetchOne(db, sql: "PRAGMA schema_version") ?? 0
            try db.execute(sql: "PRAGMA writable_schema = ON")
            for (name, sql) in changes {
                try db.execute(sql: "UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = ?", arguments: [sql, name])
            }
            try db.execute(sql: "PRAGMA schema_version = \(schemaVersion + 1)")
            try db.execute(sql: "PRAGMA writable_schema = OFF")
            db.clearSchemaCache()
            guard try String.fetchOne(db, sql: "PRAGMA quick_check") == "ok" else {
                throw DatabaseError(resultCode: .SQLITE_CORRUPT, message: "v10: the schema check failed after rewriting the CHECK lists")
            }
        }
        migrator.registerMigration("v11: console accounts and sessions") { db in
            try db.execute(sql: """
                CREATE TABLE operators (
                    id INTEGER PRIMARY KEY,
                    name TEXT NOT NULL COLLATE NOCASE UNIQUE CHECK (length(trim(name)) BETWEEN 1 AND 100),
                    role TEXT NOT NULL CHECK (role = 'admin' OR role = 'operator' OR role = 'approver' OR role = 'viewer'),
                    password_hash TEXT NOT NULL,
                    totp_secret TEXT,
                    language TEXT NOT NULL DEFAULT 'ru' CHECK (language = 'kk' OR language = 'ru' OR language = 'en'),
                    created_at INTEGER NOT NULL,
                    disabled_at INTEGER
                );
                -- The cookie's SHA-256, never the cookie.
                CREATE TABLE console_sessions (
                    token_hash TEXT PRIMARY KEY,
                    operator_id INTEGER NOT NULL REFERENCES operators (id) ON DELETE CASCADE,
                    csrf_token TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    last_seen_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX console_sessions_by_operator ON console_sessions (operator_id);
                """)
        }
        migrator.registerMigration("v12: exercise advisories") { db in
            try db.execute(sql: """
                ALTER TABLE advisories ADD COLUMN exercise INTEGER NOT NULL DEFAULT 0 CHECK (exercise = 0 OR exercise = 1);
                """)
        }
        migrator.registerMigration("v13: interrupted advisories") { db in
            try db.execute(sql: """
                ALTER TABLE advisories ADD COLUMN interrupted_at INTEGER;
                ALTER TABLE advisories ADD COLUMN interrupted_by TEXT;
                """)
        }
        migrator.registerMigration("v14: welfare totals from an index") { db in
            // The dashboard's welfare by country reads only this index (100,000 citizens: about
            // 200 ms through citizens_by_country and the table, 20 ms here); one more index
            // entry moves when a citizen's welfare changes.
            try db.execute(sql: "CREATE INDEX citizens_by_country_welfare ON citizens (country, welfare_status)")
        }
        return migrator
    }
}

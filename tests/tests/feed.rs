//! The change log in commit order: a reader following the feed while writers commit
//! concurrently and out of order sees every (id, version) exactly once, in version order;
//! entries carry who may see them.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use api::dto::{PracticeExampleInput, ThemeInput};
use api::service::changes::{FeedCursor, read_feed};
use api::service::db::write;
use api::service::resource::upsert_in;
use api::service::{Actor, PracticeExamples, Themes, create, update, upsert};
use tests::{app_or_skip, both_backends, count};
use uuid::Uuid;

const WRITERS: usize = 8;
const WRITES_PER_WRITER: usize = 30;
const EXTERNAL_IDS: usize = 12;

fn theme(k: usize, writer: usize, i: usize) -> ThemeInput {
    ThemeInput {
        slug: Some(format!("thema-{k}")),
        name: Some(format!("thema {k}, schrijver {writer}, keer {i}")),
        ..Default::default()
    }
}

/// Reads the whole feed after `cursor`, page by page.
async fn drain(
    db: &sea_orm::DatabaseConnection,
    actor: &Actor,
    cursor: &mut Option<FeedCursor>,
    seen: &mut Vec<(Uuid, i32, String)>,
) {
    loop {
        let page = read_feed(db, actor, *cursor, 7, &[])
            .await
            .expect("read the feed");
        for entry in &page.entries {
            seen.push((entry.resource_id, entry.version, entry.op.clone()));
            *cursor = Some(entry.cursor);
        }
        if !page.has_more {
            return;
        }
    }
}

both_backends!(
    async fn a_reader_sees_every_version_once_and_in_order_while_writers_race(backend) {
        let app = app_or_skip!(backend);
        let writer = tests::partner(&app.db, "gemeente", &["read", "write:themes"]).await;
        let done = Arc::new(AtomicBool::new(false));
        let reader = {
            let (db, done) = (app.db.clone(), done.clone());
            tokio::spawn(async move {
                let (mut cursor, mut seen) = (None, Vec::new());
                while !done.load(Ordering::SeqCst) {
                    drain(&db, &Actor::system(), &mut cursor, &mut seen).await;
                    tokio::time::sleep(Duration::from_millis(3)).await;
                }
                drain(&db, &Actor::system(), &mut cursor, &mut seen).await;
                seen
            })
        };
        // Two pools, as two instances have: on PostgreSQL their stamping runs race too.
        let other = api::service::db::connect(&api::service::db::DbOptions {
            url: app.test_db.url.clone(),
            max_connections: 4,
            busy_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
        })
        .await
        .expect("a second pool");
        let mut writers = Vec::new();
        for w in 0..WRITERS {
            let db = if w % 2 == 0 { app.db.clone() } else { other.clone() };
            let actor = writer.clone();
            writers.push(tokio::spawn(async move {
                for i in 0..WRITES_PER_WRITER {
                    // Every writer starts with the same external ids: first upserts race.
                    let k = (i + w) % EXTERNAL_IDS;
                    let external_id = format!("ext-{k}");
                    let input = theme(k, w, i);
                    if i % 4 == w % 4 {
                        // Hold the transaction open after the write, so that later
                        // transactions commit first.
                        let actor = &actor;
                        let (external_id, input) = (&external_id, &input);
                        write(&db, move |tx| async move {
                            let result = upsert_in::<Themes>(&tx, actor, external_id, input, None).await?;
                            tokio::time::sleep(Duration::from_millis(25)).await;
                            Ok((tx, result))
                        })
                        .await
                        .expect("a held-open upsert");
                    } else {
                        upsert::<Themes>(&db, &actor, &external_id, input, None).await.expect("an upsert");
                    }
                }
            }));
        }
        for w in writers {
            w.await.expect("writer");
        }
        done.store(true, Ordering::SeqCst);
        let seen = reader.await.expect("reader");

        let pairs: Vec<(Uuid, i32)> = seen.iter().map(|(id, v, _)| (*id, *v)).collect();
        let unique: HashSet<&(Uuid, i32)> = pairs.iter().collect();
        assert_eq!(unique.len(), pairs.len(), "an (id, version) was seen twice");
        assert_eq!(pairs.len() as i64, count(&app.db, "change_log", "").await, "every entry was seen");
        let mut last: HashMap<Uuid, i32> = HashMap::new();
        for (id, version) in &pairs {
            let before = last.insert(*id, *version).unwrap_or(0);
            assert_eq!(*version, before + 1, "versions of {id} arrive in order, none skipped");
        }
        assert_eq!(last.len(), EXTERNAL_IDS, "one theme per external id, though first upserts raced");
        assert_eq!(count(&app.db, "change_log", "position IS NULL").await, 0, "every entry has its position");
        for (id, version) in &last {
            let current = api::service::get::<Themes>(&app.db, &writer, *id).await.expect("get");
            assert_eq!(current.meta.version, *version, "the feed ends on the current version");
        }
    }
);

fn example(status: &str, summary: &str) -> PracticeExampleInput {
    PracticeExampleInput {
        slug: Some("buurtsportcoach".into()),
        title: Some("Buurtsportcoach".into()),
        summary: Some(summary.into()),
        status: Some(status.into()),
        ..Default::default()
    }
}

both_backends!(
    async fn a_draft_is_seen_by_its_owner_only_and_unpublishing_is_a_public_delete(backend) {
        let app = app_or_skip!(backend);
        let owner = tests::partner(&app.db, "gemeente", &["read", "changes:read", "write:practice-examples"]).await;
        let other = tests::partner(&app.db, "provincie", &["read", "changes:read"]).await;
        let draft = create::<PracticeExamples>(&app.db, &owner, example("draft", "geheime opzet")).await.expect("draft");
        let id = draft.meta.id;
        update::<PracticeExamples>(&app.db, &owner, id, example("published", "openbare tekst"), None).await.expect("publish");
        update::<PracticeExamples>(&app.db, &owner, id, example("draft", "weer geheim"), None).await.expect("unpublish");

        let entries = |actor: Actor| {
            let db = app.db.clone();
            async move {
                read_feed(&db, &actor, None, 100, &["practice-examples"]).await.expect("feed").entries
            }
        };
        let seen_by_other: Vec<(i32, String)> = entries(other.clone()).await.into_iter().map(|e| (e.version, e.op)).collect();
        assert_eq!(seen_by_other, [(2, "upsert".to_owned()), (3, "delete".to_owned())]);
        let seen_by_owner: Vec<(i32, String)> = entries(owner.clone()).await.into_iter().map(|e| (e.version, e.op)).collect();
        assert_eq!(
            seen_by_owner,
            [(1, "upsert".to_owned()), (2, "upsert".to_owned()), (3, "delete".to_owned()), (3, "upsert".to_owned())]
        );
        // No public entry holds a draft's text.
        for entry in entries(other).await {
            let text = entry.data.map(|d| d.to_string()).unwrap_or_default();
            assert!(!text.contains("geheim"), "{text}");
        }
        assert_eq!(count(&app.db, "change_log", "audience = 'owner'").await, 2);
        assert_eq!(count(&app.db, "change_log", "audience = 'public' AND data IS NOT NULL").await, 1);
    }
);

both_backends!(
    async fn a_no_op_takes_no_feed_position(backend) {
        let app = app_or_skip!(backend);
        let actor = Actor::system();
        let created = create::<Themes>(&app.db, &actor, theme(1, 0, 0)).await.expect("create");
        // PostgreSQL stamps positions after commit: wait for it as a feed read does.
        api::service::changes::settle(&app.db).await.expect("stamped");
        let clock = |db: sea_orm::DatabaseConnection| async move { count(&db, "feed_clock", "n > 0").await };
        assert_eq!(clock(app.db.clone()).await, 1);
        update::<Themes>(&app.db, &actor, created.meta.id, theme(1, 0, 0), None).await.expect("same content");
        api::service::changes::settle(&app.db).await.expect("stamped");
        assert_eq!(count(&app.db, "change_log", "").await, 1);
        assert_eq!(count(&app.db, "feed_clock", "n = 1").await, 1, "a no-op does not tick the clock");
    }
);

both_backends!(
    async fn a_thousand_upserts_in_one_transaction_share_one_position_and_repeating_them_writes_nothing(backend) {
        let app = app_or_skip!(backend);
        let actor = Actor::system();
        let items: Vec<(String, ThemeInput)> = (0..1000).map(|k| (format!("bulk-{k}"), theme(k, 0, 0))).collect();
        for round in 0..2 {
            let (actor, items) = (&actor, &items);
            let created = write(&app.db, move |tx| async move {
                let mut created = 0;
                for (external_id, input) in items {
                    // No savepoint per row: a no-op is found before writing, and a first
                    // upsert is settled by a lock, so PostgreSQL's 64 cached subtransactions
                    // per backend are never in play.
                    if upsert_in::<Themes>(&tx, actor, external_id, input, None).await?.1 {
                        created += 1;
                    }
                }
                Ok((tx, created))
            })
            .await
            .expect("one transaction");
            assert_eq!(created, if round == 0 { 1000 } else { 0 });
            api::service::changes::settle(&app.db).await.expect("stamped");
            assert_eq!(count(&app.db, "change_log", "").await, 1000, "repeating the bulk adds no entry");
            assert_eq!(count(&app.db, "feed_clock", "n = 1").await, 1, "one position for the whole transaction");
        }
        assert_eq!(count(&app.db, "audit_log", "").await, 1000);
    }
);

both_backends!(
    async fn a_committed_change_waiting_for_its_position_changes_the_version_and_is_stamped_by_the_worker(backend) {
        let app = app_or_skip!(backend);
        let actor = Actor::system();
        let created = create::<Themes>(&app.db, &actor, theme(1, 0, 0)).await.expect("create");
        // A write answers before its stamp; a feed read waits for it.
        let page = read_feed(&app.db, &actor, None, 10, &[]).await.expect("the feed");
        assert_eq!(page.entries.len(), 1, "the write is in the feed at once");
        let cursor = page.entries[0].cursor;
        let version = || async { api::service::cache::version_of(&app.db, &["themes"]).await.expect("a version") };
        let stamped = version().await;
        assert!(stamped > 0, "a collection with entries has a version");
        if backend == tests::Backend::Sqlite {
            // SQLite stamps in the write: an entry never waits.
            return;
        }
        // A writer that committed and lost the database before stamping leaves its entry
        // waiting; the clock is held meanwhile, as by a stamping run of another instance.
        use sea_orm::{ConnectionTrait, TransactionTrait};
        let holder = app.db.begin().await.expect("a transaction");
        holder.execute_unprepared("SELECT n FROM feed_clock WHERE id = 1 FOR UPDATE").await.expect("the clock");
        app.db
            .execute_unprepared(&format!(
                "INSERT INTO change_log (position, resource_type, resource_id, op, version, changed_at, audience) \
                 VALUES (NULL, 'themes', '{}', 'delete', 2, now(), 'public')",
                created.meta.id
            ))
            .await
            .expect("a waiting entry");
        let waiting = version().await;
        assert_ne!(waiting, stamped, "a committed change changes the version before its stamp");
        assert_eq!(waiting >> 20, stamped >> 20, "no newer position while the clock is held");
        let other = read_feed(&app.db, &actor, Some(cursor), 10, &[]);
        let early = tokio::time::timeout(Duration::from_millis(300), other).await;
        assert!(early.is_err(), "a feed read waits for the entry's stamp rather than skip it");
        holder.commit().await.expect("release the clock");
        // Nobody reads the feed: the server's worker stamps it on its next poll.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while count(&app.db, "change_log", "position IS NULL").await > 0 {
            assert!(std::time::Instant::now() < deadline, "the worker stamps waiting entries");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let after = version().await;
        assert!(after != waiting && after != stamped, "the stamp gives a version never seen before");
        let page = read_feed(&app.db, &actor, Some(cursor), 10, &[]).await.expect("the feed");
        assert_eq!(page.entries.len(), 1, "the stamped entry follows the cursor");
        assert_eq!((page.entries[0].op.as_str(), page.entries[0].version), ("delete", 2));
        assert!(page.entries[0].cursor > cursor);
    }
);

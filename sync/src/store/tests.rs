#![allow(clippy::unwrap_used)]

use super::*;
use crate::domain::{Intent, Operacion};
use chrono::{NaiveDate, TimeZone, Utc};

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 12, 0, 0).unwrap()
}

fn seeded(dir: &std::path::Path) -> Store {
    let (store, rec) = Store::open(&dir.join("zeues.db")).unwrap();
    assert!(rec.is_none());
    store
        .replace_workers(&[
            Worker {
                id: 93,
                nombre: "Mauricio".into(),
                apellido: "Rodriguez".into(),
                activo: true,
                roles: vec![Rol::Armador],
            },
            Worker {
                id: 94,
                nombre: "Juan".into(),
                apellido: "Pérez".into(),
                activo: true,
                roles: vec![Rol::Armador, Rol::Soldador],
            },
        ])
        .unwrap();
    let spools: Vec<Spool> = (1..=5)
        .map(|i| Spool {
            tag: format!("MK-{i}"),
            row: i + 1,
            fecha_materiales: NaiveDate::from_ymd_opt(2026, 1, 1),
            version: "0".into(),
            ..Spool::default()
        })
        .collect();
    store.upsert_plant_rows(&spools).unwrap();
    store
}

fn ids() -> impl FnMut() -> String {
    let mut n = 0;
    move || {
        n += 1;
        format!("cmd-{n}")
    }
}

fn tomar<'a>(worker_id: u32, tags: &'a [String]) -> LocalAction<'a> {
    LocalAction {
        worker_id,
        intent: Intent::Tomar(Operacion::Arm),
        tags,
        supervisor_verified: false,
        now: now(),
        reapplied: None,
    }
}

#[test]
fn tomar_changes_replica_and_queues_command_durably() {
    let dir = tempfile::tempdir().unwrap();
    let device;
    {
        let store = seeded(dir.path());
        device = store.device_id().to_string();
        let tags = vec!["mk-1".to_string()];
        let out = store.execute(&tomar(93, &tags), &mut ids()).unwrap();
        assert!(out[0].1.is_ok());
        assert_eq!(store.counts().unwrap(), (1, 0, 0));
    }
    // Reopen: the occupation and the queued command survived.
    let (store, _) = Store::open(&dir.path().join("zeues.db")).unwrap();
    assert_eq!(store.device_id(), device);
    let s = store.spool("MK-1").unwrap().unwrap();
    assert_eq!(s.ocupado_por.as_deref(), Some("MR(93)"));
    assert_eq!(s.version, "cmd-1");
    let ready = store.ready_commands(now(), 10).unwrap();
    assert_eq!(ready.len(), 1);
    assert_eq!(ready[0].base_version, "0");
    assert_eq!(ready[0].seq, 1);
    assert_eq!(ready[0].payload.intent, Intent::Tomar(Operacion::Arm));
    assert!(store.has_pending("MK-1").unwrap());
}

#[test]
fn batch_reports_each_spool_and_writes_only_the_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(dir.path());
    let mut gen = ids();
    let first = vec!["MK-2".to_string()];
    store.execute(&tomar(94, &first), &mut gen).unwrap();
    let tags: Vec<String> = ["MK-1", "MK-2", "MK-3", "NOPE", "mk-1"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let out = store.execute(&tomar(93, &tags), &mut gen).unwrap();
    let codes: Vec<&str> = out
        .iter()
        .map(|(_, r)| r.as_ref().err().map_or("OK", |e| e.code()))
        .collect();
    assert_eq!(
        codes,
        vec![
            "OK",
            "SPOOL_OCUPADO",
            "OK",
            "SPOOL_NO_ENCONTRADO",
            "LOTE_INVALIDO"
        ]
    );
    assert_eq!(store.counts().unwrap().0, 3);
}

#[test]
fn batch_limits_and_unknown_worker() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(dir.path());
    let many: Vec<String> = (0..51).map(|i| format!("T{i}")).collect();
    let e = store.execute(&tomar(93, &many), &mut ids()).unwrap_err();
    assert!(matches!(
        e,
        StoreError::Domain(DomainError::LoteInvalido { .. })
    ));
    let one = vec!["MK-1".to_string()];
    let e = store.execute(&tomar(7, &one), &mut ids()).unwrap_err();
    assert!(matches!(
        e,
        StoreError::Domain(DomainError::WorkerNoEncontrado { id: 7 })
    ));
}

#[test]
fn commands_of_one_spool_are_ready_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(dir.path());
    let mut gen = ids();
    let a = vec!["MK-1".to_string()];
    let b = vec!["MK-2".to_string()];
    store.execute(&tomar(93, &a), &mut gen).unwrap();
    store
        .execute(
            &LocalAction {
                intent: Intent::Pausar(Operacion::Arm),
                ..tomar(93, &a)
            },
            &mut gen,
        )
        .unwrap();
    store.execute(&tomar(94, &b), &mut gen).unwrap();
    let ready: Vec<String> = store
        .ready_commands(now(), 10)
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ready, vec!["cmd-1", "cmd-3"]);
    // A failed try waits for its retry time; the other spool is not held up.
    store
        .mark_attempt_failed(
            "cmd-1",
            "sin conexión",
            now() + chrono::Duration::seconds(30),
            false,
        )
        .unwrap();
    let ready: Vec<String> = store
        .ready_commands(now(), 10)
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ready, vec!["cmd-3"]);
}

#[test]
fn a_command_queued_behind_a_waiting_one_is_not_due_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(dir.path());
    let mut gen = ids();
    let a = vec!["MK-1".to_string()];
    store.execute(&tomar(93, &a), &mut gen).unwrap();
    store
        .execute(
            &LocalAction {
                intent: Intent::Pausar(Operacion::Arm),
                ..tomar(93, &a)
            },
            &mut gen,
        )
        .unwrap();
    let retry_at = now() + chrono::Duration::seconds(30);
    store
        .mark_attempt_failed("cmd-1", "sin conexión", retry_at, false)
        .unwrap();
    // The PAUSAR behind it cannot go first: the timer sleeps until the TOMAR's retry, instead
    // of waking every 20 ms for a command that is not ready.
    assert_eq!(store.next_due().unwrap(), Some(retry_at));
}

#[test]
fn conflict_holds_later_commands_and_restores_plant_row() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(dir.path());
    let mut gen = ids();
    let a = vec!["MK-1".to_string()];
    store.execute(&tomar(93, &a), &mut gen).unwrap();
    store
        .execute(
            &LocalAction {
                intent: Intent::Pausar(Operacion::Arm),
                ..tomar(93, &a)
            },
            &mut gen,
        )
        .unwrap();
    let cmd = store.command("cmd-1").unwrap().unwrap();
    let mut plant = store.spool("MK-1").unwrap().unwrap();
    plant.ocupado_por = Some("JP(94)".into());
    plant.version = "other".into();
    let err = DomainError::SpoolOcupado {
        tag: "MK-1".into(),
        por: "JP(94)".into(),
    };
    let rec = store
        .record_conflict(&cmd, &err, Some("JP(94)".into()), Some(&plant), now())
        .unwrap();
    assert_eq!(rec.held, vec!["cmd-2".to_string()]);
    assert_eq!(store.counts().unwrap(), (0, 1, 1));
    assert_eq!(
        store.spool("MK-1").unwrap().unwrap().ocupado_por.as_deref(),
        Some("JP(94)")
    );
    assert!(store.audit_events("MK-1").unwrap().is_empty());
    assert_eq!(store.conflicts(false).unwrap()[0].code, "SPOOL_OCUPADO");
}

#[test]
fn applied_command_makes_replica_the_plant_row() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(dir.path());
    let a = vec!["MK-1".to_string()];
    let out = store.execute(&tomar(93, &a), &mut ids()).unwrap();
    let after = out[0].1.as_ref().unwrap().after.clone();
    store.mark_applied("cmd-1", &after, now()).unwrap();
    assert_eq!(store.counts().unwrap(), (0, 0, 0));
    assert_eq!(store.spool("MK-1").unwrap().unwrap(), after);
    assert_eq!(store.audit_events("MK-1").unwrap().len(), 1);
}

#[test]
fn corrupt_file_is_moved_aside_and_pending_commands_salvaged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zeues.db");
    let device;
    {
        let store = seeded(dir.path());
        device = store.device_id().to_string();
        let a = vec!["MK-1".to_string(), "MK-2".to_string()];
        store.execute(&tomar(93, &a), &mut ids()).unwrap();
        // Fold the WAL into the main file so the damage below hits real pages.
        store
            .conn()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
    }
    // Damage the middle of the file (not the header or the outbox pages... in general: any page).
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    for b in &mut bytes[len / 2..len / 2 + 64] {
        *b = 0xAB;
    }
    std::fs::write(&path, &bytes).unwrap();
    let (store, rec) = Store::open(&path).unwrap();
    if let Some(rec) = rec {
        assert!(std::path::Path::new(&rec.moved_to).exists());
        assert!(rec.message.contains("dañada"));
        assert_eq!(store.device_id(), device);
    }
    assert_eq!(store.integrity_check().unwrap(), "ok");

    // A file that is not a database at all.
    std::fs::write(&path, b"esto no es sqlite, es basura").unwrap();
    let _ = std::fs::remove_file(dir.path().join("zeues.db-wal"));
    let (store, rec) = Store::open(&path).unwrap();
    let rec = rec.expect("garbage must be detected");
    assert_eq!(rec.salvaged_commands, 0);
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn salvage_keeps_readable_outbox_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zeues.db");
    {
        let store = seeded(dir.path());
        let a = vec!["MK-1".to_string(), "MK-3".to_string()];
        store.execute(&tomar(93, &a), &mut ids()).unwrap();
        store
            .conn()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .unwrap();
    }
    // Corrupt the replica's pages only: find a page of the spools table and smash it.
    let page_size: usize;
    let spools_root: usize;
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        page_size = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .unwrap();
        spools_root = conn
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = 'spools'",
                [],
                |r| r.get(0),
            )
            .unwrap();
    }
    let mut bytes = std::fs::read(&path).unwrap();
    let start = (spools_root - 1) * page_size;
    for b in &mut bytes[start + 8..start + page_size] {
        *b = 0xFF;
    }
    std::fs::write(&path, &bytes).unwrap();
    let (store, rec) = Store::open(&path).unwrap();
    let rec = rec.expect("corruption must be detected");
    assert_eq!(rec.salvaged_commands, 2, "{}", rec.message);
    assert_eq!(store.counts().unwrap().0, 2);
    let ready = store.ready_commands(now(), 10).unwrap();
    assert!(ready.iter().all(|c| c.outcome_unknown));
    // New commands continue the device's sequence.
    store
        .replace_workers(&[Worker {
            id: 93,
            nombre: "M".into(),
            apellido: "R".into(),
            activo: true,
            roles: vec![Rol::Armador],
        }])
        .unwrap();
    store
        .upsert_plant_rows(&[Spool {
            tag: "MK-9".into(),
            fecha_materiales: NaiveDate::from_ymd_opt(2026, 1, 1),
            ..Spool::default()
        }])
        .unwrap();
    let t = vec!["MK-9".to_string()];
    let mut gen = || "cmd-x".to_string();
    store.execute(&tomar(93, &t), &mut gen).unwrap();
    assert_eq!(store.command("cmd-x").unwrap().unwrap().seq, 3);
}

#[test]
fn a_whole_sheet_read_never_puts_back_a_row_older_than_the_replicas() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(dir.path());
    let old = store.spool("MK-1").unwrap().unwrap();
    // A full read of the sheet starts; meanwhile the change stream brings a newer MK-1 and a
    // spool added to the sheet after the read.
    let mark = store.replica_mark();
    let mut newer = old.clone();
    newer.version = "v2".into();
    newer.ocupado_por = Some("MR(93)".into());
    let mut added = old.clone();
    added.tag = "MK-NUEVO".into();
    store.upsert_plant_rows(&[newer.clone(), added]).unwrap();
    // The read's (older) rows arrive: MK-1 stays the newer one, MK-NUEVO is not "missing".
    let read: Vec<Spool> = (1..=5)
        .map(|i| store.spool(&format!("MK-{i}")).unwrap().unwrap())
        .map(|mut s| {
            if s.tag == "MK-1" {
                s = old.clone();
            }
            s
        })
        .collect();
    store.upsert_plant_rows_since(&read, mark).unwrap();
    let present = read.iter().map(|s| s.tag.clone()).collect();
    assert!(store.remove_missing(&present, mark).unwrap().is_empty());
    assert_eq!(store.spool("MK-1").unwrap().unwrap().version, "v2");
    assert!(store.spool("MK-NUEVO").unwrap().is_some());
    // A later read (after the mark moved on) does apply.
    let mark = store.replica_mark();
    store
        .upsert_plant_rows_since(std::slice::from_ref(&old), mark)
        .unwrap();
    assert_eq!(store.spool("MK-1").unwrap().unwrap().version, old.version);
}

#[test]
fn a_row_the_stream_confirms_unchanged_is_still_newer_than_a_read_begun_before() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(dir.path());
    let old = store.spool("MK-1").unwrap().unwrap();
    // Another tablet's claim is announced: the replica shows it at once.
    let mut claimed = old.clone();
    claimed.version = "cmd-b".into();
    claimed.ocupado_por = Some("CM(100)".into());
    store
        .upsert_plant_rows(std::slice::from_ref(&claimed))
        .unwrap();
    // A whole-sheet read starts before that tablet's write lands; the write's publish brings
    // the very row the replica already holds.
    let mark = store.replica_mark();
    assert!(store
        .upsert_plant_rows(std::slice::from_ref(&claimed))
        .unwrap()
        .is_empty());
    // The read's rows (from before the write) arrive: the confirmed claim stays.
    store
        .upsert_plant_rows_since(std::slice::from_ref(&old), mark)
        .unwrap();
    assert_eq!(store.spool("MK-1").unwrap().unwrap().version, "cmd-b");
}

#[test]
fn a_replica_row_keeps_its_last_four_earlier_states_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = seeded(dir.path());
    let first = store.spools_where("1=1", &[], 1).unwrap().remove(0);
    for v in 1..=6 {
        store
            .upsert_plant_rows(&[Spool {
                version: format!("v{v}"),
                ..first.clone()
            }])
            .unwrap();
        // The same state again (a re-read) is not a new earlier state.
        store
            .upsert_plant_rows(&[Spool {
                version: format!("v{v}"),
                ..first.clone()
            }])
            .unwrap();
    }
    let versions: Vec<String> = store
        .previous_states(&first.tag)
        .unwrap()
        .into_iter()
        .map(|s| s.version)
        .collect();
    assert_eq!(versions, ["v5", "v4", "v3", "v2"]);
    assert_eq!(store.spool(&first.tag).unwrap().unwrap().version, "v6");
}

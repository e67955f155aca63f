#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::TimeZone;

use super::*;
use crate::api::{ForAction, SpoolQuery};
use crate::engine::Clock;

struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    fn at(t: DateTime<Utc>) -> Arc<TestClock> {
        Arc::new(TestClock(Mutex::new(t)))
    }
    fn advance(&self, d: Duration) {
        let mut t = self.0.lock().unwrap();
        *t += chrono_dur(d);
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 15, 0, 0).unwrap()
}

fn open(dir: &Path, clock: Arc<TestClock>) -> Arc<Zeues> {
    let rt = tokio::runtime::Handle::current();
    Zeues::open_standalone(dir, clock, rt).unwrap().0
}

fn attempt(at: DateTime<Utc>, ok: bool) -> PinAttemptRecord {
    PinAttemptRecord {
        at,
        worker_id: Some(120),
        ok,
        refused: false,
        accion: None,
    }
}

#[test]
fn five_wrong_pins_in_a_row_lock_the_pin_for_five_minutes() {
    let now = noon();
    let m = |mins: i64| now - chrono::Duration::minutes(mins);
    // Newest first.
    let four: Vec<_> = (0..4).map(|i| attempt(m(i), false)).collect();
    assert_eq!(pin_locked_until(&four, now), None);
    let mut five = four.clone();
    five.push(attempt(m(4), false));
    assert_eq!(
        pin_locked_until(&five, now),
        Some(now + chrono::Duration::minutes(5))
    );
    // The lock runs from the last wrong PIN.
    assert_eq!(
        pin_locked_until(&five, now + chrono::Duration::minutes(5)),
        None
    );
    // A right PIN between them resets the count.
    let mut reset = four.clone();
    reset.push(attempt(m(4), true));
    reset.push(attempt(m(5), false));
    assert_eq!(pin_locked_until(&reset, now), None);
    // Wrong PINs older than the window do not count.
    let old: Vec<_> = (0..5).map(|i| attempt(m(20 + i), false)).collect();
    assert_eq!(pin_locked_until(&old, now), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_pins_are_rate_limited_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at(noon());
    let z = open(dir.path(), clock.clone());
    let pin = crate::demo::DEMO_SUPERVISOR_PIN;
    for left in (0..PIN_MAX_FAILURES).rev() {
        let e = z.supervisor_login(120, "0000").unwrap_err();
        let code = if left == 0 {
            "PIN_BLOQUEADO"
        } else {
            "PIN_INCORRECTO"
        };
        assert_eq!(e.code, code);
        assert_eq!(e.data["intentos_restantes"], left);
        match left {
            0 => assert!(e.message.contains("queda bloqueado"), "{}", e.message),
            1 => assert!(e.message.ends_with("Queda 1 intento."), "{}", e.message),
            n => assert!(
                e.message.ends_with(&format!("Quedan {n} intentos.")),
                "{}",
                e.message
            ),
        }
    }
    // Locked: even the right PIN is refused, without being checked.
    let e = z.supervisor_login(120, pin).unwrap_err();
    assert_eq!(e.code, "PIN_BLOQUEADO", "{e:?}");
    assert!(e.message.contains("5 min"), "{}", e.message);
    clock.advance(Duration::from_secs(4 * 60));
    assert_eq!(
        z.supervisor_login(120, pin).unwrap_err().code,
        "PIN_BLOQUEADO"
    );
    clock.advance(Duration::from_secs(61));
    let boss = z.supervisor_login(120, pin).unwrap();
    assert_eq!(boss.token, "HC(120)");
    // The trail: 5 wrong, 2 refused, 1 right, newest first, naming who tried.
    let trail = z.pin_attempts(1).unwrap();
    assert_eq!(trail.len(), 8);
    assert!(trail[0].ok);
    assert_eq!(trail.iter().filter(|a| a.bloqueado).count(), 2);
    assert_eq!(trail.iter().filter(|a| !a.ok && !a.bloqueado).count(), 5);
    assert!(trail.iter().all(|a| a.worker.as_deref() == Some("HC(120)")));
    assert!(trail
        .iter()
        .all(|a| a.accion.as_deref() == Some(crate::reports::ENTRADA)));
    // A supervisor action is listed as that action, not as one more entry (issue 15).
    let tag = z
        .spools(&crate::api::SpoolQuery {
            for_action: Some(crate::api::ForAction {
                worker_id: 120,
                intent: Intent::Override,
            }),
            ..crate::api::SpoolQuery::default()
        })
        .unwrap()
        .spools[0]
        .tag
        .clone();
    let out = z
        .supervisor_action(crate::api::SupervisorRequest {
            supervisor_id: 120,
            pin: pin.to_string(),
            intent: Intent::Override,
            tags: vec![tag.clone()],
        })
        .unwrap();
    assert_eq!(out.succeeded(), 1);
    let last = &z.pin_attempts(1).unwrap()[0];
    assert!(last.ok);
    assert_eq!(
        last.accion.as_deref(),
        Some(format!("OVERRIDE {tag}").as_str())
    );
    // A worker without the Supervisor role never gets in, even with the PIN.
    assert_eq!(
        z.supervisor_login(93, pin).unwrap_err().code,
        "ROL_NO_AUTORIZADO"
    );
    z.shutdown();
}

#[test]
fn csv_fields_are_quoted_and_never_formulas() {
    assert_eq!(csv_field("MK-1"), "MK-1");
    assert_eq!(csv_field("a,b"), "\"a,b\"");
    assert_eq!(csv_field("dijo \"hola\""), "\"dijo \"\"hola\"\"\"");
    assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    assert_eq!(csv_field("-1"), "'-1");
    assert_eq!(csv_field("línea\nnueva"), "\"línea\nnueva\"");
}

#[test]
fn periods_accept_both_date_forms_and_refuse_reversed_ones() {
    let p = |d: &str, h: &str| Periodo {
        desde: d.into(),
        hasta: h.into(),
    };
    let (d, h, from, to) = period_bounds(&p("01-03-2026", "2026-03-02")).unwrap();
    assert_eq!(
        (d.to_string(), h.to_string()),
        ("2026-03-01".into(), "2026-03-02".into())
    );
    assert_eq!(to - from, chrono::Duration::days(2));
    assert_eq!(
        period_bounds(&p("02-03-2026", "01-03-2026"))
            .unwrap_err()
            .code,
        "PERIODO_INVALIDO"
    );
    assert_eq!(
        period_bounds(&p("ayer", "01-03-2026")).unwrap_err().code,
        "PERIODO_INVALIDO"
    );
}

#[test]
fn hot_spots_are_spools_with_more_than_five_conflicts() {
    let at = santiago(noon());
    let f = |tag: &str, w: &str| ConflictFact {
        key: format!("{tag}{w}{}", rand_key()),
        tag: tag.into(),
        worker: w.into(),
        at,
    };
    let mut facts: Vec<ConflictFact> = (0..7).map(|_| f("MK-HOT", "MR(93)")).collect();
    facts.extend((0..5).map(|_| f("MK-WARM", "JP(94)")));
    facts.push(f("MK-1", "JP(94)"));
    let d = at.date();
    let m = conflict_metrics(d, d, &facts);
    assert_eq!(m.total, 13);
    assert_eq!(m.por_spool[0].key, "MK-HOT");
    assert_eq!(m.por_spool[0].conflicts, 7);
    assert_eq!(m.hot_spots.len(), 1, "5 is not more than 5");
    assert_eq!(m.hot_spots[0].key, "MK-HOT");
    assert_eq!(m.por_trabajador[0].key, "MR(93)");
    assert_eq!(m.por_trabajador[1].conflicts, 6);
}

fn rand_key() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn available_counts_follow_a_tomar() {
    let dir = tempfile::tempdir().unwrap();
    let z = open(dir.path(), TestClock::at(noon()));
    let before = z.disponibles().unwrap();
    assert!(
        before.arm > 0 && before.sold > 0 && before.metrologia > 0,
        "{before:?}"
    );
    assert!(
        before.reparacion > 0 && before.bloqueados > 0 && before.ocupados > 0,
        "{before:?}"
    );
    // The counter for ARM is exactly what an Armador would be offered.
    let offered = z
        .spools(&SpoolQuery {
            for_action: Some(ForAction {
                worker_id: 93,
                intent: Intent::Tomar(Operacion::Arm),
            }),
            limit: Some(5_000),
            ..SpoolQuery::default()
        })
        .unwrap();
    assert_eq!(offered.total as u32, before.arm);
    let tag = offered.spools[0].tag.clone();
    z.execute(ActionRequest {
        worker_id: 93,
        intent: Intent::Tomar(Operacion::Arm),
        tags: vec![tag],
        supervisor_pin: None,
    })
    .unwrap();
    let after = z.disponibles().unwrap();
    assert_eq!(after.arm, before.arm - 1);
    assert_eq!(after.ocupados, before.ocupados + 1);
    z.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_export_has_the_sessions_and_audit_rows_of_the_period() {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at(noon());
    let z = open(dir.path(), clock.clone());
    let list = z
        .spools(&SpoolQuery {
            for_action: Some(ForAction {
                worker_id: 93,
                intent: Intent::Tomar(Operacion::Arm),
            }),
            ..SpoolQuery::default()
        })
        .unwrap();
    let tag = list.spools[0].tag.clone();
    let act = |intent| {
        z.execute(ActionRequest {
            worker_id: 93,
            intent,
            tags: vec![tag.clone()],
            supervisor_pin: None,
        })
        .unwrap()
    };
    act(Intent::Tomar(Operacion::Arm));
    clock.advance(Duration::from_secs(2 * 3600 + 15 * 60));
    act(Intent::Pausar(Operacion::Arm));
    // Only what the plant has is exported: wait for the engine to apply both taps.
    for _ in 0..500 {
        if !z.store().has_pending(&tag).unwrap() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(!z.store().has_pending(&tag).unwrap(), "never applied");
    let today = crate::domain::time::fmt_date(santiago(noon()).date());
    let export = z
        .csv_export(&Periodo {
            desde: today.clone(),
            hasta: today.clone(),
        })
        .unwrap();
    // The format of `zeues export`: audit rows, then the sessions overlapping the period.
    assert!(export.csv.starts_with("\u{feff}Registro,ID,TAG_SPOOL"));
    let session = export
        .csv
        .lines()
        .find(|l| l.starts_with(&format!("OCUPACION,,{tag},")))
        .unwrap_or_else(|| panic!("no session for {tag}:\n{}", export.csv));
    assert!(
        session.contains(",ARM,PAUSAR_SPOOL,93,MR(93),"),
        "{session}"
    );
    assert!(session.contains(",2h 15m,1,"), "{session}");
    let rows: Vec<&str> = export
        .csv
        .lines()
        .filter(|l| l.starts_with("AUDITORIA") && l.contains(&tag))
        .collect();
    assert_eq!(rows.len(), 2, "{}", export.csv);
    assert!(rows[0].contains("TOMAR_SPOOL") && rows[1].contains("PAUSAR_SPOOL"));
    let ours = export
        .csv
        .lines()
        .filter(|l| l.starts_with(&format!("OCUPACION,,{tag},")))
        .count();
    assert_eq!(ours, 1);
    assert_eq!(
        export.sessions,
        export
            .csv
            .lines()
            .filter(|l| l.starts_with("OCUPACION"))
            .count()
    );
    // A later period has neither.
    let later = z
        .csv_export(&Periodo {
            desde: "01-01-2027".into(),
            hasta: "02-01-2027".into(),
        })
        .unwrap();
    assert!(!later.csv.contains(&tag));
    z.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_health_has_nothing_to_reach() {
    let dir = tempfile::tempdir().unwrap();
    let z = open(dir.path(), TestClock::at(noon()));
    let h = z.sync_health().await.unwrap();
    assert_eq!(h.sheets_ok, None);
    assert_eq!(h.redis_ok, None);
    assert!(h.devices.is_empty() && h.devices_error.is_none());
    assert_eq!(h.oldest_pending, None);
    let m = z
        .conflict_metrics(&Periodo {
            desde: "01-03-2026".into(),
            hasta: "31-03-2026".into(),
        })
        .unwrap();
    assert_eq!(m.total, 0);
    z.shutdown();
}

#[test]
fn quota_reads_as_tokens_left_of_capacity() {
    let q = crate::ports::QuotaLevels {
        reads: Some(3.7),
        writes: None,
        read_capacity: 5,
        write_capacity: 5,
        reads_per_minute: 50,
        writes_per_minute: 50,
    };
    assert_eq!(
        quota_text(&q),
        "Presupuesto de todos los equipos: 50 lecturas/min y 50 escrituras/min (Google permite 60). Ráfaga disponible ahora: 3 de 5 lecturas, 5 de 5 escrituras."
    );
}

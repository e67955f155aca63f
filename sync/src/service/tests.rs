#![allow(clippy::unwrap_used)]

use super::*;
use crate::api::ForAction;
use crate::store::CommandStatus;

fn open(dir: &Path) -> Arc<Zeues> {
    let rt = tokio::runtime::Handle::current();
    let (z, _) = Zeues::open_standalone(dir, Arc::new(SystemClock), rt).unwrap();
    z
}

async fn wait_applied(z: &Zeues, id_tag: &str) {
    for _ in 0..300 {
        if !z.store().has_pending(id_tag).unwrap() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("command for {id_tag} never applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_first_start_seeds_the_demo_plant_and_a_tomar_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let tag;
    {
        let rt = tokio::runtime::Handle::current();
        let (z, report) = Zeues::open_standalone(dir.path(), Arc::new(SystemClock), rt).unwrap();
        assert!(report.seeded_demo);
        assert_eq!(z.tags().unwrap().len(), crate::demo::DEMO_SPOOLS);
        let armadores = z.workers(Some(Operacion::Arm)).unwrap();
        assert!(armadores.iter().any(|w| w.token == "MR(93)"));
        assert!(armadores
            .iter()
            .all(|w| w.roles.iter().any(|r| r == "Armador" || r == "Ayudante")));
        let list = z
            .spools(&SpoolQuery {
                for_action: Some(ForAction {
                    worker_id: 93,
                    intent: Intent::Tomar(Operacion::Arm),
                }),
                ..SpoolQuery::default()
            })
            .unwrap();
        assert!(list.total > 100);
        assert!(
            !list.ocupados.is_empty(),
            "occupied spools are listed greyed"
        );
        assert!(list
            .ocupados
            .iter()
            .all(|s| s.ocupado_por.is_some() || s.bloqueado));
        tag = list.spools[0].tag.clone();
        let out = z
            .execute(ActionRequest {
                worker_id: 93,
                intent: Intent::Tomar(Operacion::Arm),
                tags: vec![tag.to_lowercase()],
                supervisor_pin: None,
            })
            .unwrap();
        assert_eq!(out.summary, format!("Spool {tag} tomado por MR(93)"));
        assert!(!out.queued);
        let v = z.spool(&tag).unwrap();
        assert_eq!(v.ocupado_por.as_deref(), Some("MR(93)"));
        wait_applied(&z, &tag).await;
        assert_eq!(z.sync_status().pending, 0);
        let h = z.history(&tag).unwrap();
        assert!(h.history.sessions.last().unwrap().open);
        // Demo spools come with the audit rows that explain them.
        let busy = z
            .spools(&SpoolQuery {
                solo_ocupados: true,
                ..SpoolQuery::default()
            })
            .unwrap();
        assert!(busy.spools.len() > 20);
        let other = busy.spools.iter().find(|s| s.tag != tag).unwrap();
        let h = z.history(&other.tag).unwrap();
        let last = h.history.sessions.last().unwrap();
        assert!(last.open);
        assert_eq!(Some(&last.worker), other.ocupado_por.as_ref());
        z.shutdown();
    }
    let z = open(dir.path());
    let v = z.spool(&tag).unwrap();
    assert_eq!(v.ocupado_por.as_deref(), Some("MR(93)"));
    let mine = z
        .spools(&SpoolQuery {
            for_action: Some(ForAction {
                worker_id: 93,
                intent: Intent::Pausar(Operacion::Arm),
            }),
            ..SpoolQuery::default()
        })
        .unwrap();
    assert!(mine.spools.iter().any(|s| s.tag == tag));
    z.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_summary_and_errors_carry_codes() {
    let dir = tempfile::tempdir().unwrap();
    let z = open(dir.path());
    let list = z
        .spools(&SpoolQuery {
            for_action: Some(ForAction {
                worker_id: 93,
                intent: Intent::Tomar(Operacion::Arm),
            }),
            ..SpoolQuery::default()
        })
        .unwrap();
    let mut tags: Vec<String> = list.spools.iter().take(7).map(|s| s.tag.clone()).collect();
    tags.extend(list.ocupados.iter().take(3).map(|s| s.tag.clone()));
    let out = z
        .execute(ActionRequest {
            worker_id: 93,
            intent: Intent::Tomar(Operacion::Arm),
            tags,
            supervisor_pin: None,
        })
        .unwrap();
    assert_eq!(out.summary, "7 de 10 spools exitosos (3 fallos)");
    assert!(out.results[7..].iter().all(|r| r.code == "SPOOL_OCUPADO"));
    let e = z
        .execute(ActionRequest {
            worker_id: 4242,
            intent: Intent::Tomar(Operacion::Arm),
            tags: vec!["X".into()],
            supervisor_pin: None,
        })
        .unwrap_err();
    assert_eq!(e.code, "WORKER_NO_ENCONTRADO");
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["code"], "WORKER_NO_ENCONTRADO");
    assert!(json["message"].as_str().unwrap().contains("4242"));
    z.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_override_needs_the_right_pin() {
    let dir = tempfile::tempdir().unwrap();
    let z = open(dir.path());
    let boss = z
        .workers(None)
        .unwrap()
        .into_iter()
        .find(|w| w.roles.iter().any(|r| r == "Supervisor"))
        .unwrap();
    let blocked = z
        .spools(&SpoolQuery {
            for_action: Some(ForAction {
                worker_id: boss.id,
                intent: Intent::Override,
            }),
            ..SpoolQuery::default()
        })
        .unwrap();
    assert_eq!(blocked.spools.len(), 1);
    let tag = blocked.spools[0].tag.clone();
    let req = |pin: &str| ActionRequest {
        worker_id: boss.id,
        intent: Intent::Override,
        tags: vec![tag.clone()],
        supervisor_pin: Some(pin.into()),
    };
    assert_eq!(z.execute(req("0000")).unwrap_err().code, "PIN_INCORRECTO");
    assert!(z.spool(&tag).unwrap().bloqueado);
    let ok = z.execute(req(crate::demo::DEMO_SUPERVISOR_PIN)).unwrap();
    assert!(ok.results[0].ok);
    assert!(!z.spool(&tag).unwrap().bloqueado);
    let e = z
        .execute(ActionRequest {
            worker_id: 93,
            intent: Intent::Override,
            tags: vec![tag.clone()],
            supervisor_pin: Some("1234".into()),
        })
        .unwrap_err();
    assert_eq!(e.code, "ROL_NO_AUTORIZADO");
    wait_applied(&z, &tag).await;
    let cmds = z.store().unapplied_commands().unwrap();
    assert!(cmds.iter().all(|c| c.status != CommandStatus::Pending));
    z.shutdown();
}

/// Writes `cells` into a spool's row of the embedded workbook, as another device or a person
/// editing the sheet would.
async fn edit_plant_row(
    dir: &Path,
    tag: &str,
    cells: &[(crate::domain::sheet::Col, crate::domain::CellValue)],
) {
    use crate::ports::Workbook;
    let wb = LocalWorkbook::open(&dir.join(DEMO_WORKBOOK)).unwrap();
    let grid = wb.read_tab("Operaciones").await.unwrap();
    let layout = crate::domain::sheet::OperacionesLayout::from_headers(&grid.headers).unwrap();
    let row = layout
        .decode_all(&grid.rows)
        .spools
        .into_iter()
        .find(|s| s.tag == tag)
        .unwrap()
        .row;
    wb.write(&crate::ports::WriteBatch {
        updates: vec![crate::ports::RowUpdate {
            tab: "Operaciones".into(),
            row,
            cells: layout.encode(cells).unwrap(),
        }],
        appends: vec![],
        fence: None,
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_inbox_discard_and_supervised_reapply() {
    use crate::api::ConflictDecision;
    use crate::domain::sheet::Col;
    use crate::domain::CellValue;
    let dir = tempfile::tempdir().unwrap();
    let z = open(dir.path());
    let boss = z
        .workers(None)
        .unwrap()
        .into_iter()
        .find(|w| w.roles.iter().any(|r| r == "Supervisor"))
        .unwrap();
    let free: Vec<String> = z
        .spools(&SpoolQuery {
            for_action: Some(ForAction {
                worker_id: 93,
                intent: Intent::Tomar(Operacion::Arm),
            }),
            ..SpoolQuery::default()
        })
        .unwrap()
        .spools
        .iter()
        .take(2)
        .map(|s| s.tag.clone())
        .collect();
    // Another device already gave both spools to JP(94); this device did not know yet.
    for tag in &free {
        edit_plant_row(
            dir.path(),
            tag,
            &[
                (Col::OcupadoPor, CellValue::text("JP(94)")),
                (Col::OperacionOcupacion, CellValue::text("ARM")),
                (Col::Armador, CellValue::text("JP(94)")),
                (Col::Version, CellValue::text("otro-equipo")),
            ],
        )
        .await;
    }
    for tag in &free {
        z.execute(ActionRequest {
            worker_id: 93,
            intent: Intent::Tomar(Operacion::Arm),
            tags: vec![tag.clone()],
            supervisor_pin: None,
        })
        .unwrap();
    }
    let mut inbox = Vec::new();
    for _ in 0..300 {
        inbox = z.conflicts(false).unwrap();
        if inbox.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(inbox.len(), 2, "{inbox:?}");
    assert!(inbox
        .iter()
        .all(|c| c.code == "SPOOL_OCUPADO" && c.winner.as_deref() == Some("JP(94)")));
    assert!(inbox
        .iter()
        .all(|c| c.worker == "MR(93)" && c.accion == "TOMAR"));
    assert_eq!(
        z.spool(&free[0]).unwrap().ocupado_por.as_deref(),
        Some("JP(94)")
    );
    let decide = |id: i64, pin: &str, who: u32| ConflictDecision {
        conflict_id: id,
        supervisor_id: who,
        pin: pin.into(),
    };
    let (a, b) = (inbox[0].clone(), inbox[1].clone());
    assert_eq!(
        z.discard_conflict(&decide(a.id, "9999", boss.id))
            .unwrap_err()
            .code,
        "PIN_INCORRECTO"
    );
    assert_eq!(
        z.discard_conflict(&decide(a.id, "1234", 93))
            .unwrap_err()
            .code,
        "ROL_NO_AUTORIZADO"
    );
    // Re-applying on the current state goes through the rules: JP(94) still has it.
    assert_eq!(
        z.reapply_conflict(&decide(b.id, "1234", boss.id))
            .unwrap_err()
            .code,
        "SPOOL_OCUPADO"
    );
    z.discard_conflict(&decide(a.id, "1234", boss.id)).unwrap();
    assert_eq!(z.conflicts(false).unwrap().len(), 1);
    // JP(94) leaves spool b; once the replica sees it, the supervisor re-applies MR(93)'s TOMAR.
    edit_plant_row(
        dir.path(),
        &b.tag,
        &[
            (Col::OcupadoPor, CellValue::Empty),
            (Col::OperacionOcupacion, CellValue::Empty),
            (Col::Version, CellValue::text("otro-equipo-2")),
        ],
    )
    .await;
    z.engine().poll_plant().await.unwrap();
    let out = z.reapply_conflict(&decide(b.id, "1234", boss.id)).unwrap();
    assert!(out.results[0].ok);
    wait_applied(&z, &b.tag).await;
    assert_eq!(
        z.spool(&b.tag).unwrap().ocupado_por.as_deref(),
        Some("MR(93)")
    );
    assert!(z.conflicts(false).unwrap().is_empty());
    let all = z.conflicts(true).unwrap();
    assert_eq!(
        all.iter()
            .filter(|c| c.resolution.as_deref() == Some("REAPLICADO"))
            .count(),
        1
    );
    let h = z.history(&b.tag).unwrap();
    let last = h.history.sessions.last().unwrap();
    assert_eq!(last.worker, "MR(93)");
    z.shutdown();
}

/// A scanned label is judged by the tap's own rule wherever it sits in the list (issue 15: the
/// screen holds 300 rows, the demo has 700+ spools ARM can take): the spool when it may be
/// picked, else the reason — occupied by whom, not ready, unknown, malformed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checked_tag_is_judged_beyond_the_list_limit_with_the_rule_s_reason() {
    let dir = tempfile::tempdir().unwrap();
    let z = open(dir.path());
    let arm = Some(ForAction {
        worker_id: 93,
        intent: Intent::Tomar(Operacion::Arm),
    });
    let all = z
        .spools(&SpoolQuery {
            for_action: arm.clone(),
            limit: Some(5_000),
            ..SpoolQuery::default()
        })
        .unwrap();
    assert!(all.total > 300, "{}", all.total);
    let far = all.spools.last().unwrap().tag.clone();
    let occupied = all
        .ocupados
        .iter()
        .find(|s| s.ocupado_por.is_some())
        .unwrap();
    let done = z
        .spools(&SpoolQuery {
            for_action: Some(ForAction {
                worker_id: 96,
                intent: Intent::Tomar(Operacion::Sold),
            }),
            limit: Some(5_000),
            ..SpoolQuery::default()
        })
        .unwrap();
    // Ready for SOLD means ARM is finished: not something ARM can take.
    let armed = done
        .spools
        .iter()
        .find(|s| !all.spools.iter().any(|a| a.tag == s.tag))
        .unwrap();
    let asked = vec![
        far.to_lowercase(),
        occupied.tag.clone(),
        armed.tag.clone(),
        "MK-NO-EXISTE-1".to_string(),
        "   ".to_string(),
    ];
    let list = z
        .spools(&SpoolQuery {
            for_action: arm,
            limit: Some(300),
            check: asked,
            ..SpoolQuery::default()
        })
        .unwrap();
    assert_eq!(list.spools.len(), 300);
    assert!(!list.spools.iter().any(|s| s.tag == far), "past the limit");
    let c = &list.checked;
    assert_eq!(c.len(), 5);
    assert_eq!(c[0].tag, far);
    assert_eq!(
        c[0].spool.as_ref().map(|s| s.tag.as_str()),
        Some(far.as_str())
    );
    assert!(c[0].refusal.is_none());
    let code = |i: usize| c[i].refusal.as_ref().map(|e| e.code.clone());
    assert_eq!(code(1).as_deref(), Some("SPOOL_OCUPADO"));
    let por = occupied.ocupado_por.clone().unwrap();
    assert!(
        c[1].refusal.as_ref().unwrap().message.contains(&por),
        "{:?}",
        c[1]
    );
    assert!(code(2).is_some_and(|k| k != "SPOOL_OCUPADO" && k != "SPOOL_NO_ENCONTRADO"));
    assert_eq!(code(3).as_deref(), Some("SPOOL_NO_ENCONTRADO"));
    assert_eq!(code(4).as_deref(), Some("TAG_INVALIDO"));
    assert!(c[2..].iter().all(|x| x.spool.is_none()));
    z.shutdown();
}

/// Issue 15: a rejection says its cycle and the defect's origin, and the third says BLOQUEADO
/// (the outcome carries it, so the screen after it cannot look like a success).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_third_rejection_says_blocked_with_its_cycle_and_origin() {
    use crate::domain::DefectoOrigen;
    let dir = tempfile::tempdir().unwrap();
    let z = open(dir.path());
    let reject = Intent::Metrologia {
        resultado: ResultadoMetrologia::Rechazado,
        origen: Some(DefectoOrigen::Sold),
    };
    let tag = z
        .spools(&SpoolQuery {
            for_action: Some(ForAction {
                worker_id: 95,
                intent: reject,
            }),
            ..SpoolQuery::default()
        })
        .unwrap()
        .spools
        .into_iter()
        .find(|s| s.ciclo_reparacion == 0)
        .unwrap()
        .tag;
    let act = |worker_id, intent| {
        z.execute(ActionRequest {
            worker_id,
            intent,
            tags: vec![tag.clone()],
            supervisor_pin: None,
        })
        .unwrap()
    };
    for cycle in 1..=3u8 {
        let out = act(95, reject);
        let r = out.results[0].rechazo.clone().unwrap();
        assert_eq!((r.ciclo, r.origen.as_str()), (cycle, "SOLD"), "{out:?}");
        assert_eq!(r.bloqueado, cycle == 3);
        if cycle < 3 {
            assert_eq!(
                out.summary,
                format!("Metrología rechazada para spool {tag}: Ciclo {cycle}/3, defecto de SOLD. Pendiente de reparación.")
            );
            assert!(act(96, Intent::Tomar(Operacion::Reparacion)).succeeded() == 1);
            assert!(act(96, Intent::Completar(Operacion::Reparacion)).succeeded() == 1);
        } else {
            assert!(out.summary.contains("BLOQUEADO"), "{}", out.summary);
            assert!(out.summary.contains("supervisor"), "{}", out.summary);
        }
    }
    let v = z.spool(&tag).unwrap();
    assert!(v.bloqueado);
    assert_eq!(
        v.defecto_origen.as_deref(),
        Some("SOLD"),
        "repair rows show it"
    );
    let approve = act(
        95,
        Intent::Metrologia {
            resultado: ResultadoMetrologia::Aprobado,
            origen: None,
        },
    );
    assert_eq!(approve.results[0].code, "SPOOL_BLOQUEADO");
    z.shutdown();
}

/// Issue 15: on COMPLETAR (or PAUSAR), the worker's own spools that the action does not fit are
/// not counted among the greyed "ocupados por otros".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_s_own_spools_are_never_greyed_as_occupied_by_others() {
    let dir = tempfile::tempdir().unwrap();
    let z = open(dir.path());
    let for_action = |intent| {
        z.spools(&SpoolQuery {
            for_action: Some(ForAction {
                worker_id: 94,
                intent,
            }),
            limit: Some(5_000),
            ..SpoolQuery::default()
        })
        .unwrap()
    };
    let tag = for_action(Intent::Tomar(Operacion::Arm)).spools[0]
        .tag
        .clone();
    let out = z
        .execute(ActionRequest {
            worker_id: 94,
            intent: Intent::Tomar(Operacion::Arm),
            tags: vec![tag.clone()],
            supervisor_pin: None,
        })
        .unwrap();
    assert_eq!(out.succeeded(), 1);
    // JP(94) holds it in ARM: COMPLETAR SOLD does not fit it, and it is not someone else's.
    let sold = for_action(Intent::Completar(Operacion::Sold));
    assert!(!sold.spools.iter().any(|s| s.tag == tag));
    assert!(
        !sold.ocupados.iter().any(|s| s.tag == tag),
        "own spool greyed as occupied by others"
    );
    let arm = for_action(Intent::Completar(Operacion::Arm));
    assert!(arm.spools.iter().any(|s| s.tag == tag));
    z.shutdown();
}

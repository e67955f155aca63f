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
        assert!(busy.spools.len() > 50);
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

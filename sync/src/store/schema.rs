//! Versioned schema migrations of the device database (`PRAGMA user_version`). A migration is
//! appended, never edited: devices in the field upgrade through every step in order.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[
    // 1: replica, workers, outbox, conflicts, local audit, settings.
    r#"
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);

    CREATE TABLE spools (
        tag TEXT PRIMARY KEY,
        row INTEGER NOT NULL,
        nv TEXT NOT NULL DEFAULT '',
        fecha_materiales TEXT,
        armador TEXT,
        fecha_armado TEXT,
        soldador TEXT,
        fecha_soldadura TEXT,
        fecha_qc_metrologia TEXT,
        ocupado_por TEXT,
        fecha_ocupacion TEXT,
        operacion_ocupacion TEXT,
        resultado_metrologia TEXT,
        ciclo_reparacion INTEGER NOT NULL DEFAULT 0,
        estado_reparacion TEXT,
        defecto_origen TEXT,
        version TEXT NOT NULL DEFAULT '',
        estado_detalle TEXT NOT NULL DEFAULT '',
        occupation_set_worker INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
    CREATE INDEX spools_ocupado ON spools(ocupado_por) WHERE ocupado_por IS NOT NULL;
    CREATE INDEX spools_reparacion ON spools(estado_reparacion) WHERE estado_reparacion IS NOT NULL;

    CREATE TABLE workers (
        id INTEGER PRIMARY KEY,
        nombre TEXT NOT NULL,
        apellido TEXT NOT NULL,
        activo INTEGER NOT NULL
    );
    CREATE TABLE roles (
        worker_id INTEGER NOT NULL REFERENCES workers(id) ON DELETE CASCADE,
        rol TEXT NOT NULL,
        PRIMARY KEY (worker_id, rol)
    ) WITHOUT ROWID;

    CREATE TABLE outbox (
        id TEXT PRIMARY KEY,
        device_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        worker_id INTEGER NOT NULL,
        tag TEXT NOT NULL,
        operation TEXT NOT NULL,
        action TEXT NOT NULL,
        payload TEXT NOT NULL,
        base_version TEXT NOT NULL,
        created_at TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'applied', 'conflict', 'held')),
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        next_attempt_at TEXT,
        outcome_unknown INTEGER NOT NULL DEFAULT 0,
        -- TOMAR: the occupation lock is held in the coordinator and the other devices told.
        claimed INTEGER NOT NULL DEFAULT 0,
        applied_at TEXT,
        UNIQUE (device_id, seq)
    );
    CREATE INDEX outbox_status_seq ON outbox(status, seq);
    CREATE INDEX outbox_tag_seq ON outbox(tag, seq);

    CREATE TABLE conflicts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        command_id TEXT NOT NULL UNIQUE,
        tag TEXT NOT NULL,
        code TEXT NOT NULL,
        message TEXT NOT NULL,
        winner TEXT,
        held TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL,
        resolved_at TEXT,
        resolution TEXT,
        -- The CONFLICTO audit row reached the workbook.
        audited INTEGER NOT NULL DEFAULT 0
    );

    CREATE TABLE audit_local (
        id TEXT PRIMARY KEY,
        timestamp TEXT NOT NULL,
        event_type TEXT NOT NULL,
        tag TEXT NOT NULL,
        worker_id INTEGER NOT NULL,
        worker_nombre TEXT NOT NULL,
        operacion TEXT NOT NULL,
        accion TEXT NOT NULL,
        fecha_operacion TEXT NOT NULL,
        metadata TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('local', 'applied', 'rejected', 'plant'))
    );
    CREATE INDEX audit_local_tag ON audit_local(tag, timestamp);
    "#,
    // 2: supervisor PIN checks (rate limiting, and the trail of wrong PINs); audit by date.
    r#"
    CREATE TABLE pin_attempts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        worker_id INTEGER,
        ok INTEGER NOT NULL,
        refused INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX pin_attempts_at ON pin_attempts(at);
    CREATE INDEX audit_local_time ON audit_local(timestamp);
    "#,
    // 3: who closed a conflict, and whether its CONFLICTO_DESCARTADO row reached Metadata
    // (older resolutions predate that row: counted as audited).
    r#"
    ALTER TABLE conflicts ADD COLUMN resolved_by INTEGER;
    ALTER TABLE conflicts ADD COLUMN resolution_audited INTEGER NOT NULL DEFAULT 1;
    "#,
    // 4: where a command's write was addressed and what was there (JSON), recorded before the
    // write: a write that lands late, after a person moved rows or columns, can be found and
    // repaired (engine::verify).
    r#"
    ALTER TABLE outbox ADD COLUMN landing TEXT;
    "#,
    // 5: the last few states each replica row had before it changed version. A write that a
    // sort sent to another spool's row spreads to every replica (it looks like a person's
    // edit); the repair puts back that spool's state from before it, also after a crash and a
    // Redis restart wiped every other copy (engine::verify).
    r#"
    CREATE TABLE spools_previous AS SELECT * FROM spools WHERE 0;
    ALTER TABLE spools_previous ADD COLUMN replaced_seq INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX spools_previous_tag ON spools_previous(tag, replaced_seq);
    CREATE TRIGGER spools_keep_previous BEFORE INSERT ON spools
    BEGIN
        INSERT INTO spools_previous (tag, row, nv, fecha_materiales, armador, fecha_armado,
                soldador, fecha_soldadura, fecha_qc_metrologia, ocupado_por, fecha_ocupacion,
                operacion_ocupacion, resultado_metrologia, ciclo_reparacion, estado_reparacion,
                defecto_origen, version, estado_detalle, occupation_set_worker, replaced_seq)
            SELECT tag, row, nv, fecha_materiales, armador, fecha_armado, soldador,
                fecha_soldadura, fecha_qc_metrologia, ocupado_por, fecha_ocupacion,
                operacion_ocupacion, resultado_metrologia, ciclo_reparacion, estado_reparacion,
                defecto_origen, version, estado_detalle, occupation_set_worker,
                COALESCE((SELECT MAX(replaced_seq) FROM spools_previous), 0) + 1
            FROM spools WHERE tag = NEW.tag AND version <> NEW.version;
        DELETE FROM spools_previous WHERE tag = NEW.tag AND replaced_seq NOT IN
            (SELECT replaced_seq FROM spools_previous WHERE tag = NEW.tag
             ORDER BY replaced_seq DESC LIMIT 4);
    END;
    "#,
    // 6: what each supervisor PIN check was for (entering the desk, an OVERRIDE of a TAG, an
    // export...): the desk's ACCESOS tab lists actions as actions, not as repeated logins.
    r#"
    ALTER TABLE pin_attempts ADD COLUMN accion TEXT;
    "#,
];

/// Brings the database to the latest schema, one transaction per step.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

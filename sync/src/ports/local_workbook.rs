//! The embedded workbook: the four tabs of the plant's spreadsheet kept as rows of cells in a
//! SQLite file of their own. It plays Google Sheets in standalone mode with the same contract:
//! typed cells, 1-based rows with the header in row 1, and all-or-nothing batch writes.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};

use super::{AddColumns, RowsRead, TabShape, Workbook, WorkbookError, WriteBatch};
use crate::domain::sheet::Grid;
use crate::domain::{CellValue, RawCell};

pub struct LocalWorkbook {
    conn: Mutex<Connection>,
    label: String,
}

fn err(e: impl std::fmt::Display) -> WorkbookError {
    WorkbookError::Unavailable(format!("planilla local: {e}"))
}

fn encode(cells: &[RawCell]) -> Result<String, WorkbookError> {
    serde_json::to_string(cells).map_err(err)
}

fn decode(s: &str) -> Result<Vec<RawCell>, WorkbookError> {
    serde_json::from_str(s).map_err(err)
}

fn trim(mut cells: Vec<RawCell>) -> Vec<RawCell> {
    // As Sheets does: trailing empty cells are not returned.
    while matches!(cells.last(), Some(RawCell::Empty)) {
        cells.pop();
    }
    cells
}

impl LocalWorkbook {
    pub fn open(path: &Path) -> Result<Self, WorkbookError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let conn = Connection::open(path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS tabs (title TEXT PRIMARY KEY);
             CREATE TABLE IF NOT EXISTS cells_rows (
                 tab TEXT NOT NULL, row INTEGER NOT NULL, cells TEXT NOT NULL,
                 PRIMARY KEY (tab, row)) WITHOUT ROWID;",
        )
        .map_err(err)?;
        Ok(LocalWorkbook {
            conn: Mutex::new(conn),
            label: format!("planilla local {}", path.display()),
        })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn tabs(&self) -> Result<Vec<String>, WorkbookError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT title FROM tabs ORDER BY title")
            .map_err(err)?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(err)?;
        rows.collect::<rusqlite::Result<Vec<String>>>().map_err(err)
    }

    /// Replaces a whole tab (seeding the demo plant, tests).
    pub fn replace_tab(&self, title: &str, grid: &Grid) -> Result<(), WorkbookError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(err)?;
        tx.execute("INSERT OR IGNORE INTO tabs (title) VALUES (?1)", [title])
            .map_err(err)?;
        tx.execute("DELETE FROM cells_rows WHERE tab = ?1", [title])
            .map_err(err)?;
        {
            let mut stmt = tx
                .prepare("INSERT INTO cells_rows (tab, row, cells) VALUES (?1, ?2, ?3)")
                .map_err(err)?;
            let header: Vec<RawCell> = grid
                .headers
                .iter()
                .map(|h| RawCell::Text(h.clone()))
                .collect();
            stmt.execute(params![title, 1, encode(&header)?])
                .map_err(err)?;
            for (i, row) in grid.rows.iter().enumerate() {
                stmt.execute(params![title, i as i64 + 2, encode(&trim(row.clone()))?])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    fn check_tab(conn: &Connection, tab: &str) -> Result<(), WorkbookError> {
        let exists: Option<String> = conn
            .query_row("SELECT title FROM tabs WHERE title = ?1", [tab], |r| {
                r.get(0)
            })
            .optional()
            .map_err(err)?;
        match exists {
            Some(_) => Ok(()),
            None => Err(WorkbookError::NotFound(format!(
                "la hoja '{tab}' no existe"
            ))),
        }
    }

    fn apply(tx: &Connection, batch: &WriteBatch) -> Result<(), WorkbookError> {
        for u in &batch.updates {
            Self::check_tab(tx, &u.tab)?;
            if u.row < 2 {
                return Err(WorkbookError::Rejected(format!(
                    "la fila {} de '{}' es la cabecera",
                    u.row, u.tab
                )));
            }
            let current: Option<String> = tx
                .query_row(
                    "SELECT cells FROM cells_rows WHERE tab = ?1 AND row = ?2",
                    params![u.tab, u.row],
                    |r| r.get(0),
                )
                .optional()
                .map_err(err)?;
            let mut cells = match current {
                Some(c) => decode(&c)?,
                None => Vec::new(),
            };
            for (col, value) in &u.cells {
                if cells.len() <= *col {
                    cells.resize(col + 1, RawCell::Empty);
                }
                cells[*col] = value.to_raw();
            }
            tx.execute(
                "INSERT OR REPLACE INTO cells_rows (tab, row, cells) VALUES (?1, ?2, ?3)",
                params![u.tab, u.row, encode(&trim(cells))?],
            )
            .map_err(err)?;
        }
        for a in &batch.appends {
            Self::check_tab(tx, &a.tab)?;
            let last: i64 = tx
                .query_row(
                    "SELECT COALESCE(MAX(row), 1) FROM cells_rows WHERE tab = ?1",
                    [&a.tab],
                    |r| r.get(0),
                )
                .map_err(err)?;
            let cells: Vec<RawCell> = a.cells.iter().map(CellValue::to_raw).collect();
            tx.execute(
                "INSERT INTO cells_rows (tab, row, cells) VALUES (?1, ?2, ?3)",
                params![a.tab, last + 1, encode(&trim(cells))?],
            )
            .map_err(err)?;
        }
        Ok(())
    }

    fn row_cells(conn: &Connection, tab: &str, row: u32) -> Result<Vec<RawCell>, WorkbookError> {
        let cells: Option<String> = conn
            .query_row(
                "SELECT cells FROM cells_rows WHERE tab = ?1 AND row = ?2",
                params![tab, row],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        cells.map_or(Ok(Vec::new()), |c| decode(&c))
    }

    fn put_row(
        conn: &Connection,
        tab: &str,
        row: u32,
        cells: Vec<RawCell>,
    ) -> Result<(), WorkbookError> {
        conn.execute(
            "INSERT OR REPLACE INTO cells_rows (tab, row, cells) VALUES (?1, ?2, ?3)",
            params![tab, row, encode(&trim(cells))?],
        )
        .map_err(err)?;
        Ok(())
    }

    /// Rows = the last row holding anything; columns = the widest row (the header included).
    fn shape(conn: &Connection, tab: &str) -> Result<TabShape, WorkbookError> {
        let mut stmt = conn
            .prepare("SELECT row, cells FROM cells_rows WHERE tab = ?1")
            .map_err(err)?;
        let it = stmt
            .query_map([tab], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(err)?;
        let mut shape = TabShape {
            rows: 0,
            columns: 0,
        };
        for r in it {
            let (n, cells) = r.map_err(err)?;
            shape.rows = shape.rows.max(n as u32);
            shape.columns = shape.columns.max(decode(&cells)?.len() as u32);
        }
        Ok(shape)
    }

    fn headers(conn: &Connection, tab: &str) -> Result<Vec<String>, WorkbookError> {
        let header: Option<String> = conn
            .query_row(
                "SELECT cells FROM cells_rows WHERE tab = ?1 AND row = 1",
                [tab],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        Ok(match header {
            Some(h) => Grid::header_cells(&decode(&h)?),
            None => Vec::new(),
        })
    }
}

#[async_trait]
impl Workbook for LocalWorkbook {
    fn describe(&self) -> String {
        self.label.clone()
    }

    async fn read_tab(&self, tab: &str) -> Result<Grid, WorkbookError> {
        let conn = self.conn();
        Self::check_tab(&conn, tab)?;
        let headers = Self::headers(&conn, tab)?;
        let mut stmt = conn
            .prepare_cached(
                "SELECT row, cells FROM cells_rows WHERE tab = ?1 AND row > 1 ORDER BY row",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map([tab], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(err)?;
        let mut out: Vec<Vec<RawCell>> = Vec::new();
        for r in rows {
            let (n, cells) = r.map_err(err)?;
            let idx = (n - 2) as usize;
            // Gaps (rows never written) read as empty rows, as in a real grid.
            while out.len() < idx {
                out.push(Vec::new());
            }
            out.push(decode(&cells)?);
        }
        Ok(Grid { headers, rows: out })
    }

    async fn read_rows(&self, tab: &str, rows: &[u32]) -> Result<RowsRead, WorkbookError> {
        let conn = self.conn();
        Self::check_tab(&conn, tab)?;
        let headers = Self::headers(&conn, tab)?;
        let mut stmt = conn
            .prepare_cached("SELECT cells FROM cells_rows WHERE tab = ?1 AND row = ?2")
            .map_err(err)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let cells: Option<String> = stmt
                .query_row(params![tab, r], |x| x.get(0))
                .optional()
                .map_err(err)?;
            out.push(match cells {
                Some(c) => decode(&c)?,
                None => Vec::new(),
            });
        }
        Ok(RowsRead { headers, rows: out })
    }

    async fn write(&self, batch: &WriteBatch) -> Result<(), WorkbookError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(err)?;
        Self::apply(&tx, batch)?;
        tx.commit().map_err(err)
    }

    async fn tab_shape(&self, tab: &str) -> Result<TabShape, WorkbookError> {
        let conn = self.conn();
        Self::check_tab(&conn, tab)?;
        Self::shape(&conn, tab)
    }

    async fn add_columns(&self, add: &AddColumns, then: &WriteBatch) -> Result<(), WorkbookError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(err)?;
        Self::check_tab(&tx, &add.tab)?;
        let shape = Self::shape(&tx, &add.tab)?;
        if shape.columns != add.at {
            return Err(WorkbookError::Rejected(format!(
                "la hoja '{}' cambió: tiene {} columnas y se esperaban {}",
                add.tab, shape.columns, add.at
            )));
        }
        let mut header = Self::row_cells(&tx, &add.tab, 1)?;
        header.resize(add.at as usize, RawCell::Empty);
        header.extend(add.headers.iter().map(|h| RawCell::Text(h.clone())));
        Self::put_row(&tx, &add.tab, 1, header)?;
        Self::apply(&tx, then)?;
        tx.commit().map_err(err)
    }

    async fn truncate_columns(
        &self,
        tab: &str,
        columns: u32,
        then: &WriteBatch,
    ) -> Result<(), WorkbookError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(err)?;
        Self::check_tab(&tx, tab)?;
        let rows: Vec<(i64, String)> = {
            let mut stmt = tx
                .prepare("SELECT row, cells FROM cells_rows WHERE tab = ?1")
                .map_err(err)?;
            let it = stmt
                .query_map([tab], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(err)?;
            it.collect::<rusqlite::Result<_>>().map_err(err)?
        };
        for (n, cells) in rows {
            let mut cells = decode(&cells)?;
            if cells.len() > columns as usize {
                cells.truncate(columns as usize);
                Self::put_row(&tx, tab, n as u32, cells)?;
            }
        }
        Self::apply(&tx, then)?;
        tx.commit().map_err(err)
    }
}

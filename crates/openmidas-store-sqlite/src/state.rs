//! The emulator's rows (behaviour.md section 13): its clock, and the whole state dumped,
//! loaded or emptied table by table after the ledger's [`TABLES`]. These statements run
//! rarely (a test's reset, an import), so they are built from the schema at run time.

use openmidas_ledger::clock::ClockState;
use openmidas_ledger::state::{Cell, ColumnType, ResetScope, StateDoc, Table, MAX_STATE_ROWS, TABLES};
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection};

pub fn clock(conn: &Connection) -> rusqlite::Result<ClockState> {
    conn.prepare_cached("SELECT offset_ms, frozen_at_ms FROM emulator_clock WHERE id = 1")?
        .query_row([], |r| {
            Ok(ClockState {
                offset_ms: r.get(0)?,
                frozen_at_ms: r.get(1)?,
            })
        })
}

pub fn set_clock(conn: &Connection, state: &ClockState) -> rusqlite::Result<()> {
    conn.prepare_cached("UPDATE emulator_clock SET offset_ms = ?1, frozen_at_ms = ?2 WHERE id = 1")?
        .execute(params![state.offset_ms, state.frozen_at_ms])
        .map(drop)
}

/// Runs `f` with the journal's append-only trigger lifted, in the caller's transaction.
fn with_journal_unlocked(conn: &Connection, f: impl FnOnce() -> rusqlite::Result<()>) -> rusqlite::Result<()> {
    conn.execute("INSERT INTO journal_unlock (id) VALUES (1)", [])?;
    f()?;
    conn.execute("DELETE FROM journal_unlock", []).map(drop)
}

/// Deletes the rows of `scope`, in the caller's transaction.
pub fn reset(conn: &Connection, scope: &ResetScope) -> rusqlite::Result<()> {
    with_journal_unlocked(conn, || {
        for table in TABLES.iter().rev() {
            if table.name == "apps" && scope.keep_apps {
                continue;
            }
            match &scope.appid {
                Some(appid) => conn.execute(&format!("DELETE FROM {} WHERE appid = ?1", table.sql), [appid])?,
                None => conn.execute(&format!("DELETE FROM {}", table.sql), [])?,
            };
        }
        Ok(())
    })
}

/// Replaces every row with the document's, in the caller's transaction.
pub fn replace(conn: &Connection, doc: &StateDoc) -> rusqlite::Result<()> {
    reset(
        conn,
        &ResetScope {
            appid: None,
            keep_apps: false,
        },
    )?;
    for (table, rows) in TABLES.iter().zip(&doc.tables) {
        let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
        let marks: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            table.sql,
            names.join(", "),
            marks.join(", ")
        );
        let mut insert = conn.prepare(&sql)?;
        for row in rows {
            insert.execute(params_from_iter(row.iter().map(to_value)))?;
        }
    }
    Ok(())
}

fn to_value(cell: &Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Boolean(b) => Value::Integer(i64::from(*b)),
        Cell::Integer(i) => Value::Integer(*i),
        Cell::Text(t) => Value::Text(t.clone()),
    }
}

/// Every row of every table, read in one transaction.
pub fn export(conn: &Connection) -> rusqlite::Result<StateDoc> {
    let tx = conn.unchecked_transaction()?;
    let mut doc = StateDoc::default();
    let mut total = 0usize;
    for (table, rows) in TABLES.iter().zip(&mut doc.tables) {
        *rows = dump(&tx, table, &mut total)?;
    }
    tx.finish()?;
    doc.sort();
    Ok(doc)
}

fn dump(conn: &Connection, table: &Table, total: &mut usize) -> rusqlite::Result<Vec<Vec<Cell>>> {
    let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    let mut select = conn.prepare(&format!("SELECT {} FROM {}", names.join(", "), table.sql))?;
    let mut rows = select.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        *total += 1;
        if *total > MAX_STATE_ROWS {
            return Err(rusqlite::Error::ToSqlConversionFailure(
                format!("the state has more than {MAX_STATE_ROWS} rows: too large to export").into(),
            ));
        }
        let mut cells = Vec::with_capacity(table.columns.len());
        for (i, column) in table.columns.iter().enumerate() {
            cells.push(match column.ty {
                ColumnType::Text => row.get::<_, Option<String>>(i)?.map_or(Cell::Null, Cell::Text),
                ColumnType::Integer => row.get::<_, Option<i64>>(i)?.map_or(Cell::Null, Cell::Integer),
                ColumnType::Boolean => row
                    .get::<_, Option<i64>>(i)?
                    .map_or(Cell::Null, |b| Cell::Boolean(b != 0)),
            });
        }
        out.push(cells);
    }
    Ok(out)
}

//! The emulator's rows (behaviour.md section 13): its clock, and the whole state dumped,
//! loaded or emptied table by table after the ledger's [`TABLES`]. These statements run
//! rarely (a test's reset, an import), so they are built from the schema at run time and
//! not kept prepared.

use openmidas_ledger::clock::ClockState;
use openmidas_ledger::state::{Cell, ColumnType, ResetScope, StateDoc, Table, MAX_STATE_ROWS, TABLES};
use tokio_postgres::types::ToSql;

use crate::error::TxError;
use crate::pool::Conn;

/// The clock; `lock` holds its row until the transaction ends (changes from several
/// nodes then apply one after the other).
pub(crate) async fn clock(conn: &mut Conn, lock: bool) -> Result<ClockState, TxError> {
    if lock {
        // The row must exist to be locked: two nodes changing the clock for the first time
        // then still apply one after the other.
        conn.execute(
            "INSERT INTO emulator_clock (id, offset_ms, frozen_at_ms) VALUES (1, 0, NULL) ON CONFLICT (id) DO NOTHING",
            &[],
        )
        .await?;
    }
    let sql = if lock {
        "SELECT offset_ms, frozen_at_ms FROM emulator_clock WHERE id = 1 FOR UPDATE"
    } else {
        "SELECT offset_ms, frozen_at_ms FROM emulator_clock WHERE id = 1"
    };
    let row = conn.query_opt(sql, &[]).await?;
    match row {
        Some(r) => Ok(ClockState {
            offset_ms: r.try_get(0)?,
            frozen_at_ms: r.try_get(1)?,
        }),
        // No change yet: the machine's time.
        None => Ok(ClockState::default()),
    }
}

pub(crate) async fn set_clock(conn: &mut Conn, state: &ClockState) -> Result<(), TxError> {
    conn.execute(
        "INSERT INTO emulator_clock (id, offset_ms, frozen_at_ms) VALUES (1, $1, $2)
         ON CONFLICT (id) DO UPDATE SET offset_ms = excluded.offset_ms, frozen_at_ms = excluded.frozen_at_ms",
        &[&state.offset_ms, &state.frozen_at_ms],
    )
    .await?;
    Ok(())
}

/// Deletes the rows of `scope`, in the caller's transaction.
pub(crate) async fn reset(conn: &mut Conn, scope: &ResetScope) -> Result<(), TxError> {
    for table in TABLES.iter().rev() {
        if table.name == "apps" && scope.keep_apps {
            continue;
        }
        match &scope.appid {
            Some(appid) => {
                let sql = format!("DELETE FROM {} WHERE appid = $1", table.sql);
                conn.client.execute(sql.as_str(), &[appid]).await?;
            }
            None => {
                let sql = format!("DELETE FROM {}", table.sql);
                conn.client.execute(sql.as_str(), &[]).await?;
            }
        }
    }
    Ok(())
}

/// Replaces every row with the document's, in the caller's transaction; the id generators
/// of the journal and of the pushes then continue after their highest ids.
pub(crate) async fn replace(conn: &mut Conn, doc: &StateDoc) -> Result<(), TxError> {
    reset(
        conn,
        &ResetScope {
            appid: None,
            keep_apps: false,
        },
    )
    .await?;
    for (table, rows) in TABLES.iter().zip(&doc.tables) {
        if rows.is_empty() {
            continue;
        }
        let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
        let marks: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            table.sql,
            names.join(", "),
            marks.join(", ")
        );
        let insert = conn.client.prepare(&sql).await?;
        for row in rows {
            let values: Vec<Box<dyn ToSql + Sync + Send>> = row
                .iter()
                .zip(table.columns)
                .map(|(cell, column)| to_sql(cell, column.ty))
                .collect();
            let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref() as &(dyn ToSql + Sync)).collect();
            conn.client.execute(&insert, &params).await?;
        }
    }
    conn.simple(
        "SELECT setval(pg_get_serial_sequence('journal', 'id'), COALESCE((SELECT MAX(id) FROM journal), 0) + 1, false);
         SELECT setval(pg_get_serial_sequence('pushes', 'id'), COALESCE((SELECT MAX(id) FROM pushes), 0) + 1, false)",
    )
    .await?;
    Ok(())
}

fn to_sql(cell: &Cell, ty: ColumnType) -> Box<dyn ToSql + Sync + Send> {
    match (cell, ty) {
        (Cell::Text(t), _) => Box::new(t.clone()),
        (Cell::Integer(i), _) => Box::new(*i),
        (Cell::Boolean(b), _) => Box::new(*b),
        // A null of the column's type, so the parameter's type matches the column's.
        (Cell::Null, ColumnType::Text) => Box::new(None::<String>),
        (Cell::Null, ColumnType::Integer) => Box::new(None::<i64>),
        (Cell::Null, ColumnType::Boolean) => Box::new(None::<bool>),
    }
}

/// Every row of every table, read in one snapshot.
pub(crate) async fn export(conn: &mut Conn) -> Result<StateDoc, TxError> {
    conn.simple("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
    let result = dump_all(conn).await;
    // A read-only transaction: ending it cannot lose anything.
    conn.simple(if result.is_ok() { "COMMIT" } else { "ROLLBACK" }).await?;
    let mut doc = result?;
    doc.sort();
    Ok(doc)
}

async fn dump_all(conn: &mut Conn) -> Result<StateDoc, TxError> {
    let mut doc = StateDoc::default();
    let mut total = 0usize;
    for (table, rows) in TABLES.iter().zip(&mut doc.tables) {
        *rows = dump(conn, table, &mut total).await?;
    }
    Ok(doc)
}

async fn dump(conn: &mut Conn, table: &Table, total: &mut usize) -> Result<Vec<Vec<Cell>>, TxError> {
    let names: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
    let sql = format!("SELECT {} FROM {}", names.join(", "), table.sql);
    let rows = conn.client.query(sql.as_str(), &[]).await?;
    *total += rows.len();
    if *total > MAX_STATE_ROWS {
        return Err(TxError::Corrupt(format!(
            "the state has more than {MAX_STATE_ROWS} rows: too large to export"
        )));
    }
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut cells = Vec::with_capacity(table.columns.len());
        for (i, column) in table.columns.iter().enumerate() {
            cells.push(match column.ty {
                ColumnType::Text => row.try_get::<_, Option<String>>(i)?.map_or(Cell::Null, Cell::Text),
                ColumnType::Integer => row.try_get::<_, Option<i64>>(i)?.map_or(Cell::Null, Cell::Integer),
                ColumnType::Boolean => row.try_get::<_, Option<bool>>(i)?.map_or(Cell::Null, Cell::Boolean),
            });
        }
        out.push(cells);
    }
    Ok(out)
}

//! Pages of a table with a filter (the units of one address), read in chunks so a page costs
//! what it shows plus what it skips, never the whole table at once.

use serde::de::DeserializeOwned;

use crate::store::{ReadTx, StoreError, Table};

use super::Keyed;

/// Records read per step while looking for matches.
const CHUNK: usize = 256;

/// Up to `limit` records of `table` with keys after `after` that `keep` accepts, in key
/// order, with their keys.
pub fn filtered<V: DeserializeOwned>(
    tx: &ReadTx,
    table: Table,
    after: Option<&str>,
    limit: usize,
    keep: impl Fn(&V) -> bool,
) -> Result<Keyed<V>, StoreError> {
    let mut found = Vec::new();
    let mut cursor = after.map(str::to_owned);
    while found.len() < limit {
        let chunk: Keyed<V> = tx.page(table, cursor.as_deref(), CHUNK)?;
        let exhausted = chunk.len() < CHUNK;
        cursor = chunk.last().map(|(key, _)| key.clone());
        found.extend(chunk.into_iter().filter(|(_, value)| keep(value)));
        if exhausted {
            break;
        }
    }
    found.truncate(limit);
    Ok(found)
}

//! Region splits through the master: a whole table, the region holding a row, or one
//! region by id, at a given row or each region's middle row (HBase's `split`).
//!
//! A split is not idempotent (a second one splits the daughters), so it is retried
//! only when the master provably did not run it. Afterwards the table's cached
//! locations are dropped and the daughters learned.

use bytes::Bytes;
use strata_proto::v1 as pb;

use super::Admin;
use crate::connection::request;
use crate::error::{Error, Result};
use crate::location::RegionInfo;
use crate::retry::Idempotency;

impl Admin {
    /// Splits `table`: with `split_row`, the region holding it at that row; without,
    /// every region at its middle row (regions too small to split are skipped). Returns
    /// the daughters in row order.
    pub async fn split(&self, table: &str, split_row: Option<Bytes>) -> Result<Vec<RegionInfo>> {
        if table.is_empty() {
            return Err(Error::InvalidArgument("split needs a table name".into()));
        }
        self.split_call(table, "", split_row).await
    }

    /// Splits one region, named by its id (looked up in every table), at `split_row`
    /// or its middle row. Returns the two daughters.
    pub async fn split_region(
        &self,
        region_id: &str,
        split_row: Option<Bytes>,
    ) -> Result<Vec<RegionInfo>> {
        if region_id.is_empty() {
            return Err(Error::InvalidArgument("split needs a region id".into()));
        }
        self.split_call("", region_id, split_row).await
    }

    async fn split_call(
        &self,
        table: &str,
        region_id: &str,
        split_row: Option<Bytes>,
    ) -> Result<Vec<RegionInfo>> {
        if split_row.as_ref().is_some_and(Bytes::is_empty) {
            return Err(Error::InvalidArgument(
                "the split row is empty (it must be above the region's start row)".into(),
            ));
        }
        let message = pb::SplitRegionRequest {
            table: table.into(),
            region_id: region_id.into(),
            split_row,
        };
        let config = self.inner.config.for_admin_work();
        let daughters = self
            .master_call(&config, Idempotency::AtMostOnce, "split", |mut m, t| {
                let message = message.clone();
                async move {
                    Ok(m.split_region(request(message, t))
                        .await?
                        .into_inner()
                        .daughters)
                }
            })
            .await?;
        let daughters: Vec<RegionInfo> = daughters.into_iter().map(RegionInfo::from).collect();
        for d in &daughters {
            self.inner.locations.invalidate_table(&d.table);
        }
        self.inner.learn(&daughters);
        Ok(daughters)
    }
}

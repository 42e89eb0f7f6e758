//! YCSB's `CoreWorkload`: turns properties into generators and runs one load insert or
//! one transaction against a [`Store`], recording each operation's latency.
//!
//! Properties read (YCSB's names and defaults): `table` (usertable), `recordcount`,
//! `operationcount`, `fieldcount` (10), `fieldnameprefix` (field), `fieldlength` (100),
//! `minfieldlength` (1), `fieldlengthdistribution` (constant | uniform | zipfian),
//! `readallfields` (true), `writeallfields` (false), `readproportion` (0.95),
//! `updateproportion` (0.05), `insertproportion` (0), `scanproportion` (0),
//! `readmodifywriteproportion` (0), `requestdistribution` (uniform | zipfian | latest |
//! hotspot | exponential | sequential), `minscanlength` (1), `maxscanlength` (1000),
//! `scanlengthdistribution` (uniform | zipfian), `insertorder` (hashed | ordered),
//! `insertstart` (0), `insertcount` (recordcount), `zeropadding` (1),
//! `hotspotdatafraction` (0.2), `hotspotopnfraction` (0.8), `exponential.percentile`
//! (95), `exponential.frac` (0.8571428571).
//!
//! Latency: a transaction's first operation is timed from the transaction's intended
//! start (with `--target`, when the pacer scheduled it; otherwise when it began), so
//! queueing behind a slow store is counted; the update of a read-modify-write is timed
//! from its own start, and `READ-MODIFY-WRITE` covers both from the intended start.

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{anyhow, bail};
use bytes::Bytes;
use tokio::time::Instant;

use super::generator::{
    AcknowledgedCounter, Counter, Discrete, Exponential, Hotspot, Rng, ScrambledZipfian,
    SkewedLatest, Uniform, ZIPFIAN_CONSTANT, Zipfian, key_name,
};
use super::measure::{Measurements, OpKind};
use super::properties::Properties;
use super::store::{Record, Store, StoreError};

/// Largest record count accepted (keeps generators' arithmetic far from overflow).
pub const MAX_RECORD_COUNT: u64 = 1 << 40;
/// Largest field count accepted.
pub const MAX_FIELD_COUNT: usize = 1000;
/// Largest field length accepted, bytes.
pub const MAX_FIELD_LENGTH: u64 = 1 << 20;
/// Largest scan length accepted.
pub const MAX_SCAN_LENGTH: u64 = 100_000;
/// Redraws of a key beyond the acknowledged inserts before the draw is clamped.
const MAX_KEY_REDRAWS: usize = 1000;

enum FieldLength {
    Constant(u64),
    Uniform(Uniform),
    Zipfian(Zipfian),
}

enum KeyChooser {
    Uniform(Uniform),
    Zipfian(ScrambledZipfian),
    Latest(SkewedLatest),
    Hotspot(Hotspot),
    Exponential(Exponential),
    Sequential {
        start: u64,
        count: u64,
        next: AtomicU64,
    },
}

enum ScanLength {
    Uniform(Uniform),
    Zipfian(Zipfian),
}

/// The core workload: its settings and generators, shared by all workers.
pub struct CoreWorkload {
    /// Table name.
    pub table: String,
    /// Records loaded by the load phase (`recordcount`).
    pub record_count: u64,
    /// Transactions of the run phase (`operationcount`).
    pub operation_count: u64,
    /// First key number the load phase inserts (`insertstart`).
    pub insert_start: u64,
    /// Records this load inserts (`insertcount`).
    pub insert_count: u64,
    field_names: Vec<String>,
    field_length: FieldLength,
    read_all_fields: bool,
    write_all_fields: bool,
    ordered: bool,
    zero_padding: usize,
    key_sequence: Counter,
    op_chooser: Discrete<OpKind>,
    key_chooser: KeyChooser,
    insert_sequence: AcknowledgedCounter,
    scan_length: ScanLength,
}

fn proportion(p: &Properties, key: &str, default: f64) -> anyhow::Result<f64> {
    let v: f64 = p.parse(key, default)?;
    if !(0.0..=1.0).contains(&v) {
        bail!("property {key}={v} must be between 0 and 1");
    }
    Ok(v)
}

impl CoreWorkload {
    /// Builds the workload from `p`, checking every limit.
    pub fn new(p: &Properties) -> anyhow::Result<CoreWorkload> {
        let record_count: u64 = p.parse("recordcount", 0)?;
        if record_count > MAX_RECORD_COUNT {
            bail!("recordcount={record_count} is over the limit {MAX_RECORD_COUNT}");
        }
        let operation_count: u64 = p.parse("operationcount", 0)?;
        let insert_start: u64 = p.parse("insertstart", 0)?;
        let insert_count: u64 =
            p.parse("insertcount", record_count.saturating_sub(insert_start))?;
        let field_count: usize = p.parse("fieldcount", 10)?;
        if field_count == 0 || field_count > MAX_FIELD_COUNT {
            bail!("fieldcount={field_count} must be between 1 and {MAX_FIELD_COUNT}");
        }
        let prefix = p.string("fieldnameprefix", "field");
        let field_names = (0..field_count).map(|i| format!("{prefix}{i}")).collect();
        let max_len: u64 = p.parse("fieldlength", 100)?;
        let min_len: u64 = p.parse("minfieldlength", 1)?;
        if max_len > MAX_FIELD_LENGTH || min_len > max_len {
            bail!(
                "fieldlength={max_len} (minfieldlength={min_len}) must be at most {MAX_FIELD_LENGTH} and at least minfieldlength"
            );
        }
        let field_length = match p.string("fieldlengthdistribution", "constant").as_str() {
            "constant" => FieldLength::Constant(max_len),
            "uniform" => FieldLength::Uniform(Uniform::new(min_len, max_len)),
            "zipfian" => FieldLength::Zipfian(Zipfian::new(min_len, max_len, ZIPFIAN_CONSTANT)),
            other => bail!(
                "fieldlengthdistribution={other:?} is not supported: use constant, uniform or zipfian"
            ),
        };
        let op_chooser = Discrete::new(vec![
            (proportion(p, "readproportion", 0.95)?, OpKind::Read),
            (proportion(p, "updateproportion", 0.05)?, OpKind::Update),
            (proportion(p, "insertproportion", 0.0)?, OpKind::Insert),
            (proportion(p, "scanproportion", 0.0)?, OpKind::Scan),
            (
                proportion(p, "readmodifywriteproportion", 0.0)?,
                OpKind::ReadModifyWrite,
            ),
        ]);
        if op_chooser.is_empty() {
            bail!("every operation proportion is 0: nothing to run");
        }
        let insert_proportion = proportion(p, "insertproportion", 0.0)?;
        let ordered = match p.string("insertorder", "hashed").as_str() {
            "hashed" => false,
            "ordered" => true,
            other => bail!("insertorder={other:?}: use hashed or ordered"),
        };
        let insert_sequence = AcknowledgedCounter::new(record_count);
        let last = (insert_start + insert_count).max(1) - 1;
        let key_chooser = match p.string("requestdistribution", "uniform").as_str() {
            "uniform" => KeyChooser::Uniform(Uniform::new(insert_start, last)),
            "zipfian" => {
                // As YCSB: leave room for the keys this run will insert.
                let expected_new = (operation_count as f64 * insert_proportion * 2.0) as u64;
                KeyChooser::Zipfian(ScrambledZipfian::new(
                    insert_start,
                    insert_start + insert_count + expected_new,
                ))
            }
            "latest" => KeyChooser::Latest(SkewedLatest::new(&insert_sequence)),
            "hotspot" => KeyChooser::Hotspot(Hotspot::new(
                insert_start,
                last,
                p.parse("hotspotdatafraction", 0.2)?,
                p.parse("hotspotopnfraction", 0.8)?,
            )),
            "exponential" => {
                let percentile: f64 = p.parse("exponential.percentile", 95.0)?;
                let frac: f64 = p.parse("exponential.frac", 0.857_142_857_1)?;
                KeyChooser::Exponential(Exponential::new(percentile, insert_count as f64 * frac))
            }
            "sequential" => KeyChooser::Sequential {
                start: insert_start,
                count: insert_count.max(1),
                next: AtomicU64::new(0),
            },
            other => bail!(
                "requestdistribution={other:?}: use uniform, zipfian, latest, hotspot, exponential or sequential"
            ),
        };
        let min_scan: u64 = p.parse("minscanlength", 1)?;
        let max_scan: u64 = p.parse("maxscanlength", 1000)?;
        if min_scan == 0 || min_scan > max_scan || max_scan > MAX_SCAN_LENGTH {
            bail!(
                "minscanlength={min_scan}, maxscanlength={max_scan}: need 1 <= min <= max <= {MAX_SCAN_LENGTH}"
            );
        }
        let scan_length = match p.string("scanlengthdistribution", "uniform").as_str() {
            "uniform" => ScanLength::Uniform(Uniform::new(min_scan, max_scan)),
            "zipfian" => ScanLength::Zipfian(Zipfian::new(min_scan, max_scan, ZIPFIAN_CONSTANT)),
            other => bail!("scanlengthdistribution={other:?}: use uniform or zipfian"),
        };
        Ok(CoreWorkload {
            table: p.string("table", "usertable"),
            record_count,
            operation_count,
            insert_start,
            insert_count,
            field_names,
            field_length,
            read_all_fields: p.parse("readallfields", true)?,
            write_all_fields: p.parse("writeallfields", false)?,
            ordered,
            zero_padding: p.parse("zeropadding", 1)?,
            key_sequence: Counter::new(insert_start),
            op_chooser,
            key_chooser,
            insert_sequence,
            scan_length,
        })
    }

    /// The key of key number `n`.
    pub fn key(&self, n: u64) -> String {
        key_name(n, self.ordered, self.zero_padding)
    }

    /// The field names (`field0`, ...).
    pub fn field_names(&self) -> &[String] {
        &self.field_names
    }

    fn field_length(&self, rng: &mut Rng) -> usize {
        match &self.field_length {
            FieldLength::Constant(n) => *n as usize,
            FieldLength::Uniform(u) => u.next(rng) as usize,
            FieldLength::Zipfian(z) => z.next(rng) as usize,
        }
    }

    /// A random printable-ASCII value for one field.
    fn value(&self, rng: &mut Rng) -> Bytes {
        let len = self.field_length(rng);
        let mut v = Vec::with_capacity(len);
        while v.len() < len {
            let mut bits = rng.next_u64();
            for _ in 0..8 {
                if v.len() == len {
                    break;
                }
                // 95 printable characters from ' ' to '~'.
                v.push(b' ' + ((bits & 0xff) % 95) as u8);
                bits >>= 8;
            }
        }
        Bytes::from(v)
    }

    fn all_values(&self, rng: &mut Rng) -> Record {
        self.field_names
            .iter()
            .map(|f| (f.clone(), self.value(rng)))
            .collect()
    }

    fn update_values(&self, rng: &mut Rng) -> Record {
        if self.write_all_fields {
            self.all_values(rng)
        } else {
            let f = &self.field_names[rng.below(self.field_names.len() as u64) as usize];
            vec![(f.clone(), self.value(rng))]
        }
    }

    fn read_fields(&self, rng: &mut Rng) -> Option<Vec<String>> {
        if self.read_all_fields {
            None
        } else {
            let f = &self.field_names[rng.below(self.field_names.len() as u64) as usize];
            Some(vec![f.clone()])
        }
    }

    /// YCSB's `nextKeynum`: a key number that has been inserted and acknowledged.
    pub fn next_keynum(&self, rng: &mut Rng) -> u64 {
        let last = self.insert_sequence.last();
        match &self.key_chooser {
            KeyChooser::Exponential(e) => {
                for _ in 0..MAX_KEY_REDRAWS {
                    if let Some(k) = last.checked_sub(e.next(rng)) {
                        return k;
                    }
                }
                last
            }
            KeyChooser::Latest(l) => l.next(rng, &self.insert_sequence),
            chooser => {
                for _ in 0..MAX_KEY_REDRAWS {
                    let k = match chooser {
                        KeyChooser::Uniform(u) => u.next(rng),
                        KeyChooser::Zipfian(z) => z.next(rng),
                        KeyChooser::Hotspot(h) => h.next(rng),
                        KeyChooser::Sequential { start, count, next } => {
                            start + next.fetch_add(1, Ordering::Relaxed) % count
                        }
                        KeyChooser::Exponential(_) | KeyChooser::Latest(_) => last,
                    };
                    if k <= last {
                        return k;
                    }
                }
                last
            }
        }
    }

    /// The next scan length.
    pub fn next_scan_length(&self, rng: &mut Rng) -> usize {
        match &self.scan_length {
            ScanLength::Uniform(u) => u.next(rng) as usize,
            ScanLength::Zipfian(z) => z.next(rng) as usize,
        }
    }

    /// The load phase's next insert (YCSB's `doInsert`), timed from `intended`.
    pub async fn do_insert<S: Store>(
        &self,
        store: &S,
        rng: &mut Rng,
        m: &Measurements,
        intended: Instant,
    ) -> bool {
        let key = self.key(self.key_sequence.next());
        let values = self.all_values(rng);
        let r = store.insert(&self.table, &key, &values).await;
        m.record(OpKind::Insert, intended, r.as_ref().err())
    }

    /// One transaction of the run phase (YCSB's `doTransaction`), timed from
    /// `intended`. Returns its kind and whether it succeeded.
    pub async fn do_transaction<S: Store>(
        &self,
        store: &S,
        rng: &mut Rng,
        m: &Measurements,
        intended: Instant,
    ) -> anyhow::Result<(OpKind, bool)> {
        let kind = self
            .op_chooser
            .next(rng)
            .ok_or_else(|| anyhow!("no operation to choose"))?;
        let ok = match kind {
            OpKind::Read => {
                let key = self.key(self.next_keynum(rng));
                let fields = self.read_fields(rng);
                let r = store.read(&self.table, &key, fields.as_deref()).await;
                m.record(OpKind::Read, intended, r.as_ref().err())
            }
            OpKind::Update => {
                let key = self.key(self.next_keynum(rng));
                let values = self.update_values(rng);
                let r = store.update(&self.table, &key, &values).await;
                m.record(OpKind::Update, intended, r.as_ref().err())
            }
            OpKind::Insert => {
                let n = self.insert_sequence.next();
                let key = self.key(n);
                let values = self.all_values(rng);
                let r = store.insert(&self.table, &key, &values).await;
                self.insert_sequence.acknowledge(n);
                m.record(OpKind::Insert, intended, r.as_ref().err())
            }
            OpKind::Scan => {
                let key = self.key(self.next_keynum(rng));
                let len = self.next_scan_length(rng);
                let fields = self.read_fields(rng);
                let r = store.scan(&self.table, &key, len, fields.as_deref()).await;
                if let Ok(rows) = &r {
                    m.record_scan(len, rows.len());
                }
                m.record(OpKind::Scan, intended, r.as_ref().err())
            }
            OpKind::ReadModifyWrite => {
                let key = self.key(self.next_keynum(rng));
                let fields = self.read_fields(rng);
                let values = self.update_values(rng);
                let read = store.read(&self.table, &key, fields.as_deref()).await;
                let read_ok = m.record(OpKind::Read, intended, read.as_ref().err());
                let update_start = Instant::now();
                let update = store.update(&self.table, &key, &values).await;
                let update_ok = m.record(OpKind::Update, update_start, update.as_ref().err());
                let first_error: Option<&StoreError> =
                    read.as_ref().err().or(update.as_ref().err());
                m.record(OpKind::ReadModifyWrite, intended, first_error) && read_ok && update_ok
            }
            OpKind::Delete => bail!("the core workload does not choose deletes"),
        };
        Ok((kind, ok))
    }
}

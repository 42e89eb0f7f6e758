//! Redis as a YCSB [`Store`], mapped as YCSB's Redis binding maps it: one hash per record
//! (`HSET key field value ...`; reads `HGETALL` or `HMGET`), and a sorted set `_indices`
//! scoring each key by Java's `String.hashCode` of the key, so a scan is `ZRANGEBYSCORE
//! _indices hash(start) +inf LIMIT 0 count` followed by reading each record. Unlike the
//! binding, the scan's record reads go out as one pipeline (one round trip, not `count`).
//! A scan in Redis therefore walks keys in hash order, not key order: the same number of
//! records, not the same records, as Strata's.
//!
//! Each worker opens its own connection (as each YCSB thread opens its own Jedis), so
//! Redis sees `threads` connections with one request in flight each.
//! [`RedisServer`] starts Debian's `redis-server` on a free loopback port with
//! persistence off (`--save '' --appendonly no`): a write is a memory write.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use redis::aio::MultiplexedConnection;

use super::store::{Record, Store, StoreError, StoreResult};

/// The sorted set indexing the keys (YCSB's `INDEX_KEY`).
pub const INDEX_KEY: &str = "_indices";
/// How long a Redis reply may take before the call fails with `TIMEOUT`. The client
/// crate's default (500 ms) is shorter than the stalls a shared 2-core machine shows;
/// this matches the order of Strata's client deadlines.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

fn connection_config() -> redis::AsyncConnectionConfig {
    redis::AsyncConnectionConfig::new()
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_connection_timeout(Some(RESPONSE_TIMEOUT))
}

/// Java's `String.hashCode`: `h = 31 * h + c` over the UTF-16 units, wrapping.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// A `redis-server` child process on a free loopback port; killed when dropped.
pub struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// CPU time the `redis-server` process has used (user + system, from
    /// `/proc/<pid>/stat`), or `None` if it cannot be read.
    pub fn cpu_time(&self) -> Option<std::time::Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields after the parenthesised command name; utime and stime are the 14th and
        // 15th fields of the whole line.
        let rest = stat.rsplit_once(')')?.1;
        let mut fields = rest.split_whitespace().skip(11);
        let utime: u64 = fields.next()?.parse().ok()?;
        let stime: u64 = fields.next()?.parse().ok()?;
        // SAFETY: sysconf has no preconditions.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let ticks = u64::try_from(ticks).ok().filter(|&t| t > 0)?;
        Some(std::time::Duration::from_micros(
            (utime + stime) * 1_000_000 / ticks,
        ))
    }

    /// Starts `redis-server` without persistence and waits (at most 10 s) until it
    /// accepts connections.
    pub fn start() -> anyhow::Result<RedisServer> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot run redis-server (apt-get install -y redis-server)")?;
        let server = RedisServer { child, port };
        let t = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if t.elapsed() > Duration::from_secs(10) {
                bail!("redis-server did not listen on port {port} within 10 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A Redis connection as a YCSB store.
#[derive(Clone)]
pub struct RedisStore {
    client: redis::Client,
    conn: MultiplexedConnection,
}

fn error(e: redis::RedisError) -> StoreError {
    let code = if e.is_timeout() {
        "TIMEOUT"
    } else if e.is_io_error() || e.is_connection_dropped() {
        "IO"
    } else {
        "ERROR"
    };
    StoreError::new(code, e.to_string())
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port/`).
    pub async fn connect(url: &str) -> anyhow::Result<RedisStore> {
        let client = redis::Client::open(url)?;
        let conn = client
            .get_multiplexed_async_connection_with_config(&connection_config())
            .await?;
        Ok(RedisStore { client, conn })
    }

    /// Deletes every key (`FLUSHALL`).
    pub async fn flush_all(&self) -> anyhow::Result<()> {
        let mut conn = self.conn.clone();
        redis::cmd("FLUSHALL").query_async::<()>(&mut conn).await?;
        Ok(())
    }

    async fn hset(&self, key: &str, values: &Record) -> StoreResult<()> {
        let mut cmd = redis::cmd("HSET");
        cmd.arg(key);
        for (f, v) in values {
            cmd.arg(f.as_str()).arg(&v[..]);
        }
        let mut conn = self.conn.clone();
        cmd.query_async::<()>(&mut conn).await.map_err(error)
    }
}

fn hgetall_record(pairs: Vec<(String, Vec<u8>)>) -> Record {
    pairs
        .into_iter()
        .map(|(f, v)| (f, Bytes::from(v)))
        .collect()
}

impl Store for RedisStore {
    fn name(&self) -> &str {
        "redis"
    }

    async fn worker(&self) -> StoreResult<RedisStore> {
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&connection_config())
            .await
            .map_err(error)?;
        Ok(RedisStore {
            client: self.client.clone(),
            conn,
        })
    }

    async fn read(
        &self,
        _table: &str,
        key: &str,
        fields: Option<&[String]>,
    ) -> StoreResult<Record> {
        let mut conn = self.conn.clone();
        let record = match fields {
            None => {
                let pairs: Vec<(String, Vec<u8>)> = redis::cmd("HGETALL")
                    .arg(key)
                    .query_async(&mut conn)
                    .await
                    .map_err(error)?;
                hgetall_record(pairs)
            }
            Some(fields) => {
                let values: Vec<Option<Vec<u8>>> = redis::cmd("HMGET")
                    .arg(key)
                    .arg(fields)
                    .query_async(&mut conn)
                    .await
                    .map_err(error)?;
                fields
                    .iter()
                    .zip(values)
                    .filter_map(|(f, v)| Some((f.clone(), Bytes::from(v?))))
                    .collect()
            }
        };
        if record.is_empty() {
            return Err(StoreError::not_found(key));
        }
        Ok(record)
    }

    async fn scan(
        &self,
        _table: &str,
        start_key: &str,
        count: usize,
        fields: Option<&[String]>,
    ) -> StoreResult<Vec<(String, Record)>> {
        let mut conn = self.conn.clone();
        let keys: Vec<String> = redis::cmd("ZRANGEBYSCORE")
            .arg(INDEX_KEY)
            .arg(java_string_hash(start_key))
            .arg("+inf")
            .arg("LIMIT")
            .arg(0)
            .arg(count)
            .query_async(&mut conn)
            .await
            .map_err(error)?;
        let mut pipe = redis::pipe();
        for k in &keys {
            match fields {
                None => pipe.cmd("HGETALL").arg(k),
                Some(f) => pipe.cmd("HMGET").arg(k).arg(f),
            };
        }
        let records = match fields {
            None => {
                let all: Vec<Vec<(String, Vec<u8>)>> =
                    pipe.query_async(&mut conn).await.map_err(error)?;
                all.into_iter().map(hgetall_record).collect::<Vec<_>>()
            }
            Some(f) => {
                let all: Vec<Vec<Option<Vec<u8>>>> =
                    pipe.query_async(&mut conn).await.map_err(error)?;
                all.into_iter()
                    .map(|values| {
                        f.iter()
                            .zip(values)
                            .filter_map(|(f, v)| Some((f.clone(), Bytes::from(v?))))
                            .collect()
                    })
                    .collect()
            }
        };
        Ok(keys.into_iter().zip(records).collect())
    }

    async fn update(&self, _table: &str, key: &str, values: &Record) -> StoreResult<()> {
        self.hset(key, values).await
    }

    async fn insert(&self, _table: &str, key: &str, values: &Record) -> StoreResult<()> {
        self.hset(key, values).await?;
        let mut conn = self.conn.clone();
        redis::cmd("ZADD")
            .arg(INDEX_KEY)
            .arg(java_string_hash(key))
            .arg(key)
            .query_async::<()>(&mut conn)
            .await
            .map_err(error)
    }

    async fn delete(&self, _table: &str, key: &str) -> StoreResult<()> {
        let mut conn = self.conn.clone();
        redis::pipe()
            .cmd("DEL")
            .arg(key)
            .cmd("ZREM")
            .arg(INDEX_KEY)
            .arg(key)
            .query_async::<()>(&mut conn)
            .await
            .map_err(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_hash_matches_known_values() {
        // "hello".hashCode() == 99162322 and "".hashCode() == 0 in Java.
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash(""), 0);
        // Overflow wraps as Java's int does.
        assert_eq!(java_string_hash("polygenelubricants"), i32::MIN);
    }
}

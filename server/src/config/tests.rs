use super::*;

fn sets(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| s.to_string()).collect()
}

#[test]
fn defaults_validate_and_have_sources() {
    let c = ServerConfig::from_parts(None, &[]).unwrap();
    assert_eq!(c.server, ServerSection::default());
    assert_eq!(c.engine, EngineOptions::default());
    assert_eq!(c.sources["server.listen"], ConfigSource::Default);
    assert_eq!(c.sources["server.memory_limit"], ConfigSource::Default);
    assert_eq!(c.sources["memstore.flush_size"], ConfigSource::Default);
}

#[test]
fn file_and_set_merge_with_sources() {
    let file = r#"
        [server]
        listen = "127.0.0.1:7000"
        memory_limit = "4GiB"
        max_inflight = 8
        queue_timeout = "250ms"
        [memstore]
        flush_size = "32MiB"
    "#;
    let c = ServerConfig::from_parts(
        Some(file),
        &sets(&[
            "memstore.flush_size=64MiB",
            "server.listen=127.0.0.1:0",
            "server.runtime=current_thread",
            "flush_threads=3",
        ]),
    )
    .unwrap();
    assert_eq!(c.server.listen.port(), 0);
    assert_eq!(c.server.max_inflight, 8);
    assert_eq!(c.server.queue_timeout, Duration::from_millis(250));
    assert_eq!(c.server.runtime, RuntimeKind::CurrentThread);
    assert_eq!(c.engine.server.memory_limit, ByteSize::gib(4));
    assert_eq!(c.engine.memstore.flush_size, ByteSize::mib(64));
    assert_eq!(c.engine.flush_threads, 3);
    assert_eq!(c.sources["memstore.flush_size"], ConfigSource::Set);
    assert_eq!(c.sources["server.memory_limit"], ConfigSource::File);
    assert_eq!(c.sources["server.max_inflight"], ConfigSource::File);
    assert_eq!(c.sources["server.max_queue"], ConfigSource::Default);
}

#[test]
fn unknown_keys_are_named() {
    for (file, set, want) in [
        ("[server]\nlisten_port = 1\n", vec![], "server.listen_port"),
        ("[memstore]\nflush = 1\n", vec![], "memstore.flush"),
        ("bogus = 1\n", vec![], "bogus"),
        ("", vec!["wal.durabilty=fsync"], "wal.durabilty"),
    ] {
        let e = ServerConfig::from_parts(Some(file), &sets(&set))
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{want}: {e}");
    }
}

#[test]
fn optional_engine_keys_are_known() {
    let c = ServerConfig::from_parts(
        None,
        &sets(&[
            "memstore.global_high=700MiB",
            "compaction.offpeak_hours=1-5",
            "server.advertise=http://db1:16020",
        ]),
    )
    .unwrap();
    assert_eq!(c.engine.memstore.global_high, Some(ByteSize::mib(700)));
    assert_eq!(c.engine.compaction.offpeak_hours.as_deref(), Some("1-5"));
}

#[test]
fn bad_values_name_the_key() {
    for (set, want) in [
        ("server.max_inflight=0", "server.max_inflight"),
        ("server.max_message_size=1k", "server.max_message_size"),
        ("server.queue_timeout=5m", "server.queue_timeout"),
        ("server.listen=nonsense", "[server]"),
        ("memstore.flush_size=lots", "lots"),
        ("compaction.min_files=1", "compaction.min_files"),
        ("server.advertise=db1:16020", "server.advertise"),
        ("no_equals_sign", "key=value"),
        ("region.max_size=1KiB", "region.max_size"),
        (
            "region.split_check_interval=1ms",
            "region.split_check_interval",
        ),
        ("region.max_filesize=1GiB", "region.max_filesize"),
    ] {
        let e = ServerConfig::from_parts(None, &sets(&[set]))
            .unwrap_err()
            .to_string();
        assert!(e.contains(want), "{set}: {e}");
    }
}

#[test]
fn memory_budget_names_both_keys() {
    let e = ServerConfig::from_parts(
        None,
        &sets(&["server.memory_limit=1GiB", "block_cache.size=700MiB"]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("block_cache.size") && e.contains("memstore.global_high"),
        "{e}"
    );
}

#[test]
fn set_values_parse_as_toml_or_strings() {
    assert_eq!(
        parse_set("a.b=12").unwrap(),
        ("a.b".into(), toml::Value::Integer(12))
    );
    assert_eq!(
        parse_set("a = true").unwrap(),
        ("a".into(), toml::Value::Boolean(true))
    );
    assert_eq!(
        parse_set("x=64MiB").unwrap().1,
        toml::Value::String("64MiB".into())
    );
    assert_eq!(
        parse_set("x=\"q=1\"").unwrap().1,
        toml::Value::String("q=1".into())
    );
    assert!(parse_set("=1").is_err());
    assert!(parse_set("a..b=1").is_err());
}

#[test]
fn region_split_keys_have_hbase_defaults_and_parse() {
    let c = ServerConfig::from_parts(None, &[]).unwrap();
    assert_eq!(c.engine.region.max_size, ByteSize::gib(10));
    let c = ServerConfig::from_parts(
        None,
        &sets(&["region.max_size=64MiB", "region.split_check_interval=250ms"]),
    )
    .unwrap();
    assert_eq!(c.engine.region.max_size, ByteSize::mib(64));
    assert_eq!(
        c.engine.region.split_check_interval,
        std::time::Duration::from_millis(250)
    );
}

#[test]
fn status_and_slow_log_keys() {
    let d = ServerConfig::default();
    assert_eq!(d.server.status_listen.port(), 16030);
    assert_eq!(d.server.slow_request_threshold, Duration::from_millis(100));
    assert_eq!(d.server.slow_log_entries, 256);
    assert_eq!(d.server.stats_interval, Duration::from_secs(300));
    let sets = [
        "server.status_listen=127.0.0.1:0".to_string(),
        "server.slow_request_threshold=250ms".to_string(),
        "server.stats_interval=0s".to_string(),
    ];
    let c = ServerConfig::from_parts(None, &sets).unwrap();
    assert_eq!(c.server.status_listen.port(), 0);
    assert_eq!(c.server.slow_request_threshold, Duration::from_millis(250));
    assert!(c.server.stats_interval.is_zero());
    assert_eq!(c.sources["server.status_listen"], ConfigSource::Set);
    for (set, named) in [
        ("server.slow_log_entries=100001", "server.slow_log_entries"),
        ("server.stats_interval=500ms", "server.stats_interval"),
        (
            "server.status_listen=127.0.0.1:16020",
            "server.status_listen",
        ),
    ] {
        let e = ServerConfig::from_parts(None, &[set.to_string()])
            .unwrap_err()
            .to_string();
        assert!(e.contains(named), "{set}: {e}");
    }
}

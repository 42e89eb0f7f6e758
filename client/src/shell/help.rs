//! The shell's command reference: one entry per command, used by `help` and by usage
//! errors.

/// A command's name, usage line and one-line description.
pub struct CommandHelp {
    /// The command.
    pub name: &'static str,
    /// How to call it.
    pub usage: &'static str,
    /// What it does.
    pub about: &'static str,
}

const fn entry(name: &'static str, usage: &'static str, about: &'static str) -> CommandHelp {
    CommandHelp { name, usage, about }
}

/// Every command, grouped as in HBase's shell.
pub const COMMANDS: &[CommandHelp] = &[
    entry(
        "create",
        "create 'table', 'family', ... | create 'table', {NAME => 'f', VERSIONS => 3, TTL => 86400, \
         BLOOMFILTER => 'ROWCOL', COMPRESSION => 'LZ4', BLOCKSIZE => 65536, IN_MEMORY => true, \
         PREFETCH_BLOCKS_ON_OPEN => true, MIN_VERSIONS => 1}, ..., SPLITS => ['g', 'n'] | NUMREGIONS => 12, SPLITALGO => 'HexStringSplit'",
        "create a table with its column families, optionally pre-split",
    ),
    entry(
        "list",
        "list ['regex']",
        "list tables, optionally matching a pattern ('.*' and '*' as wildcards)",
    ),
    entry(
        "describe",
        "describe 'table'",
        "show a table's state, families and regions (alias: desc)",
    ),
    entry("exists", "exists 'table'", "tell whether a table exists"),
    entry(
        "is_enabled",
        "is_enabled 'table'",
        "tell whether a table is enabled",
    ),
    entry("disable", "disable 'table'", "take a table offline"),
    entry("enable", "enable 'table'", "bring a disabled table online"),
    entry(
        "drop",
        "drop 'table'",
        "delete a disabled table and its data",
    ),
    entry(
        "truncate",
        "truncate 'table'",
        "disable, drop and re-create a table with the same schema and splits",
    ),
    entry(
        "put",
        "put 'table', 'row', 'family:qualifier', 'value' [, timestamp]",
        "write a cell",
    ),
    entry(
        "get",
        "get 'table', 'row' [, 'family:qualifier', ...] [, {COLUMN => 'f:q' | COLUMNS => ['f:q', 'f'], \
         VERSIONS => 3, TIMESTAMP => ts, TIMERANGE => [min, max]}]",
        "read a row",
    ),
    entry(
        "scan",
        "scan 'table' [, {STARTROW => 'a', STOPROW => 'm', ROWPREFIXFILTER => 'p', LIMIT => 10, \
         VERSIONS => 2, COLUMNS => ['f:q', 'f'], TIMERANGE => [min, max], CACHE => 100, \
         CACHE_BLOCKS => false}]",
        "read rows in key order",
    ),
    entry(
        "count",
        "count 'table' [, {STARTROW => 'a', STOPROW => 'm', CACHE => 1000}]",
        "count rows",
    ),
    entry(
        "delete",
        "delete 'table', 'row', 'family:qualifier' [, timestamp]",
        "delete every version of a column (at or before the timestamp); 'family' alone deletes the family",
    ),
    entry(
        "deleteall",
        "deleteall 'table', 'row' [, 'family:qualifier' [, timestamp]]",
        "delete a whole row (or one column or family of it)",
    ),
    entry(
        "incr",
        "incr 'table', 'row', 'family:qualifier' [, delta]",
        "add to an 8-byte counter (delta defaults to 1) and print the new value",
    ),
    entry(
        "get_counter",
        "get_counter 'table', 'row', 'family:qualifier'",
        "read a counter",
    ),
    entry(
        "flush",
        "flush 'table'",
        "flush every region's memstores to SSTables",
    ),
    entry(
        "compact",
        "compact 'table'",
        "run a minor compaction on every region",
    ),
    entry(
        "major_compact",
        "major_compact 'table'",
        "rewrite every region's files, dropping deleted and expired cells",
    ),
    entry(
        "split",
        "split 'table' | 'region_id' [, 'splitrow']",
        "split a table's regions (or one region) at their middle row, or at the given row",
    ),
    entry(
        "status",
        "status ['detailed']",
        "show the region servers and their regions ('detailed': the master's view with load)",
    ),
    entry(
        "list_regions",
        "list_regions ['table']  (also: scan 'meta')",
        "list every region: range, server, epoch, state",
    ),
    entry(
        "move",
        "move 'region'[, 'server']  (region: id or 'table,id')",
        "move a region (to a named server, else the least loaded other one)",
    ),
    entry(
        "assign",
        "assign 'region'",
        "open an unassigned region on the least loaded server",
    ),
    entry(
        "unassign",
        "unassign 'region'",
        "close a region and keep it offline until assign",
    ),
    entry(
        "balance",
        "balance  (alias: balancer)",
        "even region counts across servers now, with as few moves as possible",
    ),
    entry(
        "slowlog",
        "slowlog [count]",
        "show the newest slow requests of each region server (default 20, 0 = all kept) with their queue, read, write, WAL sync and stall times",
    ),
    entry(
        "help",
        "help ['command']",
        "show this help, or one command's",
    ),
    entry("exit", "exit", "leave the shell (alias: quit)"),
];

/// The entry of `name` (aliases resolved).
pub fn find(name: &str) -> Option<&'static CommandHelp> {
    let name = match name {
        "desc" => "describe",
        "quit" => "exit",
        "balancer" => "balance",
        other => other,
    };
    COMMANDS.iter().find(|c| c.name == name)
}

/// The text `help` prints.
pub fn text(topic: Option<&str>) -> Result<String, String> {
    if let Some(topic) = topic {
        let c = find(topic)
            .ok_or_else(|| format!("no command named {topic:?}; type 'help' for the list"))?;
        return Ok(format!("{}: {}\n  {}\n", c.name, c.about, c.usage));
    }
    let mut out = String::from(
        "Strata shell. Commands end at a line break or ';'. Strings are quoted ('x' or \"x\"; \
         \"\\x00\" escapes bytes).\n\n",
    );
    for c in COMMANDS {
        out.push_str(&format!("  {:<14} {}\n", c.name, c.about));
    }
    out.push_str("\nType help 'command' for its arguments.\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_help_and_aliases_resolve() {
        assert_eq!(find("desc").unwrap().name, "describe");
        assert_eq!(find("quit").unwrap().name, "exit");
        assert!(text(None).unwrap().contains("major_compact"));
        assert!(text(Some("scan")).unwrap().contains("STARTROW"));
        assert!(text(Some("nope")).is_err());
    }
}

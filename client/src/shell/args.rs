//! Typed access to a statement's arguments and `{KEY => value}` options, with errors
//! that name the command, the argument and the usage line.

use std::collections::VecDeque;

use bytes::Bytes;

use super::command::UsageError;
use super::help;
use super::parser::Value;

/// The positional arguments of one statement, consumed front to back.
pub(crate) struct Args {
    name: String,
    usage: &'static str,
    values: VecDeque<Value>,
}

impl Args {
    /// Arguments of command `name`; unknown commands are refused here.
    pub(crate) fn new(name: &str, values: Vec<Value>) -> Result<Args, UsageError> {
        let help = help::find(name).ok_or_else(|| {
            UsageError(format!(
                "unknown command '{name}'; type 'help' for the list"
            ))
        })?;
        Ok(Args {
            name: name.to_owned(),
            usage: help.usage,
            values: values.into(),
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn error(&self, message: impl AsRef<str>) -> UsageError {
        usage_error(&self.name, self.usage, message.as_ref())
    }

    pub(crate) fn wrong(&self, expected: &str, found: &Value) -> UsageError {
        self.error(format!("expected {expected}, found {}", found.kind()))
    }

    pub(crate) fn next_value(&mut self) -> Option<Value> {
        self.values.pop_front()
    }

    /// The next positional argument, unless the arguments ended or options begin.
    fn next_positional(&mut self) -> Option<Value> {
        match self.values.front() {
            None | Some(Value::Hash(_)) => None,
            Some(_) => self.values.pop_front(),
        }
    }

    pub(crate) fn table(&mut self) -> Result<String, UsageError> {
        let name = self.bytes("a table name")?;
        self.utf8(&name)
    }

    /// A required string (numbers are taken as their decimal text, as Ruby's `to_s`).
    pub(crate) fn bytes(&mut self, what: &str) -> Result<Bytes, UsageError> {
        self.opt_bytes(what)?
            .ok_or_else(|| self.error(format!("missing {what}")))
    }

    pub(crate) fn opt_bytes(&mut self, what: &str) -> Result<Option<Bytes>, UsageError> {
        match self.next_positional() {
            None => Ok(None),
            Some(Value::Str(s)) => Ok(Some(s)),
            Some(Value::Int(n)) => Ok(Some(Bytes::from(n.to_string()))),
            Some(other) => Err(self.wrong(what, &other)),
        }
    }

    pub(crate) fn opt_string(&mut self, what: &str) -> Result<Option<String>, UsageError> {
        self.opt_bytes(what)?.map(|b| self.utf8(&b)).transpose()
    }

    pub(crate) fn opt_int(&mut self, what: &str) -> Result<Option<i64>, UsageError> {
        match self.next_positional() {
            None => Ok(None),
            Some(Value::Int(n)) => Ok(Some(n)),
            Some(Value::Str(s)) => std::str::from_utf8(&s)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .map(Some)
                .ok_or_else(|| self.error(format!("expected {what}, found a non-numeric string"))),
            Some(other) => Err(self.wrong(what, &other)),
        }
    }

    /// A required `'family:qualifier'` (a bare family means the empty qualifier).
    pub(crate) fn column(&mut self) -> Result<(Bytes, Bytes), UsageError> {
        let c = self.bytes("a column 'family:qualifier'")?;
        let (family, qualifier) = column(&c);
        if family.is_empty() {
            return Err(self.error("the column's family is empty"));
        }
        Ok((family, qualifier.unwrap_or_default()))
    }

    /// A column name or an array of them.
    pub(crate) fn column_list(&self, v: Value) -> Result<Vec<Bytes>, UsageError> {
        match v {
            Value::Str(s) => Ok(vec![s]),
            Value::Array(items) => items
                .into_iter()
                .map(|i| match i {
                    Value::Str(s) => Ok(s),
                    other => Err(self.wrong("a column name", &other)),
                })
                .collect(),
            other => Err(self.wrong("a column name, an array of them, or {options}", &other)),
        }
    }

    pub(crate) fn timestamp(&self, ts: i64) -> Result<u64, UsageError> {
        u64::try_from(ts).map_err(|_| self.error(format!("timestamp {ts} is negative")))
    }

    /// The trailing `{options}`, if any.
    pub(crate) fn options(&mut self) -> Result<Option<Options>, UsageError> {
        match self.values.pop_front() {
            None => Ok(None),
            Some(Value::Hash(pairs)) => Ok(Some(self.options_of(pairs))),
            Some(other) => Err(self.wrong("{KEY => value} options", &other)),
        }
    }

    pub(crate) fn options_of(&self, pairs: Vec<(String, Value)>) -> Options {
        Options {
            name: self.name.clone(),
            usage: self.usage,
            pairs,
        }
    }

    pub(crate) fn utf8(&self, b: &Bytes) -> Result<String, UsageError> {
        String::from_utf8(b.to_vec()).map_err(|_| self.error("names must be UTF-8 text"))
    }

    pub(crate) fn skip_rest(&mut self) {
        self.values.clear();
    }

    /// Refuses arguments left over.
    pub(crate) fn finish(&self) -> Result<(), UsageError> {
        match self.values.front() {
            None => Ok(()),
            Some(v) => Err(self.error(format!("too many arguments (unexpected {})", v.kind()))),
        }
    }
}

/// The `{KEY => value}` options of a command, consumed by key.
pub(crate) struct Options {
    name: String,
    usage: &'static str,
    pairs: Vec<(String, Value)>,
}

impl Options {
    pub(crate) fn take(&mut self, key: &str) -> Option<Value> {
        let i = self.pairs.iter().position(|(k, _)| k == key)?;
        Some(self.pairs.remove(i).1)
    }

    pub(crate) fn error(&self, message: impl AsRef<str>) -> UsageError {
        usage_error(&self.name, self.usage, message.as_ref())
    }

    pub(crate) fn bytes(&self, key: &str, v: Value) -> Result<Bytes, UsageError> {
        match v {
            Value::Str(s) => Ok(s),
            Value::Int(n) => Ok(Bytes::from(n.to_string())),
            Value::Ident(w) => Ok(Bytes::from(w)),
            other => Err(self.error(format!("{key} takes a string, not {}", other.kind()))),
        }
    }

    pub(crate) fn string(&self, key: &str, v: Value) -> Result<String, UsageError> {
        let b = self.bytes(key, v)?;
        String::from_utf8(b.to_vec()).map_err(|_| self.error(format!("{key} must be UTF-8 text")))
    }

    pub(crate) fn u64(&self, key: &str, v: Value) -> Result<u64, UsageError> {
        let n = match &v {
            Value::Int(n) => u64::try_from(*n).ok(),
            Value::Str(s) => std::str::from_utf8(s)
                .ok()
                .and_then(|s| s.trim().parse().ok()),
            _ => None,
        };
        n.ok_or_else(|| {
            self.error(format!(
                "{key} takes a non-negative number, not {}",
                v.kind()
            ))
        })
    }

    pub(crate) fn u32(&self, key: &str, v: Value) -> Result<u32, UsageError> {
        let n = self.u64(key, v)?;
        u32::try_from(n)
            .map_err(|_| self.error(format!("{key} is {n}, over the limit {}", u32::MAX)))
    }

    /// `[min, max]`.
    pub(crate) fn range(&self, key: &str, v: Value) -> Result<(u64, u64), UsageError> {
        match v {
            Value::Array(items) if items.len() == 2 => {
                let mut items = items.into_iter();
                let min = self.u64(key, items.next().unwrap_or(Value::Nil))?;
                let max = self.u64(key, items.next().unwrap_or(Value::Nil))?;
                Ok((min, max))
            }
            _ => Err(self.error(format!("{key} takes [min, max]"))),
        }
    }

    /// A string or an array of strings.
    pub(crate) fn bytes_list(&self, key: &str, v: Value) -> Result<Vec<Bytes>, UsageError> {
        match v {
            Value::Array(items) => items.into_iter().map(|i| self.bytes(key, i)).collect(),
            other => Ok(vec![self.bytes(key, other)?]),
        }
    }

    /// Refuses options not in `known` (consumed ones are gone already).
    pub(crate) fn finish(&self, known: &[&str]) -> Result<(), UsageError> {
        match self.pairs.first() {
            None => Ok(()),
            Some((k, _)) => {
                Err(self.error(format!("unknown option {k}; known: {}", known.join(", "))))
            }
        }
    }

    /// Refuses options not in `known` without consuming any.
    pub(crate) fn check_only(&self, known: &[&str]) -> Result<(), UsageError> {
        match self
            .pairs
            .iter()
            .find(|(k, _)| !known.contains(&k.as_str()))
        {
            None => Ok(()),
            Some((k, _)) => {
                Err(self.error(format!("unknown option {k}; known: {}", known.join(", "))))
            }
        }
    }
}

fn usage_error(name: &str, usage: &str, message: &str) -> UsageError {
    UsageError(format!("{name}: {message}\nUsage: {usage}"))
}

/// `family:qualifier` split at the first `:`; no `:` means the whole family.
pub(crate) fn column(c: &Bytes) -> (Bytes, Option<Bytes>) {
    match c.iter().position(|&b| b == b':') {
        Some(i) => (c.slice(..i), Some(c.slice(i + 1..))),
        None => (c.clone(), None),
    }
}

/// `true`, `false`, or those words quoted.
pub(crate) fn parse_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Str(s) if s.eq_ignore_ascii_case(b"true") => Some(true),
        Value::Str(s) if s.eq_ignore_ascii_case(b"false") => Some(false),
        _ => None,
    }
}

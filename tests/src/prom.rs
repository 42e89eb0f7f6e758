//! A strict checker of the Prometheus text format (0.0.4) as Strata writes it: every
//! line must be a `# HELP`, a `# TYPE` or a sample of the family declared last; names
//! and labels must be well formed; counters end in `_total` and are not negative;
//! each histogram series has ascending `le` buckets with non-decreasing counts, a
//! `+Inf` bucket equal to its `_count`, and a `_sum`. Returns the samples for lookups.

use std::collections::{BTreeMap, HashSet};

/// One sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Metric name (with `_bucket`/`_sum`/`_count` for histograms).
    pub name: String,
    /// Labels in order of appearance.
    pub labels: Vec<(String, String)>,
    /// Value.
    pub value: f64,
}

/// The parsed exposition.
#[derive(Debug, Default)]
pub struct Exposition {
    /// Every sample in order.
    pub samples: Vec<Sample>,
    /// Family name -> type.
    pub types: BTreeMap<String, String>,
}

impl Exposition {
    /// The value of the sample `name` whose labels include all of `labels`; panics
    /// naming it when there is none or more than one.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let found: Vec<&Sample> = self
            .samples
            .iter()
            .filter(|s| s.name == name && has_labels(s, labels))
            .collect();
        match found.as_slice() {
            [one] => one.value,
            [] => panic!("no sample {name}{labels:?}"),
            _ => panic!("{} samples match {name}{labels:?}", found.len()),
        }
    }

    /// Like [`value`](Self::value), 0 when absent (counters that appear on first use).
    pub fn value_or_zero(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == name && has_labels(s, labels))
            .map(|s| s.value)
            .sum()
    }
}

fn has_labels(s: &Sample, labels: &[(&str, &str)]) -> bool {
    labels
        .iter()
        .all(|(k, v)| s.labels.iter().any(|(k2, v2)| k2 == k && v2 == v))
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(n: &str) -> bool {
    let mut chars = n.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn parse_value(v: &str) -> Result<f64, String> {
    match v {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        v => v.parse().map_err(|e| format!("bad value {v:?}: {e}")),
    }
}

/// Parses `name{k="v",...} value`.
fn parse_sample(line: &str) -> Result<Sample, String> {
    let (name_end, labels, rest) = match line.find('{') {
        Some(open) => {
            let mut labels = Vec::new();
            let mut chars = line[open + 1..].char_indices();
            let close;
            loop {
                // label name up to '='
                let mut key = String::new();
                let mut c = chars.next();
                if let Some((i, '}')) = c {
                    close = Some(open + 1 + i);
                    break;
                }
                while let Some((_, ch)) = c {
                    if ch == '=' {
                        break;
                    }
                    key.push(ch);
                    c = chars.next();
                }
                if !valid_label_name(&key) {
                    return Err(format!("bad label name {key:?}"));
                }
                if !matches!(chars.next(), Some((_, '"'))) {
                    return Err(format!("label {key} value is not quoted"));
                }
                let mut val = String::new();
                loop {
                    match chars.next() {
                        Some((_, '\\')) => match chars.next() {
                            Some((_, '\\')) => val.push('\\'),
                            Some((_, '"')) => val.push('"'),
                            Some((_, 'n')) => val.push('\n'),
                            other => return Err(format!("bad escape {other:?}")),
                        },
                        Some((_, '"')) => break,
                        Some((_, ch)) => val.push(ch),
                        None => return Err("unterminated label value".into()),
                    }
                }
                labels.push((key, val));
                match chars.next() {
                    Some((_, ',')) => {}
                    Some((i, '}')) => {
                        close = Some(open + 1 + i);
                        break;
                    }
                    other => return Err(format!("expected , or }} after a label, got {other:?}")),
                }
            }
            let close = close.ok_or("no closing brace")?;
            (open, labels, &line[close + 1..])
        }
        None => {
            let sp = line.find(' ').ok_or("no value")?;
            (sp, Vec::new(), &line[sp..])
        }
    };
    let name = &line[..name_end];
    if !valid_name(name) {
        return Err(format!("bad metric name {name:?}"));
    }
    let rest = rest
        .strip_prefix(' ')
        .ok_or("expected one space before the value")?;
    let mut parts = rest.split(' ');
    let value = parse_value(parts.next().ok_or("no value")?)?;
    if let Some(ts) = parts.next() {
        ts.parse::<i64>()
            .map_err(|e| format!("bad timestamp: {e}"))?;
    }
    if parts.next().is_some() {
        return Err("trailing fields".into());
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

fn family_of<'a>(name: &'a str, types: &BTreeMap<String, String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && types.get(base).is_some_and(|t| t == "histogram")
        {
            return base;
        }
    }
    name
}

/// Parses and checks `text`; the error names the line.
pub fn parse(text: &str) -> Result<Exposition, String> {
    let mut exp = Exposition::default();
    let mut current: Option<String> = None;
    let mut finished: HashSet<String> = HashSet::new();
    let mut helped: HashSet<String> = HashSet::new();
    for (no, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", no + 1);
        if line.is_empty() {
            return Err(at("empty line".into()));
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or_default();
            if !valid_name(name) || !helped.insert(name.to_string()) {
                return Err(at("bad or repeated HELP".into()));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut p = rest.split(' ');
            let (name, kind) = (p.next().unwrap_or_default(), p.next().unwrap_or_default());
            if !valid_name(name) || p.next().is_some() {
                return Err(at("bad TYPE".into()));
            }
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return Err(at(format!("unknown type {kind}")));
            }
            if exp
                .types
                .insert(name.to_string(), kind.to_string())
                .is_some()
            {
                return Err(at("TYPE repeated".into()));
            }
            if kind == "counter" && !name.ends_with("_total") {
                return Err(at("counter name must end in _total".into()));
            }
            if let Some(prev) = current.replace(name.to_string()) {
                finished.insert(prev);
            }
            continue;
        }
        if line.starts_with('#') {
            continue; // other comments are allowed by the format
        }
        let s = parse_sample(line).map_err(at)?;
        let family = family_of(&s.name, &exp.types).to_string();
        if current.as_deref() != Some(family.as_str()) {
            return Err(at(format!(
                "sample of {family} outside its family block (TYPE missing or families interleaved)"
            )));
        }
        let kind = exp.types.get(&family).cloned().unwrap_or_default();
        if kind == "counter" && (s.value.is_nan() || s.value < 0.0) {
            return Err(at("negative or NaN counter".into()));
        }
        if kind == "histogram" && s.name == family {
            return Err(at("histogram sample without _bucket/_sum/_count".into()));
        }
        exp.samples.push(s);
    }
    check_histograms(&exp)?;
    Ok(exp)
}

/// A series' labels other than `le`.
type LabelSet = Vec<(String, String)>;

fn check_histograms(exp: &Exposition) -> Result<(), String> {
    for (family, kind) in &exp.types {
        if kind != "histogram" {
            continue;
        }
        // Series key: labels other than `le`.
        let mut series: BTreeMap<LabelSet, Vec<(f64, f64)>> = BTreeMap::new();
        let mut counts: BTreeMap<LabelSet, f64> = BTreeMap::new();
        let mut sums: HashSet<LabelSet> = HashSet::new();
        for s in exp
            .samples
            .iter()
            .filter(|s| s.name.starts_with(family.as_str()))
        {
            let key: Vec<_> = s
                .labels
                .iter()
                .filter(|(k, _)| k != "le")
                .cloned()
                .collect();
            if s.name == format!("{family}_bucket") {
                let le = s
                    .labels
                    .iter()
                    .find(|(k, _)| k == "le")
                    .ok_or_else(|| format!("{family}: bucket without le"))?;
                series
                    .entry(key)
                    .or_default()
                    .push((parse_value(&le.1)?, s.value));
            } else if s.name == format!("{family}_count") {
                counts.insert(key, s.value);
            } else if s.name == format!("{family}_sum") {
                sums.insert(key);
            }
        }
        for (key, buckets) in &series {
            for w in buckets.windows(2) {
                if !(w[0].0 < w[1].0 && w[0].1 <= w[1].1) {
                    return Err(format!("{family}{key:?}: buckets not ascending: {w:?}"));
                }
            }
            let last = buckets.last().ok_or("no buckets")?;
            if last.0 != f64::INFINITY {
                return Err(format!("{family}{key:?}: no +Inf bucket"));
            }
            if counts.get(key) != Some(&last.1) {
                return Err(format!(
                    "{family}{key:?}: _count differs from the +Inf bucket"
                ));
            }
            if !sums.contains(key) {
                return Err(format!("{family}{key:?}: no _sum"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_good_and_rejects_bad_text() {
        let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{rpc=\"get\",t=\"x\\\"y\"} 3\n\
                    # TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.3\nh_count 2\n";
        let e = parse(good).unwrap();
        assert_eq!(e.value("a_total", &[("t", "x\"y")]), 3.0);
        for bad in [
            "a_total 1\n",                                                       // no TYPE
            "# TYPE a counter\na 1\n", // counter without _total
            "# TYPE a_total counter\na_total -1\n", // negative counter
            "# TYPE g gauge\ng{x=1} 1\n", // unquoted label
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n", // count mismatch
            "# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n",
            "# TYPE g gauge\ng 1\n# TYPE f gauge\nf 1\ng 2\n", // interleaved
        ] {
            assert!(parse(bad).is_err(), "accepted {bad:?}");
        }
    }
}

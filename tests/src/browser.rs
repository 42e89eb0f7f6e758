//! A real headless browser for the status-page tests: Debian's `chromium` renders a
//! page (`--dump-dom` gives the DOM after rendering) and saves a screenshot under
//! `target/status-pages/` (a CI artifact), plus small helpers that read the pages'
//! `<table id="...">` elements back.
//!
//! Without a browser the tests print a note and pass, unless `STRATA_REQUIRE_BROWSER`
//! is set (CI sets it), in which case a missing browser fails them. `STRATA_CHROMIUM`
//! names the browser binary if it is not `chromium` on the PATH.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::process;

/// Longest one browser run may take.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(90);

/// The browser binary, or `None` (after checking `STRATA_REQUIRE_BROWSER`, which turns
/// a missing browser into a failure).
pub fn find() -> Option<PathBuf> {
    let required = std::env::var_os("STRATA_REQUIRE_BROWSER").is_some();
    let found = std::env::var_os("STRATA_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path)
                .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
                .find(|p| p.is_file())
        });
    if found.is_none() {
        assert!(
            !required,
            "STRATA_REQUIRE_BROWSER is set but no chromium was found on the PATH \
             (apt-get install -y chromium, or set STRATA_CHROMIUM)"
        );
        eprintln!("NOTE: no chromium on the PATH: status page browser check skipped");
    }
    found
}

/// `target/status-pages/` of the workspace (CI keeps it), whatever `CARGO_TARGET_DIR`
/// says; created if missing.
pub fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("target")
        .join("status-pages");
    std::fs::create_dir_all(&dir).expect("create target/status-pages");
    dir
}

/// Runs headless chromium on `url`: its DOM after rendering, and a screenshot saved at
/// `screenshot`.
pub fn render(browser: &Path, url: &str, screenshot: &Path) -> String {
    let profile = tempfile::tempdir().expect("browser profile dir");
    let profile_arg = format!("--user-data-dir={}", profile.path().display());
    let common = [
        "--headless",
        "--no-sandbox", // CI runs as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        profile_arg.as_str(),
    ];
    let mut dump: Vec<&str> = common.to_vec();
    dump.extend(["--dump-dom", url]);
    let out = process::run(browser, &dump, "", BROWSER_TIMEOUT);
    assert!(
        out.status.success() && out.stdout.contains("</html>"),
        "chromium --dump-dom {url} failed ({}):\n{}",
        out.status,
        out.stderr
    );
    let shot_arg = format!("--screenshot={}", screenshot.display());
    let mut shot: Vec<&str> = common.to_vec();
    shot.extend(["--window-size=1280,1800", shot_arg.as_str(), url]);
    let s = process::run(browser, &shot, "", BROWSER_TIMEOUT);
    let png = std::fs::read(screenshot).unwrap_or_default();
    assert!(
        png.starts_with(b"\x89PNG"),
        "no screenshot at {} ({}):\n{}",
        screenshot.display(),
        s.status,
        s.stderr
    );
    out.stdout
}

/// The `<table id="...">` element's HTML.
pub fn table<'a>(dom: &'a str, id: &str) -> &'a str {
    let open = format!("<table id=\"{id}\">");
    let start = dom
        .find(&open)
        .unwrap_or_else(|| panic!("no table #{id} in the page:\n{dom}"));
    let end = dom[start..].find("</table>").expect("table is closed") + start;
    &dom[start..end]
}

/// Body rows of a table, each as its cells' inner HTML.
pub fn rows(table_html: &str) -> Vec<Vec<String>> {
    let body = table_html.split("<tbody>").nth(1).unwrap_or_default();
    body.split("<tr>")
        .skip(1)
        .map(|tr| {
            tr.split("<td")
                .skip(1)
                .map(|td| {
                    let inner = td.split_once('>').map_or("", |(_, r)| r);
                    inner.split("</td>").next().unwrap_or_default().to_string()
                })
                .collect()
        })
        .collect()
}

/// A cell's text: its inner HTML without tags.
pub fn text(cell: &str) -> String {
    let mut out = String::with_capacity(cell.len());
    let mut in_tag = false;
    for c in cell.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// The `href` of the first link in a cell, if any.
pub fn href(cell: &str) -> Option<String> {
    let rest = cell.split_once("href=\"")?.1;
    Some(rest.split('"').next()?.to_string())
}

//! The `--history` loader: CSV files in the columns of the Python SDK's
//! `request_history_kline` DataFrame (`df.to_csv(...)` loads as it is).
//!
//! Required columns: `code`, `time_key`, `open`, `close`, `high`, `low`, `volume`. Used
//! when present: `name`, `turnover`, `last_close`; every other column (the DataFrame's
//! index, `pe_ratio`, `turnover_rate`, `change_rate`, ...) is ignored. `time_key` is
//! `YYYY-MM-DD HH:MM:SS` in the market's local time (`HK.` codes in Hong Kong time,
//! `US.` codes in New York time, ...). Rows may come in any order. A row that does not
//! parse, a duplicate `(code, time_key)` or a bar whose high and low do not contain its
//! open and close is an error naming the file and the line; nothing is half-loaded.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::sim::matching::split_full_code;
use crate::sim::tape::clock::Calendar;
use crate::sim::tape::history::Bar;

use super::tape::{CodeTape, ReplayTape};

/// Why `--history` could not be loaded: the file (and line, 1-based, when a row is at
/// fault) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    /// The file.
    pub file: PathBuf,
    /// The line (1 = the header); 0 when the error is not about one line.
    pub line: usize,
    /// What is wrong.
    pub msg: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.msg)
        } else {
            write!(f, "{}: {}", self.file.display(), self.msg)
        }
    }
}

impl std::error::Error for LoadError {}

/// The bar periods the loader accepts, seconds (1, 3, 5, 15, 30, 60 minutes; daily).
pub const PERIODS: [i64; 7] = [60, 180, 300, 900, 1800, 3600, 86_400];

/// One parsed row before sorting.
struct Row {
    local: i64,
    bar: Bar,
    file: u32,
    line: u32,
}

#[derive(Default)]
struct Pending {
    rows: Vec<Row>,
    name: Option<String>,
}

/// Reads `paths` (CSV files, or folders whose `*.csv` files are all read, in name
/// order) into one tape. Codes may be spread over several files.
pub fn load(paths: &[PathBuf]) -> Result<ReplayTape, LoadError> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let rd = std::fs::read_dir(p).map_err(|e| err(p, 0, format!("cannot read the folder: {e}")))?;
            let mut found: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv")) && f.is_file())
                .collect();
            if found.is_empty() {
                return Err(err(p, 0, "the folder has no *.csv file".into()));
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    if files.is_empty() {
        return Err(err(Path::new("--history"), 0, "no file given".into()));
    }
    let mut codes: HashMap<String, Pending> = HashMap::new();
    for (fi, f) in files.iter().enumerate() {
        let text = std::fs::read_to_string(f).map_err(|e| err(f, 0, format!("cannot read: {e}")))?;
        parse_into(&text, f, fi as u32, &mut codes)?;
    }
    let mut names: Vec<String> = codes.keys().cloned().collect();
    names.sort();
    let mut out = Vec::with_capacity(names.len());
    for code in names {
        let Some(p) = codes.remove(&code) else { continue };
        out.push(finish(&code, p, &files)?);
    }
    Ok(ReplayTape::new(out))
}

/// Parses CSV text (as if read from `file`) into a tape: what [`load`] does for one file.
pub fn load_str(text: &str, file: &Path) -> Result<ReplayTape, LoadError> {
    let mut codes: HashMap<String, Pending> = HashMap::new();
    parse_into(text, file, 0, &mut codes)?;
    let mut names: Vec<String> = codes.keys().cloned().collect();
    names.sort();
    let files = [file.to_path_buf()];
    let mut out = Vec::with_capacity(names.len());
    for code in names {
        let Some(p) = codes.remove(&code) else { continue };
        out.push(finish(&code, p, &files)?);
    }
    Ok(ReplayTape::new(out))
}

fn err(file: &Path, line: usize, msg: String) -> LoadError {
    LoadError { file: file.to_path_buf(), line, msg }
}

/// Splits one CSV line (RFC 4180 quotes) into `out`.
fn split_line<'a>(line: &'a str, out: &mut Vec<std::borrow::Cow<'a, str>>) -> Result<(), String> {
    out.clear();
    if !line.contains('"') {
        out.extend(line.split(',').map(|s| std::borrow::Cow::Borrowed(s.trim())));
        return Ok(());
    }
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.trim().is_empty() => {
                field.clear();
                quoted = true;
                was_quoted = true;
            }
            (false, ',') => {
                let f = std::mem::take(&mut field);
                out.push(std::borrow::Cow::Owned(if was_quoted { f } else { f.trim().to_string() }));
                was_quoted = false;
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    out.push(std::borrow::Cow::Owned(if was_quoted { field } else { field.trim().to_string() }));
    Ok(())
}

fn parse_into(text: &str, file: &Path, fi: u32, codes: &mut HashMap<String, Pending>) -> Result<(), LoadError> {
    let mut lines = text.lines().enumerate();
    let header = loop {
        match lines.next() {
            Some((_, l)) if l.trim().is_empty() => continue,
            Some((n, l)) => break (n + 1, l.trim_start_matches('\u{feff}')),
            None => return Err(err(file, 0, "empty file (no header row)".into())),
        }
    };
    let mut fields = Vec::new();
    split_line(header.1, &mut fields).map_err(|m| err(file, header.0, m))?;
    let col = |name: &str| fields.iter().position(|f| f.eq_ignore_ascii_case(name));
    let need = |name: &str| {
        col(name).ok_or_else(|| {
            err(
                file,
                header.0,
                format!("the header has no {name:?} column (needs code,time_key,open,close,high,low,volume)"),
            )
        })
    };
    let (c_code, c_time, c_open, c_close, c_high, c_low, c_vol) =
        (need("code")?, need("time_key")?, need("open")?, need("close")?, need("high")?, need("low")?, need("volume")?);
    let (c_name, c_turn, c_last) = (col("name"), col("turnover"), col("last_close"));
    let ncols = fields.len();
    let mut cals: HashMap<String, Calendar> = HashMap::new();
    for (n, line) in lines {
        let lineno = n + 1;
        if line.trim().is_empty() {
            continue;
        }
        let e = |m: String| err(file, lineno, m);
        split_line(line, &mut fields).map_err(e)?;
        if fields.len() != ncols {
            return Err(e(format!("{} fields, the header has {ncols}", fields.len())));
        }
        let code = fields[c_code].as_ref();
        let cal = match cals.get(code) {
            Some(c) => *c,
            None => {
                let (sec, bare) = split_full_code(code).ok_or_else(|| {
                    e(format!("code {code:?} is not of the form MARKET.CODE (HK.00700, US.AAPL, ...)"))
                })?;
                if bare.contains(char::is_whitespace) {
                    return Err(e(format!("code {code:?} contains a space")));
                }
                let c = Calendar::of(sec);
                cals.insert(code.to_string(), c);
                c
            }
        };
        let tk = fields[c_time].as_ref();
        let (day, sod) = parse_time_key(tk).ok_or_else(|| e(format!("time_key {tk:?} is not YYYY-MM-DD HH:MM:SS")))?;
        let num = |c: usize, what: &str| -> Result<f64, LoadError> {
            let s = fields[c].as_ref();
            match s.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
                _ => Err(err(file, lineno, format!("{what} {s:?} is not a number >= 0"))),
            }
        };
        let (open, close, high, low) =
            (num(c_open, "open")?, num(c_close, "close")?, num(c_high, "high")?, num(c_low, "low")?);
        if open <= 0.0 || close <= 0.0 || high <= 0.0 || low <= 0.0 {
            return Err(e("prices must be > 0".into()));
        }
        if high + 1e-9 < open.max(close) || low - 1e-9 > open.min(close) {
            return Err(e(format!("high {high} and low {low} do not contain open {open} and close {close}")));
        }
        let volume = num(c_vol, "volume")?;
        if volume > 9e15 {
            return Err(e(format!("volume {volume} is too large")));
        }
        let turnover = match c_turn {
            Some(c) if !fields[c].is_empty() => num(c, "turnover")?,
            _ => volume * (open + high + low + close) / 4.0,
        };
        let last_close = match c_last {
            Some(c) if !fields[c].is_empty() => num(c, "last_close")?,
            _ => 0.0,
        };
        let local = day * 86_400 + sod;
        let ts = cal.midnight(day) + sod;
        let bar = Bar { ts, day, open, high, low, close, last_close, volume: volume as i64, turnover };
        let entry = match codes.get_mut(code) {
            Some(p) => p,
            None => codes.entry(code.to_string()).or_default(),
        };
        if entry.name.is_none() {
            if let Some(c) = c_name {
                if !fields[c].is_empty() {
                    entry.name = Some(fields[c].to_string());
                }
            }
        }
        entry.rows.push(Row { local, bar, file: fi, line: lineno as u32 });
    }
    Ok(())
}

/// `YYYY-MM-DD HH:MM:SS` (or `YYYY-MM-DD`, or with `.fff`) into (day, second of day).
fn parse_time_key(s: &str) -> Option<(i64, i64)> {
    let s = s.trim();
    let bytes = s.as_bytes();
    if bytes.len() < 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    crate::sim::tape::clock::parse_time(s)
}

/// Sorts one code's rows, checks for duplicates, finds the bar period and builds its tape.
fn finish(code: &str, mut p: Pending, files: &[PathBuf]) -> Result<CodeTape, LoadError> {
    p.rows.sort_by_key(|r| (r.local, r.file, r.line));
    let at = |r: &Row| (&files[r.file as usize], r.line as usize);
    for w in p.rows.windows(2) {
        if w[0].local == w[1].local {
            let (f0, l0) = at(&w[0]);
            let (f1, l1) = at(&w[1]);
            return Err(err(
                f1,
                l1,
                format!("duplicate bar: {code} at this time_key is also on {}:{l0}", f0.display()),
            ));
        }
    }
    let first = &p.rows[0];
    let daily = p.rows.iter().all(|r| r.local.rem_euclid(86_400) == 0);
    let period = if daily {
        86_400
    } else {
        // The most common gap between bars of the same day.
        let mut gaps: HashMap<i64, usize> = HashMap::new();
        for w in p.rows.windows(2) {
            if w[0].local.div_euclid(86_400) == w[1].local.div_euclid(86_400) {
                *gaps.entry(w[1].local - w[0].local).or_default() += 1;
            }
        }
        let mode = gaps.iter().max_by_key(|(g, n)| (**n, -**g)).map(|(g, _)| *g).unwrap_or(60);
        if !PERIODS[..6].contains(&mode) {
            let (f, l) = at(first);
            return Err(err(
                f,
                l,
                format!("{code}: bars {mode} seconds apart; expected 1, 3, 5, 15, 30 or 60 minutes, or daily bars"),
            ));
        }
        mode
    };
    let mut bars: Vec<Bar> = p.rows.into_iter().map(|r| r.bar).collect();
    let mut prev = None;
    for b in &mut bars {
        if b.last_close <= 0.0 {
            b.last_close = prev.unwrap_or(b.open);
        }
        prev = Some(b.close);
    }
    Ok(CodeTape::new(code.to_string(), p.name, period, bars))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_fields_and_pandas_index() {
        let csv = "\u{feff},code,name,time_key,open,close,high,low,volume,turnover\n\
                   0,HK.00700,\"TENCENT, HLDG\",2026-12-01 09:31:00,10,11,12,9,100,1000\n\
                   1,HK.00700,\"TENCENT, HLDG\",2026-12-01 09:32:00,11,10.5,11,10,100,1000\n";
        let t = load_str(csv, Path::new("x.csv")).unwrap();
        let c = t.code("HK.00700").unwrap();
        assert_eq!(c.name.as_deref(), Some("TENCENT, HLDG"));
        assert_eq!(c.period, 60);
        assert_eq!(c.bars().len(), 2);
        assert_eq!(c.bars()[1].last_close, 11.0);
    }

    #[test]
    fn errors_name_the_line() {
        let head = "code,time_key,open,close,high,low,volume\n";
        let bad = |rows: &str| load_str(&format!("{head}{rows}"), Path::new("h.csv")).unwrap_err().to_string();
        assert!(bad("HK.00700,2026-12-01 09:31:00,10,11,10.5,9,100\n").starts_with("h.csv:2: high 10.5"));
        let dup = bad("HK.00700,2026-12-01 09:31:00,10,11,12,9,100\nHK.00700,2026-12-01 09:31:00,10,11,12,9,100\n");
        assert!(dup.starts_with("h.csv:3: duplicate bar"), "{dup}");
        assert!(bad("HK.00700,2026-12-01 9h31,10,11,12,9,100\n").contains("h.csv:2: time_key"));
        assert!(bad("HK.00700,2026-12-01 09:31:00,10,11,12,9\n").contains("h.csv:2: 6 fields"));
        assert!(bad("XX00700,2026-12-01 09:31:00,10,11,12,9,100\n").contains("MARKET.CODE"));
        assert!(load_str("code,open\n", Path::new("h.csv")).unwrap_err().to_string().contains("time_key"));
    }
}

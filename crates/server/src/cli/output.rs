//! How client commands print: aligned tables and progress bars for people, one JSON document
//! for scripts (`--output json`), never both on stdout.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

/// The `--output` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Tables and progress bars.
    Table,
    /// One JSON document on stdout; no progress bars.
    Json,
}

/// A table printed with each column as wide as its widest cell, measured in terminal columns
/// ([`width`]: a CJK character takes two), columns two spaces apart. Every table the CLI
/// prints is one of these, so they all align the same way.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
    right: Vec<usize>,
}

impl Table {
    /// A table with this header row.
    pub fn new(header: &[&str]) -> Self {
        Self {
            rows: vec![header.iter().map(|h| (*h).to_owned()).collect()],
            right: Vec::new(),
        }
    }

    /// The same table with these columns (0-based) aligned right (numbers).
    pub fn right_aligned(mut self, columns: &[usize]) -> Self {
        self.right = columns.to_vec();
        self
    }

    /// Appends a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as text, one line per row, columns two spaces apart.
    pub fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| width(s))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(c, (cell, &w))| {
                    let fill = " ".repeat(w.saturating_sub(width(cell)));
                    if self.right.contains(&c) {
                        format!("{fill}{cell}")
                    } else {
                        format!("{cell}{fill}")
                    }
                })
                .collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        out
    }

    /// Prints the table to stdout.
    pub fn print(&self) {
        print!("{}", self.render());
    }
}

/// How many terminal columns `text` takes (a CJK character two, a combining mark none).
pub fn width(text: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(text)
}

/// `text` cut to at most `max` terminal columns.
pub fn cut_to_width(text: &str, max: usize) -> &str {
    let mut used = 0;
    for (i, c) in text.char_indices() {
        used += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used > max {
            return &text[..i];
        }
    }
    text
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

/// `n` bytes for people: `512 B`, `1.5 KiB`, `30.0 MiB`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// Whether progress is drawn: only for people watching a terminal.
pub fn interactive(output: Output) -> bool {
    output == Output::Table && std::io::stdout().is_terminal()
}

/// A byte progress bar of `len` bytes labelled `label`, hidden when not [`interactive`].
pub fn byte_bar(output: Output, len: u64, label: &str) -> ProgressBar {
    if !interactive(output) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    let style = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(label.to_owned());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_on_the_widest_cell() {
        let mut t = Table::new(&["KEY", "SIZE"]);
        t.row(vec!["a/long/key.mp4".into(), "1".into()]);
        t.row(vec!["b".into(), "22".into()]);
        assert_eq!(
            t.render(),
            "KEY             SIZE\na/long/key.mp4  1\nb               22\n"
        );
    }

    #[test]
    fn columns_are_measured_in_display_width() {
        let mut t = Table::new(&["KEY", "N"]).right_aligned(&[1]);
        t.row(vec!["input/视频 ü.mp4".into(), "7".into()]);
        t.row(vec!["a".into(), "123".into()]);
        let text = t.render();
        // `视频` takes 4 columns: the key column is 16 wide, and N starts at 18 on every line.
        assert_eq!(
            text,
            "KEY                 N\ninput/视频 ü.mp4    7\na                 123\n"
        );
        let ends: Vec<usize> = text.lines().map(width).collect();
        assert!(ends.iter().all(|&e| e == ends[0]), "{text}");
        assert_eq!(cut_to_width("视频ab", 3), "视");
    }

    #[test]
    fn bytes_for_people() {
        assert_eq!(human_bytes(10), "10 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(30 * 1024 * 1024), "30.0 MiB");
    }
}

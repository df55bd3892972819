//! The benchmark [`Report`]: one [`Row`] per figure, printed as a table (scenario,
//! synack, peer, ratio, note) or serialised as JSON.

use serde::Serialize;
use std::fmt;

/// One measured figure, or why it was not measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Figure {
    /// The measured value (median of the repetitions), in the row's unit.
    Value(f64),
    /// Not measured, with the reason.
    NotRun(String),
}

impl Figure {
    /// The value, if measured.
    pub fn value(&self) -> Option<f64> {
        match self {
            Figure::Value(v) => Some(*v),
            Figure::NotRun(_) => None,
        }
    }
}

/// As the table prints it: `183`, `3.27`, `not run: why`.
impl fmt::Display for Figure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Figure::Value(v) if v.abs() >= 100.0 => write!(f, "{v:.0}"),
            Figure::Value(v) => write!(f, "{v:.2}"),
            Figure::NotRun(why) => write!(f, "not run: {why}"),
        }
    }
}

/// One line of the report: a scenario measured on synack and on the peer stack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// What was measured.
    pub scenario: String,
    /// Unit of both figures.
    pub unit: String,
    /// Whether a larger figure is better (throughput) or worse (memory).
    pub higher_is_better: bool,
    /// synack's figure.
    pub synack: Figure,
    /// The peer stack's figure.
    pub peer: Figure,
    /// How many times better synack is: synack/peer when higher is better,
    /// peer/synack otherwise. `None` when either figure is missing or zero.
    pub ratio: Option<f64>,
    /// Context: repetitions, caps, comparisons with other rows.
    pub note: String,
    /// A third figure the row is compared with, measured in the same run (the TUN
    /// rows: kernel ↔ kernel over a veth pair). Absent from JSON when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
}

/// A reference figure for a row, e.g. the kernel talking to itself over veth.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    /// What the reference is.
    pub name: String,
    /// Its figure, in the row's unit.
    pub value: Figure,
    /// synack's figure as a percentage of the reference, when both were measured.
    pub percent: Option<f64>,
}

impl Baseline {
    /// The reference `value` called `name`, with `synack`'s percentage of it.
    pub fn new(name: impl Into<String>, value: Figure, synack: &Figure) -> Baseline {
        let percent = match (synack.value(), value.value()) {
            (Some(s), Some(b)) if b > 0.0 => Some(100.0 * s / b),
            _ => None,
        };
        Baseline {
            name: name.into(),
            value,
            percent,
        }
    }
}

impl Row {
    /// A row; the ratio is computed from the figures.
    pub fn new(
        scenario: impl Into<String>,
        unit: impl Into<String>,
        higher_is_better: bool,
        synack: Figure,
        peer: Figure,
        note: impl Into<String>,
    ) -> Row {
        let ratio = match (synack.value(), peer.value()) {
            (Some(s), Some(p)) if s > 0.0 && p > 0.0 => {
                Some(if higher_is_better { s / p } else { p / s })
            }
            _ => None,
        };
        Row {
            scenario: scenario.into(),
            unit: unit.into(),
            higher_is_better,
            synack,
            peer,
            ratio,
            note: note.into(),
            baseline: None,
        }
    }

    /// A row that could not be measured here, saying why on both sides (no ratio).
    pub fn not_run(
        scenario: impl Into<String>,
        unit: impl Into<String>,
        higher_is_better: bool,
        why: &str,
    ) -> Row {
        let no = || Figure::NotRun(why.into());
        Row::new(scenario, unit, higher_is_better, no(), no(), "")
    }

    /// The row with a reference figure.
    pub fn with_baseline(mut self, baseline: Baseline) -> Row {
        self.baseline = Some(baseline);
        self
    }
}

/// Everything one benchmark run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// "smoke", "quick" or "full".
    pub mode: String,
    /// The peer stack, with its version.
    pub peer: String,
    /// Socket buffer size (send and receive) used by both stacks for data transfers.
    pub buffer_bytes: usize,
    /// Payload bytes per bulk repetition (0 when the in-process rows were not
    /// selected).
    pub bulk_bytes: u64,
    /// Payload bytes per TUN transfer (0 when the TUN rows were not selected).
    pub tun_bytes: u64,
    /// Repetitions per figure (each figure is their median).
    pub reps: usize,
    /// The rows, in scenario order.
    pub rows: Vec<Row>,
    /// Notes on method that apply to the whole run.
    pub notes: Vec<String>,
}

impl Report {
    /// The report as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The row named `scenario`, if present.
    pub fn row(&self, scenario: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.scenario == scenario)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = ["scenario", "unit", "synack", &self.peer, "ratio", "note"];
        let cells: Vec<[String; 6]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    r.scenario.clone(),
                    r.unit.clone(),
                    r.synack.to_string(),
                    r.peer.to_string(),
                    r.ratio
                        .map_or_else(|| "-".to_string(), |x| format!("{x:.2}x")),
                    r.note.clone(),
                ]
            })
            .collect();
        let mut width = head.map(str::len);
        for row in &cells {
            for (w, c) in width.iter_mut().zip(row) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, cols: &[&str]| -> fmt::Result {
            write!(f, "|")?;
            for (c, w) in cols.iter().zip(width) {
                write!(f, " {c:<w$} |")?;
            }
            writeln!(f)
        };
        line(f, &head)?;
        write!(f, "|")?;
        for w in width {
            write!(f, "{}|", "-".repeat(w + 2))?;
        }
        writeln!(f)?;
        for row in &cells {
            let cols: Vec<&str> = row.iter().map(String::as_str).collect();
            line(f, &cols)?;
        }
        write!(
            f,
            "\nmode {}, {} rep(s) per figure (median)",
            self.mode, self.reps
        )?;
        if self.bulk_bytes > 0 {
            write!(
                f,
                ", socket buffers {} KiB each way, bulk {} MiB per rep",
                self.buffer_bytes / 1024,
                self.bulk_bytes >> 20
            )?;
        }
        if self.tun_bytes > 0 {
            write!(f, ", TUN {} MiB per transfer", self.tun_bytes >> 20)?;
        }
        writeln!(f)?;
        for n in &self.notes {
            writeln!(f, "- {n}")?;
        }
        Ok(())
    }
}

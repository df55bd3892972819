//! Impairments written as text, for `synack link` and for tests: units of time
//! (`25ms`, `500us`, `1s`), rate (`100mbit`, `1.5gbit`, `800kbit`), size (`64K`,
//! `1M`, `1500`, `1bdp`, `8bdp`) and probability (`1%`, `0.5%`), and [`DirSpec`], the
//! impairments of one direction as `key=value` settings that become a
//! [`LinkConfig`].
//!
//! Every parser returns a one-line error naming what was wrong; probabilities must be
//! written with `%` (so `0.01` is not mistaken for 1 %) and stay below 100 %.

use synack_core::time::Duration;
use synack_sim::profiles::bdp_bytes;
use synack_sim::{GilbertElliott, LinkConfig};

/// Splits `s` into its number and its unit, checking the number is finite and not
/// negative.
fn number_and_unit<'a>(s: &'a str, what: &str) -> Result<(f64, &'a str), String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("{what} {s:?}: expected a number followed by a unit"))?;
    if !value.is_finite() {
        return Err(format!("{what} {s:?} is not a finite number"));
    }
    if value < 0.0 {
        return Err(format!("{what} {s:?} is negative"));
    }
    Ok((value, unit))
}

/// A duration: `25ms`, `500us`, `1.5s`, or `0`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (v, unit) = number_and_unit(s, "duration")?;
    let micros = match unit.to_ascii_lowercase().as_str() {
        "us" | "µs" => v,
        "ms" => v * 1e3,
        "s" => v * 1e6,
        "" if v == 0.0 => 0.0,
        u => {
            return Err(format!(
                "duration {s:?}: unknown unit {u:?} (expected us, ms or s)"
            ))
        }
    };
    Ok(Duration::from_micros(micros.round() as u64))
}

/// A rate in bits per second: `800kbit`, `100mbit`, `1gbit` (also `bit`, `kbps`...
/// are refused: only bits are accepted, as in `tc`).
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let (v, unit) = number_and_unit(s, "rate")?;
    let scale = match unit.to_ascii_lowercase().as_str() {
        "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        u => {
            return Err(format!(
                "rate {s:?}: unknown unit {u:?} (expected bit, kbit, mbit or gbit)"
            ))
        }
    };
    let bps = (v * scale).round();
    if bps < 1.0 {
        return Err(format!("rate {s:?} is below 1 bit/s"));
    }
    Ok(bps as u64)
}

/// A queue size: bytes, or bandwidth-delay products of the path.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Size {
    /// A number of bytes.
    Bytes(usize),
    /// A multiple of the path's bandwidth-delay product.
    Bdp(f64),
}

/// A size: `1500`, `64K` (KiB), `1M` (MiB), `1bdp`, `0.5bdp`.
pub fn parse_size(s: &str) -> Result<Size, String> {
    let (v, unit) = number_and_unit(s, "size")?;
    let bytes = |scale: f64| Size::Bytes((v * scale).round() as usize);
    match unit {
        "" | "B" | "b" => Ok(bytes(1.0)),
        "K" | "k" | "KiB" => Ok(bytes(1024.0)),
        "M" | "m" | "MiB" => Ok(bytes(1024.0 * 1024.0)),
        u if u.eq_ignore_ascii_case("bdp") => Ok(Size::Bdp(v)),
        u => Err(format!(
            "size {s:?}: unknown unit {u:?} (expected bytes, K, M or bdp)"
        )),
    }
}

/// A probability written as a percentage below 100: `1%`, `0.5%`, `0%`.
pub fn parse_percent(s: &str) -> Result<f64, String> {
    let (v, unit) = number_and_unit(s, "probability")?;
    if unit != "%" {
        return Err(format!(
            "probability {s:?}: write it as a percentage, like 1% or 0.5%"
        ));
    }
    if v >= 100.0 {
        return Err(format!("probability {s:?} must be below 100%"));
    }
    Ok(v / 100.0)
}

/// The impairments of one direction, as given on a command line.
#[derive(Clone, Debug, PartialEq)]
pub struct DirSpec {
    /// One-way delay.
    pub delay: Duration,
    /// Extra delay drawn uniformly from `[0, jitter]` per packet.
    pub jitter: Duration,
    /// Rate limit in bits per second.
    pub rate: Option<u64>,
    /// Drop-tail queue size (default: 1 BDP).
    pub queue: Size,
    /// Independent loss probability.
    pub loss: f64,
    /// Bursty loss: mean loss probability and mean burst length in packets.
    pub burst_loss: Option<(f64, f64)>,
    /// Duplication probability.
    pub duplicate: f64,
    /// Reordering probability.
    pub reorder: f64,
    /// Extra delay of a reordered packet.
    pub reorder_delay: Duration,
    /// Largest packet carried (bytes of IP packet).
    pub mtu: usize,
}

impl Default for DirSpec {
    fn default() -> Self {
        DirSpec {
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            rate: None,
            queue: Size::Bdp(1.0),
            loss: 0.0,
            burst_loss: None,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay: Duration::from_millis(5),
            mtu: 1500,
        }
    }
}

/// The keys [`DirSpec::set`] knows.
pub const KEYS: &str =
    "delay, jitter, rate, queue, loss, burst-loss, duplicate, reorder, reorder-delay, mtu";

impl DirSpec {
    /// Sets one impairment from its key and textual value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "delay" => self.delay = parse_duration(value)?,
            "jitter" => self.jitter = parse_duration(value)?,
            "rate" => self.rate = Some(parse_rate(value)?),
            "queue" => self.queue = parse_size(value)?,
            "loss" => self.loss = parse_percent(value)?,
            "burst-loss" => {
                let (p, burst) = match value.split_once(':') {
                    Some((p, b)) => (p, b),
                    None => (value, "2"),
                };
                let p = parse_percent(p)?;
                let burst: f64 = burst
                    .parse()
                    .ok()
                    .filter(|b: &f64| b.is_finite() && *b >= 1.0)
                    .ok_or_else(|| {
                        format!("burst-loss {value:?}: the mean burst must be a number ≥ 1")
                    })?;
                self.burst_loss = Some((p, burst));
            }
            "duplicate" => self.duplicate = parse_percent(value)?,
            "reorder" => self.reorder = parse_percent(value)?,
            "reorder-delay" => self.reorder_delay = parse_duration(value)?,
            "mtu" => {
                self.mtu = value
                    .parse()
                    .ok()
                    .filter(|m| (68..=65_535).contains(m))
                    .ok_or_else(|| format!("mtu {value:?}: expected 68 to 65535 bytes"))?
            }
            _ => {
                return Err(format!(
                    "unknown impairment {key:?} (expected one of {KEYS})"
                ))
            }
        }
        Ok(())
    }

    /// Applies a list of settings, `key=value,key=value`.
    pub fn apply_list(&mut self, list: &str) -> Result<(), String> {
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| format!("{item:?}: expected key=value"))?;
            self.set(k.trim(), v.trim())?;
        }
        Ok(())
    }

    /// The link model's configuration of this direction, with a queue in BDPs sized
    /// for the round trip `rtt`.
    pub fn config(&self, rtt: Duration) -> LinkConfig {
        let mut c = LinkConfig::with_latency(self.delay)
            .jitter(self.jitter)
            .loss(self.loss)
            .duplicate(self.duplicate)
            .reorder(self.reorder, self.reorder_delay)
            .mtu(self.mtu);
        if let Some(bps) = self.rate {
            let queue = match self.queue {
                Size::Bytes(b) => b,
                Size::Bdp(k) => (k * bdp_bytes(bps, rtt) as f64).round() as usize,
            };
            c = c.bandwidth(bps).queue_bytes(queue);
        }
        if let Some((p, burst)) = self.burst_loss {
            // Gilbert model: bad→good 1/burst; good→bad so that the bad state holds
            // a fraction p of the time (every packet in it is lost).
            let p_bg = 1.0 / burst;
            c = c.burst_loss(GilbertElliott::gilbert(p * p_bg / (1.0 - p), p_bg));
        }
        c
    }
}

/// The two directions' configurations; the round trip for BDPs is the sum of the two
/// one-way delays.
pub fn link_configs(a_to_b: &DirSpec, b_to_a: &DirSpec) -> (LinkConfig, LinkConfig) {
    let rtt = a_to_b.delay + b_to_a.delay;
    (a_to_b.config(rtt), b_to_a.config(rtt))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_parse() {
        assert_eq!(parse_duration("25ms"), Ok(Duration::from_millis(25)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_rate("100mbit"), Ok(100_000_000));
        assert_eq!(parse_rate("1.5gbit"), Ok(1_500_000_000));
        assert_eq!(parse_rate("800kbit"), Ok(800_000));
        assert_eq!(parse_size("64K"), Ok(Size::Bytes(65_536)));
        assert_eq!(parse_size("1500"), Ok(Size::Bytes(1500)));
        assert_eq!(parse_size("8bdp"), Ok(Size::Bdp(8.0)));
        assert_eq!(parse_percent("0.5%"), Ok(0.005));
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        fn err<T: std::fmt::Debug>(r: Result<T, String>) -> String {
            r.unwrap_err()
        }
        assert!(err(parse_duration("-5ms")).contains("negative"));
        assert!(err(parse_duration("5m")).contains("unknown unit"));
        assert!(err(parse_duration("5")).contains("unknown unit"));
        assert!(err(parse_rate("100mbps")).contains("unknown unit"));
        assert!(err(parse_rate("0mbit")).contains("below 1"));
        assert!(err(parse_percent("100%")).contains("below 100"));
        assert!(err(parse_percent("0.01")).contains("percentage"));
        assert!(err(parse_size("3G")).contains("unknown unit"));
        assert!(err(parse_duration("ms")).contains("expected a number"));
        let mut d = DirSpec::default();
        assert!(d
            .set("latency", "5ms")
            .unwrap_err()
            .contains("unknown impairment"));
        assert!(d.apply_list("delay").unwrap_err().contains("key=value"));
        assert!(d.set("burst-loss", "1%:0.5").unwrap_err().contains("burst"));
    }

    #[test]
    fn a_spec_becomes_the_model_configuration() {
        let mut ab = DirSpec::default();
        ab.apply_list("delay=25ms,rate=100mbit,queue=2bdp,loss=1%,burst-loss=0.5%:4")
            .expect("valid");
        let mut ba = ab.clone();
        ba.apply_list("queue=64K").expect("valid");
        let (c_ab, c_ba) = link_configs(&ab, &ba);
        // 100 Mbit/s × 50 ms = 625,000 bytes per BDP.
        assert_eq!(c_ab.queue_bytes, 1_250_000);
        assert_eq!(c_ba.queue_bytes, 65_536);
        assert_eq!(c_ab.latency, Duration::from_millis(25));
        assert_eq!(c_ab.bandwidth, Some(100_000_000));
        assert_eq!(c_ab.loss, 0.01);
        let ge = c_ab.burst_loss.expect("bursty");
        assert!((ge.steady_state_loss() - 0.005).abs() < 1e-12);
        assert_eq!(ge.p_bad_to_good, 0.25);
        assert_eq!(c_ab.mtu, Some(1500));
    }
}

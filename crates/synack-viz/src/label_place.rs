//! Where the SVG ladder puts each segment's label and each note: the geometry of
//! labels and obstacles as oriented rectangles (a label runs along its slanted arrow),
//! an exact overlap test between them (separating axes), the search for a free place
//! along or beside an arrow, and for a note (`(dropped: …)`, `(2*MSL elapsed)`) the
//! search for a place beside its timeline, near its row, that crosses no arrow. A
//! label that finds no free place is left out rather than drawn over another (the
//! ladder keeps it as the arrow's hover title).

/// A rectangle turned by some angle: centre, unit vector along its length, half
/// length and half height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rect {
    c: (f64, f64),
    u: (f64, f64),
    hw: f64,
    hh: f64,
}

impl Rect {
    /// An upright rectangle from its corners.
    pub(crate) fn upright(x0: f64, y0: f64, x1: f64, y1: f64) -> Rect {
        Rect {
            c: ((x0 + x1) / 2.0, (y0 + y1) / 2.0),
            u: (1.0, 0.0),
            hw: (x1 - x0).abs() / 2.0,
            hh: (y1 - y0).abs() / 2.0,
        }
    }

    /// The line from `a` to `b`, as a rectangle of no height.
    pub(crate) fn line(a: (f64, f64), b: (f64, f64)) -> Rect {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len = dx.hypot(dy).max(1e-9);
        Rect {
            c: ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0),
            u: (dx / len, dy / len),
            hw: len / 2.0,
            hh: 0.0,
        }
    }

    fn corners(&self) -> [(f64, f64); 4] {
        let (ux, uy) = self.u;
        let (vx, vy) = (-uy, ux);
        let p = |s: f64, t: f64| {
            (
                self.c.0 + ux * s * self.hw + vx * t * self.hh,
                self.c.1 + uy * s * self.hw + vy * t * self.hh,
            )
        };
        [p(-1.0, -1.0), p(1.0, -1.0), p(1.0, 1.0), p(-1.0, 1.0)]
    }

    /// Whether the two rectangles share any point (the separating axis test: two
    /// convex shapes are apart exactly when their projections on one of their edge
    /// normals are apart).
    pub(crate) fn overlaps(&self, other: &Rect) -> bool {
        let (a, b) = (self.corners(), other.corners());
        let axes = [
            self.u,
            (-self.u.1, self.u.0),
            other.u,
            (-other.u.1, other.u.0),
        ];
        axes.iter().all(|&(ax, ay)| {
            let span = |pts: &[(f64, f64); 4]| {
                pts.iter()
                    .map(|p| p.0 * ax + p.1 * ay)
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                        (lo.min(v), hi.max(v))
                    })
            };
            let (a0, a1) = span(&a);
            let (b0, b1) = span(&b);
            a0 <= b1 && b0 <= a1
        })
    }
}

/// What is already on the picture where labels go.
#[derive(Debug, Default)]
pub(crate) struct Obstacles {
    /// Nothing may overlap these: placed labels, ✗ marks, notes, gap breaks, bands.
    pub(crate) hard: Vec<Rect>,
    /// Better not crossed: the arrows.
    pub(crate) lines: Vec<Rect>,
}

/// Text body above the baseline and below it (descenders), for 10.5 px type.
const ASCENT: f64 = 8.5;
const DESCENT: f64 = 2.5;
/// Air kept around a label.
const PAD: f64 = 1.0;

/// The box of a label `w` wide whose baseline is centred on `c` and runs along `u`.
pub(crate) fn label_box(c: (f64, f64), u: (f64, f64), w: f64) -> Rect {
    // Up from the baseline (screen y grows downwards).
    let n = (u.1, -u.0);
    let mid = (ASCENT - DESCENT) / 2.0;
    Rect {
        c: (c.0 + n.0 * mid, c.1 + n.1 * mid),
        u,
        hw: w / 2.0 + PAD,
        hh: (ASCENT + DESCENT) / 2.0 + PAD,
    }
}

/// Where a label of width `w` goes along the arrow from `a` to `b` (`a` left of `b`),
/// skipping the arrow `own` among the obstacle lines: the middle just above the line,
/// else further along either way, then just below the line (a lost segment's label
/// may also stand one line further out); the first place that overlaps nothing and
/// crosses the fewest other arrows. The chosen box becomes an obstacle. `None` when
/// every place overlaps something.
pub(crate) fn place(
    obstacles: &mut Obstacles,
    own: Option<usize>,
    a: (f64, f64),
    b: (f64, f64),
    w: f64,
    lost: bool,
) -> Option<(f64, f64)> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len = dx.hypot(dy).max(1.0);
    let u = (dx / len, dy / len);
    let n = (u.1, -u.0);
    let lo = ((w / 2.0 + 6.0) / len).min(0.5);
    let hi = 1.0 - lo;
    let offsets: &[f64] = if lost {
        &[4.0, -13.0, 17.0, -26.0]
    } else {
        &[4.0, -13.0]
    };
    const ALONG: [f64; 11] = [
        0.5, 0.42, 0.58, 0.34, 0.66, 0.26, 0.74, 0.18, 0.82, 0.1, 0.9,
    ];
    let mut best: Option<(usize, (f64, f64), Rect)> = None;
    for &off in offsets {
        for t in ALONG {
            let t = t.clamp(lo, hi);
            let c = (a.0 + dx * t + n.0 * off, a.1 + dy * t + n.1 * off);
            let r = label_box(c, u, w);
            if obstacles.hard.iter().any(|o| o.overlaps(&r)) {
                continue;
            }
            let crossings = obstacles
                .lines
                .iter()
                .enumerate()
                .filter(|&(k, l)| Some(k) != own && l.overlaps(&r))
                .count();
            if best.as_ref().is_none_or(|b| crossings < b.0) {
                best = Some((crossings, c, r));
                if crossings == 0 {
                    break;
                }
            }
        }
        if best.as_ref().is_some_and(|b| b.0 == 0) {
            break;
        }
    }
    let (_, c, r) = best?;
    obstacles.hard.push(r);
    Some(c)
}

/// The box of a note `w` wide beside the timeline at `x` (`inward`: 1.0 to its right,
/// -1.0 to its left), 10 px from it, centred on `y`.
pub(crate) fn note_box(x: f64, y: f64, w: f64, inward: f64) -> Rect {
    let x0 = x + inward * 10.0;
    let x1 = x0 + inward * w;
    Rect::upright(x0.min(x1), y - 6.0, x0.max(x1), y + 7.0)
}

/// Steps (px) a note may move from its row, nearest first (below before above, since
/// the segment a note is about arrives from above): one text line at a time, up to
/// forty lines either way (an arrow of a segment the network held a long time runs
/// nearly flat across many rows, and a dozen lines did not always clear it).
fn note_steps() -> impl Iterator<Item = f64> {
    core::iter::once(0.0).chain((1..=40).flat_map(|k| {
        let d = 13.0 * f64::from(k);
        [d, -d]
    }))
}

/// Where a note `w` wide goes beside the timeline at `x` (see [`note_box`]), near its
/// row's `y`: the nearest place that overlaps nothing and crosses no arrow, else the
/// one overlapping nothing that crosses the fewest, else the row itself. The chosen
/// box becomes an obstacle. Returns the chosen centre y and the arrows it crosses.
pub(crate) fn place_note(
    obstacles: &mut Obstacles,
    x: f64,
    y: f64,
    w: f64,
    inward: f64,
) -> (f64, usize) {
    let mut best: Option<(usize, f64, Rect)> = None;
    for dy in note_steps() {
        let r = note_box(x, y + dy, w, inward);
        if obstacles.hard.iter().any(|o| o.overlaps(&r)) {
            continue;
        }
        let crossings = obstacles.lines.iter().filter(|l| l.overlaps(&r)).count();
        if best.as_ref().is_none_or(|b| crossings < b.0) {
            best = Some((crossings, y + dy, r));
            if crossings == 0 {
                break;
            }
        }
    }
    let (crossings, y, r) = best.unwrap_or_else(|| {
        let r = note_box(x, y, w, inward);
        let n = obstacles.lines.iter().filter(|l| l.overlaps(&r)).count();
        (n, y, r)
    });
    obstacles.hard.push(r);
    (y, crossings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turned_rectangles_overlap_only_when_they_touch() {
        let a = Rect::upright(0.0, 0.0, 10.0, 10.0);
        assert!(a.overlaps(&Rect::upright(9.0, 9.0, 20.0, 20.0)));
        assert!(!a.overlaps(&Rect::upright(11.0, 0.0, 20.0, 10.0)));
        // A diamond whose corner points at the square's corner: their boxes overlap,
        // the shapes do not.
        let d = Rect {
            c: (18.0, 18.0),
            u: (0.5f64.sqrt(), 0.5f64.sqrt()),
            hw: 5.0,
            hh: 5.0,
        };
        assert!(!a.overlaps(&d));
        let closer = Rect {
            c: (13.0, 13.0),
            ..d
        };
        assert!(a.overlaps(&closer));
        // A line through the square, and one beside it.
        assert!(a.overlaps(&Rect::line((-5.0, 5.0), (15.0, 6.0))));
        assert!(!a.overlaps(&Rect::line((-5.0, 12.0), (15.0, 30.0))));
    }

    #[test]
    fn a_second_label_on_the_same_arrow_moves_and_a_third_may_find_no_room() {
        let mut obs = Obstacles::default();
        let (a, b) = ((0.0, 0.0), (400.0, 40.0));
        let first = place(&mut obs, None, a, b, 100.0, false).expect("free");
        let second = place(&mut obs, None, a, b, 100.0, false).expect("room further along");
        assert_ne!(first, second);
        assert!(!obs.hard[0].overlaps(&obs.hard[1]));
        // A label as long as the arrow has one place above and one below.
        let mut obs = Obstacles::default();
        assert!(place(&mut obs, None, a, b, 390.0, false).is_some());
        assert!(place(&mut obs, None, a, b, 390.0, false).is_some());
        assert!(place(&mut obs, None, a, b, 390.0, false).is_none());
    }

    #[test]
    fn a_note_moves_off_an_arrow_that_crosses_its_row() {
        let mut obs = Obstacles::default();
        // A flat arrow arriving at the right timeline (x 400) on the note's row.
        obs.lines.push(Rect::line((0.0, 95.0), (400.0, 100.0)));
        let (y, crossings) = place_note(&mut obs, 400.0, 100.0, 200.0, -1.0);
        assert_eq!(crossings, 0);
        assert!(y > 100.0, "below the arrival: {y}");
        // A second note on the same row goes elsewhere again.
        let (y2, crossings) = place_note(&mut obs, 400.0, 100.0, 200.0, -1.0);
        assert_eq!(crossings, 0);
        assert!((y2 - y).abs() >= 13.0, "{y} {y2}");
        // Nothing in the way: the note stays on its row.
        let mut obs = Obstacles::default();
        assert_eq!(place_note(&mut obs, 0.0, 50.0, 100.0, 1.0), (50.0, 0));
    }

    #[test]
    fn a_label_avoids_crossing_another_arrow_when_it_can() {
        let mut obs = Obstacles::default();
        // A steep arrow through the middle of a flat one.
        obs.lines.push(Rect::line((200.0, -100.0), (200.0, 100.0)));
        let c = place(&mut obs, None, (0.0, 0.0), (400.0, 0.0), 120.0, false).unwrap();
        assert!((c.0 - 200.0).abs() > 60.0, "{c:?}");
    }
}

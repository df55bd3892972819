//! stub
use crate::timeline::Timeline;
/// Options.
#[derive(Debug, Clone, Default)]
pub struct LadderSvgOptions {}
/// Draw.
pub fn render_svg_ladder(_tl: &Timeline, _o: &LadderSvgOptions) -> String {
    String::new()
}

//! stub
use crate::timeline::Timeline;
/// Options.
#[derive(Debug, Clone, Default)]
pub struct SeqGraphOptions {}
/// Draw.
pub fn render_seq_graph(_tl: &Timeline, _o: &SeqGraphOptions) -> String {
    String::new()
}

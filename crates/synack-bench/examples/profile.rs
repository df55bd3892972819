//! One scenario on one stack, for profilers:
//! `profile bulk synack|smoltcp [MTU] [MiB]` or `profile churn synack|smoltcp [TIME-WAIT] [count]`.

use synack_bench::Side;

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let side = if a.get(1).map(String::as_str) == Some("smoltcp") {
        Side::Smoltcp
    } else {
        Side::Synack
    };
    let n: u64 = a.get(3).and_then(|x| x.parse().ok()).unwrap_or(64);
    let r = if a.first().map(String::as_str) == Some("churn") {
        synack_bench::churn_once(
            side,
            n as usize,
            a.get(2).and_then(|x| x.parse().ok()).unwrap_or(0),
        )
    } else {
        let mtu = a.get(2).and_then(|x| x.parse().ok()).unwrap_or(1500);
        synack_bench::bulk_once(side, mtu, n << 20, 0)
    };
    println!("{r:?}");
}

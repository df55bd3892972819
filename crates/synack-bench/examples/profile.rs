//! One scenario on one stack, for profilers:
//! `profile bulk synack|smoltcp [MTU] [MiB]`, `profile churn synack|smoltcp [TIME-WAIT] [count]`
//! or, as root on Linux, `profile tun veth|k2s|s2k|k2smol|smol2k [MiB]` (one TUN path)
//! or `profile tun http-file|http-mem|http-file-offload|http-mem-offload [MiB]` (curl
//! downloading from synack's HTTP server).

use synack_bench::Side;

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let side = if a.get(1).map(String::as_str) == Some("smoltcp") {
        Side::Smoltcp
    } else {
        Side::Synack
    };
    let n: u64 = a.get(3).and_then(|x| x.parse().ok()).unwrap_or(64);
    #[cfg(target_os = "linux")]
    if a.first().map(String::as_str) == Some("tun") {
        use synack_bench::TunPath;
        let path = match a.get(1).map(String::as_str) {
            Some("veth") => TunPath::Veth,
            Some("s2k") => TunPath::SynackToKernel,
            Some("k2smol") => TunPath::KernelToSmoltcp,
            Some("smol2k") => TunPath::SmoltcpToKernel,
            Some("http-file") => TunPath::HttpFile { offload: false },
            Some("http-mem") => TunPath::HttpMemory { offload: false },
            Some("http-file-offload") => TunPath::HttpFile { offload: true },
            Some("http-mem-offload") => TunPath::HttpMemory { offload: true },
            _ => TunPath::KernelToSynack,
        };
        let mib: u64 = a.get(2).and_then(|x| x.parse().ok()).unwrap_or(1024);
        println!("{:?}", synack_bench::tun_once(path, mib << 20));
        return;
    }
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

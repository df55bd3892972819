//! `synack trace` on a real capture: two Linux hosts (network namespaces joined by a
//! veth pair) talk HTTP while tcpdump records them; the ladder drawn from that pcap
//! must show the kernel's handshake and close. Needs root, `ip`, `tcpdump`, `python3`
//! and `curl` (installed by scripts/setup.sh); skipped, saying why, otherwise.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc_geteuid() } != 0 {
        return Some("not root: network namespaces need CAP_NET_ADMIN".into());
    }
    for c in ["ip", "tcpdump", "python3", "curl"] {
        if !have(c) {
            return Some(format!(
                "`{c}` not installed (scripts/setup.sh installs it)"
            ));
        }
    }
    None
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

fn sh(cmd: &str) {
    let st = Command::new("sh").args(["-c", cmd]).status().expect("sh");
    assert!(st.success(), "command failed: {cmd}");
}

/// Deletes the namespaces and stops the child processes, even when the test fails.
struct Guard {
    names: Vec<String>,
    children: Vec<Child>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for n in &self.names {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

#[test]
fn ladder_of_a_kernel_to_kernel_capture() {
    if let Some(why) = skip_reason() {
        eprintln!("skipping ladder_of_a_kernel_to_kernel_capture: {why}");
        return;
    }
    let id = std::process::id() % 10000;
    let (a, b) = (format!("sntr-a{id}"), format!("sntr-b{id}"));
    let mut g = Guard {
        names: vec![a.clone(), b.clone()],
        children: Vec::new(),
    };
    sh(&format!("ip netns add {a} && ip netns add {b}"));
    sh(&format!(
        "ip link add va{id} netns {a} type veth peer name vb{id} netns {b} && \
         ip -n {a} addr add 10.201.{x}.1/24 dev va{id} && ip -n {b} addr add 10.201.{x}.2/24 dev vb{id} && \
         ip -n {a} link set va{id} up && ip -n {b} link set vb{id} up && \
         ip -n {a} link set lo up && ip -n {b} link set lo up",
        x = id % 250
    ));
    let dir = std::env::temp_dir().join(format!("synack-trace-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.txt"), b"hello from the kernel\n").unwrap();
    let pcap = dir.join("kernel.pcap");
    g.children.push(
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &b,
                "python3",
                "-m",
                "http.server",
                "8000",
                "--bind",
                "0.0.0.0",
            ])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut tcpdump = Command::new("ip")
        .args([
            "netns",
            "exec",
            &a,
            "tcpdump",
            "--immediate-mode",
            "-U",
            "-n",
            "-i",
            &format!("va{id}"),
            "-w",
        ])
        .arg(&pcap)
        .arg("tcp port 8000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // tcpdump says "listening on ..." once it captures; start the traffic after that.
    let stderr = tcpdump.stderr.take().unwrap();
    g.children.push(tcpdump);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("listening on") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("tcpdump did not start");
    // Wait for the server, then fetch once.
    let url = format!("http://10.201.{}.2:8000/hello.txt", id % 250);
    let start = Instant::now();
    loop {
        let out = Command::new("ip")
            .args(["netns", "exec", &a, "curl", "-s", "--max-time", "5", &url])
            .output()
            .unwrap();
        if out.status.success() && out.stdout == b"hello from the kernel\n" {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "HTTP server never answered"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Let the close finish and tcpdump write it, then stop tcpdump.
    std::thread::sleep(Duration::from_millis(1500));
    for c in g.children.iter_mut().rev() {
        let _ = Command::new("kill")
            .args(["-INT", &c.id().to_string()])
            .status();
    }
    std::thread::sleep(Duration::from_millis(500));
    let out = Command::new(env!("CARGO_BIN_EXE_synack"))
        .arg("trace")
        .arg(&pcap)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "synack trace failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The last connection in the capture is the successful fetch (earlier tries may
    // have been refused while the server started).
    for s in [
        "SYN-SENT",
        "SYN-RECEIVED",
        "ESTABLISHED",
        "FIN-WAIT-1",
        "CLOSE-WAIT",
        "LAST-ACK",
        "TIME-WAIT",
    ] {
        assert!(
            text.contains(s),
            "missing {s} in the ladder of {}:\n{text}",
            pcap.display()
        );
    }
    assert!(
        text.contains("seq=A") && text.contains("ack=A+1") && text.contains("ack=B+1"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

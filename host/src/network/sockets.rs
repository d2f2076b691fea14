//! The machine's sockets, from `/proc/net/{tcp,tcp6,udp,udp6,unix}` (through `procfs`), and
//! which process holds each. Nothing here authorizes: the caller checks the files before they
//! are read and each process before it is named.

use std::collections::HashMap;

use procfs::net::{TcpState, UnixState};
use procfs::process::FDTarget;

use crate::bindings::wit_network as wit;

/// Most sockets of each kind one call reports.
pub(crate) const MAX_SOCKETS: usize = 65_536;

/// The `/proc/net` files read, in order.
pub(crate) const FILES: [&str; 5] = [
    "/proc/net/tcp",
    "/proc/net/tcp6",
    "/proc/net/udp",
    "/proc/net/udp6",
    "/proc/net/unix",
];

/// The internet sockets (TCP, then TCP6, UDP, UDP6).
pub(crate) fn internet() -> Result<Vec<wit::InternetSocket>, String> {
    // procfs's TCP and UDP entries have the same fields but no common trait; `state` is the
    // only difference (UDP has no connection state: Rex reports `NONE`).
    macro_rules! rows {
        ($out:ident, $protocol:literal, $entries:expr, $state:expr) => {{
            let entries = $entries
                .map_err(|e| format!("reading /proc/net/{}: {e}", $protocol.to_lowercase()))?;
            $out.extend(
                entries
                    .into_iter()
                    .take(MAX_SOCKETS)
                    .map(|e| wit::InternetSocket {
                        protocol: $protocol.to_string(),
                        local_address: e.local_address.to_string(),
                        remote_address: e.remote_address.to_string(),
                        state: $state(&e).to_string(),
                        recv_queue: e.rx_queue,
                        send_queue: e.tx_queue,
                        inode: e.inode,
                        pid: None,
                        process_name: None,
                    }),
            );
        }};
    }
    let mut out = Vec::new();
    let tcp = |e: &procfs::net::TcpNetEntry| tcp_state(&e.state);
    let udp = |_: &procfs::net::UdpNetEntry| "NONE";
    rows!(out, "TCP", procfs::net::tcp(), tcp);
    rows!(out, "TCP6", procfs::net::tcp6(), tcp);
    rows!(out, "UDP", procfs::net::udp(), udp);
    rows!(out, "UDP6", procfs::net::udp6(), udp);
    Ok(out)
}

/// The Unix sockets.
pub(crate) fn unix() -> Result<Vec<wit::UnixSocket>, String> {
    let entries = procfs::net::unix().map_err(|e| format!("reading /proc/net/unix: {e}"))?;
    Ok(entries
        .into_iter()
        .take(MAX_SOCKETS)
        .map(|e| wit::UnixSocket {
            protocol: match i32::from(e.socket_type) {
                1 => "STREAM",
                2 => "DGRAM",
                5 => "SEQPACKET",
                _ => "UNKNOWN",
            }
            .to_string(),
            state: match e.state {
                UnixState::UNCONNECTED => "UNCONNECTED",
                UnixState::CONNECTING => "CONNECTING",
                UnixState::CONNECTED => "CONNECTED",
                UnixState::DISCONNECTING => "DISCONNECTING",
            }
            .to_string(),
            ref_count: e.ref_count,
            inode: e.inode,
            path: e.path.map(|p| p.to_string_lossy().into_owned()),
            pid: None,
            process_name: None,
        })
        .collect())
}

fn tcp_state(state: &TcpState) -> &'static str {
    match state {
        TcpState::Established => "ESTABLISHED",
        TcpState::SynSent => "SYN_SENT",
        TcpState::SynRecv => "SYN_RECV",
        TcpState::FinWait1 => "FIN_WAIT1",
        TcpState::FinWait2 => "FIN_WAIT2",
        TcpState::TimeWait => "TIME_WAIT",
        TcpState::Close => "CLOSE",
        TcpState::CloseWait => "CLOSE_WAIT",
        TcpState::LastAck => "LAST_ACK",
        TcpState::Listen => "LISTEN",
        TcpState::Closing => "CLOSING",
        TcpState::NewSynRecv => "NEW_SYN_RECV",
    }
}

/// The socket inodes `proc` holds open.
pub(crate) fn socket_inodes(proc: &procfs::process::Process) -> Vec<u64> {
    let Ok(fds) = proc.fd() else {
        return Vec::new();
    };
    fds.flatten()
        .take(16_384)
        .filter_map(|fd| match fd.target {
            FDTarget::Socket(inode) => Some(inode),
            _ => None,
        })
        .collect()
}

/// Names each socket's process from `holders` (socket inode → PID and process name).
pub(crate) fn name_holders(table: &mut wit::SocketTable, holders: &HashMap<u64, (u32, String)>) {
    for s in &mut table.internet {
        if let Some((pid, name)) = holders.get(&s.inode) {
            s.pid = Some(*pid);
            s.process_name = Some(name.clone());
        }
    }
    for s in &mut table.unix {
        if let Some((pid, name)) = holders.get(&s.inode) {
            s.pid = Some(*pid);
            s.process_name = Some(name.clone());
        }
    }
}

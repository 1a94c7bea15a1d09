//! `report.md`: the run summary as Markdown, rendered from [`Summary`] only.

use std::fmt::Write as _;

use crate::model::summary::{CellSummary, MIN_REPETITIONS, Summary, UNSTABLE_CV, rpc_origin};
use crate::report::format::{
    self, cell_label, clear_win, cpu_per_gib, flags, headline_median, headline_value,
    histogram_precision, latency, number, p99_range, percent, range, server_label, settings,
    wire_ratios,
};

/// Renders the whole Markdown report.
#[must_use]
pub fn render(summary: &Summary) -> String {
    let mut out = String::new();
    header(&mut out, summary);
    best(&mut out, summary);
    for workload in summary.workloads() {
        workload_section(&mut out, summary, workload);
    }
    efficiency(&mut out, summary);
    wire(&mut out, summary);
    options(&mut out, summary);
    rpc(&mut out, summary);
    clients(&mut out, summary);
    nas(&mut out, summary);
    problems(&mut out, summary);
    out
}

fn header(out: &mut String, s: &Summary) {
    let _ = writeln!(out, "# nfslab benchmark: {} (`{}`)\n", s.plan, s.run_id);
    let status = s.status_text();
    let _ = writeln!(
        out,
        "- status: **{status}**, started {}, finished {}, nfslab {}",
        s.started,
        s.finished.as_deref().unwrap_or("-"),
        s.tool_version
    );
    let env = &s.environment;
    let _ = match env.kubernetes_version.as_deref() {
        Some(version) => writeln!(out, "- cluster: {}; Kubernetes {version}", env.cluster),
        None => writeln!(out, "- cluster: {}", env.cluster),
    };
    for n in &env.nodes {
        let _ = writeln!(
            out,
            "- node `{}`: kernel {}, {}",
            n.name,
            n.kernel.as_deref().unwrap_or("-"),
            n.os_image.as_deref().unwrap_or("-")
        );
    }
    for sv in &env.servers {
        let _ = writeln!(
            out,
            "- server `{}`: {} at `{}:{}`",
            sv.name, sv.flavor, sv.address, sv.export
        );
    }
    for note in &env.notes {
        let _ = writeln!(out, "- note: {note}");
    }
    let _ = writeln!(
        out,
        "- method: {} repetitions per cell; figures are medians over repetitions; a cell whose \
         coefficient of variation exceeds {:.0}% is marked unstable; a win is clear only with \
         at least {MIN_REPETITIONS} repetitions on both sides and ranges that do not overlap; \
         latency percentiles come from the histograms of every client of every repetition \
         merged exactly ({}); bandwidth in MB/s (10^6 bytes/s)\n",
        s.repetitions,
        UNSTABLE_CV * 100.0,
        histogram_precision()
    );
}

fn best(out: &mut String, s: &Summary) {
    if s.best.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Best profile per workload\n");
    let _ = writeln!(
        out,
        "| workload | server | clients | best profile | median | runner-up | clear win |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for b in &s.best {
        let runner = b
            .runner_up
            .as_ref()
            .map_or_else(|| "-".to_owned(), |(p, v)| format!("{p} ({})", number(*v)));
        let _ = writeln!(
            out,
            "| {} | {} | {} | **{}** | {} {} | {} | {} |",
            b.workload,
            server_label(&b.server, b.access),
            b.clients,
            b.profile,
            number(b.value),
            b.headline.label(),
            runner,
            clear_win(b)
        );
    }
    out.push('\n');
}

/// Cells of one workload, and whether labels need the server / client count.
pub(crate) fn workload_cells<'a>(
    s: &'a Summary,
    workload: &str,
) -> (Vec<&'a CellSummary>, bool, bool) {
    let cells: Vec<&CellSummary> = s.cells.iter().filter(|c| c.workload == workload).collect();
    let many_servers = cells.iter().any(|c| c.server != cells[0].server);
    let many_clients = cells.iter().any(|c| c.clients != cells[0].clients);
    (cells, many_servers, many_clients)
}

fn workload_section(out: &mut String, s: &Summary, workload: &str) {
    let (cells, many_servers, many_clients) = workload_cells(s, workload);
    let Some(first) = cells.first() else {
        return;
    };
    let op = first.primary_op().unwrap_or("-").to_owned();
    let _ = writeln!(out, "## {workload}\n");
    let _ = writeln!(
        out,
        "Pattern `{}`, block size {} bytes; judged by {}; latency of `{op}` operations.\n",
        first.pattern,
        first.block_size,
        first.headline.label()
    );
    let _ = writeln!(
        out,
        "| profile | median | min–max | CV | IOPS | {op} p50 | {op} p99 | {op} p99 min–max | {op} p99.9 | CPU s/GiB | cache | flags |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for c in &cells {
        let l = c.latency.get(&op);
        let pct = |f: fn(&nfslab_workload::LatencySummary) -> u64| {
            l.map_or_else(|| "-".to_owned(), |l| latency(f(&l.latency_ns) as f64))
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell_label(c, many_servers, many_clients),
            headline_median(c),
            range(c.headline_display()),
            format::cv(c.headline_cv),
            c.iops.map_or_else(|| "-".to_owned(), |s| number(s.median)),
            pct(|l| l.p50),
            pct(|l| l.p99),
            p99_range(c, &op),
            pct(|l| l.p99_9),
            cpu_per_gib(c),
            c.cache.as_deref().unwrap_or("-"),
            flags(c).join("; ")
        );
    }
    out.push('\n');
    jobs(out, &cells, many_servers, many_clients);
}

/// What each cell ran, in human units, and the line that reproduces one of its clients
/// outside Kubernetes.
fn jobs(out: &mut String, cells: &[&CellSummary], many_servers: bool, many_clients: bool) {
    if cells.iter().all(|c| c.job.is_none() && c.command.is_none()) {
        return;
    }
    let _ = writeln!(out, "What ran (per client):\n");
    for c in cells {
        let _ = write!(out, "- {}", cell_label(c, many_servers, many_clients));
        if let Some(text) = settings(c) {
            let _ = write!(out, ": {text}");
        }
        out.push('\n');
        if let Some(command) = &c.command {
            let _ = writeln!(out, "  `{command}`");
        }
    }
    out.push('\n');
}

/// Bytes the jobs moved against bytes on the wire, per cell with figures.
fn wire(out: &mut String, s: &Summary) {
    let cells: Vec<&CellSummary> = s.cells.iter().filter(|c| c.wire.is_some()).collect();
    if cells.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Did the bytes cross the wire?\n");
    let _ = writeln!(
        out,
        "Bytes the clients' jobs read and wrote (ramp included) against the bytes exchanged \
         with the server: the kernel's `/proc/self/mountstats` for mounts, the user-space \
         client's own READ and WRITE traffic for protocol cells (RPC headers included). Below \
         {}%, part of the figure came from a client cache or never reached the server.\n",
        number((1.0 - nfslab_workload::MEANINGFUL_SHARE) * 100.0)
    );
    let _ = writeln!(out, "| cell | source | wire / job | finding |");
    let _ = writeln!(out, "|---|---|---|---|");
    for c in cells {
        let Some(w) = &c.wire else { continue };
        let finding = if w.findings.is_empty() {
            "none".to_owned()
        } else {
            w.findings
                .iter()
                .map(|f| f.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {finding} |",
            c.id,
            w.source,
            wire_ratios(c)
        );
    }
    out.push('\n');
}

fn efficiency(out: &mut String, s: &Summary) {
    let rows = s.efficiencies();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Mount efficiency\n");
    let _ = writeln!(
        out,
        "The same job through a kernel mount and through the user-space NFSv3 client (no \
         mount): mount / protocol. Below 100% the mount delivers less than the server gives a \
         protocol client; a p99 ratio above 1 is latency the mount adds.\n"
    );
    let _ = writeln!(
        out,
        "| workload | server | profile | clients | figure | mount | protocol | efficiency | p99 mount | p99 protocol | p99 ratio |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
    for (c, e) in rows {
        let ns = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |v| latency(v as f64));
        let op = e
            .latency_op
            .as_deref()
            .map_or_else(String::new, |op| format!("{op} "));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | **{}** | {op}{} | {op}{} | {} |",
            c.workload,
            c.server,
            c.profile,
            c.clients,
            e.headline.label(),
            headline_value(e.headline, e.mount),
            headline_value(e.headline, e.protocol),
            percent(e.ratio),
            ns(e.mount_p99_ns),
            ns(e.protocol_p99_ns),
            e.p99_ratio.map_or_else(|| "-".to_owned(), number)
        );
    }
    out.push('\n');
}

fn options(out: &mut String, s: &Summary) {
    let _ = writeln!(out, "## Requested vs effective mount options\n");
    if s.cells.iter().any(|c| c.access.is_some()) {
        let _ = writeln!(
            out,
            "What each profile asked for and what was used: for mount cells what the kernel \
             reports for the host's mount (`/proc/self/mountinfo`), for protocol cells the \
             user-space client's parameters; options without a protocol equivalent are listed \
             as not applicable. Differences are flagged.\n"
        );
    } else {
        let _ = writeln!(
            out,
            "What the PV asked for and what the kernel reports inside the client pod \
             (`/proc/self/mountinfo`). Differences are flagged.\n"
        );
    }
    let _ = writeln!(
        out,
        "| server | profile | requested | effective | verdict |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    let mut seen = Vec::new();
    for c in &s.cells {
        if seen.contains(&(c.server.as_str(), c.profile.as_str(), c.access)) {
            continue;
        }
        seen.push((&c.server, &c.profile, c.access));
        let requested = if c.options.requested.is_empty() {
            "(none)".to_owned()
        } else {
            format!("`{}`", c.options.requested.join(","))
        };
        let effective = c.options.effective.as_ref().map_or_else(
            || "(not reported)".to_owned(),
            |e| format!("`{}`", e.join(",")),
        );
        let mut diffs: Vec<String> = c
            .options
            .flagged()
            .iter()
            .map(|d| {
                format!(
                    "{}: {} → {}",
                    format::diff_kind(d.kind),
                    d.requested.as_deref().unwrap_or("-"),
                    d.effective.as_deref().unwrap_or("-")
                )
            })
            .collect();
        if let Some(na) = format::not_applicable(c) {
            diffs.push(format!("not applicable: {na}"));
        }
        let _ = writeln!(
            out,
            "| {} | {} | {requested} | {effective} | {} |",
            server_label(&c.server, c.access),
            c.profile,
            {
                // The same verdict as the HTML report's, then the details.
                let (verdict, _) = format::options_verdict(c);
                if diffs.is_empty() {
                    verdict
                } else {
                    format!("{verdict}: {}", diffs.join("; "))
                }
            }
        );
    }
    out.push('\n');
}

fn rpc(out: &mut String, s: &Summary) {
    let cells: Vec<&CellSummary> = s.cells.iter().filter(|c| c.rpc.is_some()).collect();
    if cells.is_empty() {
        return;
    }
    let _ = writeln!(out, "## RPC statistics\n");
    if let Some(origin) = rpc_origin(&cells) {
        let _ = writeln!(out, "{origin}\n");
    }
    let _ = writeln!(
        out,
        "| cell | RPCs | retransmits | major timeouts | busiest operations |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for c in cells {
        let Some(r) = &c.rpc else { continue };
        let top: Vec<String> = r
            .busiest(3)
            .into_iter()
            .map(|(name, op)| format!("{name} {} (RTT {} ms)", op.ops, number(op.avg_rtt_ms)))
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            c.id,
            r.total_rpcs,
            r.retransmits,
            r.major_timeouts,
            top.join(", ")
        );
    }
    out.push('\n');
}

fn clients(out: &mut String, s: &Summary) {
    let cells: Vec<&CellSummary> = s.cells.iter().filter(|c| c.clients > 1).collect();
    if cells.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Per-client figures\n");
    let _ = writeln!(
        out,
        "| cell | client | median | min–max | start skew (max) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for c in cells {
        for client in &c.per_client {
            let spread = client.headline_display(c.headline);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} ms |",
                c.id,
                client.client,
                spread.map_or_else(|| "-".to_owned(), |s| number(s.median)),
                range(spread),
                number(c.max_start_skew() * 1e3)
            );
        }
    }
    out.push('\n');
}

fn nas(out: &mut String, s: &Summary) {
    let Some(n) = &s.nas else { return };
    let t = &n.reference.tier;
    let _ = writeln!(out, "## Compared with NAS tier \"{}\"\n", t.title);
    let gib = n.reference.provisioned_bytes as f64 / 1_073_741_824.0;
    let advertised = n.advertised_read_mb_s.map_or_else(
        || "-".to_owned(),
        |r| {
            if (r.max - r.min).abs() < f64::EPSILON {
                format!("{} MB/s", number(r.min))
            } else {
                format!("{}–{} MB/s", number(r.min), number(r.max))
            }
        },
    );
    let _ = writeln!(
        out,
        "Provisioned {} GiB; advertised read bandwidth {advertised}; max IOPS {}; monthly \
         cost {} {}.{}\n",
        number(gib),
        t.max_iops.map_or_else(|| "-".to_owned(), number),
        n.monthly_cost.map_or_else(|| "-".to_owned(), number),
        n.reference.currency,
        n.capacity_note
            .as_ref()
            .map_or_else(String::new, |c| format!(" Note: {c}."))
    );
    let _ = writeln!(
        out,
        "| workload | best profile | measured MB/s | % of read bandwidth | measured IOPS | % of max IOPS | cost per MB/s |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for r in &n.rows {
        let pct = r.percent_of_read_bandwidth.map_or_else(
            || "-".to_owned(),
            |p| {
                if (p.max - p.min).abs() < 1e-9 {
                    format!("{}%", number(p.min))
                } else {
                    format!("{}–{}%", number(p.min), number(p.max))
                }
            },
        );
        let _ = writeln!(
            out,
            "| {} | {} | {} | {pct} | {} | {} | {} |",
            r.workload,
            r.profile,
            number(r.measured_mb_s),
            number(r.measured_iops),
            r.percent_of_max_iops
                .map_or_else(|| "-".to_owned(), |p| format!("{}%", number(p))),
            r.cost_per_mb_s.map_or_else(
                || "-".to_owned(),
                |c| format!("{} {}", number(c), n.reference.currency)
            )
        );
    }
    out.push('\n');
}

fn problems(out: &mut String, s: &Summary) {
    let failures = s.failures();
    if !failures.is_empty() {
        let _ = writeln!(out, "## Failures\n");
        for (id, f) in failures {
            let _ = writeln!(out, "- `{id}`: {f}");
        }
        out.push('\n');
    }
    let notes = s.notes();
    if !s.warnings.is_empty() || !notes.is_empty() {
        let _ = writeln!(out, "## Notes\n");
        for w in &s.warnings {
            let _ = writeln!(out, "- plan: {w}");
        }
        for (id, n) in notes {
            let _ = writeln!(out, "- `{id}`: {n}");
        }
        out.push('\n');
    }
}

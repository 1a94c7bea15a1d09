//! `report.html`: one self-contained page (inline CSS and inline SVG charts, no script, no
//! external resource), rendered from [`Summary`] only.
//!
//! Sections: run and environment; best profile per workload; one section per workload with
//! its chart (`charts::workload_chart`) and table; mount efficiency (host runs with both
//! access paths); requested vs effective mount options
//! option by option; kernel RPC statistics; per-client figures; NAS tier comparison;
//! failures and notes.

use std::fmt::Write as _;

use crate::model::summary::{CellSummary, MIN_REPETITIONS, Summary, UNSTABLE_CV, rpc_origin};
use crate::report::charts::{self, Bar, ChartError};
use crate::report::format::{
    self, cell_label, clear_win, cpu_per_gib, flags, headline_median, headline_value,
    histogram_precision, latency, number, p99_range, percent, range, server_label, settings,
    wire_ratios,
};
use crate::report::markdown::workload_cells;

/// Escapes text for HTML element content and attribute values.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page's stylesheet.
pub const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.flag{color:#b34700;font-weight:600}.ok{color:#1a7f37}.muted{color:#777}
code{background:#f6f6f6;padding:0 .2rem;border-radius:3px;font-size:.85em;word-break:break-all}
figure{margin:0}svg{max-width:100%;height:auto}
ul.meta{list-style:none;padding:0}ul.meta li{margin:.15rem 0}
details summary{cursor:pointer}";

/// Renders the page.
pub fn render(summary: &Summary) -> Result<String, ChartError> {
    let mut out = String::new();
    let title = format!("nfslab benchmark: {} ({})", summary.plan, summary.run_id);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{STYLE}\n</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    out.push_str(&sections(summary)?);
    out.push_str("</body>\n</html>\n");
    Ok(out)
}

/// The page's content below its title (run facts, charts, tables), for pages that embed a
/// benchmark report, such as the combined report of `nfslab run`.
pub fn sections(summary: &Summary) -> Result<String, ChartError> {
    let mut out = String::new();
    header(&mut out, summary);
    best(&mut out, summary);
    for workload in summary.workloads() {
        workload_section(&mut out, summary, workload)?;
    }
    efficiency(&mut out, summary);
    wire(&mut out, summary);
    options(&mut out, summary);
    rpc(&mut out, summary);
    clients(&mut out, summary);
    nas(&mut out, summary);
    problems(&mut out, summary);
    Ok(out)
}

fn header(out: &mut String, s: &Summary) {
    let status = s.status_text();
    out.push_str("<ul class=\"meta\">\n");
    let _ = writeln!(
        out,
        "<li>Status <strong class=\"{}\">{}</strong>, started {}, finished {}, nfslab {}</li>",
        if s.all_measured() { "ok" } else { "flag" },
        escape(&status),
        escape(&s.started),
        escape(s.finished.as_deref().unwrap_or("-")),
        escape(&s.tool_version)
    );
    let env = &s.environment;
    let _ = match env.kubernetes_version.as_deref() {
        Some(version) => writeln!(
            out,
            "<li>Cluster: {}; Kubernetes {}</li>",
            escape(&env.cluster),
            escape(version)
        ),
        None => writeln!(out, "<li>Cluster: {}</li>", escape(&env.cluster)),
    };
    for n in &env.nodes {
        let _ = writeln!(
            out,
            "<li>Node <code>{}</code>: kernel {}, {}</li>",
            escape(&n.name),
            escape(n.kernel.as_deref().unwrap_or("-")),
            escape(n.os_image.as_deref().unwrap_or("-"))
        );
    }
    for sv in &env.servers {
        let _ = writeln!(
            out,
            "<li>Server <code>{}</code>: {} at <code>{}:{}</code></li>",
            escape(&sv.name),
            escape(&sv.flavor),
            escape(&sv.address),
            escape(&sv.export)
        );
    }
    for note in &env.notes {
        let _ = writeln!(out, "<li class=\"muted\">{}</li>", escape(note));
    }
    let _ = writeln!(
        out,
        "<li class=\"muted\">{} repetitions per cell; medians over repetitions, bars show \
         min–max; cells with a coefficient of variation above {:.0}% are unstable; a win is \
         clear only with at least {MIN_REPETITIONS} repetitions on both sides and ranges that \
         do not overlap; latency percentiles from the exactly merged histograms of every \
         client and repetition ({}); MB/s = 10<sup>6</sup> bytes/s.</li>\n</ul>",
        s.repetitions,
        UNSTABLE_CV * 100.0,
        escape(&histogram_precision())
    );
}

fn table_head(out: &mut String, columns: &[&str]) {
    out.push_str("<table>\n<thead><tr>");
    for c in columns {
        let _ = write!(out, "<th>{}</th>", escape(c));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
}

fn row(out: &mut String, cells: &[(String, bool)]) {
    out.push_str("<tr>");
    for (text, numeric) in cells {
        if *numeric {
            let _ = write!(out, "<td class=\"num\">{text}</td>");
        } else {
            let _ = write!(out, "<td>{text}</td>");
        }
    }
    out.push_str("</tr>\n");
}

fn best(out: &mut String, s: &Summary) {
    if s.best.is_empty() {
        return;
    }
    out.push_str("<h2 id=\"best\">Best profile per workload</h2>\n");
    table_head(
        out,
        &[
            "workload",
            "server",
            "clients",
            "best profile",
            "median",
            "runner-up",
            "clear win",
        ],
    );
    for b in &s.best {
        let runner = b.runner_up.as_ref().map_or_else(
            || "-".to_owned(),
            |(p, v)| format!("{} ({})", escape(p), number(*v)),
        );
        row(
            out,
            &[
                (
                    format!("<a href=\"#w-{0}\">{0}</a>", escape(&b.workload)),
                    false,
                ),
                (escape(&server_label(&b.server, b.access)), false),
                (b.clients.to_string(), true),
                (format!("<strong>{}</strong>", escape(&b.profile)), false),
                (
                    format!("{} {}", number(b.value), escape(b.headline.label())),
                    true,
                ),
                (runner, false),
                (
                    format!(
                        "<span class=\"{}\">{}</span>",
                        if b.clear { "ok" } else { "flag" },
                        escape(&clear_win(b))
                    ),
                    false,
                ),
            ],
        );
    }
    out.push_str("</tbody></table>\n");
}

fn workload_section(out: &mut String, s: &Summary, workload: &str) -> Result<(), ChartError> {
    let (cells, many_servers, many_clients) = workload_cells(s, workload);
    let Some(first) = cells.first() else {
        return Ok(());
    };
    let op = first.primary_op().unwrap_or("-").to_owned();
    // One colour per cell position: workloads usually share their cell layout, so a
    // colour means the same profile/server/clients in every chart.
    let bars: Vec<Bar<'_>> = cells
        .iter()
        .enumerate()
        .map(|(i, c)| Bar {
            label: cell_label(c, many_servers, many_clients),
            cell: c,
            colour: i,
        })
        .collect();
    let svg = charts::workload_chart(workload, &bars, &op)?;
    let _ = writeln!(
        out,
        "<section class=\"workload\" id=\"w-{0}\" data-workload=\"{0}\">\n<h2>{0}</h2>",
        escape(workload)
    );
    let _ = writeln!(
        out,
        "<p>Pattern <code>{}</code>, block size {} bytes; judged by {}; latency of <code>{}</code> operations.</p>",
        escape(&first.pattern),
        first.block_size,
        escape(first.headline.label()),
        escape(&op)
    );
    let _ = writeln!(out, "<figure class=\"chart\">\n{svg}\n</figure>");
    let p = |name: &str| format!("{op} {name}");
    table_head(
        out,
        &[
            "profile",
            "median",
            "min–max",
            "CV",
            "IOPS",
            &p("p50"),
            &p("p99"),
            &p("p99 min–max"),
            &p("p99.9"),
            "CPU s/GiB",
            "cache",
            "flags",
        ],
    );
    for (c, bar) in cells.iter().zip(&bars) {
        let l = c.latency.get(&op);
        let pct = |f: fn(&nfslab_workload::LatencySummary) -> u64| {
            l.map_or_else(
                || "-".to_owned(),
                |l| escape(&latency(f(&l.latency_ns) as f64)),
            )
        };
        let f = flags(c);
        row(
            out,
            &[
                (escape(&bar.label), false),
                (headline_median(c), true),
                (range(c.headline_display()), true),
                (format::cv(c.headline_cv), true),
                (
                    c.iops.map_or_else(|| "-".to_owned(), |s| number(s.median)),
                    true,
                ),
                (pct(|l| l.p50), true),
                (pct(|l| l.p99), true),
                (escape(&p99_range(c, &op)), true),
                (pct(|l| l.p99_9), true),
                (cpu_per_gib(c), true),
                (escape(c.cache.as_deref().unwrap_or("-")), false),
                (
                    if f.is_empty() {
                        String::new()
                    } else {
                        format!("<span class=\"flag\">{}</span>", escape(&f.join("; ")))
                    },
                    false,
                ),
            ],
        );
    }
    out.push_str("</tbody></table>\n");
    if cells.iter().any(|c| c.job.is_some() || c.command.is_some()) {
        out.push_str("<p>What ran (per client):</p>\n<ul class=\"jobs\">\n");
        for (c, bar) in cells.iter().zip(&bars) {
            let _ = write!(out, "<li>{}", escape(&bar.label));
            if let Some(text) = settings(c) {
                let _ = write!(out, ": {}", escape(&text));
            }
            if let Some(command) = &c.command {
                let _ = write!(out, "<br><code>{}</code>", escape(command));
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
    Ok(())
}

fn wire(out: &mut String, s: &Summary) {
    let cells: Vec<&CellSummary> = s.cells.iter().filter(|c| c.wire.is_some()).collect();
    if cells.is_empty() {
        return;
    }
    out.push_str("<h2 id=\"wire\">Did the bytes cross the wire?</h2>\n");
    let _ = writeln!(
        out,
        "<p>Bytes the clients' jobs read and wrote (ramp included) against the bytes exchanged \
         with the server: the kernel's <code>/proc/self/mountstats</code> for mounts, the \
         user-space client's own READ and WRITE traffic for protocol cells (RPC headers \
         included). Below {}%, part of the figure came from a client cache or never reached \
         the server.</p>",
        number((1.0 - nfslab_workload::MEANINGFUL_SHARE) * 100.0)
    );
    table_head(out, &["cell", "source", "wire / job", "finding"]);
    for c in cells {
        let Some(w) = &c.wire else { continue };
        let finding = if w.findings.is_empty() {
            "none".to_owned()
        } else {
            format!(
                "<span class=\"flag\">{}</span>",
                escape(
                    &w.findings
                        .iter()
                        .map(|f| f.message.clone())
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            )
        };
        row(
            out,
            &[
                (escape(&c.id), false),
                (escape(&w.source), false),
                (escape(&wire_ratios(c)), false),
                (finding, false),
            ],
        );
    }
    out.push_str("</tbody></table>\n");
}

fn efficiency(out: &mut String, s: &Summary) {
    let rows = s.efficiencies();
    if rows.is_empty() {
        return;
    }
    out.push_str("<h2 id=\"efficiency\">Mount efficiency</h2>\n");
    out.push_str(
        "<p>The same job through a kernel mount and through the user-space NFSv3 client (no \
         mount): mount / protocol. Below 100% the mount delivers less than the server gives a \
         protocol client; a p99 ratio above 1 is latency the mount adds.</p>\n",
    );
    table_head(
        out,
        &[
            "workload",
            "server",
            "profile",
            "clients",
            "figure",
            "mount",
            "protocol",
            "efficiency",
            "p99 mount",
            "p99 protocol",
            "p99 ratio",
        ],
    );
    for (c, e) in rows {
        let op = e
            .latency_op
            .as_deref()
            .map_or_else(String::new, |op| format!("{op} "));
        let ns = |v: Option<u64>| {
            v.map_or_else(
                || "-".to_owned(),
                |v| escape(&format!("{op}{}", latency(v as f64))),
            )
        };
        row(
            out,
            &[
                (
                    format!("<a href=\"#w-{0}\">{0}</a>", escape(&c.workload)),
                    false,
                ),
                (escape(&c.server), false),
                (escape(&c.profile), false),
                (c.clients.to_string(), true),
                (escape(e.headline.label()), false),
                (headline_value(e.headline, e.mount), true),
                (headline_value(e.headline, e.protocol), true),
                (format!("<strong>{}</strong>", percent(e.ratio)), true),
                (ns(e.mount_p99_ns), true),
                (ns(e.protocol_p99_ns), true),
                (e.p99_ratio.map_or_else(|| "-".to_owned(), number), true),
            ],
        );
    }
    out.push_str("</tbody></table>\n");
}

fn options(out: &mut String, s: &Summary) {
    out.push_str("<h2 id=\"options\">Requested vs effective mount options</h2>\n");
    if s.cells.iter().any(|c| c.access.is_some()) {
        out.push_str(
            "<p>What each profile asked for and what was used: for mount cells what the kernel \
             reports for the host's mount (<code>/proc/self/mountinfo</code>), for protocol \
             cells the user-space client's parameters, option by option; options without a \
             protocol equivalent are listed as not applicable.</p>\n",
        );
    } else {
        out.push_str(
            "<p>What the PV asked for and what the kernel reports inside the client pod \
             (<code>/proc/self/mountinfo</code>), option by option.</p>\n",
        );
    }
    let mut seen = Vec::new();
    for c in &s.cells {
        if seen.contains(&(c.server.as_str(), c.profile.as_str(), c.access)) {
            continue;
        }
        seen.push((&c.server, &c.profile, c.access));
        let (verdict, as_requested) = format::options_verdict(c);
        let _ = writeln!(
            out,
            "<details{}><summary><strong>{}</strong> on {}: <span class=\"{}\">{}</span></summary>",
            if as_requested { "" } else { " open" },
            escape(&c.profile),
            escape(&server_label(&c.server, c.access)),
            if as_requested { "ok" } else { "flag" },
            escape(&verdict)
        );
        table_head(out, &["option", "requested", "effective", "", "why"]);
        for d in &c.options.diff {
            let kind = format::diff_kind(d.kind);
            row(
                out,
                &[
                    (format!("<code>{}</code>", escape(&d.key)), false),
                    (escape(d.requested.as_deref().unwrap_or("-")), false),
                    (escape(d.effective.as_deref().unwrap_or("-")), false),
                    (
                        if d.flagged() {
                            format!("<span class=\"flag\">{kind}</span>")
                        } else {
                            format!("<span class=\"muted\">{kind}</span>")
                        },
                        false,
                    ),
                    (escape(d.note.as_deref().unwrap_or("")), false),
                ],
            );
        }
        out.push_str("</tbody></table>\n");
        if !c.options.not_applicable.is_empty() {
            out.push_str("<p>Not applicable without a mount:</p>\n<ul>\n");
            for n in &c.options.not_applicable {
                let _ = writeln!(
                    out,
                    "<li><code>{}</code>: {}</li>",
                    escape(&n.option),
                    escape(&n.reason)
                );
            }
            out.push_str("</ul>\n");
        }
        if c.options.effective.is_none() {
            out.push_str("<p class=\"muted\">No client reported its mount.</p>\n");
        }
        if !c.options.consistent {
            out.push_str("<p class=\"flag\">Clients reported different options.</p>\n");
        }
        out.push_str("</details>\n");
    }
}

fn rpc(out: &mut String, s: &Summary) {
    let cells: Vec<&CellSummary> = s.cells.iter().filter(|c| c.rpc.is_some()).collect();
    if cells.is_empty() {
        return;
    }
    out.push_str("<h2 id=\"rpc\">RPC statistics</h2>\n");
    if let Some(origin) = rpc_origin(&cells) {
        // `code` spans of the sentence become <code>.
        let text: String = escape(&origin)
            .split('`')
            .enumerate()
            .map(|(i, part)| {
                if i % 2 == 1 {
                    format!("<code>{part}</code>")
                } else {
                    part.to_owned()
                }
            })
            .collect();
        let _ = writeln!(out, "<p>{text}</p>");
    }
    table_head(
        out,
        &[
            "cell",
            "RPCs",
            "retransmits",
            "major timeouts",
            "operation",
            "count",
            "avg RTT (ms)",
            "avg exec (ms)",
        ],
    );
    for c in cells {
        let Some(r) = &c.rpc else { continue };
        for (i, (name, op)) in r.busiest(5).into_iter().enumerate() {
            let first = i == 0;
            row(
                out,
                &[
                    (if first { escape(&c.id) } else { String::new() }, false),
                    (
                        if first {
                            r.total_rpcs.to_string()
                        } else {
                            String::new()
                        },
                        true,
                    ),
                    (
                        if first {
                            r.retransmits.to_string()
                        } else {
                            String::new()
                        },
                        true,
                    ),
                    (
                        if first {
                            r.major_timeouts.to_string()
                        } else {
                            String::new()
                        },
                        true,
                    ),
                    (escape(name), false),
                    (op.ops.to_string(), true),
                    (number(op.avg_rtt_ms), true),
                    (number(op.avg_execute_ms), true),
                ],
            );
        }
    }
    out.push_str("</tbody></table>\n");
}

fn clients(out: &mut String, s: &Summary) {
    let cells: Vec<&CellSummary> = s.cells.iter().filter(|c| c.clients > 1).collect();
    if cells.is_empty() {
        return;
    }
    out.push_str("<h2 id=\"clients\">Per-client figures</h2>\n");
    table_head(
        out,
        &[
            "cell",
            "client",
            "median",
            "min–max",
            "start skew (max, ms)",
        ],
    );
    for c in cells {
        for client in &c.per_client {
            let spread = client.headline_display(c.headline);
            row(
                out,
                &[
                    (escape(&c.id), false),
                    (client.client.to_string(), true),
                    (
                        spread.map_or_else(|| "-".to_owned(), |s| number(s.median)),
                        true,
                    ),
                    (range(spread), true),
                    (number(c.max_start_skew() * 1e3), true),
                ],
            );
        }
    }
    out.push_str("</tbody></table>\n");
}

fn nas(out: &mut String, s: &Summary) {
    let Some(n) = &s.nas else { return };
    let t = &n.reference.tier;
    let _ = writeln!(
        out,
        "<h2 id=\"nas\">Compared with NAS tier “{}”</h2>",
        escape(&t.title)
    );
    let gib = n.reference.provisioned_bytes as f64 / 1_073_741_824.0;
    let _ = writeln!(
        out,
        "<p>Provisioned {} GiB; advertised read bandwidth {}; max IOPS {}; monthly cost {} {}.{}</p>",
        number(gib),
        n.advertised_read_mb_s.map_or_else(
            || "-".to_owned(),
            |r| format!("{}–{} MB/s", number(r.min), number(r.max))
        ),
        t.max_iops.map_or_else(|| "-".to_owned(), number),
        n.monthly_cost.map_or_else(|| "-".to_owned(), number),
        escape(&n.reference.currency),
        n.capacity_note
            .as_ref()
            .map_or_else(String::new, |c| format!(
                " <span class=\"flag\">{}</span>",
                escape(c)
            ))
    );
    table_head(
        out,
        &[
            "workload",
            "best profile",
            "MB/s",
            "% of read bandwidth",
            "IOPS",
            "% of max IOPS",
            "cost per MB/s",
        ],
    );
    for r in &n.rows {
        row(
            out,
            &[
                (escape(&r.workload), false),
                (escape(&r.profile), false),
                (number(r.measured_mb_s), true),
                (
                    r.percent_of_read_bandwidth.map_or_else(
                        || "-".to_owned(),
                        |p| format!("{}–{}%", number(p.min), number(p.max)),
                    ),
                    true,
                ),
                (number(r.measured_iops), true),
                (
                    r.percent_of_max_iops
                        .map_or_else(|| "-".to_owned(), |p| format!("{}%", number(p))),
                    true,
                ),
                (
                    r.cost_per_mb_s.map_or_else(
                        || "-".to_owned(),
                        |c| format!("{} {}", number(c), escape(&n.reference.currency)),
                    ),
                    true,
                ),
            ],
        );
    }
    out.push_str("</tbody></table>\n");
}

fn problems(out: &mut String, s: &Summary) {
    let failures = s.failures();
    if !failures.is_empty() {
        out.push_str("<h2 id=\"failures\">Failures</h2>\n<ul>\n");
        for (id, f) in failures {
            let _ = writeln!(out, "<li><code>{}</code>: {}</li>", escape(id), escape(f));
        }
        out.push_str("</ul>\n");
    }
    let notes = s.notes();
    if !s.warnings.is_empty() || !notes.is_empty() {
        out.push_str("<h2 id=\"notes\">Notes</h2>\n<ul>\n");
        for w in &s.warnings {
            let _ = writeln!(out, "<li>plan: {}</li>", escape(w));
        }
        for (id, n) in notes {
            let _ = writeln!(out, "<li><code>{}</code>: {}</li>", escape(id), escape(n));
        }
        out.push_str("</ul>\n");
    }
}

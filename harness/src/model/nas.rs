//! NAS service tiers and the "measured vs advertised" comparison.
//!
//! A tier table (YAML, user-extendable; `workloads/plans/nas-tiers.yaml` ships the Alibaba
//! Cloud NAS tiers quoted in the documents) lists what a service advertises: read bandwidth
//! (per TiB provisioned, or a fixed range), maximum IOPS, latency and price. With a
//! provisioned size, `compare` puts the best measured figures of each workload next to the
//! advertised ones and computes the cost per MB/s actually obtained.
//!
//! Bandwidth here is in MB/s of 10^6 bytes, the unit vendors advertise.

use serde::{Deserialize, Serialize};

/// Bytes in the MB vendors use.
pub(crate) const MB: f64 = 1e6;
const GIB: f64 = 1_073_741_824.0;
const TIB: f64 = 1_099_511_627_776.0;

/// A range of values (`min` to `max`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// Lower end.
    pub min: f64,
    /// Upper end.
    pub max: f64,
}

/// One service tier as advertised.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NasTier {
    /// Short name used in plans (`extreme`).
    pub name: String,
    /// Name for people.
    pub title: String,
    /// Where the figures come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Provisionable capacity in GiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_gib: Option<Range>,
    /// Read bandwidth per TiB provisioned, MB/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_mb_s_per_tib: Option<f64>,
    /// Read bandwidth as a fixed range, MB/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_mb_s: Option<Range>,
    /// Maximum IOPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_iops: Option<f64>,
    /// Advertised latency, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// Price per GiB per month, in the table's currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_per_gib_month: Option<f64>,
}

impl NasTier {
    /// Advertised read bandwidth (MB/s) for a provisioned size.
    #[must_use]
    pub fn read_bandwidth(&self, provisioned_bytes: u64) -> Option<Range> {
        if let Some(per_tib) = self.read_mb_s_per_tib {
            let value = per_tib * provisioned_bytes as f64 / TIB;
            return Some(Range {
                min: value,
                max: value,
            });
        }
        self.read_mb_s
    }

    /// Monthly price of a provisioned size.
    #[must_use]
    pub fn monthly_cost(&self, provisioned_bytes: u64) -> Option<f64> {
        self.price_per_gib_month
            .map(|p| p * provisioned_bytes as f64 / GIB)
    }

    /// Why a provisioned size is outside the tier's capacity, if it is.
    #[must_use]
    pub fn capacity_problem(&self, provisioned_bytes: u64) -> Option<String> {
        let range = self.capacity_gib?;
        let gib = provisioned_bytes as f64 / GIB;
        if gib < range.min {
            Some(format!(
                "{gib:.0} GiB is below the tier's minimum of {} GiB",
                range.min
            ))
        } else if gib > range.max {
            Some(format!(
                "{gib:.0} GiB is above the tier's maximum of {} GiB",
                range.max
            ))
        } else {
            None
        }
    }
}

/// A tier table file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierTable {
    /// Currency of the prices.
    pub currency: String,
    /// The tiers.
    pub tiers: Vec<NasTier>,
}

/// The NAS reference a plan asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NasReference {
    /// The tier.
    pub tier: NasTier,
    /// Currency of its price.
    pub currency: String,
    /// Provisioned size, bytes.
    pub provisioned_bytes: u64,
}

/// One workload's best measured figures next to the tier's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NasRow {
    /// Workload.
    pub workload: String,
    /// Server measured.
    pub server: String,
    /// Profile with the best headline figure.
    pub profile: String,
    /// Whether the workload reads (only reads are compared with read bandwidth).
    pub reads: bool,
    /// Measured bandwidth, MB/s (median over repetitions).
    pub measured_mb_s: f64,
    /// Measured IOPS (median over repetitions).
    pub measured_iops: f64,
    /// Measured / advertised read bandwidth, percent (against the range's ends).
    pub percent_of_read_bandwidth: Option<Range>,
    /// Measured / maximum IOPS, percent.
    pub percent_of_max_iops: Option<f64>,
    /// Monthly cost / measured MB/s.
    pub cost_per_mb_s: Option<f64>,
}

/// The comparison a report shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NasComparison {
    /// The reference asked for.
    pub reference: NasReference,
    /// Advertised read bandwidth for the provisioned size, MB/s.
    pub advertised_read_mb_s: Option<Range>,
    /// Monthly cost of the provisioned size.
    pub monthly_cost: Option<f64>,
    /// Capacity remark (outside the tier's range).
    pub capacity_note: Option<String>,
    /// One row per workload.
    pub rows: Vec<NasRow>,
}

/// Measured figures of one workload (its best profile) for [`compare`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Measured {
    /// Workload.
    pub workload: String,
    /// Server.
    pub server: String,
    /// Profile.
    pub profile: String,
    /// Whether it reads.
    pub reads: bool,
    /// Bandwidth, bytes/s.
    pub bandwidth_bytes_per_sec: f64,
    /// IOPS.
    pub iops: f64,
}

/// Measured vs advertised, per workload.
#[must_use]
pub(crate) fn compare(reference: &NasReference, measured: &[Measured]) -> NasComparison {
    let tier = &reference.tier;
    let size = reference.provisioned_bytes;
    let advertised = tier.read_bandwidth(size);
    let monthly = tier.monthly_cost(size);
    let rows = measured
        .iter()
        .map(|m| {
            let mb_s = m.bandwidth_bytes_per_sec / MB;
            NasRow {
                workload: m.workload.clone(),
                server: m.server.clone(),
                profile: m.profile.clone(),
                reads: m.reads,
                measured_mb_s: mb_s,
                measured_iops: m.iops,
                percent_of_read_bandwidth: advertised.filter(|_| m.reads && mb_s > 0.0).map(|r| {
                    Range {
                        min: percent(mb_s, r.max),
                        max: percent(mb_s, r.min),
                    }
                }),
                percent_of_max_iops: tier
                    .max_iops
                    .filter(|_| m.iops > 0.0)
                    .map(|max| percent(m.iops, max)),
                cost_per_mb_s: monthly.filter(|_| mb_s > 0.0).map(|c| c / mb_s),
            }
        })
        .collect();
    NasComparison {
        reference: reference.clone(),
        advertised_read_mb_s: advertised,
        monthly_cost: monthly,
        capacity_note: tier.capacity_problem(size),
        rows,
    }
}

fn percent(value: f64, of: f64) -> f64 {
    if of > 0.0 { 100.0 * value / of } else { 0.0 }
}

/// A tier table that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TierError {
    /// The YAML does not describe a tier table.
    #[error(transparent)]
    Parse(nfslab_workload::ParseError),
}

/// Parses a tier table.
pub fn parse_tiers(text: &str, path: &str) -> Result<TierTable, TierError> {
    nfslab_workload::yaml_from_str(text).map_err(|err| TierError::Parse(err.in_file(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../../workloads/plans/nas-tiers.yaml");

    fn tier(name: &str) -> NasTier {
        let table = parse_tiers(SHIPPED, "nas-tiers.yaml").unwrap();
        table.tiers.into_iter().find(|t| t.name == name).unwrap()
    }

    #[test]
    fn shipped_table_has_the_documented_tiers() {
        let table = parse_tiers(SHIPPED, "nas-tiers.yaml").unwrap();
        assert_eq!(table.currency, "CNY");
        let names: Vec<&str> = table.tiers.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            ["general-capacity", "general-performance", "extreme"]
        );
        let perf = tier("general-performance");
        assert_eq!(perf.read_mb_s_per_tib, Some(600.0));
        assert_eq!(perf.max_iops, Some(30_000.0));
        assert_eq!(perf.price_per_gib_month, Some(1.85));
    }

    #[test]
    fn advertised_bandwidth_scales_with_size() {
        let t = tier("general-capacity");
        let two_tib = 2 * (1u64 << 40);
        assert_eq!(
            t.read_bandwidth(two_tib),
            Some(Range {
                min: 300.0,
                max: 300.0
            })
        );
        let cost = t.monthly_cost(two_tib).unwrap();
        assert!((cost - 0.35 * 2048.0).abs() < 1e-9);
        let extreme = tier("extreme");
        assert_eq!(
            extreme.read_bandwidth(two_tib),
            Some(Range {
                min: 150.0,
                max: 1200.0
            })
        );
        assert!(
            extreme
                .capacity_problem(10 << 30)
                .unwrap()
                .contains("below")
        );
        assert!(extreme.capacity_problem(two_tib).is_none());
    }

    #[test]
    fn comparison_percentages_and_cost() {
        let reference = NasReference {
            tier: tier("extreme"),
            currency: "CNY".to_owned(),
            provisioned_bytes: 1 << 40,
        };
        let rows = compare(
            &reference,
            &[
                Measured {
                    workload: "seq-read-1m".to_owned(),
                    server: "s".to_owned(),
                    profile: "p".to_owned(),
                    reads: true,
                    bandwidth_bytes_per_sec: 300e6,
                    iops: 300.0,
                },
                Measured {
                    workload: "seq-write-1m".to_owned(),
                    server: "s".to_owned(),
                    profile: "p".to_owned(),
                    reads: false,
                    bandwidth_bytes_per_sec: 100e6,
                    iops: 100.0,
                },
            ],
        );
        let read = &rows.rows[0];
        let pct = read.percent_of_read_bandwidth.unwrap();
        assert!(
            (pct.min - 25.0).abs() < 1e-9 && (pct.max - 200.0).abs() < 1e-9,
            "{pct:?}"
        );
        assert!((read.percent_of_max_iops.unwrap() - 0.15).abs() < 1e-9);
        let monthly = 1.8 * 1024.0;
        assert!((read.cost_per_mb_s.unwrap() - monthly / 300.0).abs() < 1e-9);
        assert!(rows.rows[1].percent_of_read_bandwidth.is_none());
    }

    #[test]
    fn bad_tier_files_point_at_the_line() {
        let err = parse_tiers(
            "currency: CNY\ntiers:\n  - name: x\n    titel: y\n",
            "t.yaml",
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("t.yaml:4:"), "{text}");
        assert!(text.contains("titel"), "{text}");
    }
}
